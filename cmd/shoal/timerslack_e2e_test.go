package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/timerslack"
)

// TestTimerSlack: the agent's threads run with the daemons' timer slack,
// and so does a job's supervisor, while the job's program, and what it
// starts, have the kernel's default back.
func TestTimerSlack(t *testing.T) {
	c := newCluster(t)
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(c.cmd.Process.Pid) + "/task")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		got, err := timerslack.Of(tid)
		if err != nil {
			continue // the thread ended since the listing
		}
		checked++
		if got != timerslack.Daemon {
			t.Errorf("agent thread %d: timer slack %v, want %v", tid, got, timerslack.Daemon)
		}
	}
	if checked == 0 {
		t.Fatalf("no thread of the agent (pid %d) could be read of %d listed", c.cmd.Process.Pid, len(tasks))
	}

	// The job's program (sh) reports its own slack and a child's (cat's:
	// reading another process's needs CAP_SYS_NICE), then waits for the
	// test to look at its supervisor.
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	gate := dir + "/gate"
	id := c.submit("--", "sh", "-c", `read s </proc/self/timerslack_ns; echo $s; cat /proc/self/timerslack_ns; while [ ! -e `+gate+` ]; do sleep 0.05; done`)
	c.wait(id, api.StateRunning)
	shims, _ := filepath.Glob(filepath.Join(c.sbRoot, ".shim", "*", "shim.json"))
	if len(shims) != 1 {
		t.Fatalf("supervisor state files %v, want one", shims)
	}
	supervisor := shimPid(t, shims[0])
	if got, err := timerslack.Of(supervisor); err != nil || got != timerslack.Daemon {
		t.Errorf("job %d's supervisor (pid %d): timer slack %v, %v; want %v", id, supervisor, got, err, timerslack.Daemon)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wantState(t, c.wait(id), api.StateSucceeded, "")
	r := c.shoal("logs", api.FormatID(id))
	want := strings.Repeat(strconv.FormatInt(timerslack.Job.Nanoseconds(), 10)+"\n", 2)
	if r.code != 0 || r.stdout != want {
		t.Errorf("the job's program and its child printed their timer slack as %q (exit %d: %s), want %q", r.stdout, r.code, r.stderr, want)
	}
}
