package main

import (
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestPreemptionEndToEnd: partitions low (PriorityTier=1) and high
// (PriorityTier=10) over one 2-CPU node. With low's PreemptMode=CANCEL a
// long sleep job of low that holds the node ends PREEMPTED when a job of
// high arrives, which then runs; with REQUEUE the low job goes back to
// PENDING as a new attempt and runs again after the high one. The
// sandboxes are real; the cluster's cleanup finds no process, cgroup or
// mount left.
func TestPreemptionEndToEnd(t *testing.T) {
	c := newCluster(t, "-node-cpus", "2")
	for _, args := range [][]string{
		{"create", "PartitionName=low", "Nodes=node1", "PriorityTier=1", "PreemptMode=CANCEL", "GraceTime=20"},
		{"create", "PartitionName=high", "Nodes=node1", "PriorityTier=10"},
	} {
		if r := c.slurmTry(t, "scontrol", args...); r.code != 0 {
			t.Fatalf("scontrol %v: exit %d %s", args, r.code, r.stderr)
		}
	}
	r := c.slurmTry(t, "scontrol", "show", "partition", "low")
	if !strings.Contains(r.stdout, " PriorityTier=1 ") || !strings.Contains(r.stdout, "PreemptMode=CANCEL") || !strings.Contains(r.stdout, " GraceTime=20 ") {
		t.Errorf("scontrol show partition low: want PriorityTier=1, PreemptMode=CANCEL and GraceTime=20 in\n%s", r.stdout)
	}

	// The low job takes a second to finish after SIGTERM: within its
	// partition's GraceTime (20 s), not the node's -grace (300 ms), so
	// it exits on its own, not by SIGKILL.
	low, _ := c.sbatchWrap(t, "-p", "low", "-c", "2", "--wrap", "trap 'sleep 1; exit 3' TERM; sleep 300 & wait")
	c.wait(low, api.StateRunning)
	high, _ := c.sbatchWrap(t, "-p", "high", "-c", "2", "--wrap", "true")
	if j := c.wait(low); j.State != api.StateFailed || j.Cause != api.CausePreempted || j.StatusReason != "Preempted by job "+api.FormatID(high) {
		t.Fatalf("low job after the high one came: %s %s %q, want FAILED, preempted by %d", j.State, j.Cause, j.StatusReason, high)
	} else if j.ExitSignal != 0 || j.ExitCode == nil || *j.ExitCode != 3 {
		t.Errorf("low job ended by signal %d, exit code %v: want exit 3 from its TERM trap (the GraceTime let it finish)", j.ExitSignal, j.ExitCode)
	}
	if j := c.wait(high); j.State != api.StateSucceeded {
		t.Fatalf("high job: %s %q, want SUCCEEDED", j.State, j.StatusReason)
	}
	r = c.slurmTry(t, "squeue", "-h", "-t", "all", "-j", api.FormatID(low), "-o", "%T")
	if r.stdout != "PREEMPTED\n" {
		t.Errorf("squeue -t all -j %d -o %%T: %q, want PREEMPTED", low, r.stdout)
	}

	// REQUEUE: the low job runs again after the high one.
	if r := c.slurmTry(t, "scontrol", "update", "PartitionName=low", "PreemptMode=REQUEUE"); r.code != 0 {
		t.Fatalf("scontrol update PreemptMode=REQUEUE: exit %d %s", r.code, r.stderr)
	}
	low2, _ := c.sbatchWrap(t, "-p", "low", "-c", "2", "--wrap", "sleep 300")
	c.wait(low2, api.StateRunning)
	high2, _ := c.sbatchWrap(t, "-p", "high", "-c", "2", "--wrap", "sleep 1")
	if j := c.wait(high2); j.State != api.StateSucceeded {
		t.Fatalf("second high job: %s %q, want SUCCEEDED", j.State, j.StatusReason)
	}
	j := c.waitFor(t, low2, "it runs its second attempt", func(j api.Job) bool { return j.State == api.StateRunning && j.Attempt == 2 })
	if len(j.Attempts) != 1 || j.Attempts[0].StatusReason != "Preempted by job "+api.FormatID(high2) {
		t.Errorf("requeued low job's attempts %+v, want one, preempted by %d", j.Attempts, high2)
	}
	if r := c.slurmTry(t, "scancel", api.FormatID(low2)); r.code != 0 {
		t.Fatalf("scancel: %s", r.stderr)
	}
	c.wait(low2)

	// Licenses: a high job waiting for the one db license that a low job
	// holds (the node has room for both) preempts it.
	if r := c.shoal("license", "create", "db", "--total", "1"); r.code != 0 {
		t.Fatalf("shoal license create: %s", r.stderr)
	}
	low3, _ := c.sbatchWrap(t, "-p", "low", "-c", "1", "-L", "db", "--wrap", "sleep 300")
	c.wait(low3, api.StateRunning)
	high3, _ := c.sbatchWrap(t, "-p", "high", "-c", "1", "-L", "db", "--wrap", "true")
	if j := c.wait(high3); j.State != api.StateSucceeded {
		t.Fatalf("high job waiting for db: %s %q, want SUCCEEDED", j.State, j.StatusReason)
	}
	j = c.waitFor(t, low3, "it runs again", func(j api.Job) bool { return j.State == api.StateRunning && j.Attempt == 2 })
	if len(j.Attempts) != 1 || j.Attempts[0].StatusReason != "Preempted by job "+api.FormatID(high3) {
		t.Errorf("low job holding db: attempts %+v, want one, preempted by %d", j.Attempts, high3)
	}
	c.slurmTry(t, "scancel", api.FormatID(low3))
	c.wait(low3)
	c.stop()
	if left := c.leftovers(); len(left) > 0 {
		t.Fatalf("left behind after the agent stopped: %v", left)
	}
}
