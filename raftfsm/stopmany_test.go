package raftfsm_test

import (
	"reflect"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// One StopManyCmd cancels what has not started and terminates what runs,
// in one entry; each job it may not stop is refused on its own, in order,
// and leaves the others stopped.
func TestStopManyIsOneEntryWithEachJobDecided(t *testing.T) {
	h := newHarness(t)
	runnable := h.jobIn(api.StateRunnable, 100)
	pending := h.jobIn(api.StatePending, 100)
	running := h.jobIn(api.StateRunning, 100)
	done := h.jobIn(api.StateSucceeded, 100)
	bobs := newJob("bobs")
	bobs.User, bobs.UID, bobs.GID = "bob", 1001, 1001
	bob := h.submit(100, bobs)[0]

	ids := []uint64{runnable, done, pending, bob, 9999, running}
	cmd := raftfsm.StopManyCmd{IDs: ids, Reason: "Cancelled by scancel", CallerUID: 1000, Now: 200}
	checked := h.fsm.State().StopManyRefusals(cmd)
	before := h.idx
	res := h.apply(raftfsm.OpStopMany, cmd)
	if h.idx != before+1 {
		t.Fatalf("stop of %d jobs took %d entries, want 1", len(ids), h.idx-before)
	}
	if res.Err != nil || len(res.Errs) != len(ids) {
		t.Fatalf("StopMany: err %v, %d per-job errors; want no error and one slot per job (%d)", res.Err, len(res.Errs), len(ids))
	}
	if !reflect.DeepEqual(checked, res.Errs) {
		t.Errorf("StopManyRefusals before the apply: %v; want what the apply refused, %v", checked, res.Errs)
	}
	wantErr := map[uint64]string{done: api.CodeConflict, bob: api.CodeForbidden, 9999: api.CodeNotFound}
	for i, id := range ids {
		got := res.Errs[i]
		if code, refused := wantErr[id]; refused {
			if got == nil || got.Code != code {
				t.Errorf("job %d: error %v, want code %s", id, got, code)
			}
		} else if got != nil {
			t.Errorf("job %d: refused with %v, want stopped", id, got)
		}
	}
	h.wantJob(runnable, api.StateFailed, "Cancelled by scancel")
	h.wantJob(pending, api.StateFailed, "Cancelled by scancel")
	if j := h.job(running); j.State != api.StateRunning || !j.StopRequested {
		t.Errorf("running job %d: %s, stop requested %v; want RUNNING with its stop requested (the node ends it)", running, j.State, j.StopRequested)
	}
	if j := h.job(bob); j.State.Terminal() {
		t.Errorf("bob's job %d is %s after alice's stop, want untouched", bob, j.State)
	}

	// All applied: no per-job slots.
	more := h.jobIn(api.StateRunnable, 300)
	if res := h.apply(raftfsm.OpStopMany, raftfsm.StopManyCmd{IDs: []uint64{more}, Reason: "x", CallerUID: 1000, Now: 300}); res.Err != nil || res.Errs != nil {
		t.Errorf("StopMany of one stoppable job: err %v, errs %v; want neither", res.Err, res.Errs)
	}
}
