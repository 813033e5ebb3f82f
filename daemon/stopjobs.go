package daemon

import (
	"cmp"
	"context"
	"slices"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// MaxStopJobs bounds the jobs of one StopJobsRequest (as MaxHoldJobs).
const MaxStopJobs = 100_000

// stopJobs ends many jobs in one raft entry (arrays asked whole with more
// tasks than MaxStopJobs: in entries of that many, and an error in a later
// one leaves the earlier ones' stops standing). Jobs the FSM
// would refuse now (not the caller's, ended, unknown; with PrivateJobs,
// not visible to the caller) are answered at once and never proposed; the
// rest are, and the FSM decides each again when it applies. The check
// reads the state (no FSM.Check, whose throwaway write of 20,000 jobs
// would cost as much as the commit).
func (c *Controller) stopJobs(ctx context.Context, who caller, req api.StopJobsRequest) (api.StopJobsResponse, error) {
	if !who.known {
		return api.StopJobsResponse{}, errNoUser
	}
	if len(req.IDs) > MaxStopJobs {
		return api.StopJobsResponse{}, api.Errorf(api.CodeInvalid, "%d jobs in one stop; at most %d: send several", len(req.IDs), MaxStopJobs).WithField("jobIds")
	}
	if len(req.ArrayJobIDs) > MaxStopJobs {
		return api.StopJobsResponse{}, api.Errorf(api.CodeInvalid, "%d arrays in one stop; at most %d: send several", len(req.ArrayJobIDs), MaxStopJobs).WithField("arrayJobIds")
	}
	if err := checkReason(req.Reason); err != nil {
		return api.StopJobsResponse{}, err
	}
	if req.Reason == "" {
		req.Reason = "Cancelled by user"
	}
	var resp api.StopJobsResponse
	state := c.fsm.State()
	notFound := func(id uint64, err *api.Error) { resp.Failed = append(resp.Failed, api.JobFailure{ID: id, Error: err}) }
	asked, tasks := c.arrayTasks(who, state, req.ArrayJobIDs, notFound)
	// A task of an array asked whole fails as its array (see
	// api.StopJobsResponse): the first of its tasks to fail says why.
	fail := func(id uint64, err *api.Error) {
		if a := arrayOf(asked, id); a != nil {
			if a.failed {
				return
			}
			a.failed, id = true, a.id
		}
		notFound(id, err)
	}
	var ids []uint64
	for _, id := range req.IDs {
		if arrayOf(asked, id) != nil {
			continue // a task of an array asked whole: asked with it
		}
		if c.cfg.PrivateJobs {
			if j := state.Job(id); j != nil && !c.visible(who, j) {
				fail(id, errNoJob(id))
				continue
			}
		}
		ids = append(ids, id)
	}
	ids = append(ids, tasks...) // after the ones named, in the order asked
	for len(ids) > 0 {
		cmd := raftfsm.StopManyCmd{IDs: ids[:min(len(ids), MaxStopJobs)], Reason: req.Reason, CallerUID: who.actingUID(), Now: c.nowMillis()}
		ids = ids[len(cmd.IDs):]
		if cmd.IDs = keepAllowed(state, cmd, fail); len(cmd.IDs) == 0 {
			continue
		}
		res, err := c.applier.Apply(ctx, raftfsm.OpStopMany, cmd)
		if err != nil { // the entries before this one stand: a stop in several may end part of its jobs
			return api.StopJobsResponse{}, err
		}
		for i, e := range res.Errs {
			if e != nil {
				fail(cmd.IDs[i], e)
			}
		}
	}
	return resp, nil
}

// keepAllowed checks cmd against state as it is now and returns the ids
// the FSM would stop, reporting the others to fail.
func keepAllowed(state *raftfsm.State, cmd raftfsm.StopManyCmd, fail func(uint64, *api.Error)) []uint64 {
	keep := make([]uint64, 0, len(cmd.IDs))
	for i, e := range state.StopManyRefusals(cmd) {
		if e != nil {
			fail(cmd.IDs[i], e)
		} else {
			keep = append(keep, cmd.IDs[i])
		}
	}
	return keep
}

// askedArray is an array asked whole: its tasks' ids are [id, end).
type askedArray struct {
	id, end uint64
	failed  bool // its one failure is reported
}

// arrayOf is the array of asked (in id order; arrays' ids do not overlap)
// that job id is a task of, or nil.
func arrayOf(asked []askedArray, id uint64) *askedArray {
	i, _ := slices.BinarySearchFunc(asked, id, func(a askedArray, id uint64) int { return cmp.Compare(a.end, id+1) })
	if i < len(asked) && asked[i].id <= id && id < asked[i].end {
		return &asked[i]
	}
	return nil
}

// arrayTasks lists the arrays asked whole (in id order; an array asked
// twice, once) and the tasks to stop of them: each that has not ended and
// is not ending. An id that is no array's (or, with PrivateJobs, one who
// may not see) is refused to notFound.
func (c *Controller) arrayTasks(who caller, state *raftfsm.State, arrays []uint64,
	notFound func(uint64, *api.Error)) (asked []askedArray, ids []uint64) {
	refs := state.JobRefs()
	var j api.Job
	seen := make(map[uint64]bool, len(arrays))
	for _, a := range arrays {
		if seen[a] { // asked twice
			continue
		}
		seen[a] = true
		first, ok := refs.Ref(a)
		if ok {
			first.LoadNoEnv(&j)
		}
		if !ok || j.Array == nil || j.Array.JobID != a || (c.cfg.PrivateJobs && !c.visible(who, &j)) {
			notFound(a, api.Errorf(api.CodeNotFound, "job %d is no job array", a))
			continue
		}
		asked = append(asked, askedArray{id: a, end: a + uint64(j.Array.Count)})
		ids = slices.Grow(ids, j.Array.Count)
		prev, stop := first, !j.State.Terminal() && !j.StopRequested
		for k := range uint64(j.Array.Count) {
			r, ok := refs.Ref(a + k)
			if !ok {
				continue // left the state: ended long ago
			}
			if !r.Alike(prev) { // alike tasks (one record) are all stopped or none
				r.LoadNoEnv(&j)
				prev, stop = r, j.Array != nil && j.Array.JobID == a && !j.State.Terminal() && !j.StopRequested
			}
			if stop {
				ids = append(ids, a+k)
			}
		}
	}
	slices.SortFunc(asked, func(x, y askedArray) int { return cmp.Compare(x.id, y.id) }) // for arrayOf
	return asked, ids
}
