package daemon

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// MaxStopJobs bounds the jobs of one StopJobsRequest (as MaxHoldJobs).
const MaxStopJobs = 100_000

// stopJobs ends many jobs in one raft entry (arrays asked whole with more
// tasks than MaxStopJobs: in entries of that many, and an error in a later
// one leaves the earlier ones' stops standing), or with req.Requeue
// queues them again (raftfsm.RequeueManyCmd), in entries alike. Jobs the
// FSM would refuse now (not the caller's, ended, unknown; with
// PrivateJobs, not visible to the caller) are answered at once and never
// proposed; the rest are, and the FSM decides each again when it applies.
// The check reads the state (no FSM.Check, whose throwaway write of
// 20,000 jobs would cost as much as the commit).
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
	if req.Hold && !req.Requeue {
		return api.StopJobsResponse{}, api.Errorf(api.CodeInvalid, "hold applies to a requeue: give requeue too").WithField("hold")
	}
	asks := stopsTask
	switch {
	case req.Requeue:
		asks = requeuesTask
		if req.Reason == "" {
			req.Reason = "Requeued by user"
		}
	case req.Reason == "":
		req.Reason = "Cancelled by user"
	}
	var resp api.StopJobsResponse
	state := c.fsm.State()
	notFound := func(id uint64, err *api.Error) { resp.Failed = append(resp.Failed, api.JobFailure{ID: id, Error: err}) }
	asked, tasks := c.arrayTasks(who, state, req.ArrayJobIDs, asks, notFound)
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
	if req.Requeue {
		if err := c.requeueJobs(ctx, who, state, req, ids, fail); err != nil {
			return api.StopJobsResponse{}, err
		}
		return resp, nil
	}
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

// stopsTask says whether a stop of task j's array asks it: it has not
// ended and is not ending.
func stopsTask(j *api.Job) bool { return !j.State.Terminal() && !j.StopRequested }

// requeuesTask says whether a requeue of task j's array asks it: it has
// started or ended (one waiting is queued already).
func requeuesTask(j *api.Job) bool { return !j.State.Cancellable() }

// arrayTasks lists the arrays asked whole (in id order; an array asked
// twice, once) and the tasks of them that asks (stopsTask, requeuesTask)
// says to ask. An id that is no array's (or, with PrivateJobs, one who
// may not see) is refused to notFound.
func (c *Controller) arrayTasks(who caller, state *raftfsm.State, arrays []uint64, asks func(*api.Job) bool,
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
		prev, stop := first, asks(&j)
		for k := range uint64(j.Array.Count) {
			r, ok := refs.Ref(a + k)
			if !ok {
				continue // left the state: ended long ago
			}
			if !r.Alike(prev) { // alike tasks (one record) are all stopped or none
				r.LoadNoEnv(&j)
				prev, stop = r, j.Array != nil && j.Array.JobID == a && asks(&j)
			}
			if stop {
				ids = append(ids, a+k)
			}
		}
	}
	slices.SortFunc(asked, func(x, y askedArray) int { return cmp.Compare(x.id, y.id) }) // for arrayOf
	return asked, ids
}

// requeueJobs queues ids (stopJobs' jobs of a requeue) to run again, in
// entries of MaxStopJobs (an error in a later one leaves the earlier
// ones' requeues standing). Those the FSM would refuse now
// (raftfsm.State.RequeueManyRefusals), and ended ones their accounts'
// limits refuse (a finished job queued again is a job submitted again, as
// for one requeued alone), go to fail and are never proposed.
func (c *Controller) requeueJobs(ctx context.Context, who caller, state *raftfsm.State, req api.StopJobsRequest,
	ids []uint64, fail func(uint64, *api.Error)) error {
	if state.HasAccounts() {
		// Ended jobs queued again are jobs submitted again: checked and
		// committed under the submit lock, against the state read once
		// it is held, as stopJob's one (a caller requeues its own jobs;
		// root's or an operator's may be anyone's: everyone's lock).
		everyone := state.HasGroupSubmitLimits() || who.operator || who.uid == 0
		defer c.submitters.lock(who.actingUID(), everyone)()
		state = c.fsm.State()
	}
	accounts, limited := newAcctCheck(state), state.HasAccounts()
	refs := state.JobRefs()
	var j api.Job
	for len(ids) > 0 {
		cmd := raftfsm.RequeueManyCmd{IDs: ids[:min(len(ids), MaxStopJobs)], Reason: req.Reason, Hold: req.Hold,
			CallerUID: who.actingUID(), Now: c.nowMillis()}
		ids = ids[len(cmd.IDs):]
		keep := make([]uint64, 0, len(cmd.IDs))
		for i, e := range state.RequeueManyRefusals(cmd) {
			id := cmd.IDs[i]
			if e == nil && limited {
				if r, ok := refs.Ref(id); ok && !r.Waiting() {
					r.LoadNoEnv(&j)
					if j.State.Terminal() {
						again := j
						e = asAPIError(accounts.check(&again, 1))
					}
				}
			}
			if e != nil {
				fail(id, e)
				continue
			}
			keep = append(keep, id)
		}
		if cmd.IDs = keep; len(cmd.IDs) == 0 {
			continue
		}
		res, err := c.applier.Apply(ctx, raftfsm.OpRequeueMany, cmd)
		if err != nil {
			return err
		}
		for i, e := range res.Errs {
			if e != nil {
				fail(cmd.IDs[i], e)
			}
		}
	}
	return nil
}

// asAPIError is err as an *api.Error (nil for nil; another error as an
// internal one).
func asAPIError(err error) *api.Error {
	if err == nil {
		return nil
	}
	var e *api.Error
	if errors.As(err, &e) {
		return e
	}
	return api.Errorf(api.CodeInternal, "%v", err)
}
