package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// slurmTry runs the Slurm command name (this binary under that name)
// against c and returns what it printed and its exit code, failing or not.
func (c *cluster) slurmTry(t *testing.T, name string, args ...string) result {
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
	cmd.Dir = filepath.Dir(c.dataDir)
	return c.run(cmd)
}

// TestRetryByRule: a job submitted with --retry 3 --retry-on exit:3 exits
// 3 on its first attempt and 0 on its second (it reads its attempt number
// from AWS_BATCH_JOB_ATTEMPT and SLURM_RESTART_COUNT); it ends SUCCEEDED
// with both attempts in shoal describe and in sacct -D, and plain sacct
// shows its last run alone. A job that exits 1 under the same rules is
// not retried.
func TestRetryByRule(t *testing.T) {
	c := newCluster(t)
	dir := t.TempDir()
	script := `echo "attempt=$AWS_BATCH_JOB_ATTEMPT restarts=$SLURM_RESTART_COUNT" >> runs; [ "$AWS_BATCH_JOB_ATTEMPT" = 1 ] && exit 3; exit 0`
	id := c.submit("--chdir", dir, "--retry", "3", "--retry-on", "exit:3,oom", "--", "sh", "-c", script)
	j := c.wait(id)
	wantState(t, j, api.StateSucceeded, "")
	runs, err := os.ReadFile(filepath.Join(dir, "runs"))
	if err != nil || string(runs) != "attempt=1 restarts=0\nattempt=2 restarts=1\n" {
		t.Fatalf("the job's runs saw %q (%v), want attempt 1 with 0 restarts, then attempt 2 with 1", runs, err)
	}

	d := c.describe(id)
	if len(d.Attempts) != 2 {
		t.Fatalf("shoal describe: attempts %+v, want 2", d.Attempts)
	}
	first, second := d.Attempts[0], d.Attempts[1]
	if first.Node != "node1" || first.ExitCode == nil || *first.ExitCode != 3 || first.StatusReason != api.ReasonNonZeroExit ||
		first.StartedAt == 0 || first.StoppedAt < first.StartedAt {
		t.Errorf("first attempt %+v, want on node1, exit 3, %q, with its times", first, api.ReasonNonZeroExit)
	}
	if second.ExitCode == nil || *second.ExitCode != 0 || second.StartedAt < first.StoppedAt || second.StoppedAt < second.StartedAt {
		t.Errorf("second attempt %+v, want exit 0, started after the first stopped", second)
	}
	if len(d.RetryRules) != 3 || d.RetryRules[0].OnExitCode != "3" || d.RetryRules[2].Action != api.RetryActionExit {
		t.Errorf("stored retry rules %+v, want exit:3 and oom retried, then EXIT", d.RetryRules)
	}

	sid := api.FormatID(id)
	all := c.slurmCmd(t, "sacct", "-D", "-j", sid, "-P", "-n", "-o", "JobID,State,ExitCode,NodeList")
	want := sid + "|REQUEUED|3:0|node1\n" + sid + ".batch|FAILED|3:0|node1\n" + sid + "|COMPLETED|0:0|node1\n" + sid + ".batch|COMPLETED|0:0|node1\n"
	if all != want {
		t.Errorf("sacct -D:\n%s\nwant each run its own record:\n%s", all, want)
	}
	last := c.slurmCmd(t, "sacct", "-j", sid, "-P", "-n", "-o", "JobID,State,ExitCode")
	if last != sid+"|COMPLETED|0:0\n"+sid+".batch|COMPLETED|0:0\n" {
		t.Errorf("sacct without -D:\n%s\nwant the last run alone", last)
	}
	if show := c.slurmCmd(t, "scontrol", "show", "job", sid); !strings.Contains(show, " Restarts=1 ") {
		t.Errorf("scontrol show job: want Restarts=1 in\n%s", show)
	}

	other := c.submit("--chdir", dir, "--retry", "3", "--retry-on", "exit:3", "--", "sh", "-c", "exit 1")
	j = c.wait(other)
	wantState(t, j, api.StateFailed, api.ReasonNonZeroExit)
	if j.Attempt != 1 || len(j.Attempts) != 0 {
		t.Fatalf("job that exited 1 ran %d attempts (%+v), want 1: exit:3 alone is retried", j.Attempt, j.Attempts)
	}
	if r := c.shoal("submit", "--retry-on", "exit:3", "--", "true"); r.code == 0 || !strings.Contains(r.stderr, "--retry N") {
		t.Errorf("--retry-on without --retry: exit %d %q, want a refusal naming --retry N", r.code, r.stderr)
	}
}

