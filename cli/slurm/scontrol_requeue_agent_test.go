package slurm_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestScontrolRequeueArray: scontrol requeue (and requeuehold) of an
// array's id, over a real controller, requeues every task of it that has
// ended, in one request, and says nothing when all were; of a mixed
// array it answers as Slurm 22.05 answers an array (job_requeue2): one
// line per outcome with its tasks' indexes, the waiting tasks "Job is
// pending execution", exit 1. "A_[...]" names tasks the same way.
func TestScontrolRequeueArray(t *testing.T) {
	sock, cl := startAgent(t)
	states := func(ids ...uint64) string {
		t.Helper()
		list, err := cl.ListJobs(context.Background(), api.ListJobsRequest{IDs: ids})
		if err != nil {
			t.Fatal(err)
		}
		s := ""
		for _, j := range list {
			s += fmt.Sprintf("%s/held=%v ", j.State, j.Held)
		}
		return s
	}
	sbatch := func(args ...string) {
		t.Helper()
		if rc, out, errs := run(t, sock, "", "sbatch", append(args, "-o", "/dev/null", "--wrap", "true")...); rc != 0 {
			t.Fatalf("sbatch: exit %d: %s%s", rc, out, errs)
		}
	}

	// Every task ended: all are queued again, nothing said.
	sbatch("--hold", "--array=0-3") // jobs 1-4
	want(t, sock, "", 0, "", "", "scancel", "1")
	if got := states(1, 2, 3, 4); got != "FAILED/held=true FAILED/held=true FAILED/held=true FAILED/held=true " {
		t.Fatalf("after scancel of array 1: %s, want its 4 tasks FAILED", got)
	}
	want(t, sock, "", 0, "", "", "scontrol", "requeue", "1")
	if got := states(1, 2, 3, 4); got != "PENDING/held=true PENDING/held=true PENDING/held=true PENDING/held=true " {
		t.Fatalf("after scontrol requeue 1: %s, want its 4 tasks queued again (held, as they were)", got)
	}
	for _, j := range mustList(t, cl) {
		if j.Array != nil && j.Array.JobID == 1 && (len(j.Attempts) != 0 || j.Cause != "") {
			t.Errorf("task %d after requeue: attempts %+v cause %q, want a fresh job (it never ran)", j.ID, j.Attempts, j.Cause)
		}
	}

	// Mixed: the waiting tasks are refused as Slurm refuses them.
	sbatch("--hold", "--array=0-5") // jobs 5-10
	want(t, sock, "", 0, "", "", "scancel", "5_[0-1,3]")
	want(t, sock, "", 1, "", "5_0-1,3: No error\n5_2,4-5: Job is pending execution\n", "scontrol", "requeue", "5")
	if got := states(5, 6, 7, 8, 9, 10); got != "PENDING/held=true PENDING/held=true PENDING/held=true PENDING/held=true PENDING/held=true PENDING/held=true " {
		t.Fatalf("after scontrol requeue 5: %s, want every task waiting", got)
	}
	// Tasks named: the same answer, of those; one that is not, by name.
	want(t, sock, "", 0, "", "", "scancel", "5_[4-5]")
	want(t, sock, "", 0, "", "", "scontrol", "requeuehold", "5_[4-5]")
	want(t, sock, "", 1, "", "5_0: Job is pending execution\n", "scontrol", "requeue", "5_0")
	want(t, sock, "", 0, "", "", "scancel", "5_1")
	want(t, sock, "", 1, "", "5_1: No error\n5_9: Invalid job id specified\n", "scontrol", "requeue", "5_[1,9]")

	// An array submitted with --no-requeue.
	sbatch("--hold", "--no-requeue", "--array=0-1") // jobs 11-12
	want(t, sock, "", 0, "", "", "scancel", "11")
	want(t, sock, "", 1, "", "11_0-1: Requested operation is presently disabled\n", "scontrol", "requeue", "11")
}
