package raftfsm

import (
	"github.com/shoal-batch/shoal/api"
)

// OpRequeueMany queues many jobs to run again in one log entry: scontrol
// requeue of a 20,000-task array is one commit, not 20,000.
const OpRequeueMany Op = 31 // RequeueManyCmd

// RequeueManyCmd requeues each job of IDs as a StopCmd with Requeue does
// (stop): a finished one at once, a running one once it has stopped;
// Hold holds each too (scontrol requeuehold). Each job is its own
// decision, as Slurm's requeue of an array decides each task: one that
// has not started (already queued), was submitted with --no-requeue, is
// not the caller's or does not exist is refused in Result.Errs while the
// others are requeued; a refusal's Field says why in Slurm's terms
// (api.RequeueFieldWaiting, api.RequeueFieldNoRequeue).
type RequeueManyCmd struct {
	IDs       []uint64 `json:"ids"`
	Reason    string   `json:"reason"`
	Hold      bool     `json:"hold,omitempty"`
	CallerUID uint32   `json:"callerUid"`
	Now       int64    `json:"now"`
}

func (w writer) requeueMany(c RequeueManyCmd) Result {
	errs := make([]*api.Error, len(c.IDs))
	failed := false
	for i, id := range c.IDs {
		if errs[i] = requeueRefusal(w.open.rawRec(w.txn, id), id, c.CallerUID); errs[i] == nil {
			errs[i] = w.stop(StopCmd{ID: id, Reason: c.Reason, Terminate: true, Requeue: true, Hold: c.Hold, CallerUID: c.CallerUID, Now: c.Now}).Err
		}
		failed = failed || errs[i] != nil
	}
	if !failed {
		errs = nil
	}
	return Result{Errs: errs}
}

// requeueRefusal is why a RequeueManyCmd of uid would not requeue job id
// (r, the record or the task group that stands for it; nil when there is
// none), or nil when it would: stop's rules for a requeue, read-only,
// but for a job that has not started, which stop leaves be (it is queued
// already) and a requeue of many refuses, as Slurm's does.
func requeueRefusal(r *jobRec, id uint64, uid uint32) *api.Error {
	switch {
	case r == nil:
		return api.Errorf(api.CodeNotFound, "job %d does not exist", id)
	case uid != 0 && uid != r.spec.UID:
		return owns(r.at(id).job(), uid, "requeue")
	case r.spec.NoRequeue:
		return api.Errorf(api.CodeConflict, "cannot requeue job %d: it was submitted with --no-requeue", id).WithField(api.RequeueFieldNoRequeue)
	case r.State().Cancellable():
		return api.Errorf(api.CodeConflict, "cannot requeue job %d: it is %s, queued already; requeue applies to jobs that have started or ended", id, r.State()).
			WithField(api.RequeueFieldWaiting)
	}
	return nil
}

// RequeueManyRefusals answers, from the state as it is, what a
// RequeueManyCmd would refuse, in c's order (nil where it would requeue
// the job), without the write transaction FSM.Check takes.
func (s *State) RequeueManyRefusals(c RequeueManyCmd) []*api.Error {
	errs := make([]*api.Error, len(c.IDs))
	read := recReader{txn: s.txn}
	for i, id := range c.IDs {
		errs[i] = requeueRefusal(read.raw(id), id, c.CallerUID)
	}
	return errs
}
