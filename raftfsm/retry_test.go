package raftfsm_test

import (
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// outcome is how one attempt of a test job ends.
type outcome struct {
	exit     *int
	signal   int
	oom      bool
	timedOut bool
	nodeFail bool // its node stops responding instead of reporting
}

func exitWith(code int) outcome { return outcome{exit: intp(code)} }

// runAttempt places job id on n1 and ends its current attempt as o says.
func (h *harness) runAttempt(id uint64, attempt int, now int64, o outcome) {
	h.t.Helper()
	if got := h.place(now, raftfsm.Placement{JobID: id, Node: "n1"}); got != 1 {
		h.t.Fatalf("attempt %d: placed %d, want 1", attempt, got)
	}
	h.events(now+1, api.JobEvent{ID: id, Node: "n1", State: api.StateRunning, Attempt: attempt})
	if o.nodeFail {
		h.mustOK("node down", h.apply(raftfsm.OpNodeStatus, raftfsm.NodeStatusCmd{Name: "n1", LastSeen: now + 2, Now: now + 5}))
		h.mustOK("node back", h.apply(raftfsm.OpNodeStatus, raftfsm.NodeStatusCmd{Name: "n1", Responding: true, Now: now + 6}))
		return
	}
	st := api.StateSucceeded
	if o.oom || o.timedOut || o.signal != 0 || (o.exit != nil && *o.exit != 0) {
		st = api.StateFailed
	}
	h.events(now+5, api.JobEvent{ID: id, Node: "n1", State: st, ExitCode: o.exit, Signal: o.signal,
		OOMKilled: o.oom, TimedOut: o.timedOut, Attempt: attempt})
}

// TestRetryRules: a failed attempt runs again while attempts are left and
// the first evaluateOnExit rule that matches says RETRY (none matching:
// retry, as AWS Batch does); an EXIT rule or the last attempt ends the job
// FAILED with that attempt's reason; every attempt but the current one is
// recorded.
func TestRetryRules(t *testing.T) {
	retryExit3 := []api.RetryRule{{OnExitCode: "3", Action: "RETRY"}, {OnReason: "*", Action: "EXIT"}}
	oomRule := []api.RetryRule{{OnReason: "OutOfMemoryError*", Action: "retry"}, {OnReason: "*", Action: "exit"}}
	nodeRule := []api.RetryRule{{OnStatusReason: "Host*", Action: "RETRY"}, {OnReason: "*", Action: "EXIT"}}
	for _, tc := range []struct {
		name     string
		attempts int
		rules    []api.RetryRule
		ends     []outcome // one per attempt, in order
		state    api.JobState
		reason   string // the job's statusReason at the end
		cause    api.Cause
	}{
		{"exit 3 retried, then succeeds", 3, retryExit3, []outcome{exitWith(3), exitWith(0)}, api.StateSucceeded, "", ""},
		{"exit 1 not retried", 3, retryExit3, []outcome{exitWith(1)}, api.StateFailed, api.ReasonNonZeroExit, api.CauseExitCode},
		{"exit 3 then 1: the second ends it", 3, retryExit3, []outcome{exitWith(3), exitWith(1)}, api.StateFailed, api.ReasonNonZeroExit, api.CauseExitCode},
		{"OOM retried by rule", 2, oomRule, []outcome{{oom: true, signal: 9}, exitWith(0)}, api.StateSucceeded, "", ""},
		{"exit 2 not retried by an OOM rule", 2, oomRule, []outcome{exitWith(2)}, api.StateFailed, api.ReasonNonZeroExit, api.CauseExitCode},
		{"node failure retried by rule", 2, nodeRule, []outcome{{nodeFail: true}, exitWith(0)}, api.StateSucceeded, "", ""},
		{"node failure not retried when the rules say EXIT", 2, retryExit3, []outcome{{nodeFail: true}}, api.StateFailed, "Host n1 stopped responding at ", api.CauseNodeLost},
		{"attempts exhausted: FAILED with the last attempt's reason", 2, oomRule, []outcome{{oom: true}, {oom: true}}, api.StateFailed, api.ReasonOutOfMemory, api.CauseOOM},
		{"no rules: every failure retried", 3, nil, []outcome{exitWith(1), exitWith(7), {timedOut: true}}, api.StateFailed, api.ReasonTimeout, api.CauseTimeout},
		{"no rule matches: retried", 2, []api.RetryRule{{OnExitCode: "9*", Action: "EXIT"}}, []outcome{exitWith(4), exitWith(0)}, api.StateSucceeded, "", ""},
		{"first match wins", 3, []api.RetryRule{{OnExitCode: "4*", Action: "EXIT"}, {OnExitCode: "42", Action: "RETRY"}}, []outcome{exitWith(42)}, api.StateFailed, api.ReasonNonZeroExit, api.CauseExitCode},
		{"first match wins, the other way", 3, []api.RetryRule{{OnExitCode: "42", Action: "RETRY"}, {OnExitCode: "4*", Action: "EXIT"}}, []outcome{exitWith(42), exitWith(0)}, api.StateSucceeded, "", ""},
		{"EXIT action stops at once", 5, []api.RetryRule{{OnStatusReason: "Essential*", Action: "Exit"}}, []outcome{exitWith(1)}, api.StateFailed, api.ReasonNonZeroExit, api.CauseExitCode},
		{"all conditions of a rule must hold", 3, []api.RetryRule{{OnExitCode: "1", OnReason: "OutOfMemory*", Action: "EXIT"}}, []outcome{exitWith(1), exitWith(0)}, api.StateSucceeded, "", ""},
		{"a signal reads as exit 128+N", 3, []api.RetryRule{{OnExitCode: "137", Action: "EXIT"}}, []outcome{{signal: 9}}, api.StateFailed, api.ReasonNonZeroExit, api.CauseExitCode},
		{"timeout retried by rule", 2, []api.RetryRule{{OnStatusReason: "Job attempt duration exceeded timeout", Action: "RETRY"}, {OnReason: "*", Action: "EXIT"}}, []outcome{{timedOut: true}, exitWith(0)}, api.StateSucceeded, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.register(1, api.Node{Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}})
			j := newJob("retry")
			j.JobDefinition, j.RetryAttempts, j.RetryRules = "def:1", tc.attempts, tc.rules
			id := h.submit(1, j)[0]
			now := int64(1000)
			for i, o := range tc.ends {
				if got := h.job(id); got.State != api.StateRunnable {
					t.Fatalf("before attempt %d: job is %s (%q), want RUNNABLE", i+1, got.State, got.StatusReason)
				}
				h.runAttempt(id, i+1, now, o)
				now += 1000
			}
			got := h.job(id)
			if got.State != tc.state || got.Cause != tc.cause || len(got.StatusReason) < len(tc.reason) || got.StatusReason[:len(tc.reason)] != tc.reason {
				t.Fatalf("job ends %s cause %q reason %q, want %s cause %q reason starting %q", got.State, got.Cause, got.StatusReason, tc.state, tc.cause, tc.reason)
			}
			if got.Attempt != len(tc.ends) || len(got.Attempts) != len(tc.ends)-1 {
				t.Fatalf("job at attempt %d with %d recorded, want attempt %d with %d recorded", got.Attempt, len(got.Attempts), len(tc.ends), len(tc.ends)-1)
			}
			hist := got.AttemptHistory()
			if len(hist) != len(tc.ends) {
				t.Fatalf("attempt history %+v, want %d attempts", hist, len(tc.ends))
			}
			for i, a := range hist[:len(hist)-1] {
				o := tc.ends[i]
				if a.Node != "n1" || a.StartedAt == 0 || a.StoppedAt < a.StartedAt || (o.exit != nil && (a.ExitCode == nil || *a.ExitCode != *o.exit)) || a.StatusReason == "" || a.Reason != a.StatusReason {
					t.Errorf("attempt %d recorded as %+v, want on n1 with times, exit %v and a reason", i+1, a, o.exit)
				}
			}
		})
	}
}

