package raftfsm

import (
	"sort"

	"github.com/shoal-batch/shoal/api"
)

// OpTop is scontrol top (TopCmd).
const OpTop Op = 35

// TopCmd puts waiting jobs ahead of their owner's other waiting jobs of
// the same queue, account and QOS, in the order of IDs (Slurm's scontrol
// top). The priorities of those jobs (before their nice) are dealt out
// again, highest to the first listed, the rest to the others in their own
// order: the set of them is unchanged, so no other user's job moves. All the listed
// jobs must be the caller's (or the caller root), waiting and not held,
// and of that one queue, account and QOS; else nothing changes.
type TopCmd struct {
	IDs       []uint64 `json:"ids"`
	CallerUID uint32   `json:"callerUid"`
}

func (w writer) top(c TopCmd) Result {
	var listed []*api.Job
	seen := map[uint64]bool{}
	for _, id := range c.IDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		j := w.job(id)
		if j == nil {
			return Result{Err: api.Errorf(api.CodeNotFound, "job %d does not exist", id)}
		}
		if err := owns(j, c.CallerUID, "move"); err != nil {
			return Result{Err: err}
		}
		switch {
		case !j.State.Cancellable() || j.State == api.StateSubmitted:
			return Result{Err: api.Errorf(api.CodeConflict, "job %d is %s: only waiting jobs can be put on top", id, j.State)}
		case j.Held:
			return Result{Err: api.Errorf(api.CodeConflict, "job %d is held: release it first", id)}
		}
		if f := listed; len(f) > 0 && (j.UID != f[0].UID || j.Queue != f[0].Queue || j.Account != f[0].Account || j.QOS != f[0].QOS) {
			return Result{Err: api.Errorf(api.CodeInvalid, "jobs %d and %d differ in user, queue, account or QOS: scontrol top orders one user's jobs of one queue", f[0].ID, id)}
		}
		listed = append(listed, j)
	}
	first := listed[0]
	st := &State{txn: w.txn}
	var others []*api.Job
	for _, s := range []api.JobState{api.StatePending, api.StateRunnable} {
		st.JobsInState(s, func(j *api.Job) bool {
			if !seen[j.ID] && !j.Held && j.UID == first.UID && j.Queue == first.Queue && j.Account == first.Account && j.QOS == first.QOS {
				c := *j
				others = append(others, &c)
			}
			return true
		})
	}
	// The others keep their order: highest priority first, then by id.
	sort.Slice(others, func(a, b int) bool {
		if others[a].Priority != others[b].Priority {
			return others[a].Priority > others[b].Priority
		}
		return others[a].ID < others[b].ID
	})
	// What is dealt out is each job's priority before its nice: a job
	// keeps its own nice, so that one niced far down and put on top, its
	// nice then taken back, gets no more than the priority it was dealt.
	prios := make([]int64, 0, len(listed)+len(others))
	for _, j := range append(append([]*api.Job(nil), listed...), others...) {
		prios = append(prios, j.Priority+j.Nice)
	}
	sort.Slice(prios, func(a, b int) bool { return prios[a] > prios[b] })
	for i, j := range append(listed, others...) {
		p := prios[i]
		if i > 0 && p >= prios[i-1] { // equal priorities: keep the order strict
			p = max(prios[i-1]-1, 1)
		}
		prios[i] = p
		if p := max(p-j.Nice, 1); j.Priority != p {
			j.Priority = p
			w.put(tableJobs, j)
		}
	}
	return Result{}
}
