package slurm_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client/core"
	"github.com/shoal-batch/shoal/cli/slurm"
)

// listOnly is a controller client that lists whole JSON lists, never
// grouped: only Controller's methods (no ListJobsEach, so no rows).
type listOnly struct{ slurm.Controller }

func (l listOnly) ListJobs(ctx context.Context, req api.ListJobsRequest) ([]api.Job, error) {
	req.GroupTasks, req.Form = false, ""
	return l.Controller.ListJobs(ctx, req)
}

// TestSqueueFoldedTasks holds squeue's output over arrays whose waiting
// tasks the controller cannot group (cancels left gaps in their ids), which
// squeue folds as it reads them (squeue_fold.go), to the output it prints
// from a plain JSON list without folding: every other task cancelled,
// every third, a throttled array, tasks released (they start), renamed,
// given a time limit of their own, plain jobs between; default, long,
// custom, --start, filtered, sorted and -r reports.
func TestSqueueFoldedTasks(t *testing.T) {
	sock, _ := startAgent(t)
	do := func(name string, args ...string) {
		t.Helper()
		if name == "sbatch" {
			args = append(args, "-o", "/dev/null", "--wrap", "true")
		}
		if rc, out, errs := run(t, sock, "", name, args...); rc != 0 {
			t.Fatalf("%s %v: exit %d: %s%s", name, args, rc, out, errs)
		}
	}
	do("sbatch", "--hold", "--array=0-999", "-J", "half")       // jobs 1-1000
	do("sbatch", "--hold")                                      // 1001
	do("sbatch", "--hold", "--array=0-299:3", "-J", "third")    // 1002-1101
	do("sbatch", "--hold", "--array=0-99%4", "-J", "thr")       // 1102-1201
	do("sbatch", "--hold", "--array=5-60", "--begin=now+1hour") // 1202-1257
	do("scancel", "1_[1-999:2]")
	do("scancel", "1002_[0-297:9]", "1002_[6-297:9]")
	do("scancel", "1102_[1-99:2]")
	do("scancel", "1202_[10-20]")
	do("scontrol", "update", "JobId=501", "TimeLimit=10") // task 1_500
	do("scontrol", "update", "JobId=301", "Name=renamed") // task 1_300
	do("scontrol", "release", "1_600", "1_602")           // both start
	do("scontrol", "release", "1102_[10-20:2]")

	direct, err := core.NewWith(sock, core.Options{})
	if err != nil {
		t.Fatal(err)
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
	// The released tasks start, but for two the throttle holds (%4): 1_600
	// and 1_602, and 1102_10 to 1102_16, the lowest of their array. No
	// node daemon runs them: they stay STARTING (R) while squeue reads.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, id := range []uint64{601, 603, 1112, 1114, 1116, 1118} {
		if _, err := direct.WaitJob(ctx, id, api.StateStarting); err != nil {
			t.Fatalf("released job %d: %v", id, err)
		}
	}
	for _, args := range [][]string{
		nil, {"-l"}, {"--start"}, {"-t", "PD"}, {"-t", "R"}, {"-n", "half,thr"}, {"-n", "renamed"}, {"-r"}, {"-h", "-o", "%i"},
		{"-o", "%.18i %K %F %j %R %p %Q %V %S %k %l"},
		{"-O", "JobID,ArrayJobID,ArrayTaskID,Name,Reason,Priority,TimeLimit"},
		{"-S", "-p,i"}, {"-u", "root"}, {"--me"},
	} {
		slurm.SetTaskFold(false)
		want := report(listOnly{direct}, args)
		slurm.SetTaskFold(true)
		got := report(direct, args)
		if got != want {
			t.Errorf("squeue %v, folded as read:\n%s\n--- from a JSON list, not folded:\n%s", args, got, want)
		}
	}
	if out := report(direct, nil); !strings.Contains(out, "1_[0,2,4,6") {
		t.Errorf("squeue does not show half's waiting tasks on one line:\n%s", out)
	}
}
