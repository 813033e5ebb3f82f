package bench

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/cli/slurm"
)

// squeueSplitTasks is the size of BenchmarkSqueueSplitArray's array
// (SHOAL_BENCH_SPLIT_TASKS changes it).
const squeueSplitTasks = 100_000

// squeueLightFields is what squeue asks for with its usual formats (as
// cli/slurm's squeueLight).
var squeueLightFields = []string{
	"jobId", "jobName", "jobQueue", "jobQueues", "resources", "priority", "nice", "dependsOn", "dependAny", "held", "beginAt",
	"timeLimitSeconds", "noRequeue", "account", "qos", "comment", "user", "uid", "gid", "status",
	"statusReason", "array", "node", "attempt", "exitCode", "signal", "cause", "stopRequested",
	"createdAt", "startedAt", "stoppedAt", "attempts", "deadlineAt", "runnableAt",
	"waitReason", "estimatedStartAt", "heldByAdmin", "licenses",
}

// BenchmarkSqueueSplitArray measures a plain squeue after `sbatch
// --array=0-99999 --hold` and `scancel A_[1-99999:2]`: the array's task
// group split, half its tasks waiting, half cancelled (live until
// MinJobAge), and the controller can no longer group the waiting ones
// (their ids have gaps), so squeue's list has a row for each. Figures:
// the controller's answer to squeue's collapsed request (row form,
// grouped tasks, squeueLight fields), read to the end, not decoded; and
// squeue itself (slurm.Main, in this process, collapsed and -r), which
// kept every waiting task whole until it folded alike ones as it reads
// them (cli/slurm/squeue_fold.go): over 250,000 such tasks it took 6-8 s
// and 480 MB.
func BenchmarkSqueueSplitArray(b *testing.B) {
	n := squeueSplitTasks
	if s := os.Getenv("SHOAL_BENCH_SPLIT_TASKS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	c := startController(b)
	c.registerNode(b, "bench-node", api.Resources{CPUs: 2, MemoryMB: 4096})
	ctx := context.Background()
	indexes := make([]int, n)
	for i := range indexes {
		indexes[i] = i
	}
	resp, err := c.client.Submit(ctx, api.SubmitJobRequest{JobSpec: api.JobSpec{Name: "wrap", Command: []string{"true"}, Dir: "/tmp", Held: true},
		ArrayIndexes: indexes})
	if err != nil {
		b.Fatalf("submit the array: %v", err)
	}
	req := api.ListJobsRequest{States: squeueStates, Fields: squeueLightFields, Form: api.ListFormRows, GroupTasks: true}
	measure := func(name string) {
		var times []time.Duration
		var bytes int64
		for range 5 {
			runtime.GC()
			d, n := rawList(b, c.sock, req)
			times, bytes = append(times, d), n
		}
		sort.Slice(times, func(i, k int) bool { return times[i] < times[k] })
		med := times[len(times)/2]
		b.ReportMetric(ms(med), name+"-ms")
		figure(b, "squeue after %s, array of %d: %.1f ms median (min %.1f ms; %.0f KB of rows)", name, n, ms(med), ms(times[0]), float64(bytes)/1024)
	}
	measure("submit")
	ids := make([]uint64, 0, n/2)
	for i := 1; i < n; i += 2 {
		ids = append(ids, resp.ID+uint64(i))
	}
	if failed, err := c.client.StopJobs(ctx, ids, "Cancelled by scancel"); err != nil || len(failed) > 0 {
		b.Fatalf("stop every other task: %v (%d failed)", err, len(failed))
	}
	squeue := func(name string, args ...string) {
		var times []time.Duration
		var out, errs bytes.Buffer
		for range 3 {
			out.Reset()
			runtime.GC()
			t0 := time.Now()
			rc := slurm.Main("squeue", args, nil, &out, &errs, []string{"SHOAL_ADDR=" + c.sock, "USER=root"})
			times = append(times, time.Since(t0))
			if rc != 0 {
				b.Fatalf("squeue %v: exit %d: %s", args, rc, errs.String())
			}
		}
		sort.Slice(times, func(i, k int) bool { return times[i] < times[k] })
		med := times[len(times)/2]
		b.ReportMetric(ms(med), name+"-ms")
		figure(b, "squeue %v in-process after the split, array of %d: %.1f ms median (min %.1f ms; %d bytes printed)", args, n, ms(med), ms(times[0]), out.Len())
	}
	for range b.N {
		measure("split")
		squeue("cmd")
		squeue("cmd-r", "-r")
	}
}
