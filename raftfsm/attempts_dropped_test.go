package raftfsm_test

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// restartsOf is Slurm's Restarts of j as the CLI computes it
// (cli/slurm's restarts): the attempts before its current one, which
// counts only once placed.
func restartsOf(j *api.Job) int {
	r := j.Attempt
	if len(j.AttemptHistory()) > len(j.Attempts) {
		r--
	}
	return max(r, j.AttemptsDropped+len(j.Attempts))
}

// wantAllRan fails unless every attempt of j's history ran (was started
// and stopped).
func wantAllRan(t *testing.T, what string, j *api.Job) {
	t.Helper()
	for i, a := range j.AttemptHistory() {
		if a.StartedAt == 0 || a.StoppedAt == 0 {
			t.Fatalf("%s: attempt %d of the history never ran: %+v", what, i, a)
		}
	}
}

// TestAttemptsDroppedCancelWhileWaiting: a job requeued past
// api.MaxJobAttempts counts the attempts it dropped (AttemptsDropped),
// so that one requeued again and cancelled while waiting has no current
// attempt: its history is the api.MaxJobAttempts kept, all run, its
// Attempt and Restarts count every run; a requeue of it after that
// records no attempt that never ran; one more run and requeue drops one
// more. A snapshot and a replay give the same state, and a snapshot from
// before the count (no attemptsDropped) loads with it 0.
func TestAttemptsDroppedCancelWhileWaiting(t *testing.T) {
	h := newHarness(t)
	id := h.jobIn(run, 100) // attempt 1
	runs := api.MaxJobAttempts + 5
	// Attempts 1 to runs-1 requeued while running, attempt runs running.
	for n := 1; n < runs; n++ {
		now := int64(n*1000 + 500)
		h.mustOK("requeue", h.stop(raftfsm.StopCmd{ID: id, Requeue: true, Terminate: true, Reason: "Requeued by scontrol", CallerUID: 1000, Now: now}))
		h.events(now+1, api.JobEvent{ID: id, Node: h.driveNode, State: api.StateFailed, Signal: 15, Attempt: n})
		if got := h.place(int64((n+1)*1000), raftfsm.Placement{JobID: id, Node: h.driveNode}); got != 1 {
			t.Fatalf("placement of attempt %d: placed %d", n+1, got)
		}
		h.events(int64((n+1)*1000), api.JobEvent{ID: id, Node: h.driveNode, State: api.StateRunning, Attempt: n + 1})
	}
	j := h.wantJob(id, run, "")
	if j.Attempt != runs || len(j.Attempts) != api.MaxJobAttempts || j.AttemptsDropped != runs-1-api.MaxJobAttempts {
		t.Fatalf("running: attempt %d, %d kept, %d dropped; want %d, %d, %d", j.Attempt, len(j.Attempts), j.AttemptsDropped, runs, api.MaxJobAttempts, runs-1-api.MaxJobAttempts)
	}
	if hist := j.AttemptHistory(); len(hist) != api.MaxJobAttempts+1 || hist[len(hist)-1].StartedAt != int64(runs*1000) {
		t.Fatalf("running: history of %d ending %+v; want the %d kept and the running one", len(hist), hist[len(hist)-1], api.MaxJobAttempts)
	}
	if r := restartsOf(j); r != runs-1 {
		t.Errorf("running: Restarts %d, want %d", r, runs-1)
	}

	// Requeued once more, then cancelled while it waits.
	now := int64(runs*1000 + 500)
	h.mustOK("requeue", h.stop(raftfsm.StopCmd{ID: id, Requeue: true, Terminate: true, Reason: "Requeued by scontrol", CallerUID: 1000, Now: now}))
	h.events(now+1, api.JobEvent{ID: id, Node: h.driveNode, State: api.StateFailed, Signal: 15, Attempt: runs})
	h.wantJob(id, rbl, "")
	h.mustOK("cancel", h.stop(raftfsm.StopCmd{ID: id, Reason: "Cancelled by scancel", CallerUID: 1000, Now: now + 100}))
	j = h.wantJob(id, api.StateFailed, "Cancelled by scancel")
	if j.Cause != api.CauseCancelled {
		t.Fatalf("cancelled job: cause %q, want %q", j.Cause, api.CauseCancelled)
	}
	if j.Attempt != runs || len(j.Attempts) != api.MaxJobAttempts || j.AttemptsDropped != runs-api.MaxJobAttempts {
		t.Fatalf("cancelled: attempt %d, %d kept, %d dropped; want %d, %d, %d", j.Attempt, len(j.Attempts), j.AttemptsDropped, runs, api.MaxJobAttempts, runs-api.MaxJobAttempts)
	}
	hist := j.AttemptHistory()
	if len(hist) != api.MaxJobAttempts {
		t.Fatalf("cancelled while waiting: history of %d ending %+v; want the %d kept, no current attempt (it never ran)", len(hist), hist[len(hist)-1], api.MaxJobAttempts)
	}
	wantAllRan(t, "cancelled while waiting", j)
	if last := hist[len(hist)-1]; last.StartedAt != int64(runs*1000) || last.Cause != api.CauseRequeued {
		t.Errorf("cancelled: last attempt %+v, want attempt %d (started at %d), requeued", last, runs, runs*1000)
	}
	if r := restartsOf(j); r != runs {
		t.Errorf("cancelled: Restarts %d, want %d", r, runs)
	}
	before := append([]api.Attempt(nil), j.Attempts...)

	// Requeued after that: no attempt that never ran is recorded.
	h.mustOK("requeue the cancelled job", h.stop(raftfsm.StopCmd{ID: id, Requeue: true, Terminate: true, Reason: "Requeued by scontrol", CallerUID: 1000, Now: now + 200}))
	j = h.wantJob(id, rbl, "")
	if j.Attempt != runs || j.AttemptsDropped != runs-api.MaxJobAttempts || len(j.Attempts) != api.MaxJobAttempts {
		t.Fatalf("requeued after cancel: attempt %d, %d kept, %d dropped; want %d, %d, %d", j.Attempt, len(j.Attempts), j.AttemptsDropped, runs, api.MaxJobAttempts, runs-api.MaxJobAttempts)
	}
	if j.Attempts[0] != before[0] || j.Attempts[len(j.Attempts)-1] != before[len(before)-1] {
		t.Fatalf("requeued after cancel: attempts %+v .. %+v, want them as they were (%+v .. %+v)", j.Attempts[0], j.Attempts[len(j.Attempts)-1], before[0], before[len(before)-1])
	}
	wantAllRan(t, "requeued after cancel", j)
	if r := restartsOf(j); r != runs {
		t.Errorf("requeued after cancel: Restarts %d, want %d", r, runs)
	}

	// It runs (attempt runs+1) and ends; requeued, that run is recorded
	// and the oldest kept one dropped.
	at := int64((runs + 2) * 1000)
	if got := h.place(at, raftfsm.Placement{JobID: id, Node: h.driveNode}); got != 1 {
		t.Fatalf("placement of attempt %d: placed %d", runs+1, got)
	}
	h.events(at+1, api.JobEvent{ID: id, Node: h.driveNode, State: api.StateRunning, Attempt: runs + 1})
	h.events(at+5, api.JobEvent{ID: id, Node: h.driveNode, State: api.StateSucceeded, ExitCode: intp(0), Attempt: runs + 1})
	j = h.wantJob(id, api.StateSucceeded, "")
	if hist := j.AttemptHistory(); len(hist) != api.MaxJobAttempts+1 || hist[len(hist)-1].StoppedAt != at+5 {
		t.Fatalf("ended: history of %d ending %+v; want the %d kept and the run that ended", len(hist), hist[len(hist)-1], api.MaxJobAttempts)
	}
	if r := restartsOf(j); r != runs {
		t.Errorf("ended: Restarts %d, want %d", r, runs)
	}
	h.mustOK("requeue the ended job", h.stop(raftfsm.StopCmd{ID: id, Requeue: true, Terminate: true, Reason: "Requeued by scontrol", CallerUID: 1000, Now: at + 10}))
	j = h.wantJob(id, rbl, "")
	if j.Attempt != runs+1 || len(j.Attempts) != api.MaxJobAttempts || j.AttemptsDropped != runs+1-api.MaxJobAttempts {
		t.Fatalf("requeued after its run: attempt %d, %d kept, %d dropped; want %d, %d, %d", j.Attempt, len(j.Attempts), j.AttemptsDropped, runs+1, api.MaxJobAttempts, runs+1-api.MaxJobAttempts)
	}
	if last := j.Attempts[len(j.Attempts)-1]; last.StartedAt != at+1 || last.Cause != api.CauseRequeued {
		t.Errorf("requeued after its run: last attempt %+v, want the run started at %d, requeued", last, at+1)
	}
	wantAllRan(t, "requeued after its run", j)
	if len(j.AttemptHistory()) != api.MaxJobAttempts || restartsOf(j) != runs+1 {
		t.Errorf("requeued after its run: history %d, Restarts %d; want %d, %d", len(j.AttemptHistory()), restartsOf(j), api.MaxJobAttempts, runs+1)
	}

	// Snapshot and replay keep the count.
	snap := snapshotBytes(t, h.fsm)
	got := restored(t, snap, h.idx)
	wantSameState(t, got, h.fsm)
	if d := got.State().Job(id).AttemptsDropped; d != runs+1-api.MaxJobAttempts {
		t.Errorf("restored: %d dropped, want %d", d, runs+1-api.MaxJobAttempts)
	}
	g := raftfsm.New()
	for i, e := range h.log {
		g.Apply(uint64(i+1), e)
	}
	wantSameState(t, g, h.fsm)

	// A snapshot from before the count loads, the count 0.
	field := regexp.MustCompile(`,?"attemptsDropped":[0-9]+`)
	if !field.Match(snap) {
		t.Fatalf("the snapshot holds no attemptsDropped")
	}
	old := restored(t, field.ReplaceAll(snap, nil), h.idx)
	oj := old.State().Job(id)
	if oj.AttemptsDropped != 0 || oj.Attempt != runs+1 || len(oj.Attempts) != api.MaxJobAttempts {
		t.Errorf("from an old snapshot: attempt %d, %d kept, %d dropped; want %d, %d, 0", oj.Attempt, len(oj.Attempts), oj.AttemptsDropped, runs+1, api.MaxJobAttempts)
	}
	if bytes.Contains(snapshotBytes(t, old), []byte("attemptsDropped")) {
		t.Errorf("a job with none dropped writes attemptsDropped in its snapshot")
	}
}

