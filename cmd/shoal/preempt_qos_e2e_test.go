package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestQOSPreemptionEndToEnd: an agent with -preempt-type qos and one
// 2-CPU node; QOS urgent preempts QOS scavenger (sacctmgr). A scavenger
// job that holds the node ends PREEMPTED when an urgent job arrives,
// within scavenger's GraceTime (its TERM trap finishes), and the urgent
// job runs; with scavenger's PreemptMode=requeue the next one goes back
// to the queue and runs again after the urgent one, unless submitted
// with --no-requeue; with PreemptExemptTime a scavenger job runs at
// least that long before it is preempted. The sandboxes are real; the
// cluster's cleanup finds no process, cgroup or mount left.
func TestQOSPreemptionEndToEnd(t *testing.T) {
	c := newCluster(t, "-node-cpus", "2", "-preempt-type", "qos")
	for _, args := range [][]string{
		{"-i", "add", "qos", "scavenger", "PreemptMode=cancel", "GraceTime=20"},
		{"-i", "add", "qos", "urgent", "Preempt=scavenger", "Priority=100"},
	} {
		if r := c.slurmTry(t, "sacctmgr", args...); r.code != 0 {
			t.Fatalf("sacctmgr %v: exit %d %s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	if r := c.slurmTry(t, "scontrol", "show", "config"); !strings.Contains(r.stdout, "PreemptType             = preempt/qos\n") {
		t.Errorf("scontrol show config: want PreemptType = preempt/qos in\n%s", r.stdout)
	}
	if r := c.slurmTry(t, "sacctmgr", "-n", "-P", "show", "qos", "format=name,preempt,preemptmode,gracetime"); r.stdout != "scavenger||cancel|00:00:20\nurgent|scavenger|cluster|00:00:00\n" {
		t.Errorf("sacctmgr show qos: %q", r.stdout)
	}

	// CANCEL: the scavenger job takes a second to finish after SIGTERM,
	// within its QOS's GraceTime (20 s), not the node's -grace (300 ms).
	low, _ := c.sbatchWrap(t, "--qos=scavenger", "-c", "2", "--wrap", "trap 'sleep 1; exit 3' TERM; sleep 300 & wait")
	c.wait(low, api.StateRunning)
	high, _ := c.sbatchWrap(t, "--qos=urgent", "-c", "2", "--wrap", "true")
	if j := c.wait(low); j.State != api.StateFailed || j.Cause != api.CausePreempted || j.StatusReason != "Preempted by job "+api.FormatID(high) {
		t.Fatalf("scavenger job after the urgent one came: %s %s %q, want FAILED, preempted by %d", j.State, j.Cause, j.StatusReason, high)
	} else if j.ExitSignal != 0 || j.ExitCode == nil || *j.ExitCode != 3 {
		t.Errorf("scavenger job ended by signal %d, exit code %v: want exit 3 from its TERM trap (the QOS's GraceTime let it finish)", j.ExitSignal, j.ExitCode)
	}
	if j := c.wait(high); j.State != api.StateSucceeded {
		t.Fatalf("urgent job: %s %q, want SUCCEEDED", j.State, j.StatusReason)
	}
	if r := c.slurmTry(t, "squeue", "-h", "-t", "all", "-j", api.FormatID(low), "-o", "%T"); r.stdout != "PREEMPTED\n" {
		t.Errorf("squeue -t all -j %d -o %%T: %q, want PREEMPTED", low, r.stdout)
	}

	// REQUEUE (the QOS's mode): the scavenger job runs again after the
	// urgent one; one submitted with --no-requeue is cancelled instead.
	if r := c.slurmTry(t, "sacctmgr", "-i", "modify", "qos", "scavenger", "set", "PreemptMode=requeue"); r.code != 0 {
		t.Fatalf("sacctmgr modify qos scavenger set PreemptMode=requeue: exit %d %s", r.code, r.stderr)
	}
	low2, _ := c.sbatchWrap(t, "--qos=scavenger", "-c", "1", "--wrap", "sleep 300")
	low3, _ := c.sbatchWrap(t, "--qos=scavenger", "-c", "1", "--no-requeue", "--wrap", "sleep 300")
	c.wait(low2, api.StateRunning)
	c.wait(low3, api.StateRunning)
	high2, _ := c.sbatchWrap(t, "--qos=urgent", "-c", "2", "--wrap", "sleep 1")
	if j := c.wait(low3); j.State != api.StateFailed || j.Cause != api.CausePreempted {
		t.Errorf("--no-requeue scavenger job: %s %s %q, want FAILED, preempted", j.State, j.Cause, j.StatusReason)
	}
	if j := c.wait(high2); j.State != api.StateSucceeded {
		t.Fatalf("second urgent job: %s %q, want SUCCEEDED", j.State, j.StatusReason)
	}
	j := c.waitFor(t, low2, "it runs its second attempt", func(j api.Job) bool { return j.State == api.StateRunning && j.Attempt == 2 })
	if len(j.Attempts) != 1 || j.Attempts[0].StatusReason != "Preempted by job "+api.FormatID(high2) {
		t.Errorf("requeued scavenger job's attempts %+v, want one, preempted by %d", j.Attempts, high2)
	}
	if r := c.slurmTry(t, "scancel", api.FormatID(low2)); r.code != 0 {
		t.Fatalf("scancel: %s", r.stderr)
	}
	c.wait(low2)

	// PreemptExemptTime=0:3 (3 s): the urgent job waits until the
	// scavenger job has run that long (the scheduler plans again then,
	// though nothing else changes), then preempts it.
	if r := c.slurmTry(t, "sacctmgr", "-i", "modify", "qos", "scavenger", "set", "PreemptMode=cancel", "PreemptExemptTime=0:3"); r.code != 0 {
		t.Fatalf("sacctmgr modify qos scavenger set PreemptExemptTime=0:3: exit %d %s", r.code, r.stderr)
	}
	low4, _ := c.sbatchWrap(t, "--qos=scavenger", "-c", "2", "--wrap", "sleep 300")
	c.wait(low4, api.StateRunning)
	high4, _ := c.sbatchWrap(t, "--qos=urgent", "-c", "2", "--wrap", "true")
	j = c.wait(low4)
	if j.State != api.StateFailed || j.Cause != api.CausePreempted {
		t.Fatalf("exempt scavenger job: %s %s %q, want FAILED, preempted", j.State, j.Cause, j.StatusReason)
	}
	if ran := j.StoppedAt - j.StartedAt; ran < 3000 {
		t.Errorf("exempt scavenger job ran %d ms before it was preempted, want at least its PreemptExemptTime, 3000 ms", ran)
	}
	if j := c.wait(high4); j.State != api.StateSucceeded {
		t.Fatalf("third urgent job: %s %q, want SUCCEEDED", j.State, j.StatusReason)
	}
	c.stop()
	if left := c.leftovers(); len(left) > 0 {
		t.Fatalf("left behind after the agent stopped: %v", left)
	}
}

// TestAgentPreemptFlags: the agent refuses a preempt type or mode it does
// not have, or an incompatible pair, before it starts anything, saying
// what would be right.
func TestAgentPreemptFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-preempt-type", "fifo"}, `-preempt-type: preempt type "fifo": give partition_prio, qos or none`},
		{[]string{"-preempt-type", "qos", "-preempt-mode", "off"}, "-preempt-mode: PreemptType and PreemptMode values incompatible"},
		{[]string{"-preempt-type", "qos", "-preempt-mode", "suspend"}, "shoal does not suspend or gang-schedule jobs: give CANCEL or REQUEUE"},
	} {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], append([]string{"agent", "-dev", "-data-dir", filepath.Join(dir, "data"), "-socket", filepath.Join(dir, "s.sock")}, c.args...)...)
		cmd.Env = append(os.Environ(), "SHOAL_TEST_MAIN=1")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("shoal agent %v: %v\n%s\nwant a refusal saying %q", c.args, err, out, c.want)
		}
	}
}
