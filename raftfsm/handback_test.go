package raftfsm_test

import (
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// A node that shuts down gives back the jobs it placed but never started:
// they are RUNNABLE again, their attempt not counted, their resources
// free; a hand-back of a job that has started, or one that was being
// terminated, does not requeue it.
func TestHandBack(t *testing.T) {
	h := newHarness(t)
	h.register(1, api.Node{Name: "n", Boot: "b", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}})
	ids := h.submit(2, newJob("a"), newJob("b"), newJob("c"))
	for _, id := range ids {
		h.place(3, raftfsm.Placement{JobID: id, Node: "n"})
	}
	h.events(4, api.JobEvent{ID: ids[1], Node: "n", State: api.StateRunning})
	h.mustOK("terminate c", h.stop(raftfsm.StopCmd{ID: ids[2], Terminate: true, Reason: "Terminated by user", Now: 5}))
	back := api.JobEvent{Node: "n", State: api.StateRunnable, Reason: "node n shut down before the job started"}
	evs := []api.JobEvent{back, back, back}
	for i := range evs {
		evs[i].ID = ids[i]
	}
	h.events(6, evs...)

	a := h.wantJob(ids[0], api.StateRunnable, "")
	if a.Attempt != 0 || a.StartedAt != 0 {
		t.Errorf("handed-back job: attempt %d, startedAt %d; want 0, 0 (it never ran)", a.Attempt, a.StartedAt)
	}
	h.wantJob(ids[1], api.StateRunning, "")
	h.wantJob(ids[2], api.StateFailed, "Terminated by user")
	h.wantAlloc("n", newJob("b").Resources)

	// Placed again, it runs as attempt 1.
	h.place(7, raftfsm.Placement{JobID: ids[0], Node: "n"})
	if j := h.wantJob(ids[0], api.StateStarting, ""); j.Attempt != 1 {
		t.Errorf("handed-back job placed again: attempt %d, want 1", j.Attempt)
	}
}
