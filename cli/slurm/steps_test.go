package slurm

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// The step calls of ctlFake: they keep the steps on the fake's jobs as the
// controller's FSM does (ids from 0 per job, only in a running job, only a
// running step ends or is signalled).

var _ stepController = (*ctlFake)(nil)

func (f *ctlFake) runningJob(id uint64) (*api.Job, error) {
	j, ok := f.jobs[id]
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "job %d does not exist", id)
	}
	if !j.State.Terminable() {
		return nil, api.Errorf(api.CodeConflict, "job %d is %s: steps exist only in a STARTING or RUNNING job", id, j.State)
	}
	return j, nil
}

func (f *ctlFake) runningStep(jobID uint64, step uint32) (*api.Step, error) {
	j, err := f.runningJob(jobID)
	if err != nil {
		return nil, err
	}
	for i := range j.Steps {
		if s := &j.Steps[i]; s.ID == step {
			if s.Ended() {
				return nil, api.Errorf(api.CodeConflict, "step %d.%d has ended (%s)", jobID, step, s.State)
			}
			return s, nil
		}
	}
	return nil, api.Errorf(api.CodeNotFound, "job %d has no step %d", jobID, step)
}

func (f *ctlFake) StartStep(_ context.Context, req api.StepStartRequest) (uint32, error) {
	req.SrunPID = 0 // the test binary's: not part of a golden record
	f.record("StartStep %s", sbJSON(req))
	j, err := f.runningJob(req.JobID)
	if err != nil {
		return 0, err
	}
	id := j.NextStep
	j.NextStep++
	j.Steps = append(j.Steps, api.Step{ID: id, Name: req.Name, State: api.StepRunning, NTasks: req.NTasks, CPUs: req.CPUs, MemMB: req.MemMB})
	return id, nil
}

func (f *ctlFake) EndStep(_ context.Context, req api.StepEndRequest) error {
	f.record("EndStep %s", sbJSON(req))
	s, err := f.runningStep(req.JobID, req.StepID)
	if err != nil {
		return err
	}
	s.ExitCode, s.ExitSignal, s.State = req.ExitCode, req.ExitSignal, api.StepCompleted
	switch {
	case s.CancelRequested:
		s.State = api.StepCancelled
	case req.ExitCode != 0 || req.ExitSignal != 0:
		s.State = api.StepFailed
	}
	return nil
}

func (f *ctlFake) SignalStep(_ context.Context, req api.StepSignalRequest) error {
	f.record("SignalStep %s", sbJSON(req))
	s, err := f.runningStep(req.JobID, req.StepID)
	if err != nil {
		return err
	}
	s.CancelRequested = s.CancelRequested || req.Cancel
	return nil
}

// withStep gives the fake's running job 2 a running step 0 ("sleep").
func withStep(f *ctlFake) {
	f.jobs[2].Steps = []api.Step{{ID: 0, Name: "sleep", State: api.StepRunning, NTasks: 1, CPUs: 1, StartedAt: 1}}
	f.jobs[2].StartedAt, f.jobs[2].NextStep = 1, 1
}

// stepRun runs a command against f from a temporary folder, with stdin.
func stepRun(t *testing.T, f *ctlFake, run func(*Ctx, []string) int, stdin string, env []string, args ...string) (string, string, int) {
	t.Helper()
	c, stdout, stderr := sbTestCtx(f, t.TempDir(), append(append([]string(nil), sbEnv...), env...), stdin)
	rc := run(c, args)
	return stdout.String(), stderr.String(), rc
}

