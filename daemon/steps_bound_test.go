package daemon

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// TestStepRunningBoundRefusedEarly: a job runs at most
// api.MaxJobRunningSteps steps at once; the controller refuses one more
// (InvalidState, naming the limit) before it reaches raft, and takes a new one
// once a step has ended.
func TestStepRunningBoundRefusedEarly(t *testing.T) {
	tc := startMemController(t, Config{NodeTTL: time.Hour})
	tc.registerNode("n1")
	id := tc.submit(alice, api.JobSpec{Name: "steps", Command: []string{"sleep", "60"}})
	tc.waitJob(id, func(j *api.Job) bool { return j.State == api.StateStarting && j.Node == "n1" })
	start := api.StepStartRequest{JobID: id, Name: "sleep", NTasks: 1}
	for range api.MaxJobRunningSteps {
		tc.mustCall(alice, api.PathStepStart, start, nil)
	}
	before := tc.c.fsm.State().Index()
	status, e := tc.call(alice, api.PathStepStart, start, nil)
	if status != http.StatusBadRequest || e.Code != api.CodeConflict || !strings.Contains(e.Message, fmt.Sprint(api.MaxJobRunningSteps)) || !strings.Contains(e.Message, "must end") {
		t.Fatalf("step %d of job %d: HTTP %d %s %q, want 400 InvalidState naming the limit %d", api.MaxJobRunningSteps+1, id, status, e.Code, e.Message, api.MaxJobRunningSteps)
	}
	if after := tc.c.fsm.State().Index(); after != before {
		t.Fatalf("the refused step start moved raft from %v to %v", before, after)
	}
	tc.mustCall(alice, api.PathStepEnd, api.StepEndRequest{JobID: id, StepID: 3}, nil)
	var r api.StepStartResponse
	tc.mustCall(alice, api.PathStepStart, start, &r)
	if r.StepID != api.MaxJobRunningSteps {
		t.Fatalf("step after one ended: id %d, want %d", r.StepID, api.MaxJobRunningSteps)
	}
}
