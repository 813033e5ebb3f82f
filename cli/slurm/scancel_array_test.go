package slurm

import (
	"context"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// groupingFake lists as the controller does when asked to group: a run
// of an array's waiting tasks comes as its first task, Array.Tasks
// naming them all.
type groupingFake struct{ *ctlFake }

func (g groupingFake) ListJobs(ctx context.Context, req api.ListJobsRequest) ([]api.Job, error) {
	list, err := g.ctlFake.ListJobs(ctx, req)
	if err != nil || !req.GroupTasks {
		return list, err
	}
	var out []api.Job
	var idx []int
	flush := func() {
		if len(idx) > 1 {
			a := *out[len(out)-1].Array
			a.Tasks = api.IndexRanges(idx)
			out[len(out)-1].Array = &a
		}
		idx = nil
	}
	for _, j := range list {
		if n := len(out); n > 0 && idx != nil && j.Array != nil && j.State == api.StatePending &&
			j.Array.JobID == out[n-1].Array.JobID && j.ID == out[n-1].ID+uint64(len(idx)) {
			idx = append(idx, j.Array.Index)
			continue
		}
		flush()
		out = append(out, j)
		if j.Array != nil && j.State == api.StatePending {
			idx = []int{j.Array.Index}
		}
	}
	flush()
	return out, nil
}

func (g groupingFake) ListJobsInto(ctx context.Context, req api.ListJobsRequest, _ []api.Job) ([]api.Job, error) {
	return g.ListJobs(ctx, req)
}

// TestScancelArrayOfAnother: scancel of another user's waiting array, one
// of its tasks named first, asks to end each task once (in one request),
// and reports each refusal by the task's name, as Slurm does.
func TestScancelArrayOfAnother(t *testing.T) {
	f := newCtlFake()
	for k := range 5 {
		j := api.Job{ID: 30 + uint64(k), User: "bob", State: api.StatePending,
			Array: &api.ArrayTask{JobID: 30, Index: 2 * k, Min: 0, Max: 8, Count: 5}}
		j.Name, j.Queue = "sweep", api.DefaultQueue
		f.jobs[j.ID] = &j
	}
	c, _, stderr := sbTestCtx(f, t.TempDir(), sbEnv, "")
	c.Client = groupingFake{f}
	if rc := Scancel(c, []string{"30_4", "30"}); rc != 1 {
		t.Errorf("scancel of bob's array by alice: rc %d, want 1", rc)
	}
	calls := strings.Join(f.calls, "\n")
	if !strings.Contains(calls, `StopJobs [32 30 31 33 34] "Cancelled by scancel"`) {
		t.Errorf("calls:\n%s\nwant one StopJobs of 32, then the array's others once each", calls)
	}
	var want strings.Builder
	for _, name := range []string{"30_4", "30_0", "30_2", "30_6", "30_8"} {
		want.WriteString("scancel: error: Kill job error on job id " + name + ": Access/permission denied\n")
	}
	if stderr.String() != want.String() {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want.String())
	}
}
