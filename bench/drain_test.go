package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/daemon"
)

// The drain case of issue 20: 100,000 short jobs on 1,000 simulated nodes
// (goal: at least 5,000 jobs/s).
const (
	drainJobs  = 100_000
	drainNodes = 1_000
	drainCPUs  = 8 // per simulated node
)

// BenchmarkDrain measures how fast the controller runs a backlog through:
// 100,000 jobs of 1 CPU wait (afterany) behind a held job; cancelling it
// releases them all at once, and the clock runs until the last has
// SUCCEEDED. The 1,000 nodes of 8 CPUs are simulated in this process: each
// holds the blocking work query open as a node daemon does and reports
// every job it is given SUCCEEDED at once, in one events request per
// answer (the jobs are timed no-ops that take no time). Everything else is
// the real controller: raft, the scheduling loop with its reasons, the
// FSM's checks of each placement and report.
func BenchmarkDrain(b *testing.B) {
	for range b.N {
		c := startDrainController(b)
		for i := range drainNodes {
			c.registerNode(b, simNode(i), api.Resources{CPUs: drainCPUs, MemoryMB: drainCPUs * 1024})
		}
		ctx := context.Background()
		setup := time.Now()
		gate, err := c.client.Submit(ctx, api.SubmitJobRequest{JobSpec: api.JobSpec{
			Name: "gate", Command: []string{"true"}, Held: true, Resources: api.Resources{CPUs: 1, MemoryMB: 64}}})
		if err != nil {
			b.Fatalf("submit the gate job: %v", err)
		}
		var last uint64
		for i := 0; i < drainJobs; i += queuedBatch {
			req := api.SubmitBatchRequest{}
			for k := range min(queuedBatch, drainJobs-i) {
				j := queuedJob(i+k, 0)
				j.DependsOn = []api.Dependency{{JobID: gate.ID, Type: api.AfterAny}}
				j.Resources = api.Resources{CPUs: 1, MemoryMB: 256}
				req.Jobs = append(req.Jobs, j)
			}
			var resp api.SubmitBatchResponse
			if err := c.client.Call(ctx, api.PathSubmitBatch, req, &resp); err != nil {
				b.Fatalf("submit batch at job %d: %v", i, err)
			}
			last = max(last, slicesMax(resp.IDs))
		}

		simCtx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		reports := make([]int, drainNodes)
		for i := range drainNodes {
			wg.Go(func() { reports[i] = c.simulateNode(b, simCtx, simNode(i)) })
		}
		b.Logf("submitted %d jobs in %s", drainJobs, time.Since(setup))
		stopProfile := drainProfile(b)
		cpu0 := cpuTime(b)
		start := time.Now()
		if err := c.client.Cancel(ctx, gate.ID, "release the backlog"); err != nil {
			b.Fatalf("cancel the gate job: %v", err)
		}
		c.waitAllEnded(b, last)
		elapsed, cpu := time.Since(start), cpuTime(b)-cpu0
		stopProfile()
		b.Logf("drained in %s", elapsed)
		stop()
		wg.Wait()
		if got := c.countInState(b, api.StateSucceeded); got != drainJobs {
			b.Fatalf("%d jobs SUCCEEDED, want %d", got, drainJobs)
		}
		rate := float64(drainJobs) / elapsed.Seconds()
		b.ReportMetric(rate, "jobs/s")
		b.ReportMetric(float64(cpu.Microseconds())/drainJobs, "cpu-µs/job")
		figure(b, "drain jobs=%d nodes=%d: %.0f jobs/s (%.1f s, release to last SUCCEEDED); CPU %.1f s, %.0f µs a job (controller and simulated nodes together; %.0f jobs per CPU second)",
			drainJobs, drainNodes, rate, elapsed.Seconds(), cpu.Seconds(), float64(cpu.Microseconds())/drainJobs, drainJobs/cpu.Seconds())
	}
}

