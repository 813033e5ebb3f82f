package daemon

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// TestStepsOwnerOnly: a step of a job is registered, ended and signalled
// only by the job's owner (or root), as the socket's peer credentials
// prove; another user's attempt is refused before it reaches raft. Step
// ids count from 0 per job, and the job carries its steps and the
// node's step-scoped signal.
func TestStepsOwnerOnly(t *testing.T) {
	tc := startMemController(t, Config{NodeTTL: time.Hour})
	tc.registerNode("n1")
	id := tc.submit(alice, api.JobSpec{Name: "steps", Command: []string{"sleep", "60"}})
	tc.waitJob(id, func(j *api.Job) bool { return j.State == api.StateStarting && j.Node == "n1" })
	start := api.StepStartRequest{JobID: id, Name: "sleep", NTasks: 1, CPUs: 1, SrunHost: "n1", SrunPID: 7}
	before := tc.c.fsm.State().Index()
	for _, c := range []struct {
		path string
		req  any
	}{
		{api.PathStepStart, start},
		{api.PathStepEnd, api.StepEndRequest{JobID: id, StepID: 0}},
		{api.PathStepSignal, api.StepSignalRequest{JobID: id, StepID: 0, Cancel: true}},
	} {
		if status, e := tc.call(bob, c.path, c.req, nil); status != http.StatusForbidden || e.Code != api.CodeForbidden {
			t.Errorf("%s on alice's job by bob: HTTP %d %s %q, want 403", c.path, status, e.Code, e.Message)
		}
	}
	if status, e := tc.call(alice, api.PathStepStart, api.StepStartRequest{JobID: id, Name: "x"}, nil); status != http.StatusBadRequest {
		t.Errorf("a step of no tasks: HTTP %d %+v, want 400", status, e)
	}
	if after := tc.c.fsm.State().Index(); after != before {
		t.Fatalf("refused step calls moved raft from %v to %v", before, after)
	}
	var r0, r1 api.StepStartResponse
	tc.mustCall(alice, api.PathStepStart, start, &r0)
	tc.mustCall(rootUser, api.PathStepStart, start, &r1)
	if r0.StepID != 0 || r1.StepID != 1 {
		t.Fatalf("step ids %d, %d; want 0, 1", r0.StepID, r1.StepID)
	}
	tc.mustCall(alice, api.PathStepEnd, api.StepEndRequest{JobID: id, StepID: 1, ExitCode: 2}, nil)
	tc.mustCall(alice, api.PathStepSignal, api.StepSignalRequest{JobID: id, StepID: 0, Cancel: true}, nil)
	list := tc.jobs(bob, api.ListJobsRequest{IDs: []uint64{id}, Fields: []string{"steps"}})
	if len(list) != 1 || len(list[0].Steps) != 2 {
		t.Fatalf("bob's list of job %d with its steps: %+v, want the two steps", id, list)
	}
	s0, s1 := list[0].Steps[0], list[0].Steps[1]
	if s0.State != api.StepRunning || !s0.CancelRequested || s1.State != api.StepFailed || s1.ExitCode != 2 {
		t.Errorf("steps %+v, %+v: want 0 running with its cancel asked, 1 FAILED with exit code 2", s0, s1)
	}
	list = tc.jobs(alice, api.ListJobsRequest{IDs: []uint64{id}, Fields: []string{"signals"}})
	if want := []api.JobSignal{{Seq: 1, Signal: 9, Scope: api.SignalStep, Step: 0, SrunPID: 7}}; !reflect.DeepEqual(list[0].SignalRequests, want) {
		t.Errorf("job signals %+v, want %+v (the node kills step 0 alone)", list[0].SignalRequests, want)
	}
}