// TestSlurm2_8_ScontrolShowStep pins test 2.8's step checks: scontrol show
// step JOB lists the job's steps with "StepId=JOB.0 " (and its batch
// step), JOB.0 alone that one, and an unknown job says "Invalid job id".
func TestSlurm2_8_ScontrolShowStep(t *testing.T) {
	f := newCtlFake()
	withStep(f)
	out, _, rc := stepRun(t, f, Scontrol, "", nil, "show", "step", "2")
	if rc != 0 || len(regexp.MustCompile(`StepId=2\.0 `).FindAllString(out, -1)) != 1 || !strings.Contains(out, "StepId=2.batch ") {
		t.Errorf("scontrol show step 2: rc %d, want 0 and one StepId=2.0 and the batch step:\n%s", rc, out)
	}
	out, _, rc = stepRun(t, f, Scontrol, "", nil, "show", "step", "2.0")
	if rc != 0 || strings.Count(out, "StepId=") != 1 || !strings.Contains(out, "StepId=2.0 UserId=0 ") ||
		!strings.Contains(out, "\n   Nodes=1 CPUs=1 Tasks=1 Name=sleep Network=(null)\n") {
		t.Errorf("scontrol show step 2.0: rc %d, want 0 and the one step in 22.05's layout:\n%s", rc, out)
	}
	// wait_for_step reads the first line of scontrol -o show step for Nodes=.
	out, _, _ = stepRun(t, f, Scontrol, "", nil, "-o", "show", "step", "2.0")
	if first, _, _ := strings.Cut(out, "\n"); !strings.Contains(first, "Nodes=") {
		t.Errorf("scontrol -o show step 2.0: first line %q has no Nodes=", first)
	}
	_, stderr, rc := stepRun(t, f, Scontrol, "", nil, "show", "step", "10002.0")
	if rc != 1 || stderr != "slurm_get_job_steps error: Invalid job id specified\n" {
		t.Errorf("scontrol show step 10002.0: rc %d, stderr %q; want 1 and 22.05's Invalid job id", rc, stderr)
	}
	out, _, rc = stepRun(t, f, Scontrol, "", nil, "show", "step", "2.7")
	if rc != 1 || out != "Job step 2.7 not found\n" {
		t.Errorf("scontrol show step 2.7: rc %d, stdout %q; want 1 and Job step 2.7 not found", rc, out)
	}
	// scontrol write batch_script, which the same test checks.
	dir := t.TempDir()
	f.jobs[2].Script = "#!/bin/sh\nsrun sleep 60\n"
	c, stdout, _ := sbTestCtx(f, dir, sbEnv, "")
	if rc := Scontrol(c, []string{"write", "batch_script", "2"}); rc != 0 || stdout.String() != "batch script for job 2 written to slurm-2.sh\n" {
		t.Fatalf("scontrol write batch_script 2: rc %d, stdout %q", rc, stdout)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "slurm-2.sh")); err != nil || string(got) != f.jobs[2].Script {
		t.Errorf("slurm-2.sh = %q, %v; want the job's script", got, err)
	}
}

// TestSlurm5_4_SqueueSteps pins test 5.4's step check: squeue --steps -j
// JOB prints the step as " JOB.0 " under Slurm 22.05's step header.
func TestSlurm5_4_SqueueSteps(t *testing.T) {
	f := newCtlFake()
	withStep(f)
	for _, args := range [][]string{{"--steps", "-j", "2"}, {"-s", "2.0"}, {"--steps=2.0"}} {
		out, stderr, rc := stepRun(t, f, Squeue, "", nil, args...)
		if rc != 0 || stderr != "" {
			t.Errorf("squeue %v: rc %d, stderr %q", args, rc, stderr)
		}
		lines := strings.Split(out, "\n")
		if lines[0] != "         STEPID     NAME PARTITION     USER      TIME NODELIST" {
			t.Errorf("squeue %v: header %q", args, lines[0])
		}
		if !regexp.MustCompile(`(?m)^ *2\.0 `).MatchString(out) {
			t.Errorf("squeue %v: no line for step 2.0:\n%s", args, out)
		}
	}
	// The step format letters.
	out, _, _ := stepRun(t, f, Squeue, "", nil, "-s", "2.0", "-h", "-o", "%i|%j|%A|%u|%P|%N|%l")
	if out != "2.0|sleep|1|alice|default|n1|UNLIMITED\n" {
		t.Errorf("squeue -s 2.0 -o ...: %q", out)
	}
}

// TestSlurm6_9_ScancelStep pins test 6.9: scancel --interactive JOB.0
// asks "Cancel step_id=JOB.0 name=... partition=... [y/n]? " and, on y,
// cancels that step alone (not the job); a step that has ended is no
// error (Slurm's ESLURM_ALREADY_DONE, said with -v only); an unknown job
// is "Invalid job id specified".
func TestSlurm6_9_ScancelStep(t *testing.T) {
	f := newCtlFake()
	withStep(f)
	out, stderr, rc := stepRun(t, f, Scancel, "y\n", nil, "--interactive", "2.0")
	if rc != 0 || stderr != "" || !regexp.MustCompile(`Cancel step_id=2\.0*? `).MatchString(out) ||
		out != "Cancel step_id=2.0 name=long partition=default [y/n]? " {
		t.Errorf("scancel -i 2.0: rc %d, stdout %q, stderr %q", rc, out, stderr)
	}
	if calls := strings.Join(f.calls, "\n"); !strings.Contains(calls, `SignalStep {"jobId":2,"stepId":0,"cancel":true}`) ||
		strings.Contains(calls, "StopJobs") {
		t.Errorf("scancel -i 2.0 calls:\n%s\nwant a step cancel and no job stop", calls)
	}
	// The step is ending; cancelling it again is quiet without -v.
	f.jobs[2].Steps[0].State = api.StepCancelled
	if _, stderr, rc := stepRun(t, f, Scancel, "", nil, "2.0"); rc != 0 || stderr != "" {
		t.Errorf("scancel of an ended step: rc %d, stderr %q; want 0 and nothing", rc, stderr)
	}
	_, stderr, _ = stepRun(t, f, Scancel, "", nil, "-v", "2.0")
	if want := "scancel: Terminating step 2.0\nscancel: error: Kill job error on job step id 2.0: Job/step already completing or completed\n"; stderr != want {
		t.Errorf("scancel -v of an ended step: stderr %q, want %q", stderr, want)
	}
	_, stderr, rc = stepRun(t, f, Scancel, "", nil, "999.0")
	if rc != 1 || stderr != "scancel: error: Kill job error on job step id 999.0: Invalid job id specified\n" {
		t.Errorf("scancel 999.0: rc %d, stderr %q", rc, stderr)
	}
	// --signal reaches the step, not the job.
	f.jobs[2].Steps[0].State = api.StepRunning
	f.calls = nil
	if _, stderr, rc := stepRun(t, f, Scancel, "", nil, "--signal=USR1", "2.0"); rc != 0 || stderr != "" ||
		!slicesContain(f.calls, `SignalStep {"jobId":2,"stepId":0,"signal":10}`) {
		t.Errorf("scancel --signal=USR1 2.0: rc %d, stderr %q, calls %v", rc, stderr, f.calls)
	}
}

