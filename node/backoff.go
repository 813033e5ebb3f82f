package node

import (
	"context"
	"time"

	"github.com/shoal-batch/shoal/internal/clock"
)

// backoff spaces out retries against an unreachable controller: 100 ms,
// doubling up to 5 s.
type backoff struct {
	next  time.Duration
	clock clock.Clock
}

func newBackoff(c clock.Clock) *backoff { return &backoff{next: 100 * time.Millisecond, clock: c} }

func (b *backoff) reset() { b.next = 100 * time.Millisecond }

// wait sleeps for the next delay; false if ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	t := b.clock.NewTimer(b.next)
	defer t.Stop()
	b.next = min(2*b.next, 5*time.Second)
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	}
}
