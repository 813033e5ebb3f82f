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

// The cron end-to-end tests run the agent with its cron clock sixty times
// faster than real time (the SHOAL_CRON_CLOCK test hook, with a fixed
// origin so that the clock runs on across a restart): a slot of an
// every-minute schedule comes every second. Everything else is real: the
// raft log, the restart, the CLI, the sandboxes, the users.

// fastCron makes the agents this test starts run cron sixty times fast.
func fastCron(t *testing.T) {
	t.Setenv("SHOAL_CRON_CLOCK", fmt.Sprintf("%d:60", time.Now().UnixMilli()))
}

// cronSchedule reads a schedule as root sees it.
func (c *cluster) cronSchedule(t *testing.T, user, name string) api.CronSchedule {
	t.Helper()
	var resp api.CronListResponse
	if err := c.client.Call(context.Background(), api.PathCronList, api.CronListRequest{Name: name, User: user}, &resp); err != nil {
		t.Fatalf("list cron schedule %s of %s: %v", name, user, err)
	}
	return resp.Schedules[0]
}

// waitFirings waits until the schedule has fired n jobs. There is no
// blocking query on schedules: it reads them every 100 ms (slots come
// every second).
func (c *cluster) waitFirings(t *testing.T, user, name string, n int) api.CronSchedule {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for {
		s := c.cronSchedule(t, user, name)
		jobs := 0
		for _, f := range s.Firings {
			if f.JobID != 0 {
				jobs++
			}
		}
		if jobs >= n {
			return s
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("schedule %s fired %d jobs in 30s (a slot a second), want %d: %+v", name, jobs, n, s.Firings)
		}
	}
}

