package raftfsm_test

import (
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// TestPreempt: a preempted job is asked to stop; once its node reports the
// end it is FAILED with CausePreempted (CANCEL) or RUNNABLE again as a new
// attempt (REQUEUE); a job that has ended, or is not named, is left alone.
func TestPreempt(t *testing.T) {
	h := newHarness(t)
	cancel, requeue, noRequeue := h.jobIn(api.StateRunning, 1), h.jobIn(api.StateRunning, 1), h.jobIn(api.StateRunning, 1)
	done := h.jobIn(api.StateSucceeded, 1)
	h.mustOK("preempt", h.apply(raftfsm.OpPreempt, raftfsm.PreemptCmd{Now: 2, Victims: []raftfsm.Victim{
		{JobID: cancel, For: 99, GraceSeconds: 30}, {JobID: requeue, For: 99, Requeue: true}, {JobID: done, For: 99}}}))
	if g := h.job(cancel).StopGraceSeconds; g != 30 {
		t.Errorf("victim's stop grace %d, want its queue's GraceTime 30", g)
	}
	for _, id := range []uint64{cancel, requeue} {
		j := h.job(id)
		if !j.StopRequested || j.StopCause != api.CausePreempted || j.StopReason != "Preempted by job 99" {
			t.Fatalf("job %d after preempt: stop %v cause %q reason %q, want a preemption stop", id, j.StopRequested, j.StopCause, j.StopReason)
		}
	}
	if j := h.job(done); j.StopRequested {
		t.Errorf("ended job %d was asked to stop", done)
	}
	if j := h.job(noRequeue); j.StopRequested {
		t.Errorf("job %d, not a victim, was asked to stop", noRequeue)
	}
	node := h.job(cancel).Node
	h.events(3, api.JobEvent{ID: cancel, Node: node, State: api.StateFailed, Signal: 15},
		api.JobEvent{ID: requeue, Node: node, State: api.StateFailed, Signal: 15})
	h.wantJob(cancel, api.StateFailed, "Preempted by job 99")
	if c := h.job(cancel).Cause; c != api.CausePreempted {
		t.Errorf("cancelled victim's cause %q, want %q", c, api.CausePreempted)
	}
	j := h.wantJob(requeue, api.StateRunnable, "")
	if len(j.Attempts) != 1 || j.Attempts[0].Cause != api.CauseRequeued || j.Attempts[0].StatusReason != "Preempted by job 99" {
		t.Errorf("requeued victim's attempts %+v, want one, requeued, preempted by 99", j.Attempts)
	}
}
