package daemon

import (
	"context"
	"slices"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// MaxStopJobs bounds the jobs of one StopJobsRequest (as MaxHoldJobs).
const MaxStopJobs = 100_000

// stopJobs ends many jobs in one raft entry. Jobs the FSM would refuse now
// (not the caller's, ended, unknown; with PrivateJobs, not visible to the
// caller) are answered at once and never proposed; the rest are, and the
// FSM decides each again when it applies. The check reads the state (no
// FSM.Check, whose throwaway write of 20,000 jobs would cost as much as
// the commit).
func (c *Controller) stopJobs(ctx context.Context, who caller, req api.StopJobsRequest) (api.StopJobsResponse, error) {
	if !who.known {
		return api.StopJobsResponse{}, errNoUser
	}
	if len(req.IDs) > MaxStopJobs {
		return api.StopJobsResponse{}, api.Errorf(api.CodeInvalid, "%d jobs in one stop; at most %d: send several", len(req.IDs), MaxStopJobs).WithField("jobIds")
	}
	if req.Reason == "" {
		req.Reason = "Cancelled by user"
	}
	var resp api.StopJobsResponse
	state := c.fsm.State()
	// A task of an array asked whole fails as its array (see
	// api.StopJobsResponse): the first of its tasks to fail says why.
	var asked []askedArray
	var named map[uint64]bool // req.IDs, when arrays are asked too
	if len(req.ArrayJobIDs) > 0 {
		named = make(map[uint64]bool, len(req.IDs))
		for _, id := range req.IDs {
			named[id] = true
		}
	}
	fail := func(id uint64, err *api.Error) {
		for i := range asked {
			if a := &asked[i]; id >= a.id && id < a.end && !named[id] {
				if a.failed {
					return
				}
				a.failed, id = true, a.id
			}
		}
		resp.Failed = append(resp.Failed, api.JobFailure{ID: id, Error: err})
	}
	ids, err := c.arrayTasks(who, state, req.ArrayJobIDs, named, &asked, fail)
	if err != nil {
		return api.StopJobsResponse{}, err
	}
	if len(req.IDs)+len(ids) > MaxStopJobs {
		return api.StopJobsResponse{}, api.Errorf(api.CodeInvalid, "%d jobs in one stop, with the arrays' tasks; at most %d: send several",
			len(req.IDs)+len(ids), MaxStopJobs).WithField("arrayJobIds")
	}
	cmd := raftfsm.StopManyCmd{Reason: req.Reason, CallerUID: who.actingUID(), Now: c.nowMillis()}
	for _, id := range req.IDs {
		if c.cfg.PrivateJobs {
			if j := state.Job(id); j != nil && !c.visible(who, j) {
				fail(id, errNoJob(id))
				continue
			}
		}
		cmd.IDs = append(cmd.IDs, id)
	}
	cmd.IDs = append(cmd.IDs, ids...) // after the ones named, in the order asked
	cmd.IDs = keepAllowed(state, cmd, fail)
	if len(cmd.IDs) == 0 {
		return resp, nil
	}
	res, err := c.applier.Apply(ctx, raftfsm.OpStopMany, cmd)
	if err != nil {
		return api.StopJobsResponse{}, err
	}
	for i, e := range res.Errs {
		if e != nil {
			fail(cmd.IDs[i], e)
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

// arrayTasks lists the tasks to stop of the arrays asked whole: each that
// has not ended and is not ending, and is not named by id too; each array
// goes into asked. An id that is no array's (or, with PrivateJobs, one who
// may not see) fails as not found.
func (c *Controller) arrayTasks(who caller, state *raftfsm.State, arrays []uint64, named map[uint64]bool,
	asked *[]askedArray, fail func(uint64, *api.Error)) ([]uint64, error) {
	var ids []uint64
	refs := state.JobRefs()
	var j api.Job
	for _, a := range arrays {
		first, ok := refs.Ref(a)
		if ok {
			first.LoadNoEnv(&j)
		}
		if !ok || j.Array == nil || j.Array.JobID != a || (c.cfg.PrivateJobs && !c.visible(who, &j)) {
			fail(a, api.Errorf(api.CodeNotFound, "job %d is no job array", a))
			continue
		}
		if len(ids)+j.Array.Count > MaxStopJobs {
			return nil, api.Errorf(api.CodeInvalid, "the arrays' tasks are over %d: send several stops", MaxStopJobs).WithField("arrayJobIds")
		}
		*asked = append(*asked, askedArray{id: a, end: a + uint64(j.Array.Count)})
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
			if stop && !named[a+k] {
				ids = append(ids, a+k)
			}
		}
	}
	return ids, nil
}
