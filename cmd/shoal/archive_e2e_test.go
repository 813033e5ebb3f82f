package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/daemon/archive"
	"github.com/shoal-batch/shoal/daemon/archive/archivetest"
)

// slurmCmd runs the Slurm command name (this binary under that name)
// against c, and returns its output; a failure fails the test.
func (c *cluster) slurmCmd(t *testing.T, name string, args ...string) string {
	t.Helper()
	r := c.slurmTry(t, name, args...)
	if r.code != 0 {
		t.Fatalf("%s %v: exit %d\n%s%s", name, args, r.code, r.stdout, r.stderr)
	}
	return r.stdout + r.stderr
}

// TestFinishedJobsMoveToTheArchive: with -min-job-age 1s a finished job
// leaves the live state (squeue -t all no longer lists it) and stays in
// sacct and shoal describe, also after the agent restarts.
func TestFinishedJobsMoveToTheArchive(t *testing.T) {
	c := newCluster(t, "-min-job-age", "1s")
	id := c.submit("--name", "gone", "--", "sh", "-c", "exit 3")
	wantState(t, c.wait(id), api.StateFailed, "")
	sid := api.FormatID(id)

	waitLeftLive(t, c, id)

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

// waitLeftLive waits until the live state (squeue's) holds none of ids.
// The retention loop runs every 250 ms with a 1 s window: jobs leave
// within a few seconds. Asked every 100 ms: the live list has no blocking
// query for a job leaving it.
func waitLeftLive(t *testing.T, c *cluster, ids ...uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		jobs, err := c.client.ListJobs(context.Background(), api.ListJobsRequest{States: api.AllStates})
		if err != nil {
			t.Fatal(err)
		}
		live := 0
		for _, j := range jobs {
			if slices.Contains(ids, j.ID) {
				live++
			}
		}
		if live == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of jobs %v still in the live state 30s after they ended with -min-job-age 1s", live, ids)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestArchiveInPostgres: an agent run with -archive-url moves finished
// jobs into a PostgreSQL database (a real server, started by the test),
// and sacct lists them from there, with its filters, also after the
// agent restarts; the data dir holds no archive file.
func TestArchiveInPostgres(t *testing.T) {
	url := archivetest.StartPostgres(t)
	c := newCluster(t, "-min-job-age", "1s", "-archive-url", url)
	ok := mustID(t, c.slurmCmd(t, "sbatch", "--parsable", "-J", "pg-ok", "-A", "phys", "-o", filepath.Join(t.TempDir(), "pg-ok.out"), "--wrap", "true"))
	bad := c.submit("--name", "pg-bad", "--", "sh", "-c", "exit 4")
	wantState(t, c.wait(ok), api.StateSucceeded, "")
	wantState(t, c.wait(bad), api.StateFailed, "")
	waitLeftLive(t, c, ok, bad)

	db, err := archive.OpenPG(url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, id := range []uint64{ok, bad} {
		if j, err := db.Get(id); err != nil || j == nil {
			t.Fatalf("job %d in PostgreSQL: %v, %v; want it archived there", id, j, err)
		}
	}
	sok, sbad := api.FormatID(ok), api.FormatID(bad)
	check := func(when string) {
		t.Helper()
		if out := c.slurmCmd(t, "squeue", "-t", "all", "-h", "-o", "%i"); strings.TrimSpace(out) != "" {
			t.Errorf("%s: squeue -t all printed %q, want nothing live", when, out)
		}
		all := c.slurmCmd(t, "sacct", "-a", "-X", "-n", "-P", "-o", "JobID,JobName,Account,State,ExitCode", "-S", "2020-01-01T00:00:00")
		want := sok + "|pg-ok|phys|COMPLETED|0:0\n" + sbad + "|pg-bad|root|FAILED|4:0\n"
		if all != want {
			t.Errorf("%s: sacct -a printed %q, want %q", when, all, want)
		}
		if out := c.slurmCmd(t, "sacct", "-a", "-X", "-n", "-P", "-o", "JobID", "-s", "F", "-S", "2020-01-01T00:00:00"); strings.TrimSpace(out) != sbad {
			t.Errorf("%s: sacct -s F printed %q, want %s", when, out, sbad)
		}
		if out := c.slurmCmd(t, "sacct", "-a", "-X", "-n", "-P", "-o", "JobID", "-A", "phys", "-S", "2020-01-01T00:00:00"); strings.TrimSpace(out) != sok {
			t.Errorf("%s: sacct -A phys printed %q, want %s", when, out, sok)
		}
		if j := c.describe(bad); j.State != api.StateFailed || j.ExitCode == nil || *j.ExitCode != 4 {
			t.Errorf("%s: shoal describe %d: got %s exit %v, want FAILED exit 4", when, bad, j.State, j.ExitCode)
		}
	}
	check("after expiry")
	c.stop()
	c.start()
	check("after the agent restarted")
	if _, err := os.Stat(filepath.Join(c.dataDir, "controller", "archive.db")); !os.IsNotExist(err) {
		t.Errorf("archive.db in the data dir: %v; want none with -archive-url", err)
	}
}
