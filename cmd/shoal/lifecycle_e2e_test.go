package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestDevAgentLifecycle runs the foundation's scenario against a real dev
// agent: unix socket, raft on disk, libcontainer sandboxes, the CLI.
func TestDevAgentLifecycle(t *testing.T) {
	c := newCluster(t)

	// A job that succeeds, with its output readable.
	hello := c.submit("--name", "hello", "--", "sh", "-c", "echo hello; echo oops >&2")
	j := c.wait(hello)
	wantState(t, j, api.StateSucceeded, "")
	wantExit(t, j, 0)
	if j.Node != "node1" || j.CreatedAt == 0 || j.StartedAt < j.CreatedAt || j.StoppedAt < j.StartedAt {
		t.Fatalf("hello: node %q times created=%d started=%d stopped=%d, want node1 and ordered times",
			j.Node, j.CreatedAt, j.StartedAt, j.StoppedAt)
	}
	if r := c.shoal("logs", "--stream", "stdout", api.FormatID(hello)); r.code != 0 || r.stdout != "hello\n" {
		t.Fatalf("shoal logs --stream stdout: exit %d, stdout %q (stderr %q), want \"hello\\n\"", r.code, r.stdout, r.stderr)
	}
	if r := c.shoal("logs", api.FormatID(hello)); r.stdout != "hello\n" || r.stderr != "oops\n" {
		t.Fatalf("shoal logs: stdout %q stderr %q, want hello/oops", r.stdout, r.stderr)
	}

	// A job that exits 3.
	three := c.submit("--name", "three", "--", "sh", "-c", "exit 3")
	j = c.wait(three)
	wantState(t, j, api.StateFailed, api.ReasonNonZeroExit)
	wantExit(t, j, 3)

	// A job killed by the OOM killer, as the memory cgroup tells.
	oom := c.submit("--name", "oom", "--mem", "32M", "--", "sh", "-c", `x=$(head -c 300000000 /dev/zero | tr '\0' a); echo ${#x}`)
	j = c.wait(oom)
	wantState(t, j, api.StateFailed, api.ReasonOutOfMemory)

	// A dependency that succeeds releases its child; one that fails fails it.
	parentOK := c.submit("--name", "parent-ok", "--", "true")
	childOK := c.submit("--name", "child-ok", "--depends-on", api.FormatID(parentOK), "--", "sh", "-c", "echo after")
	wantState(t, c.wait(childOK), api.StateSucceeded, "")
	parentBad := c.submit("--name", "parent-bad", "--", "false")
	childBad := c.submit("--name", "child-bad", "--depends-on", api.FormatID(parentBad), "--", "echo", "never")
	wantState(t, c.wait(childBad), api.StateFailed, api.ReasonDependencyFailed)

	// A job whose request no node can satisfy is refused, naming the shortfall.
	r := c.shoal("submit", "--name", "huge", "--mem", "5000000", "--", "true")
	if r.code != 1 || !strings.Contains(r.stderr, "memory: asked 5000000 MiB, the largest node") {
		t.Fatalf("huge submit: exit %d stderr %q, want exit 1 naming memory asked and the largest node", r.code, r.stderr)
	}

	// Cancel a waiting job; terminate a running one.
	sleeper := c.submit("--name", "sleeper", "--", "sleep", "3600")
	c.wait(sleeper, api.StateRunning)
	waiting := c.submit("--name", "waiting", "--depends-on", api.FormatID(sleeper), "--", "true")
	if j := c.describe(waiting); j.State != api.StatePending {
		t.Fatalf("job depending on a running job is %s, want PENDING", j.State)
	}
	if r := c.shoal("cancel", api.FormatID(sleeper), "--reason", "nope"); r.code != 1 || !strings.Contains(r.stderr, "it is RUNNING") {
		t.Fatalf("cancel of a running job: exit %d stderr %q, want exit 1 naming RUNNING", r.code, r.stderr)
	}
	if r := c.shoal("cancel", "--reason", "Due to lack of memory.", api.FormatID(waiting)); r.code != 0 {
		t.Fatalf("cancel: exit %d: %s", r.code, r.stderr)
	}
	wantState(t, c.describe(waiting), api.StateFailed, "Due to lack of memory.")
	if r := c.shoal("terminate", "--reason", "Forced to fail.", api.FormatID(sleeper)); r.code != 0 {
		t.Fatalf("terminate: exit %d: %s", r.code, r.stderr)
	}
	j = c.wait(sleeper)
	wantState(t, j, api.StateFailed, "Forced to fail.")
	if j.ExitSignal != int(syscall.SIGTERM) && j.ExitSignal != int(syscall.SIGKILL) {
		t.Fatalf("terminated job's signal is %d, want SIGTERM or SIGKILL", j.ExitSignal)
	}

	// Filtering by state.
	r = c.shoal("queue", "--state", "SUCCEEDED", "--output", "json")
	var succeeded []api.Job
	if err := json.Unmarshal([]byte(r.stdout), &succeeded); err != nil {
		t.Fatalf("queue --output json printed %q: %v", r.stdout, err)
	}
	if ids := jobIDs(succeeded); !reflect.DeepEqual(ids, []uint64{hello, parentOK, childOK}) {
		t.Fatalf("queue --state SUCCEEDED lists %v, want %v", ids, []uint64{hello, parentOK, childOK})
	}

	// Restart the agent on the same data dir: every job keeps its state.
	before := c.allJobs()
	if left := c.leftovers(); len(left) > 0 {
		t.Fatalf("sandboxes left behind after their jobs ended: %v", left)
	}
	c.stop()
	c.start()
	after := c.allJobs()
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("jobs changed across a restart:\nbefore %+v\nafter  %+v", before, after)
	}
	next := c.submit("--", "true")
	if next != before[len(before)-1].ID+1 {
		t.Fatalf("first job after restart got id %d, want %d", next, before[len(before)-1].ID+1)
	}
	// A job still running when the agent stops runs on, for the next
	// agent: let it end first.
	wantState(t, c.wait(next), api.StateSucceeded, "")
	c.stop()
	if left := c.leftovers(); len(left) > 0 {
		t.Fatalf("left behind after the agent stopped: %v", left)
	}
}

