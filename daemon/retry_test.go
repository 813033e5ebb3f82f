package daemon

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestAWSRetryStrategyValidation: register-job-definition and submit-job
// refuse a retryStrategy AWS Batch refuses, with its ClientException
// words, storing nothing; what they accept is stored and described back.
func TestAWSRetryStrategyValidation(t *testing.T) {
	tc := startTestController(t, false)
	script := &api.ContainerProperties{Command: []string{"true"}}
	rule := func(code, status, reason, action string) api.RetryRule {
		return api.RetryRule{OnExitCode: code, OnStatusReason: status, OnReason: reason, Action: action}
	}
	long := strings.Repeat("a", 513)
	tc.mustCall(rootUser, "/v1/registerjobdefinition", api.AWSRegisterJobDefinitionRequest{JobDefinition: api.JobDefinition{
		Name: "plain", Type: "script", ContainerProperties: script}}, nil)
	for _, tc2 := range []struct {
		name string
		rs   api.RetryStrategy
		want string // "" accepted
	}{
		{"attempts 0", api.RetryStrategy{Attempts: 0}, "RetryAttempts must be between 1 and 10."},
		{"attempts 11", api.RetryStrategy{Attempts: 11}, "RetryAttempts must be between 1 and 10."},
		{"rules without attempts", api.RetryStrategy{EvaluateOnExit: []api.RetryRule{rule("3", "", "", "RETRY")}}, "RetryAttempts must be provided with retry strategy."},
		{"a rule without a condition", api.RetryStrategy{Attempts: 2, EvaluateOnExit: []api.RetryRule{rule("", "", "", "RETRY")}}, "EvaluateOnExit should contain at least one of onExitCode, onReason or onStatusReason"},
		{"an unknown action", api.RetryStrategy{Attempts: 2, EvaluateOnExit: []api.RetryRule{rule("3", "", "", "AGAIN")}}, `EvaluateOnExit action "AGAIN" is not valid: use RETRY or EXIT.`},
		{"letters in an exit code", api.RetryStrategy{Attempts: 2, EvaluateOnExit: []api.RetryRule{rule("3a", "", "", "RETRY")}}, "Evaluate on exit condition contains restricted characters."},
		{"a * inside an exit code", api.RetryStrategy{Attempts: 2, EvaluateOnExit: []api.RetryRule{rule("1*2", "", "", "RETRY")}}, "Evaluate on exit condition contains restricted characters."},
		{"a slash in a reason", api.RetryStrategy{Attempts: 2, EvaluateOnExit: []api.RetryRule{rule("", "", "a/b", "RETRY")}}, "Evaluate on exit condition contains restricted characters."},
		{"a reason over 512", api.RetryStrategy{Attempts: 2, EvaluateOnExit: []api.RetryRule{rule("", long, "", "EXIT")}}, "Evaluate on exit condition cannot exceed 512 characters."},
		{"six rules", api.RetryStrategy{Attempts: 2, EvaluateOnExit: []api.RetryRule{rule("1", "", "", "EXIT"), rule("2", "", "", "EXIT"),
			rule("3", "", "", "EXIT"), rule("4", "", "", "EXIT"), rule("5", "", "", "EXIT"), rule("6", "", "", "EXIT")}}, "EvaluateOnExit can contain at most 5 entries, got 6."},
		{"attempts alone", api.RetryStrategy{Attempts: 10}, ""},
		{"AWS's example, any case", api.RetryStrategy{Attempts: 3, EvaluateOnExit: []api.RetryRule{
			rule("", "Host EC2*", "", "retry"), rule("", "", "OutOfMemoryError: Container killed*", "Retry"), rule("1*", "", "", "EXIT"), rule("", "", "*", "exit")}}, ""},
	} {
		t.Run(tc2.name, func(t *testing.T) {
			rs := tc2.rs
			def := api.AWSRegisterJobDefinitionRequest{JobDefinition: api.JobDefinition{Name: "d", Type: "script", ContainerProperties: script, RetryStrategy: &rs}}
			var reg api.AWSRegisterJobDefinitionResponse
			status, e := tc.call(rootUser, "/v1/registerjobdefinition", def, &reg)
			sub := api.AWSSubmitJobRequest{JobName: "j", JobQueue: api.DefaultQueue, JobDefinition: "plain", RetryStrategy: &rs}
			if tc2.want != "" {
				if status != http.StatusBadRequest || e.Type != "ClientException" || e.Message != tc2.want {
					t.Fatalf("register-job-definition: HTTP %d %s %q, want 400 ClientException %q", status, e.Type, e.Message, tc2.want)
				}
				before := tc.indexes()
				status, e = tc.call(alice, "/v1/submitjob", sub, nil)
				if status != http.StatusBadRequest || e.Type != "ClientException" || e.Message != tc2.want {
					t.Fatalf("submit-job override: HTTP %d %s %q, want 400 ClientException %q", status, e.Type, e.Message, tc2.want)
				}
				if after := tc.indexes(); after != before {
					t.Fatalf("a refused submit-job reached raft: indexes %v -> %v", before, after)
				}
				return
			}
			if status != http.StatusOK {
				t.Fatalf("register-job-definition: HTTP %d %q, want it accepted", status, e.Message)
			}
			var resp api.AWSSubmitJobResponse
			tc.mustCall(alice, "/v1/submitjob", sub, &resp)
			var desc api.AWSDescribeJobsResponse
			tc.mustCall(alice, "/v1/describejobs", api.AWSDescribeJobsRequest{Jobs: []string{resp.JobID}}, &desc)
			got := desc.Jobs[0].RetryStrategy
			if got == nil || got.Attempts != rs.Attempts || len(got.EvaluateOnExit) != len(rs.EvaluateOnExit) {
				t.Fatalf("describe-jobs retryStrategy %+v, want %+v", got, rs)
			}
		})
	}
}

