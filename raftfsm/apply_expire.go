package raftfsm

import (
	"slices"

	"github.com/shoal-batch/shoal/api"
)

// OpExpire removes finished jobs from the state (ExpireCmd). Numbered
// with room below it for commands being added beside it.
const OpExpire Op = 20

// ExpireCmd removes finished jobs that ended at or before Before (epoch
// ms, stamped by the leader: now less the retention window) from the
// replicated state, so that its size follows active jobs, not history.
// The jobs removed go to the controller's archive (FSM.OnExpire). A job
// named that is not there, has not ended, ended after Before, or must
// stay (CanExpire) is skipped, not refused: the leader's view was older.
type ExpireCmd struct {
	IDs    []uint64 `json:"ids"`
	Before int64    `json:"before"`
}

// MaxExpire bounds the jobs of one ExpireCmd (one raft entry).
const MaxExpire = 5000

// expire applies an ExpireCmd.
func (w writer) expire(c ExpireCmd) Result {
	s := &State{txn: w.txn}
	// Highest id first: an array's tasks leave before its first task,
	// which may then leave too (CanExpire reads this transaction).
	ids := slices.Clone(c.IDs)
	slices.Sort(ids)
	slices.Reverse(ids)
	var j api.Job
	for _, id := range ids {
		r := storedRec(w.txn, id)
		if r == nil {
			continue
		}
		r.loadNoEnv(&j)
		if j.StoppedAt > c.Before || !s.CanExpire(&j) {
			continue
		}
		w.deleteJob(&j)
		if w.out != nil {
			// The record, not an api.Job made from it: the archive
			// holds it until it is written (writes run behind a burst).
			w.out.expired = append(w.out.expired, JobRef{r, id})
		}
	}
	return Result{}
}

// CanExpire reports whether a finished job may leave the state now (its
// age aside). It must stay while
//   - a job that has not ended depends on it: the FSM resolves that job
//     against it again when its other dependencies move;
//   - it is the first task of an array (whose id is the array's) and
//     another task of the array is still in the state: views of the
//     array read its size and throttle from the first task.
//
// Both are bounded by the active jobs, so the state stays bounded too.
func (s *State) CanExpire(j *api.Job) bool {
	if !j.State.Terminal() {
		return false
	}
	for _, d := range dependents(s.txn, j.ID) {
		if !d.State.Terminal() {
			return false
		}
	}
	if a := j.Array; a != nil && a.JobID == j.ID {
		for id := j.ID + 1; id < j.ID+uint64(a.Count); id++ {
			if s.Job(id) != nil {
				return false
			}
		}
	}
	return true
}

// EndedJob is what a dependency needs of a job that has left the state:
// its final state and, for the first task of an array, the array's size.
type EndedJob struct {
	ID         uint64       `json:"id"`
	State      api.JobState `json:"state"`
	ArrayCount int          `json:"arrayCount,omitempty"`
}

// endedDeps settles j's dependencies on ended jobs (which resolve could
// not find later): those met are dropped, and it reports whether one that
// can never be met decides that j fails. What is left is resolved as
// usual. With DependAny one met dependency is enough: j then waits on
// nothing.
func (w writer) endedDeps(j *api.Job) (fail bool) {
	if len(w.ended) == 0 {
		return false
	}
	kept := j.DependsOn[:0:0]
	met, never := 0, 0
	for _, d := range j.DependsOn {
		e, ok := w.ended[d.JobID]
		if !ok || storedRec(w.txn, d.JobID) != nil {
			kept = append(kept, d)
			continue
		}
		switch outcome(d, &api.Job{ID: e.ID, State: e.State}) {
		case depSatisfied:
			met++
		case depNever:
			never++
		}
	}
	if len(kept) == len(j.DependsOn) {
		return false
	}
	switch {
	case j.DependAny && met > 0:
		kept = nil
	case j.DependAny:
		fail = never > 0 && len(kept) == 0
	default:
		fail = never > 0
	}
	j.DependsOn = kept
	if len(kept) == 0 {
		j.DependsOn = nil
	}
	return fail
}
