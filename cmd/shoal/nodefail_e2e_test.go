package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
)

// nodeFailTTL is the controller's -node-ttl in TestNodeFailure.
const nodeFailTTL = 2 * time.Second

// nodeProc is one node daemon process of TestNodeFailure: its own name,
// data dir, sandbox root and cgroup parent.
type nodeProc struct {
	name string
	args []string
	cmd  *exec.Cmd
	sb   *cluster // its sandbox root and cgroup parent, for leftovers
}

// TestNodeFailure runs a controller and two node daemons as separate
// processes. A requeueable batch job runs on nodeA; nodeA stops answering
// (frozen with SIGSTOP, then killed with SIGKILL, each under a fresh job):
// within the TTL it is DOWN (down*, NOT_RESPONDING), its job ends NODE_FAIL
// for that attempt and runs again on nodeB, to the end. When nodeA comes
// back (thawed; restarted under the same name) the copy of the job it
// still ran is killed, it is UP again, and the job's output shows one run
// per attempt: no job ran twice to its end. Nothing is left behind.
func TestNodeFailure(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("end-to-end tests run jobs in sandboxes and need root")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	ctl := &cluster{t: t, dataDir: filepath.Join(dir, "ctl"), socket: filepath.Join(dir, "shoal.sock")}
	ctl.client = client.New(ctl.socket, "")
	ctlCmd, _ := startAgent(t, []string{"agent", "-data-dir", ctl.dataDir, "-socket", ctl.socket,
		"-node-ttl", nodeFailTTL.String()}, "controller serving")
	t.Cleanup(func() { ctlCmd.Process.Kill(); ctlCmd.Wait() })

	nodes := map[string]*nodeProc{}
	for _, name := range []string{"nodeA", "nodeB"} {
		sb := &cluster{t: t, sbRoot: fmt.Sprintf("/run/shoal-e2e-%d-%s-%s", os.Getpid(), t.Name(), name),
			cgParent: fmt.Sprintf("shoal-e2e-%d-%s-%s", os.Getpid(), t.Name(), name)}
		n := &nodeProc{name: name, sb: sb, args: []string{"agent", "-node", "-controller", ctl.socket, "-name", name,
			"-data-dir", filepath.Join(dir, name), "-sandbox-root", sb.sbRoot, "-cgroup-parent", sb.cgParent,
			"-node-cpus", "1", "-grace", "300ms"}}
		nodes[name] = n
		t.Cleanup(func() {
			if n.cmd != nil {
				n.cmd.Process.Signal(syscall.SIGCONT)
				n.cmd.Process.Kill()
				n.cmd.Wait()
			}
			killJobs(sb.cgParent)
			sb.cleanup()
		})
		n.cmd, _ = startAgent(t, n.args, "node daemon running")
	}
	a, b := nodes["nodeA"], nodes["nodeB"]

	script := filepath.Join(dir, "job.sh")
	// The first run of a job takes the mark and sleeps; a later run finds
	// it and ends at once. Each run logs its start and end.
	if err := os.WriteFile(script, []byte(`#!/bin/sh
echo "start $SLURM_RESTART_COUNT $SLURMD_NODENAME" >> "$RUNS"
if mkdir "$MARK" 2>/dev/null; then sleep 300; fi
echo "end $SLURM_RESTART_COUNT $SLURMD_NODENAME" >> "$RUNS"
`), 0o755); err != nil {
		t.Fatal(err)
	}

	for _, how := range []string{"SIGSTOP", "SIGKILL"} {
		t.Logf("--- nodeA stops answering (%s)", how)
		runs := filepath.Join(dir, "runs-"+how)
		r := ctl.shoal("slurm", "sbatch", "--parsable", "-D", dir, "-o", filepath.Join(dir, "out-%j"),
			"--export", "ALL,RUNS="+runs+",MARK="+filepath.Join(dir, "mark-"+how), script)
		if r.code != 0 {
			t.Fatalf("sbatch: exit %d: %s", r.code, r.stderr)
		}
		id := mustID(t, r.stdout)
		j := ctl.wait(id, api.StateRunning)
		if j.Node != "nodeA" || j.State != api.StateRunning {
			t.Fatalf("job %d is %s on %q, want RUNNING on nodeA (the first node by name)", id, j.State, j.Node)
		}
		pids := jobPIDs(t, a.sb.cgParent, id, 1)

		stopped := time.Now()
		switch how {
		case "SIGSTOP":
			a.cmd.Process.Signal(syscall.SIGSTOP)
		case "SIGKILL":
			a.cmd.Process.Kill()
			a.cmd.Wait()
			a.cmd = nil
		}
		n, downAt := waitNodeListed(t, ctl.client, "nodeA", 3*nodeFailTTL, func(n api.Node) bool { return n.NotResponding })
		detected := downAt.Sub(stopped)
		t.Logf("failure detection (%s -> DOWN in the state): %s with -node-ttl %s", how, detected.Round(time.Millisecond), nodeFailTTL)
		if detected > nodeFailTTL+time.Second {
			t.Errorf("nodeA set DOWN %s after it stopped answering, want within the TTL (%s)", detected, nodeFailTTL)
		}
		if n.State != api.NodeDown || n.Reason != api.ReasonNotResponding {
			t.Errorf("nodeA: %s %q, want DOWN %q", n.State, n.Reason, api.ReasonNotResponding)
		}
		if out := ctl.shoal("slurm", "sinfo", "-h", "-d", "-N", "-o", "%N %T"); strings.TrimSpace(out.stdout) != "nodeA down*" {
			t.Errorf("sinfo -d -N: %q, want %q", out.stdout, "nodeA down*")
		}
		if out := ctl.shoal("slurm", "scontrol", "show", "node", "nodeA"); !strings.Contains(out.stdout, "State=DOWN*+NOT_RESPONDING") ||
			!strings.Contains(out.stdout, "Reason=Not responding [") {
			t.Errorf("scontrol show node nodeA:\n%s\nwant State=DOWN*+NOT_RESPONDING and Reason=Not responding [USER@TIME]", out.stdout)
		}
		// The copy on nodeA runs on: its daemon cannot stop it.
		for _, p := range pids {
			if !alive(p) {
				t.Fatalf("job %d's process %d on nodeA ended with its daemon, want it running until nodeA is back", id, p)
			}
		}

		j = ctl.wait(id)
		wantState(t, j, api.StateSucceeded, "")
		if j.Node != "nodeB" || j.Attempt != 2 || len(j.Attempts) != 1 {
			t.Fatalf("job %d: on %q attempt %d with attempts %+v, want attempt 2 on nodeB after one on nodeA", id, j.Node, j.Attempt, j.Attempts)
		}
		if at := j.Attempts[0]; at.Node != "nodeA" || !strings.HasPrefix(at.StatusReason, "Host nodeA stopped responding at ") {
			t.Errorf("job %d's first attempt: %+v, want on nodeA with reason \"Host nodeA stopped responding at T\"", id, at)
		}

		// nodeA comes back: it kills its copy of the job, then is UP.
		switch how {
		case "SIGSTOP":
			a.cmd.Process.Signal(syscall.SIGCONT)
		case "SIGKILL":
			a.cmd, _ = startAgent(t, a.args, "node daemon running")
		}
		back := time.Now()
		waitNodeListed(t, ctl.client, "nodeA", 10*time.Second, func(n api.Node) bool { return n.State == api.NodeUp && !n.NotResponding })
		t.Logf("nodeA UP again %s after it came back", time.Since(back).Round(time.Millisecond))
		for _, p := range pids {
			if alive(p) {
				t.Errorf("job %d's process %d on nodeA still runs after nodeA came back, want it killed", id, p)
			}
		}
		data, err := os.ReadFile(runs)
		if err != nil {
			t.Fatal(err)
		}
		if want := "start 0 nodeA\nstart 1 nodeB\nend 1 nodeB\n"; string(data) != want {
			t.Errorf("runs of job %d:\n%s\nwant one per attempt, the first never ending:\n%s", id, data, want)
		}
		if j := ctl.describe(id); j.State != api.StateSucceeded || j.Node != "nodeB" {
			t.Errorf("job %d after nodeA's late report: %s on %s, want SUCCEEDED on nodeB", id, j.State, j.Node)
		}
	}

	// Both nodes are UP, answering, and still run jobs.
	listed, err := ctl.client.Nodes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range listed {
		if n.State != api.NodeUp || n.NotResponding {
			t.Errorf("%s at the end: %s not responding=%v, want UP", n.Name, n.State, n.NotResponding)
		}
	}
	for range 2 {
		if j := ctl.wait(ctl.submit("--", "true")); j.State != api.StateSucceeded {
			t.Fatalf("job after the failures: %s %q, want SUCCEEDED", j.State, j.StatusReason)
		}
	}
	for _, n := range []*nodeProc{a, b} {
		n.cmd.Process.Signal(syscall.SIGTERM)
		if err := n.cmd.Wait(); err != nil {
			t.Errorf("%s exit: %v", n.name, err)
		}
		n.cmd = nil
		if left := n.sb.leftovers(); len(left) > 0 {
			t.Errorf("%s left behind: %v", n.name, left)
		}
	}
}

