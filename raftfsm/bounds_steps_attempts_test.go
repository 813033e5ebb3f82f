package raftfsm_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// TestRunningStepsBounded: a job runs at most api.MaxJobRunningSteps steps
// at once. A further start, by the owner or by root, is refused (also by
// Check, which the controller runs before it proposes) with the limit
// named, leaving the job as it was; once a step ends one more starts. The
// job's step records stay within api.MaxJobSteps, and a snapshot and a
// replay of the log give the same state.
func TestRunningStepsBounded(t *testing.T) {
	if api.MaxJobRunningSteps > api.MaxJobSteps {
		t.Fatalf("MaxJobRunningSteps %d is over MaxJobSteps %d: a job's step records would outgrow their bound", api.MaxJobRunningSteps, api.MaxJobSteps)
	}
	h := newHarness(t)
	id := h.jobIn(run, 100)
	// Some ended steps first: the bound counts running steps only.
	for i := range 20 {
		s := h.startStep(id, "short", int64(100+i))
		h.mustOK("end", h.apply(raftfsm.OpStepEnd, raftfsm.StepEndCmd{End: api.StepEndRequest{JobID: id, StepID: s}, CallerUID: 1000, Now: int64(100 + i)}))
	}
	for i := range api.MaxJobRunningSteps {
		h.startStep(id, "long", int64(200+i))
	}
	j := h.job(id)
	if n := running(j.Steps); n != api.MaxJobRunningSteps || len(j.Steps) > api.MaxJobSteps {
		t.Fatalf("%d steps, %d running; want %d running within %d records", len(j.Steps), n, api.MaxJobRunningSteps, api.MaxJobSteps)
	}
	limit := fmt.Sprint(api.MaxJobRunningSteps)
	for _, uid := range []uint32{1000, 0} {
		cmd := raftfsm.StepStartCmd{Step: api.StepStartRequest{JobID: id, Name: "one more", NTasks: 1}, CallerUID: uid, Now: 1000}
		wantErr(t, fmt.Sprintf("check of one step more by uid %d", uid), h.fsm.Check(raftfsm.OpStepStart, cmd), api.CodeConflict, limit, "must end")
		before := *h.job(id)
		wantErr(t, fmt.Sprintf("one step more by uid %d", uid), h.apply(raftfsm.OpStepStart, cmd), api.CodeConflict,
			fmt.Sprintf("job %d runs %s steps", id, limit), "at once ("+limit+")", "a step must end before another starts")
		if after := *h.job(id); !reflect.DeepEqual(after, before) {
			t.Fatalf("refused step start changed the job: %d steps (next %d) became %d (next %d)", len(before.Steps), before.NextStep, len(after.Steps), after.NextStep)
		}
	}
	// A step ends: one more starts, with the next id, and the records
	// stay bounded (the oldest ended ones go first).
	first := uint32(20) // the first long one
	h.mustOK("end one", h.apply(raftfsm.OpStepEnd, raftfsm.StepEndCmd{End: api.StepEndRequest{JobID: id, StepID: first}, CallerUID: 1000, Now: 2000}))
	next := h.job(id).NextStep
	if got := h.startStep(id, "after", 2001); got != next {
		t.Fatalf("step after one ended: id %d, want %d", got, next)
	}
	j = h.job(id)
	if n := running(j.Steps); n != api.MaxJobRunningSteps || len(j.Steps) > api.MaxJobSteps {
		t.Fatalf("%d steps, %d running; want %d running within %d records", len(j.Steps), n, api.MaxJobRunningSteps, api.MaxJobSteps)
	}
	wantErr(t, "one more again", h.apply(raftfsm.OpStepStart, raftfsm.StepStartCmd{Step: api.StepStartRequest{JobID: id, NTasks: 1}, CallerUID: 1000, Now: 2002}),
		api.CodeConflict, limit)
	// The job's end ends them all.
	h.events(3000, api.JobEvent{ID: id, Node: h.driveNode, State: api.StateSucceeded, ExitCode: intp(0)})
	if n := running(h.job(id).Steps); n != 0 {
		t.Fatalf("%d steps still running after the job ended", n)
	}
	wantSameState(t, restored(t, snapshotBytes(t, h.fsm), h.idx), h.fsm)
	g := raftfsm.New()
	for i, e := range h.log {
		g.Apply(uint64(i+1), e)
	}
	wantSameState(t, g, h.fsm)
}