// drainProfile starts a CPU profile of the drain alone (not the
// submissions before it) when SHOAL_BENCH_DRAIN_PROFILE names a file, and
// returns what stops it; the heap profiles FILE.allocs-before and
// FILE.allocs-after frame the drain (go tool pprof -sample_index
// alloc_space -diff_base FILE.allocs-before FILE.allocs-after).
func drainProfile(b *testing.B) func() {
	path := os.Getenv("SHOAL_BENCH_DRAIN_PROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatalf("drain profile: %v", err)
	}
	writeAllocs := func(name string) {
		a, err := os.Create(path + name)
		if err != nil {
			b.Fatalf("drain profile: %v", err)
		}
		defer a.Close()
		if err := pprof.Lookup("allocs").WriteTo(a, 0); err != nil {
			b.Fatalf("drain profile: %v", err)
		}
	}
	writeAllocs(".allocs-before")
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		b.Fatalf("drain profile (is -cpuprofile set too?): %v", err)
	}
	return func() {
		pprof.StopCPUProfile()
		writeAllocs(".allocs-after")
		if err := f.Close(); err != nil {
			b.Errorf("drain profile: %v", err)
		}
	}
}

// startDrainController is startController with a node TTL longer than
// the benchmark: the simulated nodes send no heartbeats.
func startDrainController(b *testing.B) *controller {
	b.Helper()
	dir := b.TempDir()
	sock := filepath.Join(dir, "shoal.sock")
	ctl, err := daemon.Start(daemon.Config{DataDir: filepath.Join(dir, "controller"), Socket: sock, Log: quietLog(), NodeTTL: time.Hour})
	if err != nil {
		b.Fatalf("start controller: %v", err)
	}
	b.Cleanup(func() {
		if err := ctl.Close(); err != nil {
			b.Errorf("close controller: %v", err)
		}
	})
	return &controller{ctl: ctl, dir: dir, sock: sock, client: client.New(sock, "")}
}

func simNode(i int) string { return fmt.Sprintf("sim%04d", i) }

func slicesMax(ids []uint64) uint64 {
	var m uint64
	for _, id := range ids {
		m = max(m, id)
	}
	return m
}

// simulateNode is a node daemon whose jobs end as soon as they are given:
// it waits for its work list to change and reports every STARTING job on it
// SUCCEEDED, until ctx ends. It returns how many jobs it reported.
func (c *controller) simulateNode(b *testing.B, ctx context.Context, name string) int {
	cl := c.newClient()
	digest, n := "", 0
	zero := 0
	for {
		var work api.NodeWorkResponse
		err := cl.Call(ctx, api.PathNodeWork, api.NodeWorkRequest{Name: name, Boot: "bench-" + name,
			AfterDigest: digest, WaitMillis: 10_000}, &work)
		if ctx.Err() != nil {
			return n
		}
		if err != nil {
			b.Errorf("node %s: work: %v", name, err)
			return n
		}
		digest = work.Digest
		var events []api.JobEvent
		for _, j := range work.Jobs {
			if j.State == api.StateStarting {
				events = append(events, api.JobEvent{ID: j.ID, Node: name, State: api.StateSucceeded, ExitCode: &zero, Attempt: j.Attempt})
			}
		}
		if len(events) == 0 {
			continue
		}
		if err := cl.Call(ctx, api.PathNodeEvents, api.JobEventsRequest{Events: events}, nil); err != nil {
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				return n
			}
			b.Errorf("node %s: events: %v", name, err)
			return n
		}
		n += len(events)
	}
}

// waitAllEnded blocks (blocking queries, no polling) until every job up to
// last has ended: the last one first, then each one still unfinished.
func (c *controller) waitAllEnded(b *testing.B, last uint64) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for {
		if _, err := c.client.WaitJob(ctx, last); err != nil {
			b.Fatalf("wait for job %d: %v", last, err)
		}
		open, err := c.client.ListJobs(ctx, api.ListJobsRequest{States: []api.JobState{api.StateRunnable, api.StateStarting, api.StateRunning}})
		if err != nil {
			b.Fatalf("list unfinished jobs: %v", err)
		}
		if len(open) == 0 {
			return
		}
		last = open[len(open)-1].ID
	}
}
