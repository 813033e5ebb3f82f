package slurm_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestScontrolArrayOperands: scontrol's hold, release, update and
// requeue take an array's tasks as Slurm's do, over a real controller:
// "A_i" and "A_[i-j]" are those tasks, the array's id all of them that
// have not ended, and a task the array does not have is refused by name.
func TestScontrolArrayOperands(t *testing.T) {
	sock, cl := startAgent(t)
	if rc, out, errs := run(t, sock, "", "sbatch", "--hold", "--array=0-4", "-o", "/dev/null", "--wrap", "true"); rc != 0 {
		t.Fatalf("sbatch: exit %d: %s%s", rc, out, errs) // jobs 1-5
	}
	if rc, out, errs := run(t, sock, "", "sbatch", "--hold", "-o", "/dev/null", "--wrap", "true"); rc != 0 {
		t.Fatalf("sbatch: exit %d: %s%s", rc, out, errs) // job 6
	}
	jobs := func() string {
		t.Helper()
		list, err := cl.ListJobs(context.Background(), api.ListJobsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		s := ""
		for _, j := range list {
			s += fmt.Sprintf("%d:%s/%s/held=%v/%ds ", j.ID, j.Name, j.State, j.Held, j.TimeLimit)
		}
		return s
	}
	want(t, sock, "", 0, "", "", "scontrol", "release", "1_2")
	want(t, sock, "", 0, "", "", "scontrol", "update", "JobId=1_[3-4]", "Name=two")
	// Slurm 22.05 (the anchor) answers these so, exit 1.
	want(t, sock, "", 1, "", "1_9: Invalid job id specified\n", "scontrol", "hold", "1_9")
	want(t, sock, "", 1, "", "1_9: Invalid job id specified\n", "scontrol", "update", "JobId=1_9", "Name=x")
	want(t, sock, "", 1, "", "6_1: Invalid job id specified\n", "scontrol", "update", "JobId=6_1", "Name=x")
	// A task's refusal is worded as Slurm words an array's answer.
	want(t, sock, "", 1, "", "1_0: Job is pending execution\n", "scontrol", "requeue", "1_0")
	want(t, sock, "", 1, "", "Job is pending execution for job 6\n", "scontrol", "requeue", "6")
	if got, w := jobs(), "1:wrap/PENDING/held=true/0s 2:wrap/PENDING/held=true/0s 3:wrap/RUNNABLE/held=false/0s "+
		"4:two/PENDING/held=true/0s 5:two/PENDING/held=true/0s 6:wrap/PENDING/held=true/0s "; got != w {
		// Task 1_2, released, may have been placed on n1 already.
		if w2 := "1:wrap/PENDING/held=true/0s 2:wrap/PENDING/held=true/0s 3:wrap/STARTING/held=false/0s " +
			"4:two/PENDING/held=true/0s 5:two/PENDING/held=true/0s 6:wrap/PENDING/held=true/0s "; got != w2 {
			t.Errorf("after releasing 1_2 and renaming 1_[3-4]: %s\nwant %s", got, w)
		}
	}
	// The array's id: its waiting tasks, as Slurm's release leaves a
	// running one be (exit 0, nothing said).
	want(t, sock, "", 0, "", "", "scontrol", "release", "1")
	want(t, sock, "", 0, "", "", "scontrol", "update", "JobId=1", "TimeLimit=5")
	for _, j := range mustList(t, cl) {
		if j.Array != nil && (j.Held || j.TimeLimit != 300) || j.Array == nil && !j.Held {
			t.Errorf("after release and update of array 1: job %d held %v, time limit %d s; want its tasks released with 300 s, job 6 held", j.ID, j.Held, j.TimeLimit)
		}
	}
}

func mustList(t *testing.T, cl interface {
	ListJobs(context.Context, api.ListJobsRequest) ([]api.Job, error)
}) []api.Job {
	t.Helper()
	list, err := cl.ListJobs(context.Background(), api.ListJobsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// TestScancelGroupedTasks: scancel over a real controller, which lists an
// array's waiting tasks in runs (ListJobsRequest.GroupTasks), ends exactly
// the tasks it is given, by range across runs and by the array's id, and
// names them as Slurm does with -v.
func TestScancelGroupedTasks(t *testing.T) {
	sock, cl := startAgent(t)
	if rc, out, errs := run(t, sock, "", "sbatch", "--hold", "--array=0-9,20-29", "-o", "/dev/null", "--wrap", "true"); rc != 0 {
		t.Fatalf("sbatch: exit %d: %s%s", rc, out, errs) // jobs 1-20
	}
	want(t, sock, "", 0, "", "", "scontrol", "update", "JobId=1_5", "Name=odd") // splits the run
	want(t, sock, "", 0, "", "scancel: Terminating job 1_3\nscancel: Terminating job 1_5\nscancel: Terminating job 1_6\n"+
		"scancel: Terminating job 1_21\n", "scancel", "-v", "1_[3,5-6,21]")
	cancelled := func() string {
		var ids []string
		for _, j := range mustList(t, cl) {
			if j.State.Terminal() {
				ids = append(ids, fmt.Sprint(j.ID))
			}
		}
		return fmt.Sprint(ids)
	}
	if got := cancelled(); got != "[4 6 7 12]" {
		t.Errorf("after scancel 1_[3,5-6,21]: jobs %s ended; want 4 6 7 12", got)
	}
	want(t, sock, "", 0, "", "", "scancel", "1")
	for _, j := range mustList(t, cl) {
		if !j.State.Terminal() || j.StatusReason == "" {
			t.Errorf("after scancel 1: job %d %s (%s); want every task ended", j.ID, j.State, j.StatusReason)
		}
	}
}
