package bench

import (
	"context"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// squeueJobs is how many queued jobs BenchmarkSqueue20k lists.
const squeueJobs = 20_000

// squeueStates is what squeue asks for by default: the jobs not finished.
var squeueStates = []api.JobState{api.StateSubmitted, api.StatePending, api.StateRunnable, api.StateStarting, api.StateRunning}

// BenchmarkSqueue20k measures what an squeue over 20,000 queued sbatch
// jobs costs at the controller: the list request answered over the unix
// socket and read to the end, not decoded (the controller's time plus the
// transfer), median of several, from a collected heap. Cases: every job
// in full records (what squeue asked for before issue 19); the fields
// squeue asks for with its usual formats (what it reads: no script,
// command or paths); only the fields its default format prints; squeue's
// fields in the row form it asks for now (sent as made).
func BenchmarkSqueue20k(b *testing.B) {
	for range b.N {
		benchSqueue(b)
	}
}

// sbatchJob is a queued job as sbatch sends one: a script, output paths
// and an exported environment.
func sbatchJob(i int, env map[string]string) api.SubmitJobRequest {
	return api.SubmitJobRequest{JobSpec: api.JobSpec{
		Name:   "bench-" + strconv.Itoa(i),
		Script: "#!/bin/bash\n#SBATCH -t 10\n#SBATCH --mem 1G\nset -euo pipefail\nmodule load python\nsrun python analyse.py --input data/part-" + strconv.Itoa(i) + ".csv --out results/\n",
		Dir:    "/home/alice/project", Stdout: "slurm-%j.out", Stderr: "slurm-%j.out",
		Env: env,
	}}
}

func benchSqueue(b *testing.B) {
	c := startController(b)
	c.queueBlocker(b)
	ctx := context.Background()
	env := map[string]string{}
	for k := range 40 { // a login shell's exported variables, as sbatch sends them
		env["VAR_"+strconv.Itoa(k)] = strings.Repeat("x", 40)
	}
	const batch = 1000
	for i := 0; i < squeueJobs; i += batch {
		req := api.SubmitBatchRequest{Jobs: make([]api.SubmitJobRequest, 0, batch)}
		for k := range batch {
			req.Jobs = append(req.Jobs, sbatchJob(i+k, env))
		}
		var resp api.SubmitBatchResponse
		if err := c.client.Call(ctx, api.PathSubmitBatch, req, &resp); err != nil {
			b.Fatalf("submit batch at job %d: %v", i, err)
		}
	}
	for _, cs := range []struct {
		name string
		req  api.ListJobsRequest
	}{
		{"full", api.ListJobsRequest{States: squeueStates}},
		{"squeue", api.ListJobsRequest{States: squeueStates, Fields: squeueFields()}},
		{"fields-min", api.ListJobsRequest{States: squeueStates, Fields: squeueDefaultFields}},
		{"squeue-rows", api.ListJobsRequest{States: squeueStates, Fields: squeueFields(), Form: api.ListFormRows}},
	} {
		var times []time.Duration
		var bytes int64
		for range 9 {
			runtime.GC()
			d, n := rawList(b, c.sock, cs.req)
			times, bytes = append(times, d), n
		}
		sort.Slice(times, func(i, k int) bool { return times[i] < times[k] })
		med := times[len(times)/2]
		b.ReportMetric(ms(med), cs.name+"-ms")
		figure(b, "squeue-%s jobs=%d: %.1f ms median (min %.1f ms; %.1f MB of JSON or rows, read not decoded)",
			cs.name, squeueJobs+1, ms(med), ms(times[0]), mb(uint64(bytes)))
	}
}

// squeueFields is what squeue asks for with its usual formats (as
// cli/slurm's squeueLight): what its fields, filters and sorting read.
func squeueFields() []string {
	return []string{
		"jobId", "jobName", "jobQueue", "resources", "priority", "dependsOn", "dependAny", "held", "beginAt",
		"timeLimitSeconds", "noRequeue", "account", "qos", "comment", "user", "uid", "gid", "status",
		"statusReason", "array", "node", "attempt", "exitCode", "signal", "cause", "stopRequested",
		"createdAt", "startedAt", "stoppedAt",
	}
}

// squeueDefaultFields are the job fields squeue's default format
// (%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R) needs.
var squeueDefaultFields = []string{"jobId", "jobQueue", "jobName", "user", "status", "statusReason", "cause", "startedAt", "node", "array", "stoppedAt"}
