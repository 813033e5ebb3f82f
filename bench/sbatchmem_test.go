package bench

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// sbatchJobs is how many sbatch-shaped jobs BenchmarkQueuedSbatch queues
// (issue 19's memory goal is stated for 20,000).
const sbatchJobs = 20_000

// sbatchScript is a batch script of the usual size, the same for every
// job of a sweep (the task index comes from the environment).
const sbatchScript = `#!/bin/bash
#SBATCH --job-name=sweep
#SBATCH --cpus-per-task=1
#SBATCH --mem=1G
#SBATCH --time=00:10:00
#SBATCH --output=sweep-%j.out
set -euo pipefail
module load python 2>/dev/null || true
cd "$SLURM_SUBMIT_DIR"
python3 - <<PY
import os
print("task", os.environ.get("SWEEP_TASK"), "on", os.uname().nodename)
PY
`

// sbatchEnv is what sbatch exports by default (--export=ALL): the whole
// environment of the submitting shell, here this process's with the
// variables of a login shell on a cluster added, so it is not smaller
// than a real one.
func sbatchEnv(task int, differs bool) map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	for i := range 40 {
		env["MODULE_VAR_"+strconv.Itoa(i)] = strings.Repeat("/opt/software/lib", 4)
	}
	env["LS_COLORS"] = strings.Repeat("di=01;34:ln=01;36:", 80)
	if differs { // sbatch --export=ALL,SWEEP_TASK=$i
		env["SWEEP_TASK"] = strconv.Itoa(task)
	}
	return env
}

// BenchmarkQueuedSbatch measures what the controller holds per queued
// sbatch job: 20,000 jobs with the same script and the submitting shell's
// environment, held behind a job that never finishes: "same-env" as a loop
// of `sbatch sweep.sh $i` sends them, "env-differs" with one variable
// that differs per job (`sbatch --export=ALL,SWEEP_TASK=$i`). It reports
// the Go heap growth per job after a GC (the controller shares this
// process with its client, which holds nothing between calls).
func BenchmarkQueuedSbatch(b *testing.B) {
	for _, mode := range []string{"same-env", "env-differs"} {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				benchQueuedSbatch(b, mode)
			}
		})
	}
}

func benchQueuedSbatch(b *testing.B, mode string) {
	c := startController(b)
	dep := c.queueBlocker(b)
	ctx := context.Background()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	envBytes := 0
	for i := 0; i < sbatchJobs; i += queuedBatch {
		req := api.SubmitBatchRequest{Jobs: make([]api.SubmitJobRequest, 0, queuedBatch)}
		for k := range min(queuedBatch, sbatchJobs-i) {
			env := sbatchEnv(i+k, mode == "env-differs")
			if envBytes == 0 {
				for k, v := range env {
					envBytes += len(k) + len(v) + 2
				}
			}
			req.Jobs = append(req.Jobs, api.SubmitJobRequest{JobSpec: api.JobSpec{
				Name: "sweep", Script: sbatchScript, Command: []string{"sweep.sh"}, Dir: "/tmp",
				Env: env, DependsOn: []api.Dependency{{JobID: dep}},
			}})
		}
		var resp api.SubmitBatchResponse
		if err := c.client.Call(ctx, api.PathSubmitBatch, req, &resp); err != nil {
			b.Fatalf("submit batch at job %d: %v", i, err)
		}
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if path := os.Getenv("SHOAL_BENCH_HEAPPROFILE"); path != "" {
		writeHeapProfile(b, path)
	}
	perJob := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / sbatchJobs
	b.ReportMetric(perJob, "B-heap/job")
	figure(b, "sbatch-heap %s per queued job: %.0f bytes (HeapAlloc growth / %d jobs; each job's environment %d bytes, script %d bytes)",
		mode, perJob, sbatchJobs, envBytes, len(sbatchScript))
	figure(b, "sbatch-heap %s jobs=%d: %.1f MB (HeapInuse after GC; %.1f MB before the jobs)",
		mode, sbatchJobs, mb(after.HeapInuse), mb(before.HeapInuse))
}
