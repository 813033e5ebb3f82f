package daemon

import (
	"net/http"
	"strings"
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

// A stop that names arrays whole (scancel ARRAY) ends every task of each
// that has not ended, in one raft entry, and leaves the ended ones as they
// were; another user's array is refused once, by the array's id, with
// nothing written (with PrivateJobs, not found); an id that is no array's
// is not found.
func TestStopJobsArrays(t *testing.T) {
	for _, private := range []bool{false, true} {
		tc := startTestController(t, private)
		held := api.JobSpec{Name: "sweep", Command: []string{"true"}, Held: true}
		var resp api.SubmitJobResponse
		tc.mustCall(alice, api.PathSubmit, api.SubmitJobRequest{JobSpec: held, ArrayIndexes: seqInts(0, 600)}, &resp)
		arr := resp.ID
		plain := tc.submit(alice, held)
		var stopped api.StopJobsResponse
		tc.mustCall(alice, api.PathStopJobs, api.StopJobsRequest{IDs: []uint64{arr + 7, arr + 300}, Reason: "early"}, &stopped)

		before := tc.indexes()
		tc.mustCall(bob, api.PathStopJobs, api.StopJobsRequest{ArrayJobIDs: []uint64{arr}}, &stopped)
		want := api.CodeForbidden
		if private {
			want = api.CodeNotFound
		}
		if len(stopped.Failed) != 1 || stopped.Failed[0].ID != arr || stopped.Failed[0].Error.Code != want {
			t.Errorf("private=%v: bob's stop of alice's array: failed %+v, want one %s for %d", private, stopped.Failed, want, arr)
		}
		if after := tc.indexes(); after != before {
			t.Errorf("private=%v: a refused stop of an array moved raft from %v to %v", private, before, after)
		}

		before = tc.indexes()
		tc.mustCall(alice, api.PathStopJobs, api.StopJobsRequest{ArrayJobIDs: []uint64{arr, plain}, Reason: "scancel"}, &stopped)
		if len(stopped.Failed) != 1 || stopped.Failed[0].ID != plain || stopped.Failed[0].Error.Code != api.CodeNotFound {
			t.Errorf("private=%v: alice's stop of her array and a plain job as an array: failed %+v, want %d not found", private, stopped.Failed, plain)
		}
		if after := tc.indexes(); after[0] != before[0]+1 {
			t.Errorf("private=%v: the array's stop took raft indexes %v -> %v, want one entry", private, before, after)
		}
		state := tc.c.fsm.State()
		for k := range uint64(600) {
			j := state.Job(arr + k)
			reason := "scancel"
			if k == 7 || k == 300 {
				reason = "early"
			}
			if j.State != api.StateFailed || j.StatusReason != reason {
				t.Fatalf("private=%v: task %d is %s (%q), want FAILED (%s)", private, k, j.State, j.StatusReason, reason)
			}
		}
		if j := state.Job(plain); j.State.Terminal() {
			t.Errorf("private=%v: the plain job named as an array is %s, want untouched", private, j.State)
		}
	}
}

// Arrays asked whole with more tasks than one stop takes (MaxStopJobs)
// end in as many entries as it takes; an array asked twice is asked once
// (no refusal for its tasks the first asking stopped), a task named by id
// is asked with its array, and a task asked as an array is not found, by
// its own id.
func TestStopJobsArraysOverMax(t *testing.T) {
	tc := startTestController(t, false)
	held := api.JobSpec{Name: "sweep", Command: []string{"true"}, Held: true}
	n := MaxStopJobs*6/10 + 1
	var arrays []uint64
	for range 2 {
		var resp api.SubmitJobResponse
		tc.mustCall(alice, api.PathSubmit, api.SubmitJobRequest{JobSpec: held, ArrayIndexes: seqInts(0, n)}, &resp)
		arrays = append(arrays, resp.ID)
	}
	waiting := func() int {
		st := tc.c.fsm.State()
		return st.CountInState(api.StateSubmitted) + st.CountInState(api.StatePending) + st.CountInState(api.StateRunnable)
	}
	if w := waiting(); w != 2*n {
		t.Fatalf("%d tasks waiting after the submits, want %d", w, 2*n)
	}
	before := tc.indexes()
	var stopped api.StopJobsResponse
	// Named twice, and a task of the first named by id and as an array.
	ask := api.StopJobsRequest{IDs: []uint64{arrays[0] + 6}, ArrayJobIDs: []uint64{arrays[0] + 6, arrays[1], arrays[0]}, Reason: "scancel"}
	tc.mustCall(alice, api.PathStopJobs, ask, &stopped)
	if len(stopped.Failed) != 1 || stopped.Failed[0].ID != arrays[0]+6 || stopped.Failed[0].Error.Code != api.CodeNotFound {
		t.Errorf("stop of two arrays of %d tasks, one asked twice, a task as an array: failed %+v, want the task not found as an array", n, stopped.Failed)
	}
	if after := tc.indexes(); after[0] != before[0]+2 {
		t.Errorf("stop of %d tasks took raft indexes %v -> %v, want two entries", 2*n, before, after)
	}
	if w := waiting(); w != 0 {
		t.Errorf("%d tasks still waiting after the stop", w)
	}
}

func seqInts(from, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = from + i
	}
	return out
}

// A cancel or terminate reason becomes a statusReason that every user's
// listing carries: one over MaxTextBytes, or with a control character, is
// refused by every front door that takes one, and nothing is written.
func TestStopReasonChecked(t *testing.T) {
	tc := startTestController(t, false)
	id := tc.submit(alice, api.JobSpec{Name: "held", Command: []string{"true"}, Held: true})
	for name, reason := range map[string]string{
		"long":   strings.Repeat("A", MaxTextBytes+1),
		"escape": "\x1b[2JYOUR ACCOUNT IS SUSPENDED",
		"line":   "a\nb",
		"bidi":   "ok \u202egnp.exe",
	} {
		before := tc.indexes()
		for _, c := range []struct {
			path string
			req  any
		}{
			{api.PathCancel, api.StopJobRequest{ID: id, Reason: reason}},
			{api.PathTerminate, api.StopJobRequest{ID: id, Reason: reason}},
			{api.PathStopJobs, api.StopJobsRequest{IDs: []uint64{id}, Reason: reason}},
			{"/v1/terminatejob", api.AWSJobIDRequest{JobID: api.FormatID(id), Reason: reason}},
			{"/v1/canceljob", api.AWSJobIDRequest{JobID: api.FormatID(id), Reason: reason}},
		} {
			status, e := tc.call(alice, c.path, c.req, nil)
			if status != http.StatusBadRequest || !strings.Contains(e.Message, "reason") {
				t.Errorf("%s with a %s reason: HTTP %d %q, want 400 naming the reason", c.path, name, status, e.Message)
			}
		}
		if after := tc.indexes(); after != before {
			t.Errorf("refused %s reasons moved raft from %v to %v", name, before, after)
		}
	}
	if j := tc.c.fsm.State().Job(id); j.State.Terminal() {
		t.Errorf("job %d is %s after refused stops, want untouched", id, j.State)
	}
}