// TestJobsRunAsTheirOwner submits as an unprivileged user: the job runs
// with that uid, and the user may not touch root's jobs.
func TestJobsRunAsTheirOwner(t *testing.T) {
	c := newCluster(t)
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	r := c.shoalAs(nobody, "submit", "--chdir", "/", "--", "sh", "-c", "id -u; id -g; touch /root/shoal-e2e-forbidden && echo wrote")
	if r.code != 0 {
		t.Fatalf("submit as nobody: exit %d: %s", r.code, r.stderr)
	}
	id := mustID(t, r.stdout)
	j := c.wait(id)
	if j.User != "nobody" || j.UID != 65534 {
		t.Fatalf("job of nobody is owned by %q uid %d, want nobody 65534", j.User, j.UID)
	}
	out := c.shoalAs(nobody, "logs", "--stream", "stdout", api.FormatID(id))
	if out.stdout != "65534\n65534\n" {
		t.Fatalf("job of nobody printed %q (stderr %q; job %+v), want uid and gid 65534 and no write to /root", out.stdout, out.stderr, j)
	}
	if _, err := os.Stat(filepath.Join("/root", "shoal-e2e-forbidden")); err == nil {
		os.Remove("/root/shoal-e2e-forbidden")
		t.Fatalf("a job of nobody created a file in /root")
	}

	rootJob := c.submit("--", "sleep", "3600")
	c.wait(rootJob, api.StateRunning)
	if r := c.shoalAs(nobody, "terminate", api.FormatID(rootJob)); r.code != 1 || !strings.Contains(r.stderr, "only its owner or root") {
		t.Fatalf("nobody terminating root's job: exit %d stderr %q, want refusal", r.code, r.stderr)
	}
	if r := c.shoalAs(nobody, "logs", api.FormatID(rootJob)); r.code != 1 || !strings.Contains(r.stderr, "only its owner or root") {
		t.Fatalf("nobody reading root's logs: exit %d stderr %q, want refusal", r.code, r.stderr)
	}
	c.shoal("terminate", api.FormatID(rootJob))
	wantState(t, c.wait(rootJob), api.StateFailed, "Terminated by user")
	c.stop()
	if left := c.leftovers(); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

func (c *cluster) allJobs() []api.Job {
	c.t.Helper()
	r := c.shoal("queue", "--output", "json")
	var jobs []api.Job
	if err := json.Unmarshal([]byte(r.stdout), &jobs); err != nil {
		c.t.Fatalf("queue --output json printed %q: %v", r.stdout, err)
	}
	return jobs
}

func jobIDs(jobs []api.Job) []uint64 {
	ids := make([]uint64, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	return ids
}

func mustID(t *testing.T, s string) uint64 {
	t.Helper()
	id, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		t.Fatalf("printed %q, want a job id", s)
	}
	return id
}
