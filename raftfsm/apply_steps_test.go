package raftfsm_test

import (
	"reflect"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// startStep registers a step of job id as alice (uid 1000) at now.
func (h *harness) startStep(id uint64, name string, now int64) uint32 {
	h.t.Helper()
	res := h.mustOK("start step", h.apply(raftfsm.OpStepStart, raftfsm.StepStartCmd{
		Step: api.StepStartRequest{JobID: id, Name: name, NTasks: 2, CPUs: 2, SrunHost: "node1", SrunPID: 42}, CallerUID: 1000, Now: now}))
	if len(res.IDs) != 1 {
		h.t.Fatalf("start step of job %d: ids %v, want one", id, res.IDs)
	}
	return uint32(res.IDs[0])
}

// TestSlurm2_8_StepRecords pins what Slurm's test 2.8 (scontrol show step
// JOB and JOB.0) needs of the state: srun's steps get ids 0, 1, ... per
// job, are kept with their job, and end with the exit srun reports.
func TestSlurm2_8_StepRecords(t *testing.T) {
	h := newHarness(t)
	a, b := h.jobIn(run, 100), h.jobIn(sta, 100)
	if got := h.startStep(a, "sleep", 110); got != 0 {
		t.Fatalf("first step of job %d: id %d, want 0", a, got)
	}
	if got := h.startStep(a, "hostname", 120); got != 1 {
		t.Fatalf("second step of job %d: id %d, want 1", a, got)
	}
	if got := h.startStep(b, "sleep", 130); got != 0 {
		t.Fatalf("first step of job %d (STARTING): id %d, want 0 (ids count per job)", b, got)
	}
	h.mustOK("end step", h.apply(raftfsm.OpStepEnd, raftfsm.StepEndCmd{End: api.StepEndRequest{JobID: a, StepID: 1, ExitCode: 3}, CallerUID: 1000, Now: 150}))
	j := h.job(a)
	want := []api.Step{
		{ID: 0, Name: "sleep", State: api.StepRunning, NTasks: 2, CPUs: 2, StartedAt: 110, SrunHost: "node1", SrunPID: 42},
		{ID: 1, Name: "hostname", State: api.StepFailed, NTasks: 2, CPUs: 2, StartedAt: 120, EndedAt: 150, ExitCode: 3, SrunHost: "node1", SrunPID: 42},
	}
	if !reflect.DeepEqual(j.Steps, want) || j.NextStep != 2 {
		t.Fatalf("job %d steps %+v next %d,\nwant %+v next 2", a, j.Steps, j.NextStep, want)
	}
	// The job's end ends its running steps, CANCELLED (their srun died with it).
	h.events(200, api.JobEvent{ID: a, Node: h.driveNode, State: api.StateSucceeded, ExitCode: intp(0)})
	j = h.job(a)
	if s := j.Steps[0]; s.State != api.StepCancelled || s.EndedAt != 200 {
		t.Errorf("step 0 after its job ended: %+v, want CANCELLED at 200", s)
	}
	if s := j.Steps[1]; s.State != api.StepFailed || s.EndedAt != 150 {
		t.Errorf("ended step 1 after its job ended: %+v, want it as it was (FAILED at 150)", s)
	}
	// Snapshot, restore and replay keep the steps.
	wantSameState(t, restored(t, snapshotBytes(t, h.fsm), h.idx), h.fsm)
	g := raftfsm.New()
	for i, e := range h.log {
		g.Apply(uint64(i+1), e)
	}
	wantSameState(t, g, h.fsm)
}

// TestStepRefusals: a step starts only in a STARTING or RUNNING job, by
// its owner or root, with at least one task; only a running step ends or
// is signalled; a refusal leaves the job as it was.
func TestStepRefusals(t *testing.T) {
	h := newHarness(t)
	runID, penID, doneID := h.jobIn(run, 100), h.jobIn(pen, 100), h.jobIn(suc, 100)
	h.startStep(runID, "ok", 100)
	h.mustOK("end", h.apply(raftfsm.OpStepEnd, raftfsm.StepEndCmd{End: api.StepEndRequest{JobID: runID, StepID: 0}, CallerUID: 1000, Now: 101}))
	start := func(id uint64, uid uint32, ntasks int) raftfsm.StepStartCmd {
		return raftfsm.StepStartCmd{Step: api.StepStartRequest{JobID: id, Name: "x", NTasks: ntasks}, CallerUID: uid, Now: 110}
	}
	for _, tc := range []struct {
		name    string
		op      raftfsm.Op
		cmd     any
		code    string
		mention []string
	}{
		{"no such job", raftfsm.OpStepStart, start(999, 1000, 1), api.CodeNotFound, []string{"job 999 does not exist"}},
		{"pending job", raftfsm.OpStepStart, start(penID, 1000, 1), api.CodeConflict, []string{"PENDING", "STARTING or RUNNING"}},
		{"ended job", raftfsm.OpStepStart, start(doneID, 1000, 1), api.CodeConflict, []string{"SUCCEEDED"}},
		{"another user", raftfsm.OpStepStart, start(runID, 1001, 1), api.CodeForbidden, []string{"belongs to alice", "start a step of"}},
		{"no tasks", raftfsm.OpStepStart, start(runID, 1000, 0), api.CodeInvalid, []string{"at least one task"}},
		{"end of no such step", raftfsm.OpStepEnd, raftfsm.StepEndCmd{End: api.StepEndRequest{JobID: runID, StepID: 7}, CallerUID: 1000}, api.CodeNotFound, []string{"no step 7"}},
		{"end twice", raftfsm.OpStepEnd, raftfsm.StepEndCmd{End: api.StepEndRequest{JobID: runID, StepID: 0}, CallerUID: 1000}, api.CodeConflict, []string{"has ended", "COMPLETED"}},
		{"cancel an ended step", raftfsm.OpStepSignal, raftfsm.StepSignalCmd{Signal: api.StepSignalRequest{JobID: runID, StepID: 0, Cancel: true}, CallerUID: 1000}, api.CodeConflict, []string{"has ended"}},
		{"signal 0", raftfsm.OpStepSignal, raftfsm.StepSignalCmd{Signal: api.StepSignalRequest{JobID: runID, StepID: 0}, CallerUID: 1000}, api.CodeInvalid, []string{"signal 0", "1 to 64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := *h.job(runID)
			wantErr(t, tc.name, h.apply(tc.op, tc.cmd), tc.code, tc.mention...)
			if after := *h.job(runID); !reflect.DeepEqual(after, before) {
				t.Errorf("refused command changed the job:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}

// TestSlurm6_9_StepCancel pins what Slurm's test 6.9 (scancel JOB.0 and
// JOB.1) needs of the state: cancelling one step asks the node to kill
// that step's processes alone (a SIGKILL scoped to the step, naming the
// step's srun, whose children are the step's), leaves the
// job and its other steps running, and the step ends CANCELLED whatever
// its tasks' exit; a signal reaches one step the same way.
func TestSlurm6_9_StepCancel(t *testing.T) {
	h := newHarness(t)
	id := h.jobIn(run, 100)
	h.startStep(id, "sleep", 100)
	h.startStep(id, "sleep", 101)
	h.mustOK("signal step 1", h.apply(raftfsm.OpStepSignal, raftfsm.StepSignalCmd{Signal: api.StepSignalRequest{JobID: id, StepID: 1, Signal: 10}, CallerUID: 1000, Now: 105}))
	h.mustOK("cancel step 0", h.apply(raftfsm.OpStepSignal, raftfsm.StepSignalCmd{Signal: api.StepSignalRequest{JobID: id, StepID: 0, Cancel: true}, CallerUID: 0, Now: 110}))
	j := h.wantJob(id, run, "")
	wantSigs := []api.JobSignal{{Seq: 1, Signal: 10, Scope: api.SignalStep, Step: 1, SrunPID: 42}, {Seq: 2, Signal: 9, Scope: api.SignalStep, Step: 0, SrunPID: 42}}
	if !reflect.DeepEqual(j.SignalRequests, wantSigs) {
		t.Fatalf("signals %+v, want %+v", j.SignalRequests, wantSigs)
	}
	if !j.Steps[0].CancelRequested || j.Steps[0].Ended() || j.Steps[1].CancelRequested {
		t.Fatalf("steps %+v: want step 0 cancel requested and still running, step 1 untouched", j.Steps)
	}
	// srun reports its killed task: the step is CANCELLED, not FAILED.
	h.mustOK("end step 0", h.apply(raftfsm.OpStepEnd, raftfsm.StepEndCmd{End: api.StepEndRequest{JobID: id, StepID: 0, ExitSignal: 9}, CallerUID: 1000, Now: 111}))
	j = h.wantJob(id, run, "")
	if s := j.Steps[0]; s.State != api.StepCancelled || s.ExitSignal != 9 || s.EndedAt != 111 {
		t.Errorf("cancelled step 0 ended as %+v, want CANCELLED, signal 9, at 111", s)
	}
	if s := j.Steps[1]; s.State != api.StepRunning {
		t.Errorf("step 1 is %s after step 0 was cancelled; want RUNNING", s.State)
	}
}

// TestStepsBounded: a job keeps at most api.MaxJobSteps step records,
// dropping the oldest ended ones; ids go on counting.
func TestStepsBounded(t *testing.T) {
	h := newHarness(t)
	id := h.jobIn(run, 100)
	running := h.startStep(id, "long", 100)
	for i := range api.MaxJobSteps + 10 {
		s := h.startStep(id, "short", int64(101+i))
		h.mustOK("end", h.apply(raftfsm.OpStepEnd, raftfsm.StepEndCmd{End: api.StepEndRequest{JobID: id, StepID: s}, CallerUID: 1000, Now: int64(101 + i)}))
	}
	j := h.job(id)
	if len(j.Steps) != api.MaxJobSteps || j.Steps[0].ID != running || j.NextStep != api.MaxJobSteps+11 {
		t.Fatalf("%d steps, first %d, next %d; want %d, the running step %d first, next %d",
			len(j.Steps), j.Steps[0].ID, j.NextStep, api.MaxJobSteps, running, api.MaxJobSteps+11)
	}
	if last := j.Steps[len(j.Steps)-1]; last.ID != api.MaxJobSteps+10 {
		t.Fatalf("last step %d, want %d", last.ID, api.MaxJobSteps+10)
	}
}

// TestStepsOfARequeuedJob: a requeued job's new run starts with no steps,
// its ids from 0 again (Slurm's); the old run's steps were ended first.
func TestStepsOfARequeuedJob(t *testing.T) {
	h := newHarness(t)
	id := h.jobIn(run, 100)
	h.startStep(id, "old", 110)
	h.mustOK("requeue", h.stop(raftfsm.StopCmd{ID: id, Requeue: true, Terminate: true, Reason: "again", CallerUID: 1000, Now: 200}))
	h.events(300, api.JobEvent{ID: id, Node: h.driveNode, State: api.StateFailed, Signal: 15})
	if j := h.wantJob(id, rbl, ""); len(j.Steps) != 0 || j.NextStep != 0 {
		t.Fatalf("requeued job keeps steps %+v (next %d), want none", j.Steps, j.NextStep)
	}
	h.place(400, raftfsm.Placement{JobID: id, Node: h.driveNode})
	if got := h.startStep(id, "new", 410); got != 0 {
		t.Errorf("first step of the new run: id %d, want 0", got)
	}
}
