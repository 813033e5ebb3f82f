package bench

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

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
// "controller-rss" queues the same-env jobs in a controller process of
// its own (the figure is that process's RSS) and reports its RSS
// before and with the jobs queued, as it is and after it has given back
// what it no longer uses (debug.FreeOSMemory).
func BenchmarkQueuedSbatch(b *testing.B) {
	for _, mode := range []string{"same-env", "env-differs", "controller-rss"} {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				if mode == "controller-rss" {
					benchQueuedSbatchRSS(b)
				} else {
					benchQueuedSbatch(b, mode)
				}
			}
		})
	}
}

// sbatchRequests submits the sbatch-shaped jobs, waiting on dep, in
// batches of queuedBatch; it returns one job's environment size.
func sbatchRequests(b *testing.B, c *controller, dep uint64, differs bool) int {
	b.Helper()
	envBytes := 0
	for i := 0; i < sbatchJobs; i += queuedBatch {
		req := api.SubmitBatchRequest{Jobs: make([]api.SubmitJobRequest, 0, queuedBatch)}
		for k := range min(queuedBatch, sbatchJobs-i) {
			env := sbatchEnv(i+k, differs)
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
		if err := c.client.Call(context.Background(), api.PathSubmitBatch, req, &resp); err != nil {
			b.Fatalf("submit batch at job %d: %v", i, err)
		}
	}
	return envBytes
}

func benchQueuedSbatchRSS(b *testing.B) {
	c := startChildController(b)
	dep := c.queueBlocker(b)
	before, beforeFree := c.mem(b, false), c.mem(b, true)
	sbatchRequests(b, c.controller, dep, false)
	if got := c.countInState(b, api.StatePending); got != sbatchJobs {
		b.Fatalf("%d jobs pending, want %d", got, sbatchJobs)
	}
	queued := c.mem(b, false)
	// What an operator sees once the burst is over (the side-by-side
	// script reads the RSS 2 s after the last job is queued).
	time.Sleep(2 * time.Second)
	settled, queuedFree := c.mem(b, false), c.mem(b, true)
	b.ReportMetric(mb(uint64(settled.rss)), "MB-rss")
	b.ReportMetric(float64(settled.rss-before.rss)/sbatchJobs, "B-rss/job")
	figure(b, "sbatch-rss controller jobs=%d: RSS %.1f MB (anon %.1f) 2 s after the last submit, %.1f MB (anon %.1f) at once, %.1f MB (anon %.1f) freed again; before the jobs %.1f MB (anon %.1f); Go heap in use %.1f MB",
		sbatchJobs, mb(uint64(settled.rss)), mb(uint64(settled.rssAnon)), mb(uint64(queued.rss)), mb(uint64(queued.rssAnon)),
		mb(uint64(queuedFree.rss)), mb(uint64(queuedFree.rssAnon)), mb(uint64(before.rss)), mb(uint64(before.rssAnon)), mb(uint64(queuedFree.heap)))
	figure(b, "sbatch-rss per queued job: %.0f bytes RSS 2 s after (%.0f at once, %.0f freed again)", float64(settled.rss-before.rss)/sbatchJobs,
		float64(queued.rss-before.rss)/sbatchJobs, float64(queuedFree.rss-beforeFree.rss)/sbatchJobs)
}

func benchQueuedSbatch(b *testing.B, mode string) {
	c := startController(b)
	dep := c.queueBlocker(b)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	envBytes := sbatchRequests(b, c, dep, mode == "env-differs")
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
