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
// of its tasks named first and the array twice, asks for the array whole
// once (the task is the array's), and reports its one refusal by the
// array's id, as Slurm does; a controller that does not know arrays
// asked whole, or -v, gets each task asked once, and each refusal by the
// task's name.
func TestScancelArrayOfAnother(t *testing.T) {
	f := newCtlFake()
	for k := range 5 {
		j := api.Job{ID: 30 + uint64(k), User: "bob", State: api.StatePending,
			Array: &api.ArrayTask{JobID: 30, Index: 2 * k, Min: 0, Max: 8, Count: 5}}
		j.Name, j.Queue = "sweep", api.DefaultQueue
		f.jobs[j.ID] = &j
	}
	for _, c := range []struct {
		name         string
		args         []string
		refuseArrays bool
		call         string
		failed       []string
	}{
		// Asked whole, once: the task named first is the array's too,
		// and the array's refusal is one, by its id.
		{"arrays asked whole", []string{"30_4", "30", "30"}, false, `Stop arrays [30], jobs [] "Cancelled by scancel"`, []string{"30"}},
		// A controller that does not know arrays asked whole: listed
		// (grouped) and asked task by task, the tasks named first too.
		{"an older controller", []string{"30_8", "30_4", "30"}, true, `StopJobs [30 31 32 33 34] "Cancelled by scancel"`, []string{"30_0", "30_2", "30_4", "30_6", "30_8"}},
		// -v: each task is named as it is asked.
		{"verbose", []string{"30_4", "30", "-v"}, false, `StopJobs [32 30 31 33 34] "Cancelled by scancel"`, nil},
	} {
		f.calls, f.refuseArrays = nil, c.refuseArrays
		ctx, _, stderr := sbTestCtx(f, t.TempDir(), sbEnv, "")
		ctx.Client = groupingFake{f}
		args := c.args
		if rc := Scancel(ctx, args); rc != 1 {
			t.Errorf("%s: scancel of bob's array by alice: rc %d, want 1", c.name, rc)
		}
		calls := strings.Join(f.calls, "\n")
		if !strings.Contains(calls, c.call) || strings.Count(calls, "Stop") != strings.Count(c.call, "Stop")+map[bool]int{true: 1}[c.refuseArrays] {
			t.Errorf("%s: calls:\n%s\nwant %s", c.name, calls, c.call)
		}
		if c.failed == nil {
			if n := strings.Count(stderr.String(), "Access/permission denied"); n != 5 {
				t.Errorf("%s: %d refusals in\n%s\nwant one per task", c.name, n, stderr)
			}
			continue
		}
		var want strings.Builder
		for _, name := range c.failed {
			want.WriteString("scancel: error: Kill job error on job id " + name + ": Access/permission denied\n")
		}
		if stderr.String() != want.String() {
			t.Errorf("%s: stderr:\n%s\nwant:\n%s", c.name, stderr, want.String())
		}
	}
}