// TestScontrolRequeueFinished: scontrol requeue of a COMPLETED batch job
// runs it again (Restarts=1, its first run in sacct -D); requeuehold of
// a FAILED one holds it (job_requeued_in_held_state) until released; a
// --no-requeue job is refused in Slurm's words.
func TestScontrolRequeueFinished(t *testing.T) {
	c := newCluster(t)
	dir := t.TempDir()
	id := c.submit("--chdir", dir, "--", "sh", "-c", "echo run >> runs")
	wantState(t, c.wait(id), api.StateSucceeded, "")
	sid := api.FormatID(id)
	c.slurmCmd(t, "scontrol", "requeue", sid)
	j := c.wait(id)
	wantState(t, j, api.StateSucceeded, "")
	if runs, err := os.ReadFile(filepath.Join(dir, "runs")); err != nil || string(runs) != "run\nrun\n" {
		t.Fatalf("the requeued job's runs wrote %q (%v), want two runs", runs, err)
	}
	if len(j.Attempts) != 1 || j.Attempts[0].Cause != api.CauseRequeued || j.Attempt != 2 {
		t.Fatalf("requeued job: attempt %d, recorded %+v; want attempt 2 with the first run recorded as requeued", j.Attempt, j.Attempts)
	}
	if show := c.slurmCmd(t, "scontrol", "show", "job", sid); !strings.Contains(show, " Restarts=1 ") || !strings.Contains(show, "JobState=COMPLETED ") {
		t.Errorf("scontrol show job: want COMPLETED with Restarts=1 in\n%s", show)
	}
	if got := c.slurmCmd(t, "sacct", "-D", "-X", "-j", sid, "-P", "-n", "-o", "JobID,State"); got != sid+"|REQUEUED\n"+sid+"|COMPLETED\n" {
		t.Errorf("sacct -D -X:\n%s\nwant the requeued run, then the last", got)
	}

	failed := c.submit("--chdir", dir, "--", "sh", "-c", "exit 2")
	wantState(t, c.wait(failed), api.StateFailed, "")
	fid := api.FormatID(failed)
	c.slurmCmd(t, "scontrol", "requeuehold", fid)
	if show := c.slurmCmd(t, "scontrol", "show", "job", fid); !strings.Contains(show, "JobState=PENDING Reason=job_requeued_in_held_state ") {
		t.Fatalf("after requeuehold: want PENDING job_requeued_in_held_state in\n%s", show)
	}
	c.slurmCmd(t, "scontrol", "release", fid)
	j = c.wait(failed)
	if j.State != api.StateFailed || j.Attempt != 2 {
		t.Fatalf("released job: %s at attempt %d, want FAILED again at attempt 2", j.State, j.Attempt)
	}

	nr, _ := c.sbatchWrap(t, "--no-requeue", "--wrap", "true")
	c.wait(nr)
	r := c.slurmTry(t, "scontrol", "requeue", api.FormatID(nr))
	if r.code != 1 || r.stderr != "Requested operation is presently disabled for job "+api.FormatID(nr)+"\n" {
		t.Errorf("scontrol requeue of a --no-requeue job: exit %d %q, want 1 and Slurm's words", r.code, r.stderr)
	}
}

// sbatchWrap runs sbatch --parsable with args and returns the job's id.
func (c *cluster) sbatchWrap(t *testing.T, args ...string) (uint64, result) {
	t.Helper()
	r := c.slurmTry(t, "sbatch", append([]string{"--parsable"}, args...)...)
	if r.code != 0 {
		t.Fatalf("sbatch %v: exit %d %q", args, r.code, r.stderr)
	}
	return mustID(t, r.stdout), r
}

// TestDeadline: sbatch --deadline in the past is refused in Slurm's
// words, and one before --begin too; a held job whose deadline passes
// ends DEADLINE (Reason=DeadLine) with its deadline in scontrol show job;
// --begin still delays a job whose deadline is later.
func TestDeadline(t *testing.T) {
	c := newCluster(t)
	r := c.slurmTry(t, "sbatch", "--deadline=now-1hour", "--wrap", "true")
	if r.code != 1 || r.stderr != "sbatch: error: Batch job submission failed: Requested time limit is invalid (missing or exceeds some limit)\n" {
		t.Errorf("sbatch with a past deadline: exit %d %q, want Slurm's refusal", r.code, r.stderr)
	}
	r = c.slurmTry(t, "sbatch", "--begin=now+1hour", "--deadline=now+30minutes", "--wrap", "true")
	if r.code != 1 || r.stderr != "sbatch: error: Incompatible begin and deadline time specification\n" {
		t.Errorf("sbatch with a deadline before its begin: exit %d %q, want Slurm's refusal", r.code, r.stderr)
	}

	held, _ := c.sbatchWrap(t, "--hold", "--deadline=now+4", "--wrap", "true")
	begun, _ := c.sbatchWrap(t, "--begin=now+1", "--deadline=now+1hour", "--wrap", "true")
	j := c.wait(held)
	if j.State != api.StateFailed || j.Cause != api.CauseDeadline || j.StartedAt != 0 {
		t.Fatalf("held job past its deadline: %s cause %q started %d, want FAILED by its deadline, never started", j.State, j.Cause, j.StartedAt)
	}
	show := c.slurmCmd(t, "scontrol", "show", "job", api.FormatID(held))
	if !strings.Contains(show, "JobState=DEADLINE Reason=DeadLine ") || !strings.Contains(show, " Deadline="+time.UnixMilli(j.DeadlineAt).Format("2006-01-02T15:04:05")) {
		t.Errorf("scontrol show job: want DEADLINE, Reason=DeadLine and the deadline in\n%s", show)
	}
	if got := c.slurmCmd(t, "sacct", "-X", "-j", api.FormatID(held), "-P", "-n", "-o", "State"); got != "DEADLINE\n" {
		t.Errorf("sacct State %q, want DEADLINE", got)
	}
	j = c.wait(begun)
	if j.State != api.StateSucceeded || j.StartedAt < j.BeginAt {
		t.Fatalf("job with --begin and a later deadline: %s started %d (begin %d), want SUCCEEDED after its begin", j.State, j.StartedAt, j.BeginAt)
	}
}