// waitNodeListed asks for the node list until ok holds for node name (the
// API has no blocking query on nodes; 20 ms steps bound the error of the
// detection time measured with it).
func waitNodeListed(t *testing.T, c *client.Client, name string, timeout time.Duration, ok func(api.Node) bool) (api.Node, time.Time) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last api.Node
	for time.Now().Before(deadline) {
		nodes, err := c.Nodes(t.Context())
		if err != nil {
			t.Fatalf("list nodes: %v", err)
		}
		for _, n := range nodes {
			if n.Name == name {
				if last = n; ok(n) {
					return n, time.Now()
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("node %s after %s: %+v, not as wanted", name, timeout, last)
	return api.Node{}, time.Time{}
}

// jobPIDs returns the host pids of the sleep in the cgroup of a job's
// attempt, once it runs (the script's short commands before it come and
// go).
func jobPIDs(t *testing.T, cgParent string, id uint64, attempt int) []int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, h := range cgroupHierarchies() {
			data, err := os.ReadFile(filepath.Join(h, cgParent, fmt.Sprintf("job-%d-%d", id, attempt), "cgroup.procs"))
			if err != nil {
				continue
			}
			var pids []int
			for _, f := range strings.Fields(string(data)) {
				p, err := strconv.Atoi(f)
				if err != nil {
					t.Fatalf("cgroup.procs of job %d: %q", id, f)
				}
				if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p)); strings.TrimSpace(string(comm)) == "sleep" {
					pids = append(pids, p)
				}
			}
			if len(pids) > 0 {
				return pids
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no sleep in the cgroup of job %d attempt %d under %s", id, attempt, cgParent)
	return nil
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// killJobs kills what a failed run left in the job cgroups under cgParent
// (a node daemon killed under its jobs leaves them), then removes those
// cgroups and the jobs' scratch directories (empty once their sandboxes,
// and the mounts in them, are gone).
func killJobs(cgParent string) {
	var dirs []string
	for _, h := range cgroupHierarchies() {
		found, _ := filepath.Glob(filepath.Join(h, cgParent, "job-*"))
		for _, d := range found {
			data, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			for _, f := range strings.Fields(string(data)) {
				if p, err := strconv.Atoi(f); err == nil {
					syscall.Kill(p, syscall.SIGKILL)
				}
			}
		}
		dirs = append(dirs, found...)
	}
	scratch, _ := filepath.Glob(filepath.Join("/var/tmp/shoal-scratch", cgParent, "job-*"))
	dirs = append(dirs, scratch...)
	deadline := time.Now().Add(10 * time.Second)
	for _, d := range dirs {
		// A cgroup is removable once its killed processes are gone.
		for {
			err := os.Remove(d)
			if err == nil || errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
