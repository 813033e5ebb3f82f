package daemon

import (
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// One stop request from alice ends her jobs in one raft entry; bob's job
// and an unknown id are refused by name (with PrivateJobs, bob's is not
// found, as if it did not exist), and a stop that refuses everything
// writes nothing to raft.
func TestStopJobs(t *testing.T) {
	for _, private := range []bool{false, true} {
		tc := startTestController(t, private)
		held := api.JobSpec{Name: "held", Command: []string{"true"}, Held: true}
		a1, a2 := tc.submit(alice, held), tc.submit(alice, held)
		b1 := tc.submit(bob, held)

		before := tc.indexes()
		var resp api.StopJobsResponse
		tc.mustCall(alice, api.PathStopJobs, api.StopJobsRequest{IDs: []uint64{a1, b1, 9999, a2}, Reason: "Cancelled by scancel"}, &resp)
		if after := tc.indexes(); after[0] != before[0]+1 {
			t.Errorf("private=%v: stop of alice's 2 jobs took raft indexes %v -> %v, want one entry", private, before, after)
		}
		wantCode := map[uint64]string{b1: api.CodeForbidden, 9999: api.CodeNotFound}
		if private {
			wantCode[b1] = api.CodeNotFound
		}
		if len(resp.Failed) != len(wantCode) {
			t.Fatalf("private=%v: failed %+v, want %d refusals", private, resp.Failed, len(wantCode))
		}
		for _, f := range resp.Failed {
			if f.Error == nil || f.Error.Code != wantCode[f.ID] {
				t.Errorf("private=%v: job %d refused with %+v, want code %s", private, f.ID, f.Error, wantCode[f.ID])
			}
		}
		state := tc.c.fsm.State()
		for _, id := range []uint64{a1, a2} {
			if j := state.Job(id); j.State != api.StateFailed || j.StatusReason != "Cancelled by scancel" {
				t.Errorf("private=%v: alice's job %d is %s (%q), want FAILED (Cancelled by scancel)", private, id, j.State, j.StatusReason)
			}
		}
		if j := state.Job(b1); j.State.Terminal() {
			t.Errorf("private=%v: bob's job %d is %s after alice's stop, want untouched", private, b1, j.State)
		}

		before = tc.indexes()
		tc.mustCall(bob, api.PathStopJobs, api.StopJobsRequest{IDs: []uint64{a1, a2}}, &resp)
		if after := tc.indexes(); after != before {
			t.Errorf("private=%v: a stop refused for every job moved raft from %v to %v, want no entry", private, before, after)
		}
	}
}
