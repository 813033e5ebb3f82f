package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/node"
	"github.com/shoal-batch/shoal/node/sandbox"
)

// submitRateJobs is how many jobs one round of BenchmarkSubmitRate submits.
const submitRateJobs = 5000

// BenchmarkSubmitRate measures jobs submitted per second through the API:
// client.Client.Submit over the unix socket, one job per call, from 1 and from
// 16 concurrent clients (each its own client.Client, so its own connection),
// against an in-process controller with raft and raft-boltdb on disk.
//
// Every job is accepted and stays queued, so that nothing but the submit
// path runs: "pending" jobs depend on a job that never finishes (they stay
// PENDING, and the scheduler has nothing to look at); "runnable" jobs ask
// for the one CPU of a node that is full (they stay RUNNABLE, and the
// scheduling loop re-plans all of them, as it would on a busy cluster: once
// the burst of submits pauses, or every -sched-burst-defer while it lasts).
func BenchmarkSubmitRate(b *testing.B) {
	for _, mode := range []string{"pending", "runnable"} {
		for _, clients := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("%s/clients=%d", mode, clients), func(b *testing.B) {
				benchSubmitRate(b, mode, clients)
			})
		}
	}
}

func benchSubmitRate(b *testing.B, mode string, clients int) {
	c := startController(b)
	blocker := c.queueBlocker(b)
	dep, want := blocker, api.StatePending
	if mode == "runnable" {
		dep, want = 0, api.StateRunnable
	}
	n := submitRateJobs * b.N
	ctx := context.Background()
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	firstIndex := c.stateIndex(b)
	b.ResetTimer()
	start, startCPU := time.Now(), cpuTime(b)
	for range clients {
		wg.Go(func() {
			cl := c.newClient()
			for {
				i := int(next.Add(1))
				if i > n {
					return
				}
				if _, err := cl.Submit(ctx, queuedJob(i, dep)); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cpuTime(b)-startCPU
	b.StopTimer()
	if firstErr != nil {
		b.Fatalf("submit: %v", firstErr)
	}
	entries := c.stateIndex(b) - firstIndex
	if got := c.countInState(b, want); got != n {
		b.Fatalf("%d jobs %s after submitting %d, want all of them", got, want, n)
	}
	rate := float64(n) / elapsed.Seconds()
	b.ReportMetric(rate, "jobs/s")
	b.ReportMetric(float64(elapsed)/float64(n), "ns/job")
	// The clients' and the controller's CPU together (one process): what
	// bounds the rate once the cores are busy, and what a machine shared
	// with other work changes least.
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-us/job")
	name := fmt.Sprintf("submit-rate clients=%d", clients)
	if mode != "pending" {
		name = fmt.Sprintf("submit-rate %s clients=%d", mode, clients)
	}
	figure(b, "%s: %.0f jobs/s (%d jobs %s, %.2f s; %d raft entries, %.1f jobs per entry; %.0f µs of CPU per job, clients and controller)",
		name, rate, n, want, elapsed.Seconds(), entries, float64(n)/float64(max(entries, 1)), float64(cpu.Microseconds())/float64(n))
}

// submitToRunningJobs is how many measured jobs BenchmarkSubmitToRunning
// runs per round, one at a time.
const submitToRunningJobs = 20

// BenchmarkSubmitToRunning measures the time from submit to RUNNING on an
// idle dev agent: an in-process controller and node.StartAgent with the real
// libcontainer sandbox, running `true` one job at a time.
//
// The client-side time runs from just before Submit is called to the moment
// a blocking wait (the controller's PathWait query, client.Client.WaitJob: no
// polling) answers that the job is RUNNING or later. The controller-side
// time is the job's StartedAt - CreatedAt, both stamped by the controller
// (milliseconds). Each job's end is awaited before the next is submitted, so
// the agent is idle at each submit. One unmeasured warm-up job goes first.
func BenchmarkSubmitToRunning(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: jobs run in libcontainer sandboxes")
	}
	c := startController(b)
	runner := newRunner(b, c.dir)
	agent, err := node.StartAgent(node.Config{
		Name: "bench-agent", Client: client.New(c.sock, c.ctl.JoinToken()),
		DataDir: filepath.Join(c.dir, "node"), Executor: node.SandboxExecutor{Runner: runner},
		Capacity: api.Resources{CPUs: 2, MemoryMB: 2048}, LogAddr: filepath.Join(c.dir, "node.sock"),
		Grace: time.Second, Log: quietLog(),
	})
	if err != nil {
		b.Fatalf("start node agent: %v", err)
	}
	b.Cleanup(func() {
		if err := agent.Close(); err != nil {
			b.Errorf("close agent: %v", err)
		}
	})
	work := filepath.Join(c.dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		b.Fatal(err)
	}
	req := api.SubmitJobRequest{JobSpec: api.JobSpec{Name: "true", Command: []string{"true"}, Dir: work}}
	cl := c.newClient()
	ctx := context.Background()

	// One job through a fresh agent and sandbox runner (first placement
	// check, rootfs skeleton, cold caches), not counted.
	cold := runOne(b, ctx, cl, req)

	n := submitToRunningJobs * b.N
	var submitted, placed, running, server []time.Duration
	b.ResetTimer()
	for range n {
		t := runOne(b, ctx, cl, req)
		submitted = append(submitted, t.submitted)
		placed = append(placed, t.placed)
		running = append(running, t.running)
		server = append(server, t.server)
	}
	b.StopTimer()

	p50, p90 := percentile(running, 0.5), percentile(running, 0.9)
	b.ReportMetric(ms(p50), "ms-p50")
	b.ReportMetric(ms(p90), "ms-p90")
	figure(b, "submit-to-running median: %.1f ms p90: %.1f ms (n=%d, client wall time, blocking wait)", ms(p50), ms(p90), n)
	figure(b, "submit-to-running controller stamps median: %.0f ms p90: %.0f ms (n=%d, StartedAt-CreatedAt, 1 ms resolution)",
		ms(percentile(server, 0.5)), ms(percentile(server, 0.9)), n)
	figure(b, "submit-to-running breakdown median: submit returned %.1f ms, placed (STARTING seen) %.1f ms, RUNNING seen %.1f ms",
		ms(percentile(submitted, 0.5)), ms(percentile(placed, 0.5)), ms(p50))
	figure(b, "submit-to-running cold first job: %.1f ms (not counted above)", ms(cold.running))
}

// jobTimes are one job's times, from just before its Submit call.
type jobTimes struct {
	submitted time.Duration // Submit returned
	placed    time.Duration // seen STARTING or later
	running   time.Duration // seen RUNNING or later
	server    time.Duration // StartedAt - CreatedAt (controller clock, ms)
}

// runOne submits req, waits until it is placed, running and done, and
// returns its times. A job that does not succeed fails the benchmark.
func runOne(b *testing.B, ctx context.Context, cl *client.Client, req api.SubmitJobRequest) jobTimes {
	b.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var t jobTimes
	start := time.Now()
	resp, err := cl.Submit(ctx, req)
	if err != nil {
		b.Fatalf("submit: %v", err)
	}
	t.submitted = time.Since(start)
	if _, err := cl.WaitJob(ctx, resp.ID, api.StateStarting, api.StateRunning, api.StateSucceeded, api.StateFailed); err != nil {
		b.Fatalf("wait for job %d to be placed: %v", resp.ID, err)
	}
	t.placed = time.Since(start)
	if _, err := cl.WaitJob(ctx, resp.ID, api.StateRunning, api.StateSucceeded, api.StateFailed); err != nil {
		b.Fatalf("wait for job %d to run: %v", resp.ID, err)
	}
	t.running = time.Since(start)
	j, err := cl.WaitJob(ctx, resp.ID)
	if err != nil {
		b.Fatalf("wait for job %d to end: %v", resp.ID, err)
	}
	if j.State != api.StateSucceeded || j.StartedAt == 0 {
		b.Fatalf("job %d ended %s (%s), startedAt %d: the sandbox does not run jobs", j.ID, j.State, j.StatusReason, j.StartedAt)
	}
	t.server = time.Duration(j.StartedAt-j.CreatedAt) * time.Millisecond
	return t
}

// newRunner is a sandbox runner with its state root under
// /run/shoal-bench-<pid> (never under the test binary's directory), its own
// cgroup parent and its private /tmp dirs in dir. Everything is removed
// when b ends, after the agent using it has closed.
func newRunner(b *testing.B, dir string) *sandbox.Runner {
	b.Helper()
	base := fmt.Sprintf("/run/shoal-bench-%d", os.Getpid())
	parent := fmt.Sprintf("shoal-bench-%d", os.Getpid())
	r := &sandbox.Runner{
		Root: filepath.Join(base, "sandbox"), TmpRoot: filepath.Join(dir, "sandbox-tmp"), CgroupParent: parent,
	}
	b.Cleanup(func() {
		if err := r.Cleanup(); err != nil {
			b.Errorf("sandbox cleanup: %v", err)
		}
		if err := os.RemoveAll(base); err != nil {
			b.Errorf("remove sandbox root: %v", err)
		}
		// Runner.Cleanup removes the cgroup parent; make sure of it.
		dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", parent))
		if d := filepath.Join("/sys/fs/cgroup", parent); exists(d) {
			dirs = append(dirs, d)
		}
		for _, d := range dirs {
			if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
				b.Errorf("cgroup %s left behind: %v", d, err)
			}
		}
	})
	return r
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// queuedJobs and queuedBatch size BenchmarkQueued100k.
const (
	queuedJobs  = 100_000
	queuedBatch = 1000
)

// BenchmarkQueued100k measures the controller holding 100,000 queued jobs:
// they are submitted in batches of 1,000 (PathSubmitBatch, one raft entry
// each) and stay queued: "pending" jobs wait on a job that never finishes,
// "runnable" ones on the CPU of a full node (the scheduling loop re-plans
// all of them after every commit). It reports the time to submit them, the
// Go heap after a GC and the process RSS (controller plus this test's
// client: they share the process; the client holds nothing between calls),
// and the time of one ListJobs of all of them (an squeue of 100k), with and
// without the client decoding the answer.
//
// With SHOAL_BENCH_HEAPPROFILE=path set, the pending run also writes a heap
// profile of the moment the jobs are queued to path.
//
// One round is seconds long, so the framework never asks for b.N > 1
// unless -benchtime says so; each round then repeats the whole measure.
func BenchmarkQueued100k(b *testing.B) {
	for _, mode := range []string{"pending", "runnable"} {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				benchQueued(b, mode)
			}
		})
	}
}

