package raftfsm

import (
	"fmt"

	"github.com/shoal-batch/shoal/api"
)

// OpPreempt stops running jobs to make room for a job of a
// higher-priority queue (PreemptCmd).
const OpPreempt Op = 52

// PreemptCmd is the scheduler's preemption plan, committed by the leader.
type PreemptCmd struct {
	Victims []Victim `json:"victims"`
	Now     int64    `json:"now"`
}

// Victim is one job to preempt: For is the job it makes room for; Requeue
// (its queue's PreemptMode REQUEUE) runs it again once stopped, else it
// ends FAILED with CausePreempted (Slurm's PREEMPTED).
type Victim struct {
	JobID   uint64 `json:"jobId"`
	For     uint64 `json:"for"`
	Requeue bool   `json:"requeue,omitempty"`
	// GraceSeconds is the victim's queue's GraceTime (0: the node's).
	GraceSeconds int `json:"graceSeconds,omitempty"`
}

// preempt asks the victims' nodes to stop them. A victim that has ended,
// or is being stopped already, is left alone: the plan was made on an
// older state. A job submitted with --no-requeue is cancelled, never
// requeued.
func (w writer) preempt(c PreemptCmd) Result {
	for _, v := range c.Victims {
		j := w.job(v.JobID)
		if j == nil || !j.State.Terminable() || j.StopRequested {
			continue
		}
		j.StopRequested, j.StopCause = true, api.CausePreempted
		j.StopReason = fmt.Sprintf("Preempted by job %d", v.For)
		j.RequeueRequested = v.Requeue && !j.NoRequeue
		j.StopGraceSeconds = v.GraceSeconds
		w.put(tableJobs, j)
	}
	return Result{}
}
