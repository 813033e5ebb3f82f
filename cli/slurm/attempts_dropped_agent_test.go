package slurm_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestRestartsPastMaxAttempts: a job run and requeued more than
// api.MaxJobAttempts times, over a real controller, then requeued held
// and cancelled while it waits, keeps the last api.MaxJobAttempts
// attempts, all of them run, and counts the dropped ones: the job list
// (JSON and rows) carries the count, and scontrol show job, squeue -O
// restartcnt (its light fields) and squeue --json say Restarts is every
// run. scontrol requeuehold after that records no attempt that never ran.
func TestRestartsPastMaxAttempts(t *testing.T) {
	sock, cl := startAgent(t)
	ctx := context.Background()
	if rc, out, errs := run(t, sock, "", "sbatch", "-o", "/dev/null", "--wrap", "true"); rc != 0 {
		t.Fatalf("sbatch: exit %d: %s%s", rc, out, errs)
	}
	const id = 1
	runs := api.MaxJobAttempts + 5
	zero := 0
	for n := 1; n <= runs; n++ {
		var j api.Job // a blocking wait for its placement
		if err := cl.Call(ctx, api.PathWait, api.WaitJobRequest{ID: id, States: []api.JobState{api.StateStarting}, WaitMillis: 10000}, &j); err != nil {
			t.Fatal(err)
		}
		if j.State != api.StateStarting || j.Attempt != n {
			t.Fatalf("job %d is %s at attempt %d, want STARTING at attempt %d", id, j.State, j.Attempt, n)
		}
		if err := cl.Call(ctx, api.PathNodeEvents, api.JobEventsRequest{Events: []api.JobEvent{
			{ID: id, Node: j.Node, State: api.StateRunning, Attempt: n},
			{ID: id, Node: j.Node, State: api.StateSucceeded, ExitCode: &zero, Attempt: n}}}, nil); err != nil {
			t.Fatal(err)
		}
		verb := "requeue"
		if n == runs {
			verb = "requeuehold" // then it waits, and is cancelled
		}
		if rc, out, errs := run(t, sock, "", "scontrol", verb, "1"); rc != 0 {
			t.Fatalf("scontrol %s 1 after run %d: exit %d: %s%s", verb, n, rc, out, errs)
		}
	}
	want(t, sock, "", 0, "", "", "scancel", "1")

	dropped := runs - api.MaxJobAttempts
	check := func(what string) {
		t.Helper()
		for _, form := range []string{"", api.ListFormRows} { // JSON and rows
			list, err := cl.ListJobs(ctx, api.ListJobsRequest{IDs: []uint64{id}, Form: form})
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 1 {
				t.Fatalf("%s: listed %d jobs, want 1", what, len(list))
			}
			j := list[0]
			if j.Attempt != runs || len(j.Attempts) != api.MaxJobAttempts || j.AttemptsDropped != dropped {
				t.Errorf("%s, form %q: attempt %d, %d kept, %d dropped; want %d, %d, %d", what, form, j.Attempt, len(j.Attempts), j.AttemptsDropped, runs, api.MaxJobAttempts, dropped)
			}
			hist := j.AttemptHistory()
			if len(hist) != api.MaxJobAttempts {
				t.Errorf("%s, form %q: history of %d, want the %d kept (its current attempt never ran)", what, form, len(hist), api.MaxJobAttempts)
			}
			for i, a := range hist {
				if a.StartedAt == 0 || a.Cause != api.CauseRequeued {
					t.Fatalf("%s, form %q: attempt %d of the history %+v, want one that ran and was requeued", what, form, i, a)
				}
			}
		}
		_, out, _ := run(t, sock, "", "scontrol", "show", "job", "1")
		if !strings.Contains(out, "Restarts=105 ") {
			t.Errorf("%s: scontrol show job 1:\n%s\nwant Restarts=105", what, out)
		}
		want(t, sock, "", 0, "1                   105                 \n", "", "squeue", "-t", "all", "-h", "-O", "jobid,restartcnt")
	}
	check("cancelled while waiting")
	_, out, errs := run(t, sock, "", "squeue", "--json", "-t", "all", "-j", "1")
	var sq struct {
		Jobs []struct {
			JobID    uint64 `json:"job_id"`
			Restarts int    `json:"restart_cnt"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal([]byte(out), &sq); err != nil || len(sq.Jobs) != 1 || sq.Jobs[0].Restarts != runs {
		t.Errorf("squeue --json -t all -j 1: %v %s%s; want job 1 with restart_cnt %d", err, out, errs, runs)
	}

	// Requeued again: nothing that never ran is recorded.
	want(t, sock, "", 0, "", "", "scontrol", "requeuehold", "1")
	check("requeued after the cancel")
}