func benchQueued(b *testing.B, mode string) {
	c := startController(b)
	dep, want := c.queueBlocker(b), api.StatePending
	if mode == "runnable" {
		dep, want = 0, api.StateRunnable
	}
	ctx := context.Background()

	// Start from a heap and RSS without the garbage of earlier benchmarks:
	// two collections, since the first only moves what sync.Pools hold
	// (encoding/json's buffer of the last 30 MB list answer) aside.
	var before runtime.MemStats
	runtime.GC()
	debug.FreeOSMemory()
	runtime.ReadMemStats(&before)
	rssBefore := procStatus(b)["VmRSS"]

	start := time.Now()
	for i := 0; i < queuedJobs; i += queuedBatch {
		req := api.SubmitBatchRequest{Jobs: make([]api.SubmitJobRequest, 0, queuedBatch)}
		for k := range min(queuedBatch, queuedJobs-i) {
			req.Jobs = append(req.Jobs, queuedJob(i+k, dep))
		}
		var resp api.SubmitBatchResponse
		if err := c.client.Call(ctx, api.PathSubmitBatch, req, &resp); err != nil {
			b.Fatalf("submit batch at job %d: %v", i, err)
		}
		if len(resp.IDs) != len(req.Jobs) {
			b.Fatalf("submit batch at job %d: %d ids for %d jobs", i, len(resp.IDs), len(req.Jobs))
		}
	}
	submitTime := time.Since(start)

	var after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	status := procStatus(b)
	if path := os.Getenv("SHOAL_BENCH_HEAPPROFILE"); path != "" && mode == "pending" {
		writeHeapProfile(b, path)
	}
	debug.FreeOSMemory()
	rssFreed := procStatus(b)["VmRSS"]

	// squeue of all the queued jobs: once decoded by client.Client, once only
	// read (server time plus transfer).
	// Each timing starts from a collected heap, so that neither pays for
	// the other's garbage.
	list := api.ListJobsRequest{States: []api.JobState{want}}
	runtime.GC()
	start = time.Now()
	jobs, err := c.client.ListJobs(ctx, list)
	listTime := time.Since(start)
	if err != nil {
		b.Fatalf("list %s jobs: %v", want, err)
	}
	if len(jobs) != queuedJobs {
		b.Fatalf("%d jobs %s, want %d", len(jobs), want, queuedJobs)
	}
	jobs = nil
	runtime.GC()
	rawTime, rawBytes := rawList(b, c.sock, list)

	rate := float64(queuedJobs) / submitTime.Seconds()
	b.ReportMetric(mb(after.HeapInuse), "heap-MB")
	b.ReportMetric(rate, "jobs/s")
	b.ReportMetric(ms(listTime), "list-ms")
	m := ""
	if mode != "pending" {
		m = " " + mode
	}
	figure(b, "controller-heap%s jobs=%d: %.0f MB (HeapInuse after GC; HeapAlloc %.0f MB; %.0f MB HeapInuse before the jobs; jobs %s)",
		m, queuedJobs, mb(after.HeapInuse), mb(after.HeapAlloc), mb(before.HeapInuse), want)
	figure(b, "controller-heap%s per queued job: %.0f bytes (HeapAlloc growth / jobs)",
		m, float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/queuedJobs)
	figure(b, "controller-rss%s jobs=%d: %.0f MB (VmRSS after GC; RssAnon %.0f MB, RssFile %.0f MB; %.0f MB after FreeOSMemory; %.0f MB before the jobs; includes this test's client)",
		m, queuedJobs, kbToMB(status["VmRSS"]), kbToMB(status["RssAnon"]), kbToMB(status["RssFile"]), kbToMB(rssFreed), kbToMB(rssBefore))
	figure(b, "submit-batch-rate%s jobs=%d batch=%d: %.0f jobs/s (%.2f s, one client)", m, queuedJobs, queuedBatch, rate, submitTime.Seconds())
	st := strings.ToLower(string(want))
	figure(b, "list-%s jobs=%d: %.0f ms (client.Client.ListJobs, decode included)", st, queuedJobs, ms(listTime))
	figure(b, "list-%s-raw jobs=%d: %.0f ms (%.1f MB of JSON read, not decoded)", st, queuedJobs, ms(rawTime), mb(uint64(rawBytes)))
}

func kbToMB(kb int64) float64 { return float64(kb) / 1024 }

// writeHeapProfile writes the heap profile as it is now (what the
// controller holds with the jobs queued) to path, for go tool pprof.
func writeHeapProfile(b *testing.B, path string) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatalf("heap profile: %v", err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatalf("heap profile: %v", err)
	}
}

// rawList POSTs a list request on the socket and reads the answer without
// decoding it.
func rawList(b *testing.B, sock string, req api.ListJobsRequest) (time.Duration, int64) {
	b.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	defer hc.CloseIdleConnections()
	body, err := json.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	res, err := hc.Post("http://unix"+api.PathListJobs, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatalf("list jobs: %v", err)
	}
	defer res.Body.Close()
	n, err := io.Copy(io.Discard, res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		b.Fatalf("list jobs: HTTP %d, %v", res.StatusCode, err)
	}
	return time.Since(start), n
}
