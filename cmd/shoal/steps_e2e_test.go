package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestSlurmStepsE2E runs Slurm's job step round trip against a real dev
// agent and real sandboxes, as Slurm's tests 2.8, 5.4 and 6.9 do: srun
// inside a batch job records steps JOB.0 and JOB.1, which squeue --steps
// and scontrol show step list; scancel JOB.1 kills that step's task alone
// (its srun reports it and the script goes on), scancel --signal=USR1
// JOB.0 signals the other; sacct shows each step with its own state and
// exit.
func TestSlurmStepsE2E(t *testing.T) {
	c := newCluster(t)
	env := c.slurmEnv(t)
	work := t.TempDir()
	os.Chmod(work, 0o755)
	slurm := func(name string, args ...string) string {
		t.Helper()
		out, rc := runSlurm(t, work, env, name, args...)
		if rc != 0 {
			t.Fatalf("%s %v: exit %d: %s", name, args, rc, out)
		}
		return out
	}
	script := filepath.Join(work, "steps.sh")
	if err := os.WriteFile(script, []byte(`#!/bin/bash
srun --mem=10 sh -c 'echo $SLURM_STEP_ID > step0.id; exec sleep 300' & s0=$!
until [ -s step0.id ]; do sleep 0.05; done
srun -n 2 sh -c 'echo $SLURM_STEP_ID > step1.$SLURM_PROCID; exec sleep 300'
echo "srun1=$?" > after.txt
wait $s0
echo "srun0=$?" >> after.txt
`), 0o755); err != nil {
		t.Fatal(err)
	}
	id := mustID(t, slurm("sbatch", "--parsable", "-o", "out.txt", "-e", "err.txt", script))
	jid := api.FormatID(id)
	waitFile(t, filepath.Join(work, "step1.0"))
	waitFile(t, filepath.Join(work, "step1.1"))
	for f, want := range map[string]string{"step0.id": "0\n", "step1.0": "1\n", "step1.1": "1\n"} {
		if b, _ := os.ReadFile(filepath.Join(work, f)); string(b) != want {
			t.Errorf("%s holds %q, want SLURM_STEP_ID %q", f, b, want)
		}
	}

	// Test 5.4: squeue --steps -j JOB lists the steps.
	if out := slurm("squeue", "--steps", "-j", jid, "-h", "-o", "%i %j %A"); out != jid+".0 sh 1\n"+jid+".1 sh 2\n"+jid+".batch batch 1\n" {
		t.Errorf("squeue --steps -j %s:\n%s", jid, out)
	}
	// Test 2.8: scontrol show step JOB.1, one line with -o.
	out := slurm("scontrol", "-o", "show", "step", jid+".1")
	if !strings.HasPrefix(out, "StepId="+jid+".1 UserId=0 ") || strings.Count(out, "\n") != 1 ||
		!strings.Contains(out, " State=RUNNING Partition=default NodeList=") || !strings.Contains(out, " Nodes=1 CPUs=2 Tasks=2 Name=sh ") {
		t.Errorf("scontrol -o show step %s.1:\n%s", jid, out)
	}
	if out, rc := runSlurm(t, work, env, "scontrol", "show", "step", "99999.0"); rc != 1 || !strings.Contains(out, "Invalid job id specified") {
		t.Errorf("scontrol show step 99999.0: exit %d: %s", rc, out)
	}

	// Test 6.9: scancel JOB.1 ends that step alone; the script goes on.
	slurm("scancel", jid+".1")
	waitFile(t, filepath.Join(work, "after.txt"))
	if b, _ := os.ReadFile(filepath.Join(work, "after.txt")); string(b) != "srun1=137\n" {
		t.Errorf("after scancel %s.1 the script saw %q, want srun1=137 (its tasks killed)", jid, b)
	}
	if j := c.describe(id); j.State != api.StateRunning {
		t.Fatalf("job %d is %s after one of its steps was cancelled, want RUNNING", id, j.State)
	}
	if out := slurm("squeue", "-s", "-h", "-o", "%i", jid+".0,"+jid+".1"); out != jid+".0\n" {
		t.Errorf("squeue -s %s.0,%s.1 after the cancel: %q, want step 0 alone", jid, jid, out)
	}
	// A signal reaches step 0's task, which dies of it.
	slurm("scancel", "--signal=USR1", jid+".0")
	j := c.wait(id)
	wantState(t, j, api.StateSucceeded, "")
	if b, _ := os.ReadFile(filepath.Join(work, "after.txt")); string(b) != "srun1=137\nsrun0=138\n" {
		t.Errorf("after.txt = %q, want srun0=138 (USR1) after srun1", b)
	}
	if b, _ := os.ReadFile(filepath.Join(work, "err.txt")); !strings.Contains(string(b), "task 0: Killed") || !strings.Contains(string(b), "task 0: User defined signal 1") {
		t.Errorf("srun's reports on stderr: %q", b)
	}
	out = slurm("sacct", "-j", jid, "-n", "-P", "-o", "JobID,JobName,State,ExitCode,NTasks")
	want := jid + "|steps.sh|COMPLETED|0:0|\n" + jid + ".batch|batch|COMPLETED|0:0|1\n" +
		jid + ".0|sh|FAILED|0:10|1\n" + jid + ".1|sh|CANCELLED|0:9|2\n"
	if out != want {
		t.Errorf("sacct -j %s:\n%s\nwant:\n%s", jid, out, want)
	}
	if out := slurm("sacct", "-j", jid, "-n", "-X", "-P", "-o", "JobID"); out != jid+"\n" {
		t.Errorf("sacct -X -j %s: %q, want the job alone", jid, out)
	}
}
