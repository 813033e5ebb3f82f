package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// slurmCmd runs the Slurm command name (this binary under that name)
// against c, and returns its output; a failure fails the test.
func (c *cluster) slurmCmd(t *testing.T, name string, args ...string) string {
	t.Helper()
	link := filepath.Join(filepath.Dir(c.dataDir), "bin", name)
	if _, err := os.Lstat(link); err != nil {
		os.MkdirAll(filepath.Dir(link), 0o755)
		if err := os.Symlink(shoalBin, link); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, link, args...)
	cmd.Env = append(os.Environ(), "SHOAL_TEST_MAIN=1", "SHOAL_ADDR="+c.socket, "USER=root")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out.String())
	}
	return out.String()
}

// TestFinishedJobsMoveToTheArchive: with -min-job-age 1s a finished job
// leaves the live state (squeue -t all no longer lists it) and stays in
// sacct and shoal describe, also after the agent restarts.
func TestFinishedJobsMoveToTheArchive(t *testing.T) {
	c := newCluster(t, "-min-job-age", "1s")
	id := c.submit("--name", "gone", "--", "sh", "-c", "exit 3")
	wantState(t, c.wait(id), api.StateFailed, "")
	sid := api.FormatID(id)

	// The retention loop runs every 250 ms with a 1 s window: the job
	// leaves within a few seconds. Asked every 100 ms: the live list has
	// no blocking query for a job leaving it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		jobs, err := c.client.ListJobs(context.Background(), api.ListJobsRequest{States: api.AllStates})
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d still in the live state 30s after it ended with -min-job-age 1s: %+v", id, jobs)
		}
		time.Sleep(100 * time.Millisecond)
	}

	check := func(when string) {
		t.Helper()
		if out := c.slurmCmd(t, "squeue", "-t", "all", "-h", "-o", "%i"); strings.Contains(out, sid) {
			t.Errorf("%s: squeue -t all lists job %s, want it gone from the live state:\n%s", when, sid, out)
		}
		want := sid + "|gone|FAILED|3:0"
		if out := c.slurmCmd(t, "sacct", "-j", sid, "-X", "-n", "-P", "-o", "JobID,JobName,State,ExitCode"); strings.TrimSpace(out) != want {
			t.Errorf("%s: sacct -j %s printed %q, want %q", when, sid, out, want)
		}
		if out := c.slurmCmd(t, "sacct", "-a", "-X", "-n", "-P", "-o", "JobID,State", "-s", "F", "-S", "2020-01-01T00:00:00"); !strings.Contains(out, sid+"|FAILED") {
			t.Errorf("%s: sacct -a -s F printed %q, want job %s FAILED in it", when, out, sid)
		}
		if out := c.slurmCmd(t, "sacct", "-a", "-X", "-n", "-P", "-o", "JobID", "-s", "CD", "-S", "2020-01-01T00:00:00"); strings.Contains(out, sid) {
			t.Errorf("%s: sacct -s CD printed %q, want no failed job %s", when, out, sid)
		}
		j := c.describe(id)
		if j.State != api.StateFailed || j.ExitCode == nil || *j.ExitCode != 3 || j.Name != "gone" {
			t.Errorf("%s: shoal describe %d: got %s exit %v name %q, want FAILED exit 3 name gone", when, id, j.State, j.ExitCode, j.Name)
		}
	}
	check("after expiry")
	c.stop()
	c.start()
	check("after the agent restarted")
	info, err := os.Stat(filepath.Join(c.dataDir, "controller", "archive.db"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("archive file: %v, want mode 0600", err)
	}
}
