package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestOthersJobsRedactedInClients: another user's job, read through every
// client that lists jobs (squeue, scontrol show job, sacct, shoal
// describe and queue), shows its id, name and owner and never its
// command, environment or working directory; none of the clients fails
// on the fields left out. The owner (root) still sees them.
func TestOthersJobsRedactedInClients(t *testing.T) {
	c := newCluster(t)
	env := c.slurmEnv(t)
	id := c.submit("--name", "rootjob", "--chdir", "/var/tmp", "--", "sh", "-c", "echo SECRET_TOKEN_42; sleep 600")
	c.wait(id, api.StateRunning)
	jid := api.FormatID(id)

	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	links := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			links, _, _ = strings.Cut(v, ":") // the last PATH wins, as in exec.Cmd
		}
	}
	asNobody := func(name string, args ...string) string {
		t.Helper()
		bin := filepath.Join(links, name)
		if name == "shoal" {
			bin = shoalBin
		}
		cmd := exec.Command(bin, args...)
		cmd.Env, cmd.Dir = append(env, "USER=nobody"), "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: nobody}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %v as nobody: %v: %s", name, args, err, out.String())
		}
		return out.String()
	}
	for _, run := range [][]string{
		{"squeue", "-j", jid},
		{"squeue", "-o", "%i %j %u %T %o %Z"},
		{"scontrol", "show", "job", jid},
		{"sacct", "-j", jid, "--format", "JobID,JobName,User,State,WorkDir"},
		{"sacct", "-j", jid, "--json"},
		{"shoal", "describe", jid},
		{"shoal", "queue", "--output", "json"},
	} {
		out := asNobody(run[0], run[1:]...)
		if strings.Contains(out, "SECRET_TOKEN_42") || strings.Contains(out, "/var/tmp") {
			t.Errorf("%v as nobody shows root's command or working directory:\n%s", run, out)
		}
		if !strings.Contains(out, jid) && run[0] != "sacct" || !strings.Contains(out, "rootjob") && !strings.Contains(out, "rootjo") {
			t.Errorf("%v as nobody does not show root's job %s (rootjob):\n%s", run, jid, out)
		}
	}
	var j api.Job
	if err := json.Unmarshal([]byte(asNobody("shoal", "describe", jid)), &j); err != nil || !j.Redacted || j.User != "root" {
		t.Errorf("shoal describe as nobody: %+v (%v), want root's job marked redacted", j, err)
	}
	if mine := c.describe(id); mine.Redacted || !strings.Contains(strings.Join(mine.Command, " "), "SECRET_TOKEN_42") {
		t.Errorf("shoal describe as the owner: %+v, want the whole job", mine)
	}
	c.shoal("terminate", jid)
	c.wait(id)
	c.stop()
	if left := c.leftovers(); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// TestPrivateDataJobs: an agent started with -private-data jobs hides
// root's job from nobody's squeue and shoal queue entirely (root still
// sees it); an unknown -private-data item stops the agent with a reason.
func TestPrivateDataJobs(t *testing.T) {
	c := newCluster(t, "-private-data", "jobs")
	id := c.submit("--name", "hidden-job", "--", "sleep", "600")
	c.wait(id, api.StateRunning)
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	r := c.shoalAs(nobody, "queue", "--output", "json")
	var jobs []api.Job
	if err := json.Unmarshal([]byte(r.stdout), &jobs); r.code != 0 || err != nil || len(jobs) != 0 {
		t.Errorf("shoal queue as nobody with -private-data jobs: exit %d %q %s, want no jobs", r.code, r.stdout, r.stderr)
	}
	if r := c.shoalAs(nobody, "describe", api.FormatID(id)); r.code == 0 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("shoal describe of root's job as nobody: exit %d %q %q, want 'does not exist'", r.code, r.stdout, r.stderr)
	}
	if got := c.allJobs(); len(got) != 1 || got[0].ID != id {
		t.Errorf("root's queue: %v, want its job %d", jobIDs(got), id)
	}
	c.shoal("terminate", api.FormatID(id))
	c.wait(id)
	c.stop()
	if left := c.leftovers(); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
	out := runAgentOnce(t, []string{"agent", "-private-data", "jobs,accounts", "-data-dir", t.TempDir(), "-socket", filepath.Join(t.TempDir(), "s.sock")})
	if !strings.Contains(out, `-private-data: private data "accounts"`) {
		t.Errorf("agent -private-data jobs,accounts: %q, want a refusal naming accounts", out)
	}
}
