package raftfsm

import (
	"github.com/shoal-batch/shoal/api"
)

// OpSignal records a request to signal a running job. Never renumber.
const OpSignal Op = 16 // SignalCmd

// SignalCmd asks that a started job's processes get a signal. Caller, if
// not root, must own the job. The job's node delivers it.
type SignalCmd struct {
	ID        uint64          `json:"id"`
	Signal    int             `json:"signal"`
	Scope     api.SignalScope `json:"scope,omitempty"`
	CallerUID uint32          `json:"callerUid"`
}

// signal appends a signal to a STARTING or RUNNING job's Signals, with the
// next sequence number, keeping the last api.MaxJobSignals.
func (w writer) signal(c SignalCmd) Result {
	if c.Signal < 1 || c.Signal > api.MaxSignal {
		return Result{Err: api.Errorf(api.CodeInvalid, "signal %d is out of range: give a signal number from 1 to %d", c.Signal, api.MaxSignal).WithField("signal")}
	}
	if !c.Scope.Valid() {
		return Result{Err: api.Errorf(api.CodeInvalid, "signal scope %q: use %s, %s or %s", c.Scope, api.SignalSteps, api.SignalBatch, api.SignalFull).WithField("scope")}
	}
	j := w.job(c.ID)
	if j == nil {
		return Result{Err: api.Errorf(api.CodeNotFound, "job %d does not exist", c.ID)}
	}
	if err := owns(j, c.CallerUID, "signal"); err != nil {
		return Result{Err: err}
	}
	if !j.State.Terminable() {
		return Result{Err: api.Errorf(api.CodeConflict,
			"cannot signal job %d: it is %s; signal applies to jobs that are STARTING or RUNNING", j.ID, j.State)}
	}
	scope := c.Scope
	if scope == "" {
		scope = api.SignalSteps
	}
	seq := uint64(1)
	if n := len(j.SignalRequests); n > 0 {
		seq = j.SignalRequests[n-1].Seq + 1
	}
	// A fresh slice: the stored job's may be shared with readers.
	keep := j.SignalRequests[max(0, len(j.SignalRequests)-(api.MaxJobSignals-1)):]
	sigs := make([]api.JobSignal, 0, len(keep)+1)
	j.SignalRequests = append(append(sigs, keep...), api.JobSignal{Seq: seq, Signal: c.Signal, Scope: scope})
	w.put(tableJobs, j)
	return Result{}
}
