package daemon

import (
	"context"

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
	fail := func(id uint64, err *api.Error) { resp.Failed = append(resp.Failed, api.JobFailure{ID: id, Error: err}) }
	cmd := raftfsm.StopManyCmd{Reason: req.Reason, CallerUID: who.actingUID(), Now: c.nowMillis()}
	state := c.fsm.State()
	for _, id := range req.IDs {
		if c.cfg.PrivateJobs {
			if j := state.Job(id); j != nil && !c.visible(who, j) {
				fail(id, errNoJob(id))
				continue
			}
		}
		cmd.IDs = append(cmd.IDs, id)
	}
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
	keep := cmd.IDs[:0:0]
	for i, e := range state.StopManyRefusals(cmd) {
		if e != nil {
			fail(cmd.IDs[i], e)
		} else {
			keep = append(keep, cmd.IDs[i])
		}
	}
	return keep
}
