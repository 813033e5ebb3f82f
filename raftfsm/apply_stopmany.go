package raftfsm

import "github.com/shoal-batch/shoal/api"

// OpStopMany ends many jobs in one log entry (scancel of a user's 20,000
// jobs is one commit, not 20,000).
const OpStopMany Op = 30 // StopManyCmd

// StopManyCmd ends each job of IDs as scancel does: one that has not
// started is cancelled, a started one terminated. Each job is its own
// decision: one the caller may not stop, or that has ended, is refused
// in Result.Errs while the others stop.
type StopManyCmd struct {
	IDs       []uint64 `json:"ids"`
	Reason    string   `json:"reason"`
	CallerUID uint32   `json:"callerUid"`
	Now       int64    `json:"now"`
}

func (w writer) stopMany(c StopManyCmd) Result {
	errs := make([]*api.Error, len(c.IDs))
	failed := false
	for i, id := range c.IDs {
		if errs[i] = stopManyRefusal((&State{txn: w.txn}).Job(id), id, c.CallerUID); errs[i] == nil {
			errs[i] = w.stop(StopCmd{ID: id, Reason: c.Reason, Terminate: true, CallerUID: c.CallerUID, Now: c.Now}).Err
		}
		failed = failed || errs[i] != nil
	}
	if !failed {
		errs = nil
	}
	return Result{Errs: errs}
}

// stopManyRefusal is why a StopManyCmd of uid would not stop job id (j, nil
// when there is none), or nil when it would: the rules of stop with
// Terminate, read-only.
func stopManyRefusal(j *api.Job, id uint64, uid uint32) *api.Error {
	switch {
	case j == nil:
		return api.Errorf(api.CodeNotFound, "job %d does not exist", id)
	case owns(j, uid, "terminate") != nil:
		return owns(j, uid, "terminate")
	case j.State.Terminal():
		return api.Errorf(api.CodeConflict,
			"cannot terminate job %d: it is %s; terminate applies to jobs that are SUBMITTED through RUNNING", id, j.State)
	}
	return nil
}

// StopManyRefusals answers, from the state as it is, what a StopManyCmd
// would refuse, in c's order (nil where it would stop the job), without
// the write transaction FSM.Check takes: the leader checks a scancel of
// 20,000 jobs before proposing it.
func (s *State) StopManyRefusals(c StopManyCmd) []*api.Error {
	errs := make([]*api.Error, len(c.IDs))
	for i, id := range c.IDs {
		errs[i] = stopManyRefusal(s.Job(id), id, c.CallerUID)
	}
	return errs
}
