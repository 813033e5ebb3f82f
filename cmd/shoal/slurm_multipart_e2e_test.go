package main

import (
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestSlurm17_19_SeveralPartitions pins Slurm's test 17.19 end to end: a
// job submitted to a list of partitions with one that does not exist is
// refused with Slurm's words, naming it; one submitted to two shows both
// while it waits (scontrol update Partition= sets a list as well); and a
// job runs in whichever of its partitions can start it (here the second:
// the first is down), then shows that one.
func TestSlurm17_19_SeveralPartitions(t *testing.T) {
	c := newCluster(t)
	for _, p := range []string{"p2", "p3"} {
		if out, rc := c.slurmTryAs(t, nil, nil, "scontrol", "create", "PartitionName="+p, "Nodes=node1"); rc != 0 {
			t.Fatalf("scontrol create PartitionName=%s: rc %d: %s", p, rc, out)
		}
	}
	out, rc := c.slurmTryAs(t, nil, nil, "sbatch", "-o", "/dev/null", "-t1", "--begin=tomorrow", "--partition=default,DUMMY", "--wrap", "true")
	if want := "sbatch: error: invalid partition specified: DUMMY\nsbatch: error: Batch job submission failed: Invalid partition name specified\n"; rc != 1 || out != want {
		t.Errorf("sbatch --partition=default,DUMMY: rc %d %q, want 1 and %q", rc, out, want)
	}
	id := mustID(t, c.slurmCmd(t, "sbatch", "--parsable", "-o", "/dev/null", "-t1", "--begin=tomorrow", "--partition=default,p2", "--wrap", "true"))
	if out := c.slurmCmd(t, "scontrol", "show", "job", api.FormatID(id)); !strings.Contains(out, " Partition=default,p2 ") {
		t.Errorf("scontrol show job of a job in default,p2:\n%s\nwant Partition=default,p2", out)
	}
	if out := c.slurmCmd(t, "squeue", "-h", "-o", "%i %P", "-p", "p2"); out != api.FormatID(id)+" default,p2\n" {
		t.Errorf("squeue -p p2: %q, want the job, in default,p2", out)
	}
	// scontrol update Partition= takes a list too.
	c.slurmCmd(t, "scontrol", "update", "JobId="+api.FormatID(id), "Partition=p2,p3")
	if out := c.slurmCmd(t, "scontrol", "show", "job", api.FormatID(id)); !strings.Contains(out, " Partition=p2,p3 ") {
		t.Errorf("scontrol show job after update Partition=p2,p3:\n%s\nwant Partition=p2,p3", out)
	}
	out, rc = c.slurmTryAs(t, nil, nil, "scontrol", "update", "JobId="+api.FormatID(id), "Partition=default,DUMMY")
	if want := "Invalid partition name specified for job " + api.FormatID(id) + "\n"; rc != 1 || out != want {
		t.Errorf("update Partition=default,DUMMY: rc %d %q, want 1 and %q", rc, out, want)
	}
	c.slurmCmd(t, "scancel", api.FormatID(id))

	if out, rc := c.slurmTryAs(t, nil, nil, "scontrol", "update", "PartitionName=p2", "State=DOWN"); rc != 0 {
		t.Fatalf("update PartitionName=p2 State=DOWN: rc %d %s", rc, out)
	}
	id = mustID(t, c.slurmCmd(t, "sbatch", "--parsable", "-o", "/dev/null", "--partition=p2,p3", "--wrap", "sleep 30"))
	if j := c.wait(id, api.StateRunning); j.Queue != "p3" {
		t.Fatalf("job of p2 (down) and p3 runs in %q, want p3", j.Queue)
	}
	if out := c.slurmCmd(t, "squeue", "-h", "-o", "%P", "-j", api.FormatID(id)); out != "p3\n" {
		t.Errorf("squeue of the running job: partition %q, want p3", out)
	}
	c.slurmCmd(t, "scancel", api.FormatID(id))
	c.wait(id, api.StateFailed)
}
