package raftfsm_test

import (
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// A drain records who gave the reason and when (sinfo -R's USER and
// TIMESTAMP); a resume clears all of it.
func TestUpdateNodeRecordsWhoAndWhen(t *testing.T) {
	h := newHarness(t)
	h.register(1, api.Node{Name: "n1", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}})

	h.mustOK("drain", h.apply(raftfsm.OpUpdateNode, raftfsm.UpdateNodeCmd{
		Update: api.UpdateNodeRequest{Name: "n1", State: api.NodeDrain, Reason: "bad disk"},
		Now:    5000, By: "alice", ByUID: 1001,
	}))
	n := h.fsm.State().Node("n1")
	if n.State != api.NodeDrain || n.Reason != "bad disk" || n.ReasonBy != "alice" || n.ReasonUID != 1001 || n.ReasonAt != 5000 {
		t.Fatalf("drained node = %+v, want DRAIN, bad disk, by alice(1001) at 5000", n)
	}

	h.mustOK("resume", h.apply(raftfsm.OpUpdateNode, raftfsm.UpdateNodeCmd{
		Update: api.UpdateNodeRequest{Name: "n1", State: api.NodeUp},
		Now:    6000, By: "root",
	}))
	n = h.fsm.State().Node("n1")
	if n.State != api.NodeUp || n.Reason != "" || n.ReasonBy != "" || n.ReasonUID != 0 || n.ReasonAt != 0 {
		t.Fatalf("resumed node = %+v, want UP with no reason", n)
	}

	res := h.apply(raftfsm.OpUpdateNode, raftfsm.UpdateNodeCmd{
		Update: api.UpdateNodeRequest{Name: "nope", State: api.NodeDrain, Reason: "x"}, Now: 7000,
	})
	if !api.IsCode(res.Err, api.CodeNotFound) {
		t.Fatalf("drain of an unknown node: %v, want not found", res.Err)
	}
}