func slicesContain(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestSrunRecordsStep: srun inside a job registers its step before its
// tasks start (the name is the command's), runs them with that step id in
// SLURM_STEP_ID, and records their end (the highest exit code).
func TestSrunRecordsStep(t *testing.T) {
	f := newCtlFake()
	withStep(f) // the next step is 1
	env := []string{"SLURM_JOB_ID=2", "SLURM_JOB_NAME=long", "SLURMD_NODENAME=n1", "PATH=" + os.Getenv("PATH")}
	out, stderr, rc := stepRun(t, f, Srun, "", env, "-n", "2", "sh", "-c", `echo "$SLURM_STEP_ID.$SLURM_PROCID"; exit $((3 + SLURM_PROCID))`)
	if rc != 4 {
		t.Errorf("srun: rc %d, want 4 (the highest exit code); stderr %q", rc, stderr)
	}
	if lines := strings.Fields(out); len(lines) != 2 || !bytes.Contains([]byte(out), []byte("1.0")) || !bytes.Contains([]byte(out), []byte("1.1")) {
		t.Errorf("srun tasks printed %q, want 1.0 and 1.1 (step 1, tasks 0 and 1)", out)
	}
	want := []string{
		`StartStep {"jobId":2,"name":"sh","ntasks":2,"cpus":2,"srunHost":"login1"}`,
		`EndStep {"jobId":2,"stepId":1,"exitCode":4}`,
	}
	if !slicesContain(f.calls, want[0]) || !slicesContain(f.calls, want[1]) {
		t.Errorf("srun calls %q, want %q", f.calls, want)
	}
	if s := f.jobs[2].Steps[1]; s.State != api.StepFailed || s.ExitCode != 4 {
		t.Errorf("step 2.1 after srun: %+v, want FAILED with exit code 4", s)
	}
	// A job that is not running gets no step: srun says why and runs nothing.
	env[0] = "SLURM_JOB_ID=3"
	out, stderr, rc = stepRun(t, f, Srun, "", env, "echo", "ran")
	if rc != 1 || out != "" || !strings.HasPrefix(stderr, "srun: error: Unable to create step for job 3: job 3 is SUCCEEDED") {
		t.Errorf("srun in an ended job: rc %d, stdout %q, stderr %q", rc, out, stderr)
	}
}

// unreachable is a controller that never answers.
type unreachable struct{ *ctlFake }

func (unreachable) StartStep(context.Context, api.StepStartRequest) (uint32, error) {
	return 0, errors.New("dial unix /run/shoal/shoal.sock: connect: no such file or directory")
}
func (unreachable) EndStep(context.Context, api.StepEndRequest) error       { return nil }
func (unreachable) SignalStep(context.Context, api.StepSignalRequest) error { return nil }

// TestSrunUnrecordedStep: when no controller answers, srun inside a job
// still runs its step (as step 0), saying it could not record it.
func TestSrunUnrecordedStep(t *testing.T) {
	f := newCtlFake()
	c, stdout, stderr := sbTestCtx(f, t.TempDir(), []string{"SLURM_JOB_ID=2", "PATH=" + os.Getenv("PATH")}, "")
	c.Client = unreachable{f}
	if rc := Srun(c, []string{"sh", "-c", "echo $SLURM_STEP_ID"}); rc != 0 || stdout.String() != "0\n" ||
		!strings.HasPrefix(stderr.String(), "srun: error: Unable to record the step of job 2 with the controller: dial unix") {
		t.Errorf("srun with no controller: rc %d, stdout %q, stderr %q", rc, stdout, stderr)
	}
}
