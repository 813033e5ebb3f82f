package slurm

import (
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// TestSlurmView checks the Slurm view of every lifecycle state and cause:
// the state names, the reason, the exit code.
func TestSlurmView(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC)
	code := func(n int) *int { return &n }
	array := &api.ArrayTask{JobID: 8, Index: 3, Min: 1, Max: 4, Count: 4, MaxRunning: 2}
	for _, tc := range []struct {
		name         string
		job          api.Job
		arrayRunning int
		state        State
		reason, exit string
	}{
		{"submitted", api.Job{State: api.StateSubmitted}, 0, Pending, "Dependency", "0:0"},
		{"dependency", api.Job{State: api.StatePending}, 0, Pending, "Dependency", "0:0"},
		{"held", api.Job{State: api.StatePending, JobSpec: api.JobSpec{
			Held: true,
		}}, 0, Pending, "JobHeldUser", "0:0"},
		{"runnable", api.Job{State: api.StateRunnable}, 0, Pending, "Resources", "0:0"},
		{"begin", api.Job{State: api.StateRunnable, JobSpec: api.JobSpec{
			BeginAt: now.Add(time.Hour).UnixMilli(),
		}}, 0, Pending, "BeginTime", "0:0"},
		{"throttled", api.Job{State: api.StateRunnable, Array: array}, 2, Pending, "JobArrayTaskLimit", "0:0"},
		{"below throttle", api.Job{State: api.StateRunnable, Array: array}, 1, Pending, "Resources", "0:0"},
		{"starting", api.Job{State: api.StateStarting}, 0, Running, "None", "0:0"},
		{"running", api.Job{State: api.StateRunning}, 0, Running, "None", "0:0"},
		{"stopping", api.Job{State: api.StateRunning, StopRequested: true}, 0, Completing, "None", "0:0"},
		{"succeeded", api.Job{State: api.StateSucceeded, ExitCode: code(0)}, 0, Completed, "None", "0:0"},
		{"exit 3", api.Job{State: api.StateFailed, Cause: api.CauseExitCode, ExitCode: code(3)}, 0, Failed, "NonZeroExitCode", "3:0"},
		{"killed", api.Job{State: api.StateFailed, Cause: api.CauseExitCode, ExitSignal: 9}, 0, Failed, "JobLaunchFailure", "0:9"},
		{"cancelled", api.Job{State: api.StateFailed, Cause: api.CauseCancelled}, 0, Cancelled, "None", "0:0"},
		{"terminated", api.Job{State: api.StateFailed, Cause: api.CauseTerminated, ExitSignal: 15}, 0, Cancelled, "None", "0:15"},
		{"timeout", api.Job{State: api.StateFailed, Cause: api.CauseTimeout, ExitSignal: 15}, 0, Timeout, "TimeLimit", "0:15"},
		{"oom", api.Job{State: api.StateFailed, Cause: api.CauseOOM, ExitSignal: 9}, 0, OutOfMemory, "OutOfMemory", "0:9"},
		{"node lost", api.Job{State: api.StateFailed, Cause: api.CauseNodeLost}, 0, NodeFail, "NodeDown", "0:0"},
		{"dependency failed", api.Job{State: api.StateFailed, Cause: api.CauseDependency}, 0, Cancelled, "DependencyNeverSatisfied", "0:0"},
		{"start failed", api.Job{State: api.StateFailed, Cause: api.CauseStartFailed}, 0, Failed, "JobLaunchFailure", "0:0"},
	} {
		j := tc.job
		if st := JobState(&j); st != tc.state {
			t.Errorf("%s: state %v, want %v", tc.name, st, tc.state)
		}
		if r := Reason(&j, now, tc.arrayRunning); r != tc.reason {
			t.Errorf("%s: reason %q, want %q", tc.name, r, tc.reason)
		}
		if e := ExitCode(&j); e != tc.exit {
			t.Errorf("%s: exit code %q, want %q", tc.name, e, tc.exit)
		}
	}
}

func TestParseState(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want State
	}{{"PD", Pending}, {"pending", Pending}, {"r", Running}, {"CA", Cancelled}, {"cancelled", Cancelled},
		{"OOM", OutOfMemory}, {"to", Timeout}, {"S", State{"SUSPENDED", "S"}}, {"cg", Completing}} {
		if got, ok := ParseState(tc.in); !ok || got != tc.want {
			t.Errorf("ParseState(%q) = %v, %v; want %v", tc.in, got, ok, tc.want)
		}
	}
	if _, ok := ParseState("bogus"); ok {
		t.Error("ParseState(bogus) succeeded")
	}
	for _, s := range []State{Completed, Failed, Cancelled, Timeout, OutOfMemory, NodeFail} {
		if !s.Finished() {
			t.Errorf("%v is an end state", s)
		}
	}
	for _, s := range []State{Pending, Running, Completing} {
		if s.Finished() {
			t.Errorf("%v is not an end state", s)
		}
	}
}

// TestJobID checks Slurm's job ids: N, and A_i for array tasks.
func TestJobID(t *testing.T) {
	if got := JobID(&api.Job{ID: 7}); got != "7" {
		t.Errorf("JobID = %q, want 7", got)
	}
	if got := JobID(&api.Job{ID: 14, Array: &api.ArrayTask{JobID: 8, Index: 1}}); got != "8_1" {
		t.Errorf("JobID = %q, want 8_1", got)
	}
}