// TestRequeueEnded: scontrol requeue of a finished job (COMPLETED, FAILED
// or CANCELLED) queues it again with its run recorded; requeuehold holds
// it; --no-requeue refuses; a running job being requeued can be held.
func TestRequeueEnded(t *testing.T) {
	h := newHarness(t)
	h.register(1, api.Node{Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}})
	done := h.submit(1, newJob("done"))[0]
	h.runAttempt(done, 1, 100, exitWith(0))
	h.wantJob(done, api.StateSucceeded, "")
	h.mustOK("requeue completed", h.stop(raftfsm.StopCmd{ID: done, Reason: "Requeued by scontrol", Terminate: true, Requeue: true, CallerUID: 1000, Now: 200}))
	j := h.wantJob(done, api.StateRunnable, "")
	if j.StoppedAt != 0 || j.ExitCode != nil || j.Cause != "" || len(j.Attempts) != 1 || j.Attempts[0].Cause != api.CauseRequeued ||
		j.Attempts[0].ExitCode == nil || *j.Attempts[0].ExitCode != 0 || j.Attempts[0].StoppedAt != 105 {
		t.Fatalf("requeued job: stopped %d exit %v cause %q attempts %+v; want a fresh job with its run recorded as requeued", j.StoppedAt, j.ExitCode, j.Cause, j.Attempts)
	}
	h.runAttempt(done, 2, 300, exitWith(0))
	if j := h.wantJob(done, api.StateSucceeded, ""); j.Attempt != 2 || len(j.AttemptHistory()) != 2 {
		t.Fatalf("second run: attempt %d history %+v, want attempt 2 of 2", j.Attempt, j.AttemptHistory())
	}

	cancelled := h.submit(400, newJob("cancelled"))[0]
	h.mustOK("cancel", h.stop(raftfsm.StopCmd{ID: cancelled, Reason: "no", CallerUID: 1000, Now: 401}))
	h.mustOK("requeue cancelled", h.stop(raftfsm.StopCmd{ID: cancelled, Terminate: true, Requeue: true, CallerUID: 1000, Now: 402}))
	if j := h.wantJob(cancelled, api.StateRunnable, ""); len(j.Attempts) != 0 {
		t.Fatalf("a job cancelled before it ran has no attempt to record, got %+v", j.Attempts)
	}
	h.mustOK("hold", h.apply(raftfsm.OpHold, raftfsm.HoldCmd{IDs: []uint64{cancelled}, Hold: true, CallerUID: 1000, Now: 403}))
	h.wantJob(cancelled, api.StatePending, "")

	// Retried, then cancelled while it waited: requeue records no new run
	// and keeps the recorded attempt's cause.
	rj := newJob("retried")
	rj.RetryAttempts = 3
	retried := h.submit(450, rj)[0]
	h.runAttempt(retried, 1, 450, exitWith(1))
	h.mustOK("cancel retried", h.stop(raftfsm.StopCmd{ID: retried, Reason: "no", CallerUID: 1000, Now: 460}))
	h.mustOK("requeue retried", h.stop(raftfsm.StopCmd{ID: retried, Terminate: true, Requeue: true, CallerUID: 1000, Now: 461}))
	if j := h.wantJob(retried, api.StateRunnable, ""); len(j.Attempts) != 1 || j.Attempts[0].Cause != api.CauseExitCode || j.Attempt != 1 {
		t.Fatalf("requeued retried job: attempt %d, recorded %+v; want its one failed attempt as it was", j.Attempt, j.Attempts)
	}

	nr := newJob("norequeue")
	nr.NoRequeue = true
	norequeue := h.submit(500, nr)[0]
	h.runAttempt(norequeue, 1, 500, exitWith(1))
	wantErr(t, "requeue --no-requeue", h.stop(raftfsm.StopCmd{ID: norequeue, Terminate: true, Requeue: true, CallerUID: 1000, Now: 600}), api.CodeConflict, "no-requeue")

	running := h.submit(700, newJob("running"))[0]
	h.place(700, raftfsm.Placement{JobID: running, Node: "n1"})
	h.events(701, api.JobEvent{ID: running, Node: "n1", State: api.StateRunning, Attempt: 1})
	h.mustOK("requeue running", h.stop(raftfsm.StopCmd{ID: running, Reason: "Requeued by scontrol", Terminate: true, Requeue: true, CallerUID: 1000, Now: 702}))
	h.mustOK("hold while requeued", h.apply(raftfsm.OpHold, raftfsm.HoldCmd{IDs: []uint64{running}, Hold: true, CallerUID: 1000, Now: 703}))
	h.events(710, api.JobEvent{ID: running, Node: "n1", State: api.StateFailed, Signal: 15, Attempt: 1})
	j = h.wantJob(running, api.StatePending, "")
	if !j.Held || len(j.Attempts) != 1 || j.Attempts[0].Cause != api.CauseRequeued || j.Attempts[0].StatusReason != "Requeued by scontrol" {
		t.Fatalf("requeuehold of a running job: held %v attempts %+v, want held with the stopped attempt recorded", j.Held, j.Attempts)
	}

	// root's requeuehold of a user's job is an admin hold: its owner may
	// not release it.
	h.mustOK("release", h.apply(raftfsm.OpHold, raftfsm.HoldCmd{IDs: []uint64{running}, CallerUID: 1000, Now: 720}))
	h.runAttempt(running, 2, 800, exitWith(0))
	h.mustOK("root's requeuehold", h.stop(raftfsm.StopCmd{ID: running, Terminate: true, Requeue: true, Hold: true, CallerUID: 0, Now: 900}))
	if j := h.wantJob(running, api.StatePending, ""); !j.Held || !j.HeldByAdmin {
		t.Fatalf("root's requeuehold: held %v by admin %v, want an admin hold", j.Held, j.HeldByAdmin)
	}
	wantErr(t, "the owner's release", h.apply(raftfsm.OpHold, raftfsm.HoldCmd{IDs: []uint64{running}, CallerUID: 1000, Now: 901}), api.CodeForbidden, "JobHeldAdmin")
}

// TestDeadline: a waiting job is ended DEADLINE once the command's time
// reaches its deadline less its time limit, not before; a started job is
// left alone.
func TestDeadline(t *testing.T) {
	h := newHarness(t)
	j := newJob("dl")
	j.DeadlineAt, j.TimeLimit = 100_000, 60
	id := h.submit(1, j)[0]
	wantErr(t, "deadline too early", h.stop(raftfsm.StopCmd{ID: id, Deadline: true, Now: 39_999}), api.CodeConflict, "may still start")
	h.wantJob(id, api.StateRunnable, "")
	h.mustOK("deadline", h.stop(raftfsm.StopCmd{ID: id, Deadline: true, Now: 40_000}))
	got := h.wantJob(id, api.StateFailed, raftfsm.ReasonDeadline)
	if got.Cause != api.CauseDeadline || got.StoppedAt != 40_000 {
		t.Fatalf("job cause %q stopped %d, want %q at 40000", got.Cause, got.StoppedAt, api.CauseDeadline)
	}
	plain := h.submit(2, newJob("plain"))[0]
	wantErr(t, "no deadline", h.stop(raftfsm.StopCmd{ID: plain, Deadline: true, Now: 50_000}), api.CodeConflict, "no deadline")
}
