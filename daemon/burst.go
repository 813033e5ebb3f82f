package daemon

import (
	"sync"
	"time"
)

// A burst of submissions holds the scheduler back, as Slurm's defer and
// batch_sched_delay do: while submits come less than burstGap apart, a
// pass waits for them to pause, but no longer than Config.BurstDefer since
// the burst (or its last pass) began. A lone submit is placed at once. A
// loop of sbatch is then answered without the starts of its own jobs
// taking the CPU of the machine it runs on (a start costs some 20 ms of
// it, a submit 2), and its jobs are placed in a few passes, not one each.
//
// The gap is wider than a loop's turn: one sbatch took 2-3 ms on one
// 2-core VM and 9-12 ms on another, where a bash loop turn with its own
// fork came to 13-15 ms, and to 30 ms and more once the jobs' starts took
// the CPU. At 20 ms such a loop was never seen as a burst; at 50 ms its
// 300 sbatch went at 42-48 jobs/s, not 26, and four loops at 49-53, not 36.
const burstGap = 50 * time.Millisecond

// DefaultBurstDefer is how long a burst of submissions may hold the
// scheduler back (the agent's -sched-burst-defer).
const DefaultBurstDefer = 500 * time.Millisecond

// submitBurst follows the submissions this controller takes. A follower
// forwards its own to the leader, whose loop then does not see them: clients
// follow the leader, so a burst lands there.
type submitBurst struct {
	mu          sync.Mutex
	start, last time.Time // the burst's first submit (or last pass), and its last submit
	n           int       // submits since start
}

// note records a submit at now.
func (b *submitBurst) note(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.last) > burstGap {
		b.start, b.n = now, 0
	}
	b.last = now
	b.n++
}

// hold is how long a pass due at now waits: until burstGap after the last
// submit, at most limit after the burst began; 0 when no burst is on (or
// limit is 0).
func (b *submitBurst) hold(now time.Time, limit time.Duration) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if limit <= 0 || b.n < 2 {
		return 0
	}
	return max(0, min(b.last.Add(burstGap).Sub(now), b.start.Add(limit).Sub(now)))
}

// passed records a pass at now: in a burst that goes on, the next pass
// waits up to the limit again from here.
func (b *submitBurst) passed(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n >= 2 {
		b.start, b.n = now, 1
	}
}
