package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/testwait"
)

// TestSignalSlurm signals running jobs through the Slurm commands, as a
// user would, against a real dev agent: scancel --signal with -b (the batch
// script's trap runs), a batch TERM to a script without a trap (it dies of
// it, reported as signal 15), a signal to a pending job (Slurm's error),
// sbatch --signal=B:USR1@55 (the warning comes before the time limit), and
// shoal signal (to the job's other processes; owner or root only).
func TestSignalSlurm(t *testing.T) {
	c := newCluster(t)
	env := c.slurmEnv(t)
	work := t.TempDir()
	os.Chmod(work, 0o755)
	script := func(name, text string) string {
		t.Helper()
		p := filepath.Join(work, name)
		if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	slurm := func(name string, args ...string) (string, int) {
		t.Helper()
		return runSlurm(t, work, env, name, args...)
	}
	sbatch := func(args ...string) uint64 {
		t.Helper()
		out, rc := slurm("sbatch", append([]string{"--parsable"}, args...)...)
		if rc != 0 {
			t.Fatalf("sbatch %v: exit %d: %s", args, rc, out)
		}
		return mustID(t, out)
	}

	// The time-limit warning first: it runs (5 s) while the others do.
	warnStart := time.Now()
	warned := sbatch(script("warned.sh", `#!/bin/bash
#SBATCH -t 1
#SBATCH --signal=B:USR1@55
trap 'echo warned > warned.out; exit 0' USR1
sleep 300 & wait
echo "no warning before the limit" > warned.out
`))

	// scancel --signal=USR1 -b: the batch script's trap runs.
	trapped := sbatch(script("trapped.sh", `#!/bin/bash
trap 'echo got USR1 > trapped.out; exit 0' USR1
echo ready > trapped.ready
sleep 300 & wait
`))
	waitFile(t, filepath.Join(work, "trapped.ready"))
	if out, rc := slurm("scancel", "--signal=USR1", "-b", api.FormatID(trapped)); rc != 0 {
		t.Fatalf("scancel --signal=USR1 -b %d: exit %d: %s", trapped, rc, out)
	}
	j := c.wait(trapped)
	wantState(t, j, api.StateSucceeded, "")
	if b, _ := os.ReadFile(filepath.Join(work, "trapped.out")); string(b) != "got USR1\n" {
		t.Fatalf("trapped.out holds %q, want the trap's \"got USR1\"", b)
	}

	// A batch TERM to a script without a trap: it dies of SIGTERM.
	plain := sbatch(script("plain.sh", `#!/bin/bash
echo ready > plain.ready
sleep 300
echo "went on after TERM" > plain.next
`))
	waitFile(t, filepath.Join(work, "plain.ready"))
	if out, rc := slurm("scancel", "-b", "-s", "TERM", api.FormatID(plain)); rc != 0 {
		t.Fatalf("scancel -b -s TERM %d: exit %d: %s", plain, rc, out)
	}
	j = c.wait(plain)
	if j.State != api.StateFailed || j.ExitSignal != int(syscall.SIGTERM) {
		t.Fatalf("job %d after a batch TERM: %s signal %d (%q), want FAILED by signal 15", plain, j.State, j.ExitSignal, j.StatusReason)
	}
	if _, err := os.Stat(filepath.Join(work, "plain.next")); err == nil {
		t.Fatalf("the script went on to its next command after a batch TERM")
	}

	// A pending job has nothing to signal: Slurm's error, exit 1.
	held := sbatch("-H", "--wrap", "true")
	out, rc := slurm("scancel", "--signal=USR1", api.FormatID(held))
	if want := "scancel: error: Kill job error on job id " + api.FormatID(held) + ": Job is pending execution\n"; rc != 1 || out != want {
		t.Fatalf("scancel --signal=USR1 of a pending job: exit %d, output %q; want exit 1, %q", rc, out, want)
	}
	if out, rc := slurm("scancel", api.FormatID(held)); rc != 0 {
		t.Fatalf("scancel %d: exit %d: %s", held, rc, out)
	}

	// shoal signal (default scope): the script's child gets USR2, the
	// script does not. Only the owner or root may signal a job.
	steps := sbatch(script("steps.sh", `#!/bin/bash
trap 'echo script > steps.script' USR2
bash -c 'trap "echo child > steps.child; exit 0" USR2; echo ready > steps.ready; sleep 300 & wait'
echo "after child" > steps.after
`))
	waitFile(t, filepath.Join(work, "steps.ready"))
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	if r := c.shoalAs(nobody, "signal", api.FormatID(steps), "USR2"); r.code != 1 || !strings.Contains(r.stderr, "only its owner or root may signal") {
		t.Fatalf("nobody signalling root's job: exit %d stderr %q, want a refusal", r.code, r.stderr)
	}
	if r := c.shoal("signal", api.FormatID(steps), "SIGUSR2"); r.code != 0 {
		t.Fatalf("shoal signal %d SIGUSR2: exit %d: %s", steps, r.code, r.stderr)
	}
	j = c.wait(steps)
	wantState(t, j, api.StateSucceeded, "")
	for name, want := range map[string]string{"steps.child": "child\n", "steps.after": "after child\n"} {
		if b, _ := os.ReadFile(filepath.Join(work, name)); string(b) != want {
			t.Fatalf("%s holds %q, want %q", name, b, want)
		}
	}
	if _, err := os.Stat(filepath.Join(work, "steps.script")); err == nil {
		t.Fatalf("the batch script got a signal meant for the job's other processes")
	}
	if r := c.shoal("signal", api.FormatID(steps), "USR2"); r.code != 1 || !strings.Contains(r.stderr, "it is SUCCEEDED") {
		t.Fatalf("signalling an ended job: exit %d stderr %q, want a refusal naming SUCCEEDED", r.code, r.stderr)
	}

	// Bad requests are refused by the controller, naming what is wrong.
	ctx := context.Background()
	for _, tc := range []struct {
		what    string
		err     error
		mention string
	}{
		{"signal 0", c.client.Signal(ctx, warned, 0, ""), "signal 0 is out of range"},
		{"signal 65", c.client.Signal(ctx, warned, 65, api.SignalBatch), "from 1 to 64"},
		{"scope", c.client.Signal(ctx, warned, 10, "everything"), `scope "everything"`},
		{"missing job", c.client.Signal(ctx, 999999, 10, ""), "job 999999 does not exist"},
		{"warning signal", submitErr(c, api.SubmitJobRequest{JobSpec: api.JobSpec{
			Command: []string{"true"}, TimeLimit: 60, LimitWarnSignal: 99,
		}}), "warning signal 99 is out of range"},
		{"warning time", submitErr(c, api.SubmitJobRequest{JobSpec: api.JobSpec{
			Command: []string{"true"}, TimeLimit: 60, LimitWarnSignal: 10, LimitWarnSeconds: 70000,
		}}), "0 to 65535 seconds"},
		{"warning without signal", submitErr(c, api.SubmitJobRequest{JobSpec: api.JobSpec{
			Command: []string{"true"}, LimitWarnBatch: true,
		}}), "need warnSignal"},
	} {
		if tc.err == nil || !api.IsCode(tc.err, api.CodeInvalid) && !api.IsCode(tc.err, api.CodeNotFound) || !strings.Contains(tc.err.Error(), tc.mention) {
			t.Errorf("%s: got error %v, want one mentioning %q", tc.what, tc.err, tc.mention)
		}
	}

	// The warning: 55 s before the 60 s limit, so about 5 s after the
	// start, and the trap ends the job well before the limit.
	j = c.wait(warned)
	wantState(t, j, api.StateSucceeded, "")
	if b, _ := os.ReadFile(filepath.Join(work, "warned.out")); string(b) != "warned\n" {
		t.Fatalf("warned.out holds %q, want the trap's \"warned\"", b)
	}
	if ran := time.Duration(j.StoppedAt-j.StartedAt) * time.Millisecond; ran < 4*time.Second || ran > 30*time.Second {
		t.Fatalf("the warned job ran %v; want the warning about 5 s after its start (55 s before a 60 s limit)", ran)
	}
	t.Logf("warning arrived and the job ended %v after submit", time.Since(warnStart))

	c.stop()
	if left := c.leftovers(); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// runSlurm runs a Slurm command through its link (first on env's PATH) in
// dir and returns its combined output and exit code.
func runSlurm(t *testing.T, dir string, env []string, name string, args ...string) (string, int) {
	t.Helper()
	path := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v // the last one wins, as in exec.Cmd
		}
	}
	links, _, _ := strings.Cut(path, ":")
	cmd := exec.Command(filepath.Join(links, name), args...)
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("run %s %v: %v", name, args, err)
	}
	return out.String(), 0
}

// waitFile waits until a job has written path (its trap is set by then).
func waitFile(t *testing.T, path string) {
	t.Helper()
	if err := testwait.File(path, 30*time.Second, func(s string) bool { return s != "" }); err != nil {
		t.Fatal(err)
	}
}

// submitErr submits req through the API and returns the error.
func submitErr(c *cluster, req api.SubmitJobRequest) error {
	_, err := c.client.Submit(context.Background(), req)
	return err
}
