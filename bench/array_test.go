package bench

import (
	"context"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// arrayTasks is the size of BenchmarkArray's array (bench/arrays.sh's, and
// what the side-by-side compares with Slurm).
const arrayTasks = 10_000

// BenchmarkArray measures what `sbatch --hold --array=0-9999`, `squeue`
// and `scancel ARRAY` ask of the controller: submit one held array, list
// its tasks grouped (the row form: squeue's collapsed line), and end them
// all in one stop request that names the array whole. Each round is a new
// array on the same controller.
func BenchmarkArray(b *testing.B) {
	c := startController(b)
	c.registerNode(b, "bench-node", api.Resources{CPUs: 2, MemoryMB: 4096}) // the tasks are held: none starts
	ctx := context.Background()
	indexes := make([]int, arrayTasks)
	for i := range indexes {
		indexes[i] = i
	}
	var submit, list, stop time.Duration
	for range b.N {
		req := api.SubmitJobRequest{JobSpec: api.JobSpec{Name: "sweep", Command: []string{"true"}, Dir: "/tmp", Held: true},
			ArrayIndexes: indexes}
		t0 := time.Now()
		resp, err := c.client.Submit(ctx, req)
		if err != nil {
			b.Fatalf("submit the array: %v", err)
		}
		t1 := time.Now()
		tasks, err := c.client.ListJobs(ctx, api.ListJobsRequest{ArrayJobID: resp.ID, Form: api.ListFormRows,
			GroupTasks: true, Fields: []string{"jobId", "array", "status", "stopRequested"}})
		if err != nil || len(tasks) != 1 || tasks[0].Array == nil || tasks[0].Array.Tasks != "0-9999" {
			b.Fatalf("list the array's tasks grouped: %v, %d rows", err, len(tasks))
		}
		t2 := time.Now()
		stopReq := api.StopJobsRequest{ArrayJobIDs: []uint64{resp.ID}, Reason: "Cancelled by scancel"}
		if failed, err := c.client.Stop(ctx, stopReq); err != nil || len(failed) > 0 {
			b.Fatalf("stop the array: %v (%d failed)", err, len(failed))
		}
		t3 := time.Now()
		submit, list, stop = submit+t1.Sub(t0), list+t2.Sub(t1), stop+t3.Sub(t2)
	}
	n := float64(b.N)
	b.ReportMetric(ms(submit)/n, "ms-submit")
	b.ReportMetric(ms(list)/n, "ms-list")
	b.ReportMetric(ms(stop)/n, "ms-stop")
	figure(b, "array of %d held tasks: submit %.1f ms, list grouped %.1f ms, stop whole %.1f ms (mean of %d)",
		arrayTasks, ms(submit)/n, ms(list)/n, ms(stop)/n, b.N)
}