// TestAWSAttempts: a submit-job whose retryStrategy retries exit 3 runs
// again after an attempt exits 3 (reported by its node), and describe-jobs
// lists both attempts as AWS does: each with its container's exitCode,
// reason and logStreamName, its times and statusReason.
func TestAWSAttempts(t *testing.T) {
	tc := startTestController(t, false)
	tc.mustCall(rootUser, "/v1/registerjobdefinition", api.AWSRegisterJobDefinitionRequest{JobDefinition: api.JobDefinition{
		Name: "plain", Type: "script", ContainerProperties: &api.ContainerProperties{Command: []string{"true"}}}}, nil)
	var resp api.AWSSubmitJobResponse
	tc.mustCall(alice, "/v1/submitjob", api.AWSSubmitJobRequest{JobName: "j", JobQueue: api.DefaultQueue, JobDefinition: "plain",
		RetryStrategy: &api.RetryStrategy{Attempts: 2, EvaluateOnExit: []api.RetryRule{
			{OnExitCode: "3", Action: "RETRY"}, {OnReason: "*", Action: "EXIT"}}}}, &resp)
	id, err := strconv.ParseUint(resp.JobID, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	run := func(attempt, exit int) {
		t.Helper()
		var j api.Job // a blocking wait for its placement
		tc.mustCall(alice, api.PathWait, api.WaitJobRequest{ID: id, States: []api.JobState{api.StateStarting}, WaitMillis: 5000}, &j)
		if j.State != api.StateStarting || j.Attempt != attempt {
			t.Fatalf("job %d is %s at attempt %d, want STARTING at attempt %d", id, j.State, j.Attempt, attempt)
		}
		st := api.StateSucceeded
		if exit != 0 {
			st = api.StateFailed
		}
		tc.mustCall(rootUser, api.PathNodeEvents, api.JobEventsRequest{Events: []api.JobEvent{
			{ID: id, Node: j.Node, State: api.StateRunning, Attempt: attempt},
			{ID: id, Node: j.Node, State: st, ExitCode: &exit, Attempt: attempt}}}, nil)
	}
	run(1, 3)
	run(2, 0)
	var desc api.AWSDescribeJobsResponse
	tc.mustCall(alice, "/v1/describejobs", api.AWSDescribeJobsRequest{Jobs: []string{resp.JobID}}, &desc)
	v := desc.Jobs[0]
	if v.Status != api.StateSucceeded || len(v.Attempts) != 2 {
		t.Fatalf("describe-jobs: %s with attempts %+v, want SUCCEEDED after 2", v.Status, v.Attempts)
	}
	a, b := v.Attempts[0], v.Attempts[1]
	stream := "plain/default/" + resp.JobID
	if a.Container.ExitCode == nil || *a.Container.ExitCode != 3 || a.Container.Reason != api.ReasonNonZeroExit ||
		a.StatusReason != api.ReasonNonZeroExit || a.Container.LogStreamName != stream || a.StartedAt == 0 || a.StoppedAt < a.StartedAt {
		t.Errorf("first attempt %+v, want exit 3, reason and statusReason %q, stream %s, times", a, api.ReasonNonZeroExit, stream)
	}
	if b.Container.ExitCode == nil || *b.Container.ExitCode != 0 || b.Container.Reason != "" || b.StartedAt < a.StoppedAt {
		t.Errorf("second attempt %+v, want exit 0, no reason, after the first", b)
	}
}
