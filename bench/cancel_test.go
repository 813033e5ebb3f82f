package bench

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// cancelJobs is how many queued jobs BenchmarkScancel ends at once (issue
// 19 asks for 20,000 in at most 0.5 s).
const cancelJobs = 20_000

// BenchmarkScancel measures what `scancel -u USER` does with 20,000 of the
// user's queued jobs: list the user's unfinished jobs (the filter runs on
// the controller), then end them all in one stop request, one raft entry.
// The jobs wait behind a job that never finishes, so nothing else runs.
func BenchmarkScancel(b *testing.B) {
	for range b.N {
		c := startController(b)
		dep := c.queueBlocker(b)
		ctx := context.Background()
		for i := 0; i < cancelJobs; i += queuedBatch {
			req := api.SubmitBatchRequest{}
			for k := range min(queuedBatch, cancelJobs-i) {
				req.Jobs = append(req.Jobs, queuedJob(i+k, dep))
			}
			var resp api.SubmitBatchResponse
			if err := c.client.Call(ctx, api.PathSubmitBatch, req, &resp); err != nil {
				b.Fatalf("submit batch at job %d: %v", i, err)
			}
		}
		first := c.stateIndex(b)
		cpu0 := cpuTime(b)
		start := time.Now()
		jobs, err := c.client.ListJobs(ctx, api.ListJobsRequest{States: []api.JobState{api.StatePending}})
		if err != nil {
			b.Fatalf("list pending jobs: %v", err)
		}
		listed, listCPU := time.Since(start), cpuTime(b)-cpu0
		ids := make([]uint64, len(jobs))
		for i, j := range jobs {
			ids[i] = j.ID
		}
		failed, err := c.client.StopJobs(ctx, ids, "Cancelled by scancel")
		elapsed, cpu := time.Since(start), cpuTime(b)-cpu0
		if err != nil || len(failed) > 0 {
			b.Fatalf("stop %d jobs: %v (%d failed)", len(ids), err, len(failed))
		}
		entries := c.stateIndex(b) - first
		if got := c.countInState(b, api.StatePending); got != 0 || len(ids) != cancelJobs {
			b.Fatalf("stopped %d jobs, %d still pending; want all %d stopped", len(ids), got, cancelJobs)
		}
		b.ReportMetric(float64(elapsed.Milliseconds()), "ms")
		figure(b, "scancel jobs=%d: %.0f ms (list %.0f ms + stop in %d raft entries); CPU %.0f ms (list %.0f ms), controller and client together",
			cancelJobs, ms(elapsed), ms(listed), entries, ms(cpu), ms(listCPU))
	}
}

// cpuTime is the CPU time this process has used, user and system: on a
// shared machine the wall time of a step also counts the time it waited
// for a core.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
