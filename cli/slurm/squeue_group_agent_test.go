package slurm_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client/core"
	"github.com/shoal-batch/shoal/cli/slurm"
)

// ungrouped is a controller client that never asks for grouped tasks:
// squeue through it collapses every task itself, as with a controller
// older than grouping.
type ungrouped struct {
	*core.Client
	asked int // lists that asked for grouping
}

func (u *ungrouped) ListJobs(ctx context.Context, req api.ListJobsRequest) ([]api.Job, error) {
	if req.GroupTasks {
		u.asked++
	}
	req.GroupTasks = false
	return u.Client.ListJobs(ctx, req)
}

// TestSqueueGroupedTasks holds squeue's output over a real controller
// that groups an array's pending tasks (ListJobsRequest.GroupTasks) to
// the output it prints when it collapses every task itself: arrays held
// whole, in part and throttled, tasks released, renamed and given a
// dependency, plain jobs between them; default, long, custom, --start,
// filtered and -r reports.
func TestSqueueGroupedTasks(t *testing.T) {
	sock, _ := startAgent(t)
	sbatch := func(args ...string) {
		t.Helper()
		if rc, out, errs := run(t, sock, "", "sbatch", append(args, "-o", "/dev/null", "--wrap", "true")...); rc != 0 {
			t.Fatalf("sbatch %v: exit %d: %s%s", args, rc, out, errs)
		}
	}
	scontrol := func(args ...string) {
		t.Helper()
		if rc, out, errs := run(t, sock, "", "scontrol", args...); rc != 0 {
			t.Fatalf("scontrol %v: exit %d: %s%s", args, rc, out, errs)
		}
	}
	sbatch("--hold", "--array=0-9")                       // jobs 1-10
	sbatch("--hold")                                      // 11
	sbatch("--hold", "--array=0-20:2%3", "-J", "thr")     // 12-22
	sbatch("--hold", "--array=3-7", "--begin=now+1hour")  // 23-27
	sbatch("--hold", "--array=0-3", "-d", "afterok:1")    // 28-31
	sbatch("--hold", "--array=0-999", "-J", "big", "-N1") // 32-1031
	scontrol("release", "4", "5")                         // tasks 1_3 and 1_4
	scontrol("update", "JobId=8", "Name=renamed")         // task 1_7
	scontrol("release", "14")                             // task 12_4, which starts
	scontrol("update", "JobId=500", "TimeLimit=10")       // a task in the middle of big

	direct, err := core.NewWith(sock, core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The controller does group: big's 1,000 tasks come as two runs
	// around the one with a time limit of its own, and that one.
	grouped, err := direct.ListJobs(context.Background(), api.ListJobsRequest{ArrayJobID: 0, GroupTasks: true,
		States: []api.JobState{api.StatePending}})
	if err != nil {
		t.Fatal(err)
	}
	var bigRows []string
	for _, j := range grouped {
		if j.Name == "big" && j.Array.Tasks != "" {
			bigRows = append(bigRows, j.Array.Tasks)
		} else if j.Name == "big" {
			bigRows = append(bigRows, "task "+strconv.Itoa(j.Array.Index))
		}
	}
	if strings.Join(bigRows, " ") != "0-467 task 468 469-999" {
		t.Errorf("big's tasks came as rows %q, want 0-467, 468 (its own time limit) and 469-999", bigRows)
	}

	now := time.Now()
	report := func(cl slurm.Controller, args []string) string {
		var out, errs bytes.Buffer
		c := &slurm.Ctx{Client: cl, Stdout: &out, Stderr: &errs, Stdin: strings.NewReader(""),
			Env: []string{"SHOAL_ADDR=" + sock, "USER=root"}, Now: func() time.Time { return now }, User: "root",
			GroupName: func(uint32) string { return "root" }}
		if rc := slurm.Squeue(c, args); rc != 0 {
			t.Fatalf("squeue %v: exit %d: %s", args, rc, errs.String())
		}
		return out.String() + errs.String()
	}
	plain := &ungrouped{Client: direct}
	for _, args := range [][]string{
		nil, {"-l"}, {"--start"}, {"-t", "PD"}, {"-n", "thr,big"}, {"-n", "renamed"}, {"-r"}, {"-h", "-o", "%i"},
		{"-o", "%.18i %K %F %j %R %p %Q %E %V %S %k"},
		{"-O", "JobID,ArrayJobID,ArrayTaskID,Name,Reason,Priority,TimeLimit,Dependency"},
		{"-S", "-p,i"},
	} {
		want := report(plain, args)
		got := report(direct, args)
		if got != want {
			t.Errorf("squeue %v, grouped on the controller:\n%s\n--- collapsed by squeue alone:\n%s", args, got, want)
		}
	}
	if plain.asked == 0 {
		t.Error("squeue never asked the controller to group tasks")
	}
}