// running counts the steps that have not ended.
func running(steps []api.Step) int {
	n := 0
	for i := range steps {
		if !steps[i].Ended() {
			n++
		}
	}
	return n
}

// wantAttempts checks that job j counts attempts attempts in all and
// keeps the last ones, at most api.MaxJobAttempts: recorded (those
// before the current one) of them, the newest last, each started at the
// time startedAt gives for its attempt number.
func wantAttempts(t *testing.T, j *api.Job, attempts, recorded int, startedAt func(attempt int) int64) {
	t.Helper()
	if j.Attempt != attempts {
		t.Errorf("job %d at attempt %d, want %d (every attempt counts)", j.ID, j.Attempt, attempts)
	}
	kept := min(recorded, api.MaxJobAttempts)
	if len(j.Attempts) != kept {
		t.Fatalf("job %d keeps %d attempts, want %d (the last of %d, at most %d)", j.ID, len(j.Attempts), kept, recorded, api.MaxJobAttempts)
	}
	for i, a := range j.Attempts {
		n := recorded - kept + i + 1 // the attempt's number
		if a.StartedAt != startedAt(n) || a.Cause != api.CauseRequeued {
			t.Fatalf("job %d's kept attempt %d: %+v, want attempt %d, started at %d and requeued", j.ID, i, a, n, startedAt(n))
		}
	}
}

// TestAttemptsBoundedRequeueRunning: scontrol requeue of a running job,
// again and again, records each stopped attempt, keeping the last
// api.MaxJobAttempts; the job's Attempt (AWS_BATCH_JOB_ATTEMPT,
// SLURM_RESTART_COUNT) counts every one, its history adds the running
// attempt to those kept, and the node's reports of the current attempt
// still match it.
func TestAttemptsBoundedRequeueRunning(t *testing.T) {
	h := newHarness(t)
	id := h.jobIn(run, 100) // attempt 1, started at 100
	startedAt := func(n int) int64 {
		if n == 1 {
			return 100
		}
		return int64(n * 1000)
	}
	loops := api.MaxJobAttempts + 30
	for n := 1; n <= loops; n++ {
		now := int64(n*1000 + 500)
		h.mustOK("requeue", h.stop(raftfsm.StopCmd{ID: id, Requeue: true, Terminate: true, Reason: "Requeued by scontrol", CallerUID: 1000, Now: now}))
		h.events(now+1, api.JobEvent{ID: id, Node: h.driveNode, State: api.StateFailed, Signal: 15, Attempt: n})
		h.wantJob(id, rbl, "")
		if got := h.place(int64((n+1)*1000), raftfsm.Placement{JobID: id, Node: h.driveNode}); got != 1 {
			t.Fatalf("placement of attempt %d: placed %d", n+1, got)
		}
		h.events(int64((n+1)*1000), api.JobEvent{ID: id, Node: h.driveNode, State: api.StateRunning, Attempt: n + 1})
	}
	j := h.wantJob(id, run, "")
	wantAttempts(t, j, loops+1, loops, startedAt)
	hist := j.AttemptHistory()
	if len(hist) != api.MaxJobAttempts+1 || hist[len(hist)-1].StartedAt != startedAt(loops+1) || hist[len(hist)-1].StoppedAt != 0 {
		t.Fatalf("history of %d attempts ending %+v; want the %d kept and the running one, started at %d", len(hist), hist[len(hist)-1], api.MaxJobAttempts, startedAt(loops+1))
	}
	// It ends: the last attempt is the job's own, not recorded.
	h.events(int64(loops+2)*1000, api.JobEvent{ID: id, Node: h.driveNode, State: api.StateSucceeded, ExitCode: intp(0), Attempt: loops + 1})
	j = h.wantJob(id, api.StateSucceeded, "")
	wantAttempts(t, j, loops+1, loops, startedAt)
	if hist := j.AttemptHistory(); len(hist) != api.MaxJobAttempts+1 || hist[len(hist)-1].StoppedAt != int64(loops+2)*1000 {
		t.Fatalf("history of the ended job: %d attempts ending %+v; want the %d kept and the last, stopped at %d", len(hist), hist[len(hist)-1], api.MaxJobAttempts, (loops+2)*1000)
	}
	wantSameState(t, restored(t, snapshotBytes(t, h.fsm), h.idx), h.fsm)
	g := raftfsm.New()
	for i, e := range h.log {
		g.Apply(uint64(i+1), e)
	}
	wantSameState(t, g, h.fsm)
}

