package daemon

import (
	"context"
	"sync"
	"time"
)

// tokenCatchUpEvery is how often, at most, a follower catches up with
// the leader (a read index, readBarrier) to check a Bearer token that its
// own state cannot prove: the join token, which it must check against
// the leader's latest rotation, or a node credential it does not match
// yet. Anyone who reaches the TCP port may present such a token, and each
// catch-up costs the leader a quorum check and a raft entry
// (nudgeFollowers): however many tokens come, they share one catch-up
// per interval. A node that joins waits that long at most.
const tokenCatchUpEvery = 100 * time.Millisecond

// tokenCatchUp shares a follower's catch-ups for tokens (see
// tokenCatchUpEvery). A caller joins the next catch-up that has not begun
// (one that began earlier may read the leader's state from before the
// caller's token was made); a catch-up begins tokenCatchUpEvery after the
// one before it began, or at once.
type tokenCatchUp struct {
	c     *Controller
	mu    sync.Mutex
	began time.Time     // when the latest catch-up began
	next  *catchUpRound // the catch-up callers join; nil when none waits to begin
}

// catchUpRound is one catch-up: done is closed once err says how it went.
type catchUpRound struct {
	done chan struct{}
	err  error
}

// wait returns once a catch-up that began after wait was called is done.
func (t *tokenCatchUp) wait(ctx context.Context) error {
	t.mu.Lock()
	r := t.next
	if r == nil {
		r = &catchUpRound{done: make(chan struct{})}
		t.next = r
		go t.run(r, time.Until(t.began.Add(tokenCatchUpEvery)))
	}
	t.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// run begins r after delay and ends it when the follower has caught up.
func (t *tokenCatchUp) run(r *catchUpRound, delay time.Duration) {
	defer close(r.done)
	if delay > 0 {
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-t.c.requests.Done():
			timer.Stop()
			r.err = context.Cause(t.c.requests)
			return
		}
	}
	t.mu.Lock()
	t.next, t.began = nil, time.Now() // who comes from now on waits for the next
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(t.c.requests, electionWait)
	defer cancel()
	r.err = t.c.readBarrier(ctx)
}