// TestCronSurvivesRestart: a schedule that fires every (fast) minute goes
// on firing after the agent is killed and started again, and no slot
// fires twice: every slot recorded once, one job per recorded slot, no
// job that no slot records. The slots missed while it was down run once.
func TestCronSurvivesRestart(t *testing.T) {
	fastCron(t)
	c := newCluster(t)
	work := t.TempDir()
	os.Chmod(work, 0o755)
	r := c.shoal("cron", "create", "tick", "--schedule", "* * * * *", "--overlap", "allow", "--chdir", work, "--", "true")
	if r.code != 0 || !strings.Contains(r.stdout, "tick: next run ") {
		t.Fatalf("shoal cron create: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	c.waitFirings(t, "", "tick", 2)

	c.cmd.Process.Signal(syscall.SIGKILL) // a crash: nothing is flushed on the way out
	c.cmd.Wait()
	c.cmd = nil
	// Down for three fast minutes: their slots pass with no controller.
	<-time.After(3 * time.Second)
	c.start()
	before := c.cronSchedule(t, "", "tick")
	c.waitFirings(t, "", "tick", countJobs(before.Firings)+2)
	// Paused, the schedule stands still while it is compared with the jobs.
	if r := c.shoal("cron", "pause", "tick"); r.code != 0 {
		t.Fatalf("shoal cron pause: exit %d %q", r.code, r.stderr)
	}
	s := c.cronSchedule(t, "", "tick")
	all := c.allJobs()
	if r := c.shoal("cron", "list"); r.code != 0 || !strings.Contains(r.stdout, "tick") || !strings.Contains(r.stdout, "paused") {
		t.Errorf("shoal cron list: %q, want tick, paused", r.stdout)
	}

	if len(s.Firings) >= api.MaxCronFirings {
		t.Fatalf("%d firings recorded: more than the record keeps, the check below would miss some", len(s.Firings))
	}
	// The missed slots ran once (missed-slot policy run-once, the default).
	missedRun := false
	for _, f := range s.Firings {
		missedRun = missedRun || (f.Missed >= 2 && f.JobID != 0)
	}
	if !missedRun {
		t.Errorf("no firing ran the slots missed while the agent was down: %s", firingsText(s.Firings))
	}
	slots := map[int64]bool{}
	fired := map[uint64]bool{}
	var last int64
	for _, f := range s.Firings {
		if slots[f.Slot] || f.Slot <= last {
			t.Errorf("slot %s recorded twice or out of order: %+v", time.UnixMilli(f.Slot).UTC(), s.Firings)
		}
		slots[f.Slot], last = true, f.Slot
		if f.JobID != 0 {
			fired[f.JobID] = true
		}
	}
	var jobs []api.Job
	for _, j := range all {
		if j.Name == "tick" {
			jobs = append(jobs, j)
			if !fired[j.ID] {
				t.Errorf("job %d of the schedule is recorded by no slot: fired twice?", j.ID)
			}
		}
	}
	if len(jobs) != len(fired) {
		t.Errorf("%d jobs of the schedule, %d slots that fired one: want equal", len(jobs), len(fired))
	}
	t.Logf("firings: %s", firingsText(s.Firings))
	for _, j := range all {
		c.waitEnd(j.ID, 30*time.Second)
	}
	if r := c.shoal("cron", "show", "tick"); r.code != 0 || !strings.Contains(r.stdout, "Schedule:   * * * * *") ||
		!strings.Contains(r.stdout, fmt.Sprintf("  %d  ", jobs[0].ID)) || !strings.Contains(r.stdout, "SUCCEEDED") {
		t.Errorf("shoal cron show tick: exit %d\n%s%s\nwant its schedule and firings with job ids and outcomes", r.code, r.stdout, r.stderr)
	}
	c.stop()
	if left := c.leftovers(); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

func countJobs(fs []api.CronFiring) int {
	n := 0
	for _, f := range fs {
		if f.JobID != 0 {
			n++
		}
	}
	return n
}

func firingsText(fs []api.CronFiring) string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s job=%d missed=%d %s", time.UnixMilli(f.Slot).UTC().Format("15:04"), f.JobID, f.Missed, f.Skipped))
	}
	return strings.Join(out, "; ")
}

// TestScrontabRoundTrip: an unprivileged user installs a crontab with
// scrontab -e (EDITOR a script that writes it), sees it with -l, its
// firings run as them, another user neither sees nor removes it, and -r
// removes it.
func TestScrontabRoundTrip(t *testing.T) {
	fastCron(t)
	c := newCluster(t)
	base := t.TempDir()
	os.Chmod(base, 0o755)
	alice := addUser(t, base, "crona")
	bob := addUser(t, base, "cronb")
	// The crontab alice's editor writes: options for the next line only,
	// a variable, a comment, one job per cron line.
	crontab := `# alice's jobs
GREETING=hello
#SCRON --job-name=whoami
#SCRON -o whoami-%j.out
* * * * * id -un; echo $GREETING
@yearly echo never in this test
`
	editor := filepath.Join(base, "editor.sh")
	os.WriteFile(filepath.Join(base, "crontab.txt"), []byte(crontab), 0o644)
	os.WriteFile(editor, []byte("#!/bin/sh\ncat "+filepath.Join(base, "crontab.txt")+" > \"$1\"\n"), 0o755)
	env := func(u *testUser) []string { return []string{"EDITOR=" + editor, "TMPDIR=" + u.home} }

	r := c.runAs(alice, "", env(alice), "slurm", "scrontab", "-e")
	if r.code != 0 {
		t.Fatalf("scrontab -e as %s: exit %d %q %q", alice.name, r.code, r.stdout, r.stderr)
	}
	if r := c.runAs(alice, "", nil, "slurm", "scrontab", "-l"); r.code != 0 || r.stdout != crontab {
		t.Fatalf("scrontab -l: exit %d %q, want the crontab as written:\n%s", r.code, r.stdout, crontab)
	}
	// Editing without a change says so and changes nothing.
	if r := c.runAs(alice, "", env(alice), "slurm", "scrontab", "-e"); r.code != 0 || !strings.Contains(r.stderr, "No modification made") {
		t.Errorf("scrontab -e, unchanged: exit %d %q", r.code, r.stderr)
	}

	// A firing runs as alice, in her home, with the crontab's variable.
	s := c.waitFirings(t, alice.name, "crontab-5", 1)
	var id uint64
	for _, f := range s.Firings {
		if f.JobID != 0 {
			id = f.JobID
			break
		}
	}
	j, ok := c.waitEnd(id, 30*time.Second)
	if !ok || j.State != api.StateSucceeded || j.UID != alice.uid || j.Name != "whoami" {
		t.Fatalf("fired job %d: %s uid %d name %q, want SUCCEEDED as %s (%d) named whoami", id, j.State, j.UID, j.Name, alice.name, alice.uid)
	}
	out, err := os.ReadFile(filepath.Join(alice.home, fmt.Sprintf("whoami-%d.out", id)))
	if err != nil || string(out) != alice.name+"\nhello\n" {
		t.Errorf("the job's output: %q (%v), want %q", out, err, alice.name+"\nhello\n")
	}
	// squeue shows the firings as ordinary jobs of alice.
	if r := c.runAs(alice, "", nil, "slurm", "squeue", "-h", "-t", "all", "-o", "%i %u %j"); !strings.Contains(r.stdout, fmt.Sprintf("%d %s whoami", id, alice.name)) {
		t.Errorf("squeue: %q, want job %d of %s named whoami", r.stdout, id, alice.name)
	}

	// bob sees no crontab of his own, cannot read or remove alice's.
	if r := c.runAs(bob, "", nil, "slurm", "scrontab", "-l"); r.code != 1 || r.stdout != "no crontab for "+bob.name+"\n" {
		t.Errorf("bob's scrontab -l: exit %d %q, want 1 and \"no crontab for %s\"", r.code, r.stdout, bob.name)
	}
	for _, args := range [][]string{{"-u", alice.name, "-l"}, {"-u", alice.name, "-r"}} {
		if r := c.runAs(bob, "", nil, append([]string{"slurm", "scrontab"}, args...)...); r.code == 0 || !strings.Contains(r.stderr, "only root") {
			t.Errorf("bob's scrontab %v: exit %d %q %q, want refused (only root)", args, r.code, r.stdout, r.stderr)
		}
	}
	var list api.CronListResponse
	raw := c.runAs(bob, "", nil, "cron", "list", "--output", "json")
	if err := json.Unmarshal([]byte(raw.stdout), &list.Schedules); err != nil || len(list.Schedules) != 0 {
		t.Errorf("bob's shoal cron list: %q (%v), want none", raw.stdout, err)
	}
	// Root sees it.
	if r := c.shoal("slurm", "scrontab", "-u", alice.name, "-l"); r.code != 0 || r.stdout != crontab {
		t.Errorf("root's scrontab -u %s -l: exit %d %q", alice.name, r.code, r.stdout)
	}

	// A bad line is refused with its number, nothing installed (stdin is
	// not a terminal: no offer to edit again).
	os.WriteFile(filepath.Join(base, "crontab.txt"), []byte("# ok\n0 3 * * * true\n61 * * * * true\n"), 0o644)
	r = c.runAs(alice, "", env(alice), "slurm", "scrontab", "-e")
	if r.code != 1 || !strings.Contains(r.stderr, "line 3: ") || !strings.Contains(r.stderr, "61 is out of range") || !strings.Contains(r.stdout, "There are errors in your crontab.") {
		t.Errorf("scrontab -e with a bad line: exit %d %q %q, want 1 naming line 3", r.code, r.stdout, r.stderr)
	}
	if r := c.runAs(alice, "", nil, "slurm", "scrontab", "-l"); r.stdout != crontab {
		t.Errorf("after a refused edit, scrontab -l: %q, want the old crontab", r.stdout)
	}

	// -r removes it: nothing fires any more.
	if r := c.runAs(alice, "", nil, "slurm", "scrontab", "-r"); r.code != 0 {
		t.Fatalf("scrontab -r: exit %d %q", r.code, r.stderr)
	}
	if r := c.runAs(alice, "", nil, "slurm", "scrontab", "-l"); r.code != 1 || r.stdout != "no crontab for "+alice.name+"\n" {
		t.Errorf("after -r, scrontab -l: exit %d %q", r.code, r.stdout)
	}
	var after api.CronListResponse
	if err := c.client.Call(context.Background(), api.PathCronList, api.CronListRequest{User: alice.name}, &after); err != nil || len(after.Schedules) != 0 {
		t.Errorf("after -r: schedules %+v (%v), want none", after.Schedules, err)
	}
	// Wait for what still runs, then leave nothing behind.
	for _, j := range c.allJobs() {
		c.waitEnd(j.ID, 30*time.Second)
	}
	c.stop()
	if left := c.leftovers(); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}