// TestAttemptsDroppedRetries: a retry strategy's attempts beyond
// api.MaxJobAttempts are counted as dropped when the job retries
// (finish), and its last attempt, which ran, is in its history.
func TestAttemptsDroppedRetries(t *testing.T) {
	h := newHarness(t)
	h.register(1, api.Node{Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}})
	jb := newJob("retry")
	jb.RetryAttempts = api.MaxJobAttempts + 10
	id := h.submit(1, jb)[0]
	for n := 1; n <= jb.RetryAttempts; n++ {
		h.runAttempt(id, n, int64(n*1000), exitWith(1))
	}
	j := h.wantJob(id, api.StateFailed, api.ReasonNonZeroExit)
	if j.Attempt != jb.RetryAttempts || len(j.Attempts) != api.MaxJobAttempts || j.AttemptsDropped != jb.RetryAttempts-1-api.MaxJobAttempts {
		t.Fatalf("attempt %d, %d kept, %d dropped; want %d, %d, %d", j.Attempt, len(j.Attempts), j.AttemptsDropped, jb.RetryAttempts, api.MaxJobAttempts, jb.RetryAttempts-1-api.MaxJobAttempts)
	}
	hist := j.AttemptHistory()
	if len(hist) != api.MaxJobAttempts+1 || hist[len(hist)-1].StartedAt != int64(jb.RetryAttempts*1000+1) {
		t.Fatalf("history of %d ending %+v; want the %d kept and the last run", len(hist), hist[len(hist)-1], api.MaxJobAttempts)
	}
	wantAllRan(t, "retried", j)
	if r := restartsOf(j); r != jb.RetryAttempts-1 {
		t.Errorf("Restarts %d, want %d", r, jb.RetryAttempts-1)
	}
	wantSameState(t, restored(t, snapshotBytes(t, h.fsm), h.idx), h.fsm)
}
