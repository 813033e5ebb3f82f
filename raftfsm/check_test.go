package raftfsm_test

import (
	"reflect"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// TestCheckChangesNothing: Check answers what Apply would (a refusal for
// another user, a conflict for a started job, success for the owner) and
// leaves the state and its index as they were, so that the leader can
// refuse before it proposes.
func TestCheckChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.submit(10, newJob("a"), newJob("b"))
	before := allJobs(h.fsm)
	idx := h.fsm.State().Index()

	wantErr(t, "bob holds alice's job", h.fsm.Check(raftfsm.OpHold, raftfsm.HoldCmd{IDs: []uint64{1}, Hold: true, CallerUID: 1001, Now: 20}),
		api.CodeForbidden, "only its owner or root")
	wantErr(t, "hold of a job that does not exist", h.fsm.Check(raftfsm.OpHold, raftfsm.HoldCmd{IDs: []uint64{1, 99}, Hold: true, CallerUID: 1000, Now: 20}),
		api.CodeNotFound)
	wantErr(t, "bob cancels alice's job", h.fsm.Check(raftfsm.OpStop, raftfsm.StopCmd{ID: 2, Reason: "x", CallerUID: 1001, Now: 20}),
		api.CodeForbidden)
	wantErr(t, "signal of a job not started", h.fsm.Check(raftfsm.OpSignal, raftfsm.SignalCmd{ID: 2, Signal: 10, CallerUID: 1000}),
		api.CodeConflict)
	h.mustOK("alice holds", h.fsm.Check(raftfsm.OpHold, raftfsm.HoldCmd{IDs: []uint64{1, 2}, Hold: true, CallerUID: 1000, Now: 20}))
	h.mustOK("root cancels", h.fsm.Check(raftfsm.OpStop, raftfsm.StopCmd{ID: 1, Reason: "x", CallerUID: 0, Now: 20}))
	wantErr(t, "an unknown command", h.fsm.Check(raftfsm.Op(200), struct{}{}), api.CodeInternal)

	if after := allJobs(h.fsm); !reflect.DeepEqual(before, after) {
		t.Errorf("Check changed the jobs:\nbefore %+v\nafter  %+v", before, after)
	}
	if got := h.fsm.State().Index(); got != idx {
		t.Errorf("Check moved the index from %d to %d", idx, got)
	}
	// The same commands, applied, do what Check said.
	h.mustOK("alice holds", h.apply(raftfsm.OpHold, raftfsm.HoldCmd{IDs: []uint64{1, 2}, Hold: true, CallerUID: 1000, Now: 20}))
	if j := h.job(1); !j.Held {
		t.Errorf("job 1 not held after the hold Check allowed")
	}
}

// TestJobDefinitionNameBelongsToItsOwner: a user cannot add a revision to a
// name another user registered (it would choose what the owner's next
// submit of NAME runs); the owner and operators can.
func TestJobDefinitionNameBelongsToItsOwner(t *testing.T) {
	h := newHarness(t)
	def := func(owner, cmd string) api.JobDefinition {
		return api.JobDefinition{Name: "etl", Type: "script", Owner: owner,
			ContainerProperties: &api.ContainerProperties{Command: []string{cmd}}}
	}
	h.mustOK("bob registers etl", h.apply(raftfsm.OpRegisterJobDef, raftfsm.RegisterJobDefCmd{Def: def("bob", "etl.sh"), Now: 1}))
	wantErr(t, "alice registers a revision of bob's etl",
		h.apply(raftfsm.OpRegisterJobDef, raftfsm.RegisterJobDefCmd{Def: def("alice", "steal.sh"), Now: 2}),
		api.CodeForbidden, "belongs to bob", "choose another name")
	if revs := h.fsm.State().JobDefinitions("etl"); len(revs) != 1 {
		t.Fatalf("etl has %d revisions after the refusal, want 1", len(revs))
	}
	if res := h.mustOK("bob registers revision 2", h.apply(raftfsm.OpRegisterJobDef, raftfsm.RegisterJobDefCmd{Def: def("bob", "etl2.sh"), Now: 3})); res.Revision != 2 {
		t.Errorf("bob's second revision is %d, want 2", res.Revision)
	}
	if res := h.mustOK("root registers revision 3", h.apply(raftfsm.OpRegisterJobDef, raftfsm.RegisterJobDefCmd{Def: def("root", "fix.sh"), Now: 4, Operator: true})); res.Revision != 3 {
		t.Errorf("the operator's revision is %d, want 3", res.Revision)
	}
}
