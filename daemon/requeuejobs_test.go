package daemon

import (
	"net/http"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// A requeue of many jobs (api.StopJobsRequest.Requeue, scontrol requeue
// of an array) queues every task named that has ended again, in one raft
// entry; the waiting ones are refused by name as Slurm refuses them (Job
// is pending execution), and another user is refused (with PrivateJobs,
// not found) with nothing written. Asked whole (ArrayJobIDs), the array's
// tasks that have ended are requeued, the waiting ones not asked.
func TestRequeueJobsArray(t *testing.T) {
	for _, private := range []bool{false, true} {
		tc := startTestController(t, private)
		held := api.JobSpec{Name: "sweep", Command: []string{"true"}, Held: true}
		var sub api.SubmitJobResponse
		tc.mustCall(alice, api.PathSubmit, api.SubmitJobRequest{JobSpec: held, ArrayIndexes: seqInts(0, 6)}, &sub)
		arr := sub.ID
		tasks := []uint64{arr, arr + 1, arr + 2, arr + 3, arr + 4, arr + 5}
		var resp api.StopJobsResponse
		tc.mustCall(alice, api.PathStopJobs, api.StopJobsRequest{IDs: tasks[:4], Reason: "early"}, &resp)

		before := tc.indexes()
		tc.mustCall(bob, api.PathStopJobs, api.StopJobsRequest{IDs: tasks, Requeue: true}, &resp)
		want := api.CodeForbidden
		if private {
			want = api.CodeNotFound
		}
		if len(resp.Failed) != len(tasks) || resp.Failed[0].Error.Code != want {
			t.Errorf("private=%v: bob's requeue of alice's tasks: failed %+v, want each refused %s", private, resp.Failed, want)
		}
		if after := tc.indexes(); after != before {
			t.Errorf("private=%v: a refused requeue moved raft from %v to %v", private, before, after)
		}

		before = tc.indexes()
		resp = api.StopJobsResponse{}
		tc.mustCall(alice, api.PathStopJobs, api.StopJobsRequest{IDs: tasks, Requeue: true, Hold: true, Reason: "Requeued by scontrol"}, &resp)
		if after := tc.indexes(); after[0] != before[0]+1 {
			t.Errorf("private=%v: requeue of 4 tasks took raft indexes %v -> %v, want one entry", private, before, after)
		}
		if len(resp.Failed) != 2 {
			t.Fatalf("private=%v: requeue of 4 ended and 2 waiting tasks: failed %+v, want the 2 waiting", private, resp.Failed)
		}
		for i, f := range resp.Failed {
			if f.ID != tasks[4+i] || f.Error == nil || f.Error.Code != api.CodeConflict || f.Error.Field != api.RequeueFieldWaiting {
				t.Errorf("private=%v: refusal %+v, want task %d refused as waiting", private, f, tasks[4+i])
			}
		}
		state := tc.c.fsm.State()
		for _, id := range tasks[:4] {
			if j := state.Job(id); j.State != api.StatePending || !j.Held || j.Cause != "" {
				t.Errorf("private=%v: requeued task %d: %s held %v cause %q, want PENDING, held", private, id, j.State, j.Held, j.Cause)
			}
		}

		// The array asked whole: its ended tasks, not its waiting ones.
		tc.mustCall(alice, api.PathStopJobs, api.StopJobsRequest{IDs: tasks[1:3], Reason: "again"}, &resp)
		before = tc.indexes()
		resp = api.StopJobsResponse{}
		tc.mustCall(alice, api.PathStopJobs, api.StopJobsRequest{ArrayJobIDs: []uint64{arr}, Requeue: true}, &resp)
		if len(resp.Failed) != 0 {
			t.Errorf("private=%v: requeue of the array whole: failed %+v, want none", private, resp.Failed)
		}
		if after := tc.indexes(); after[0] != before[0]+1 {
			t.Errorf("private=%v: requeue of the array whole took raft indexes %v -> %v, want one entry", private, before, after)
		}
		state = tc.c.fsm.State()
		for _, id := range tasks {
			if j := state.Job(id); j.State != api.StatePending {
				t.Errorf("private=%v: task %d after the array's requeue: %s (%q), want PENDING", private, id, j.State, j.StatusReason)
			}
		}

		if status, e := tc.call(alice, api.PathStopJobs, api.StopJobsRequest{IDs: tasks, Hold: true}, nil); status != http.StatusBadRequest || e.Field != "hold" {
			t.Errorf("private=%v: hold without requeue: HTTP %d %+v, want 400 naming hold", private, status, e)
		}
	}
}
