package daemon

import (
	"sync"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// DefaultMaxJobCount is Config.MaxJobCount's default: how many unfinished
// jobs (array tasks each count) the controller holds before it refuses
// submits. Slurm's MaxJobCount defaults to 10,000; shoal holds far more
// in little memory, but not without end: one user's stream of batch
// submits must not grow the controller until it and the nodes' heartbeats
// starve.
const DefaultMaxJobCount = 500_000

// jobCountTTL is how long a count of the unfinished jobs serves submits,
// with what they added since: counting walks every job's set entry.
const jobCountTTL = time.Second

// jobCount is the last count of the unfinished jobs, and what submits
// added since.
type jobCount struct {
	mu       sync.Mutex
	at       time.Time
	counted  int
	admitted int
}

// admitJobs checks that add more jobs keep the cluster within
// MaxJobCount, and counts them in.
func (c *Controller) admitJobs(state *raftfsm.State, add int) error {
	limit := c.cfg.MaxJobCount
	if limit == 0 {
		limit = DefaultMaxJobCount
	}
	if limit < 0 {
		return nil
	}
	jc := &c.jobCount
	jc.mu.Lock()
	defer jc.mu.Unlock()
	now := c.clock.Now()
	age := now.Sub(jc.at)
	// Before refusing, count again too: jobs may have ended since.
	if age > jobCountTTL || jc.counted+jc.admitted+add > limit && age > jobCountTTL/10 {
		jc.counted, jc.admitted, jc.at = unfinishedJobs(state), 0, now
	}
	if n := jc.counted + jc.admitted; n+add > limit {
		return api.Errorf(api.CodeConflict, "the cluster holds %d unfinished jobs, and %d more would pass its MaxJobCount of %d (the controller's -max-job-count): submit them once some have ended",
			n, add, limit)
	}
	jc.admitted += add
	return nil
}

// unfinishedJobs counts the jobs that have not ended.
func unfinishedJobs(state *raftfsm.State) int {
	n := 0
	for _, st := range []api.JobState{api.StateSubmitted, api.StatePending, api.StateRunnable, api.StateStarting, api.StateRunning} {
		n += state.CountInState(st)
	}
	return n
}
