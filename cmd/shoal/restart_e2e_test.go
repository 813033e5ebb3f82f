package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// TestRestartKeepsJobsKill is the acceptance test of a node daemon
// restart under running jobs: five jobs with distinct exit codes run while
// the dev agent (controller and node daemon in one process) is killed with
// SIGKILL and started again. Two of them end while no daemon runs, three
// after the new one has recovered them; all five end with their real exit
// codes, none is failed for the restart, and nothing is left behind.
func TestRestartKeepsJobsKill(t *testing.T) { restartKeepsJobs(t, syscall.SIGKILL) }

// TestRestartKeepsJobsTerm: the same across an orderly stop (SIGTERM),
// which leaves running jobs running.
func TestRestartKeepsJobsTerm(t *testing.T) { restartKeepsJobs(t, syscall.SIGTERM) }

func restartKeepsJobs(t *testing.T, sig syscall.Signal) {
	c := newCluster(t, "-node-cpus", "8") // five at once on any machine: they sleep
	work := t.TempDir()
	os.Chmod(work, 0o755)
	codes := []int{0, 3, 7, 42, 0}
	ids := make([]uint64, len(codes))
	for i, code := range codes {
		// Each job says it runs, then waits for its go file.
		script := fmt.Sprintf(`echo $$ > started-%d; while [ ! -e go-%d ]; do sleep 0.05; done; echo ending > ended-%d; exit %d`,
			i, i, i, code)
		ids[i] = c.submit("--name", fmt.Sprintf("restart-%d", i), "--chdir", work, "--", "sh", "-c", script)
	}
	for i, id := range ids {
		c.wait(id, api.StateRunning)
		waitFile(t, filepath.Join(work, fmt.Sprintf("started-%d", i)))
	}
	before := c.describe(ids[0]).Node

	// The daemon goes away, its jobs do not.
	kill := time.Now()
	c.cmd.Process.Signal(sig)
	if err := c.cmd.Wait(); err != nil && sig == syscall.SIGTERM {
		t.Errorf("agent exit on SIGTERM: %v", err)
	}
	c.cmd = nil
	// Two end while no daemon runs.
	for _, i := range []int{1, 4} {
		os.WriteFile(filepath.Join(work, fmt.Sprintf("go-%d", i)), nil, 0o644)
		waitFile(t, filepath.Join(work, fmt.Sprintf("ended-%d", i)))
	}
	c.start()
	t.Logf("agent down and up again in %v", time.Since(kill).Round(time.Millisecond))
	// Three end under the new daemon.
	for _, i := range []int{0, 2, 3} {
		os.WriteFile(filepath.Join(work, fmt.Sprintf("go-%d", i)), nil, 0o644)
	}
	for i, id := range ids {
		j := c.wait(id)
		if codes[i] == 0 {
			wantState(t, j, api.StateSucceeded, "")
		} else {
			wantState(t, j, api.StateFailed, api.ReasonNonZeroExit)
		}
		wantExit(t, j, codes[i])
		if j.Node != before || j.Attempt != 1 {
			t.Errorf("job %d ran on %s attempt %d, want %s attempt 1", id, j.Node, j.Attempt, before)
		}
		if j.Usage == nil || j.Usage.CPUSeconds <= 0 {
			t.Errorf("job %d: usage %+v, want the CPU time its supervisor recorded", id, j.Usage)
		}
	}
	c.stop()
	if left := c.leftovers(); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// TestRestartLostSandbox: a job whose sandbox did not survive (its
// supervisor killed with the daemon, as a wiped /run would lose it) fails
// with a reason that names the node daemon's restart, not an exit code.
func TestRestartLostSandbox(t *testing.T) {
	c := newCluster(t)
	work := t.TempDir()
	os.Chmod(work, 0o755)
	id := c.submit("--chdir", work, "--", "sh", "-c", "echo $$ > started; exec sleep 3600")
	c.wait(id, api.StateRunning)
	waitFile(t, filepath.Join(work, "started"))
	c.cmd.Process.Kill()
	c.cmd.Wait()
	c.cmd = nil
	// What a crash of the whole supervisor tree would leave: no record.
	shims, _ := filepath.Glob(filepath.Join(c.sbRoot, ".shim", "*", "shim.json"))
	if len(shims) != 1 {
		t.Fatalf("supervisor state files %v, want one", shims)
	}
	syscall.Kill(shimPid(t, shims[0]), syscall.SIGKILL)
	c.start()
	j := c.wait(id)
	if j.State != api.StateFailed || j.Cause != api.CauseNodeLost || !strings.HasPrefix(j.StatusReason, api.ReasonNodeLost) {
		t.Fatalf("job whose sandbox was lost: %s cause %s %q, want FAILED node_lost %q...", j.State, j.Cause, j.StatusReason, api.ReasonNodeLost)
	}
	c.stop()
	if left := c.leftovers(); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// shimPid reads the supervisor's pid from its state file.
func shimPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Pid int `json:"shimPid"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.Pid <= 0 {
		t.Fatalf("supervisor state %s: %q (%v), want a shimPid", path, b, err)
	}
	return st.Pid
}

// TestRestartKeepsTimeLimit: the new daemon enforces a recovered job's
// time limit from when the job started, not from its own start.
func TestRestartKeepsTimeLimit(t *testing.T) {
	c := newCluster(t)
	resp, err := c.client.Submit(context.Background(), api.SubmitJobRequest{
		JobSpec: api.JobSpec{Name: "limited", Command: []string{"sleep", "3600"}, Dir: t.TempDir(), TimeLimit: 3},
	})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	c.wait(resp.ID, api.StateRunning)
	c.cmd.Process.Kill()
	c.cmd.Wait()
	c.cmd = nil
	c.start()
	j := c.wait(resp.ID)
	if j.State != api.StateFailed || j.Cause != api.CauseTimeout || j.StatusReason != api.ReasonTimeout {
		t.Fatalf("recovered job past its 3 s limit ended %s (cause %q, %q), want FAILED by timeout", j.State, j.Cause, j.StatusReason)
	}
	if ran := time.Duration(j.StoppedAt-j.StartedAt) * time.Millisecond; ran > 15*time.Second {
		t.Errorf("recovered job with a 3 s limit ran %v, want about 3 s plus the grace", ran)
	}
	c.stop()
	if left := c.leftovers(); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}