// TestAttemptsBoundedRequeueEnded: scontrol requeue of a job that has
// ended, again and again, records each run as an attempt, keeping the
// last api.MaxJobAttempts, while the job's Attempt counts every run: a
// requeue never lowers it to what the list holds.
func TestAttemptsBoundedRequeueEnded(t *testing.T) {
	h := newHarness(t)
	h.register(1, api.Node{Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}})
	id := h.submit(1, newJob("again"))[0]
	startedAt := func(n int) int64 { return int64(n*1000) + 1 } // runAttempt's RUNNING report
	loops := api.MaxJobAttempts + 25
	for n := 1; n <= loops; n++ {
		h.runAttempt(id, n, int64(n*1000), exitWith(0))
		h.wantJob(id, api.StateSucceeded, "")
		h.mustOK("requeue", h.stop(raftfsm.StopCmd{ID: id, Requeue: true, Terminate: true, Reason: "Requeued by scontrol", CallerUID: 1000, Now: int64(n*1000 + 500)}))
		j := h.wantJob(id, rbl, "")
		if j.Attempt != n {
			t.Fatalf("after requeue %d: attempt %d, want %d", n, j.Attempt, n)
		}
		if len(j.AttemptHistory()) != len(j.Attempts) {
			t.Fatalf("after requeue %d: history %d, recorded %d; a waiting job has no current attempt", n, len(j.AttemptHistory()), len(j.Attempts))
		}
	}
	wantAttempts(t, h.job(id), loops, loops, startedAt)
	// The next run is attempt loops+1, as the node is told.
	h.runAttempt(id, loops+1, int64((loops+1)*1000), exitWith(0))
	j := h.wantJob(id, api.StateSucceeded, "")
	wantAttempts(t, j, loops+1, loops, startedAt)
	if hist := j.AttemptHistory(); len(hist) != api.MaxJobAttempts+1 || hist[len(hist)-1].StartedAt != startedAt(loops+1) {
		t.Fatalf("history: %d attempts ending %+v; want the %d kept and the last run", len(hist), hist[len(hist)-1], api.MaxJobAttempts)
	}
	wantSameState(t, restored(t, snapshotBytes(t, h.fsm), h.idx), h.fsm)
}

// TestAttemptsBoundedRetries: a retry strategy's attempts are recorded
// the same way (AWS Batch allows at most 10, well within the bound; the
// FSM keeps the bound whatever a command asks).
func TestAttemptsBoundedRetries(t *testing.T) {
	h := newHarness(t)
	h.register(1, api.Node{Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}})
	jb := newJob("retry")
	jb.RetryAttempts = api.MaxJobAttempts + 10
	id := h.submit(1, jb)[0]
	for n := 1; n <= jb.RetryAttempts; n++ {
		h.runAttempt(id, n, int64(n*1000), exitWith(1))
	}
	j := h.wantJob(id, api.StateFailed, api.ReasonNonZeroExit)
	if j.Attempt != jb.RetryAttempts || len(j.Attempts) != api.MaxJobAttempts {
		t.Fatalf("attempt %d with %d kept; want %d with %d kept", j.Attempt, len(j.Attempts), jb.RetryAttempts, api.MaxJobAttempts)
	}
	// Recorded: every attempt but the last, the job's own; kept: the
	// newest api.MaxJobAttempts of those.
	firstKept := jb.RetryAttempts - api.MaxJobAttempts
	if first, last := j.Attempts[0], j.Attempts[len(j.Attempts)-1]; first.StartedAt != int64(firstKept*1000+1) || last.StartedAt != int64((jb.RetryAttempts-1)*1000+1) {
		t.Fatalf("kept attempts from %+v to %+v; want attempts %d to %d", first, last, firstKept, jb.RetryAttempts-1)
	}
}
