package bench

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/cli/slurm"
	"github.com/shoal-batch/shoal/daemon"
	"github.com/shoal-batch/shoal/daemon/archive/archivetest"
)

// archiveControllerEnv makes this test binary a controller process (see
// runArchiveController): the benchmark measures that process alone.
const archiveControllerEnv = "SHOAL_BENCH_ARCHIVE_CONTROLLER"

// archiveURLEnv passes the controller process its archive's URL: with
// SHOAL_BENCH_ARCHIVE_PG=1 the benchmark starts a PostgreSQL server (as
// the archive's tests do) and archives into it.
const archiveURLEnv = "SHOAL_BENCH_ARCHIVE_URL"

// sacctEnv makes this test binary the sacct command (see runSacct).
const sacctEnv = "SHOAL_BENCH_SACCT"

func init() {
	if dir := os.Getenv(archiveControllerEnv); dir != "" {
		if os.Getenv("SHOAL_BENCH_DEBUG") == "" && os.Getenv("SHOAL_BENCH_HEAPPROFILE") == "" && os.Getenv("SHOAL_BENCH_PEAKPROFILE") == "" {
			// As in the shoal binary, which does not link runtime/pprof
			// (its linker then turns memory profiling off); a test binary
			// samples allocations, and pages in its profile's hash table
			// (1.4 MB) as new call stacks are sampled.
			runtime.MemProfileRate = 0
		}
		if os.Getenv("SHOAL_BENCH_PEAKPROFILE") != "" {
			runtime.MemProfileRate = 4096 // fine enough to tell the peak's holders apart
		}
		os.Exit(runArchiveController(dir))
	}
	if os.Getenv(sacctEnv) != "" {
		os.Exit(slurm.Main("sacct", os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ()))
	}
}

// runSacct runs sacct with args against the controller at sock, as a
// process of its own, and returns how many lines it printed and its peak
// RSS (bytes).
func runSacct(b *testing.B, sock string, args ...string) (int, int64) {
	b.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), sacctEnv+"=1", "SHOAL_ADDR="+sock, "USER=root")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start sacct: %v", err)
	}
	lines := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		lines++
	}
	if err := cmd.Wait(); err != nil {
		b.Fatalf("sacct %v: %v", args, err)
	}
	return lines, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
}

// resetPeak resets the controller process's peak RSS (VmHWM).
func (cc *childController) resetPeak(b *testing.B) {
	b.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", cc.cmd.Process.Pid), []byte("5"), 0); err != nil {
		b.Fatalf("reset the controller's peak RSS: %v", err)
	}
}

// peak is the controller process's peak RSS (bytes) since resetPeak.
func (cc *childController) peak(b *testing.B) int64 {
	b.Helper()
	return cc.status(b)["VmHWM"]
}

// runArchiveController runs a controller with a 2 s retention window over
// dir until SIGTERM. On SIGUSR1 it waits for its archive to be written,
// then prints "mem HEAPINUSE GOHELD RSS RSSANON" (what the Go runtime holds
// now, and the process's RSS); on
// SIGUSR2 it first returns the memory it no longer uses to the OS
// (debug.FreeOSMemory, what its scavenger does by itself over minutes).
func runArchiveController(dir string) int {
	ctl, err := daemon.Start(daemon.Config{DataDir: filepath.Join(dir, "controller"), Socket: filepath.Join(dir, "shoal.sock"),
		Log: quietLog(), MinJobAge: 2 * time.Second, ArchiveURL: os.Getenv(archiveURLEnv),
		NodeTTL: 24 * time.Hour}) // the benchmark's node sends no heartbeats
	if err != nil {
		fmt.Fprintln(os.Stderr, "start controller:", err)
		return 1
	}
	if path := os.Getenv("SHOAL_BENCH_PEAKPROFILE"); path != "" {
		go peakProfile(path)
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2)
	fmt.Println("ready")
	for sig := range sigs {
		if sig == syscall.SIGTERM {
			break
		}
		if strings.Contains(os.Getenv("GODEBUG"), "gctrace=1") {
			// Marks the measure in the collections' trace (stderr).
			fmt.Fprintln(os.Stderr, "mem-point", sig)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := ctl.WaitArchived(ctx)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		if sig == syscall.SIGUSR2 {
			runtime.GC() // sync.Pools (bbolt's pages) drop what they hold at the second collection
			debug.FreeOSMemory()
			if path := os.Getenv("SHOAL_BENCH_HEAPPROFILE"); path != "" {
				if f, err := os.Create(path); err == nil {
					pprof.WriteHeapProfile(f)
					f.Close()
				}
			}
		}
		// The process reads its own RSS at once: read later, by the
		// benchmark, it also held whatever a collection since (timers,
		// the archive's last writes) had freed and not yet returned.
		st, err := statusBytes("/proc/self/status")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Printf("mem %d %d %d %d %d\n", ms.HeapInuse, ms.Sys-ms.HeapReleased, st["VmRSS"], st["RssAnon"], ms.HeapIdle-ms.HeapReleased)
		if d := os.Getenv("SHOAL_BENCH_DEBUG"); d != "" {
			var samples []metrics.Sample
			for _, d := range metrics.All() {
				if strings.HasPrefix(d.Name, "/memory/classes/") {
					samples = append(samples, metrics.Sample{Name: d.Name})
				}
			}
			metrics.Read(samples)
			for _, s := range samples {
				fmt.Fprintf(os.Stderr, "DEBUG   %s %.2f MB\n", s.Name, mb(s.Value.Uint64()))
			}
			// smaps first: the heap profile written next allocates.
			if data, err := os.ReadFile("/proc/self/smaps"); err == nil {
				os.WriteFile(fmt.Sprintf("%s/smaps-%d", d, time.Now().UnixNano()), data, 0o644)
			}
			if f, err := os.Create(fmt.Sprintf("%s/heap-%d", d, time.Now().UnixNano())); err == nil {
				pprof.WriteHeapProfile(f)
				f.Close()
			}
			fmt.Fprintf(os.Stderr, "DEBUG heapinuse %.1f heapidle-unreleased %.1f heapsys (the most it mapped) %.1f stack %.1f mspan %.1f (in use %.1f) mcache %.1f buckhash %.1f gc %.1f other %.1f MB\n",
				mb(ms.HeapInuse), mb(ms.HeapIdle-ms.HeapReleased), mb(ms.HeapSys), mb(ms.StackSys), mb(ms.MSpanSys), mb(ms.MSpanInuse), mb(ms.MCacheSys), mb(ms.BuckHashSys), mb(ms.GCSys), mb(ms.OtherSys))
		}
	}
	if err := ctl.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close controller:", err)
		return 1
	}
	return 0
}

// peakProfile writes the controller's heap profile to path each time its
// live heap (as of its last collection) reaches a new high, 5% above the
// last one written: what the heap held at its peak
// (SHOAL_BENCH_PEAKPROFILE=PATH).
func peakProfile(path string) {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var high uint64
	for range time.Tick(100 * time.Millisecond) {
		metrics.Read(s)
		live := s[0].Value.Uint64()
		if live <= high+high/20 {
			continue
		}
		high = live
		if f, err := os.Create(path); err == nil {
			pprof.WriteHeapProfile(f)
			f.Close()
		}
		fmt.Fprintf(os.Stderr, "PEAK live heap %.1f MB: profile written to %s\n", mb(live), path)
	}
}

// archiveJobs is how many short jobs BenchmarkArchive pushes through
// (SHOAL_BENCH_ARCHIVE_JOBS; the figure is 200,000).
func archiveJobs(b *testing.B) int {
	n := 20_000
	if s := os.Getenv("SHOAL_BENCH_ARCHIVE_JOBS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1000 {
			b.Fatalf("SHOAL_BENCH_ARCHIVE_JOBS=%q: give a number of jobs, at least 1000", s)
		}
		n = v
	}
	return n
}

// archiveAsSbatch makes BenchmarkArchive's jobs as sbatch submits one
// (SHOAL_BENCH_ARCHIVE_SBATCH=1): each carries the submitting shell's
// whole environment (sbatch's default, --export=ALL: sbatchEnv) and a
// batch script (sbatchScript), most of an archived job's bytes. Without
// it a job has one variable and a command.
func archiveAsSbatch(b *testing.B) (env map[string]string, script string) {
	switch v := os.Getenv("SHOAL_BENCH_ARCHIVE_SBATCH"); v {
	case "":
		return nil, ""
	case "1":
		return sbatchEnv(0, false), sbatchScript
	default:
		b.Fatalf("SHOAL_BENCH_ARCHIVE_SBATCH=%q: give 1 (each job as sbatch submits one) or nothing", v)
		return nil, ""
	}
}

// warmJobs go through the controller before the measure starts (see
// benchArchive's "warm"); sacct lists them with the others.
const warmJobs = 1000

// childController is a controller process started by the benchmark.
type childController struct {
	*controller
	cmd *exec.Cmd
	out *bufio.Scanner
}

func startChildController(b *testing.B) *childController {
	b.Helper()
	dir := b.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), archiveControllerEnv+"="+dir)
	if gogc := os.Getenv("SHOAL_BENCH_CONTROLLER_GOGC"); gogc != "" {
		// The controller's GOGC alone: GOGC for the whole benchmark would
		// also slow the process that submits.
		cmd.Env = append(cmd.Env, "GOGC="+gogc)
	}
	if godebug := os.Getenv("SHOAL_BENCH_CONTROLLER_GODEBUG"); godebug != "" {
		cmd.Env = append(cmd.Env, "GODEBUG="+godebug) // gctrace=1: the controller's collections alone
	}
	if os.Getenv("SHOAL_BENCH_ARCHIVE_PG") == "1" {
		cmd.Env = append(cmd.Env, archiveURLEnv+"="+archivetest.StartPostgres(b))
	}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start controller process: %v", err)
	}
	cc := &childController{cmd: cmd, out: bufio.NewScanner(stdout)}
	b.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			b.Errorf("controller process: %v", err)
		}
	})
	if !cc.out.Scan() || cc.out.Text() != "ready" {
		b.Fatalf("controller process did not start: %q", cc.out.Text())
	}
	sock := filepath.Join(dir, "shoal.sock")
	cc.controller = &controller{dir: dir, sock: sock, client: client.New(sock, "")}
	return cc
}

// childMem is the controller process's memory.
type childMem struct {
	rss, rssAnon, heap, goHeld int64 // bytes
	// heapFree is free heap the runtime has not returned to the OS. Once
	// freed it should be none: debug.FreeOSMemory alone sometimes leaves
	// 1.5-2.5 MB after a burst, which the controller's releaseMemory
	// returns (daemon.returnStrandedHeap).
	heapFree int64
}

// mem asks the controller to wait for its archive (and, with free, to
// return unused memory to the OS) and reads its memory.
func (cc *childController) mem(b *testing.B, free bool) childMem {
	b.Helper()
	sig := syscall.SIGUSR1
	if free {
		sig = syscall.SIGUSR2
	}
	if err := cc.cmd.Process.Signal(sig); err != nil {
		b.Fatal(err)
	}
	if !cc.out.Scan() {
		b.Fatalf("controller process: no answer to %v", sig)
	}
	var m childMem
	if _, err := fmt.Sscanf(cc.out.Text(), "mem %d %d %d %d %d", &m.heap, &m.goHeld, &m.rss, &m.rssAnon, &m.heapFree); err != nil {
		b.Fatalf("controller process answered %q: %v", cc.out.Text(), err)
	}
	return m
}

// status reads the controller process's /proc status: the kB fields, in
// bytes.
func (cc *childController) status(b *testing.B) map[string]int64 {
	b.Helper()
	st, err := statusBytes(fmt.Sprintf("/proc/%d/status", cc.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkArchive pushes N short jobs through a controller process with
// a 2 s retention window: a node without a daemon (this process reports
// the jobs' ends, as a node would) runs them, and they leave the live
// state for the archive. "at-once" has all N active together (placed,
// then all ended); "streamed" pushes them through a thousand at a time,
// each thousand ended once placed, as a busy cluster would. It reports
// the controller process's RSS and heap before, warm (after a first
// thousand jobs have gone through: a controller in service), with the
// jobs active and after they have left, bytes per active and per
// archived job, and sacct's history list over the archived jobs.
//
//	SHOAL_BENCH_ARCHIVE_JOBS=200000 go test -run '^$' -bench Archive -benchtime 1x ./bench/
//
// SHOAL_BENCH_ARCHIVE_PG=1 archives into a PostgreSQL server started for
// it; SHOAL_BENCH_ARCHIVE_PACE=130ms waits that long before it places each
// streamed thousand (about 6,000 jobs a second here: fewer ended jobs
// wait out the retention window together, as on a cluster whose nodes
// run them); SHOAL_BENCH_CONTROLLER_GOGC sets the controller's GOGC
// (the submitting process keeps its own), SHOAL_BENCH_CONTROLLER_GODEBUG
// its GODEBUG (gctrace=1); SHOAL_BENCH_DEBUG=DIR writes the controller's heap profile and
// /proc smaps at each measure into DIR, and its runtime's memory by kind
// on stderr.
func BenchmarkArchive(b *testing.B) {
	for _, mode := range []string{"at-once", "streamed"} {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				benchArchive(b, archiveJobs(b), mode)
			}
		})
	}
}

func benchArchive(b *testing.B, n int, mode string) {
	c := startChildController(b)
	ctx := context.Background()
	c.registerNode(b, "bench-node", api.Resources{CPUs: 1 << 20, MemoryMB: 1 << 40})
	// The controller gives memory back after a burst of expiries ends
	// (its retention loop ticks every 500 ms with a 2 s window), and its
	// scheduling loop lets its last pass's memory go after 3 s without
	// one; its start-up counts as a burst. "before" and "after" are both
	// the controller at rest.
	settle := func() { time.Sleep(4 * time.Second) }
	settle()
	before, beforeFree := c.mem(b, false), c.mem(b, true)
	zero := 0
	end := func(first, last uint64) {
		req := api.JobEventsRequest{}
		for k := first; k <= last; k++ {
			req.Events = append(req.Events, api.JobEvent{ID: k, Node: "bench-node", State: api.StateSucceeded, ExitCode: &zero})
		}
		if err := c.client.Call(ctx, api.PathNodeEvents, req, nil); err != nil {
			b.Fatalf("report ends of jobs %d-%d: %v", first, last, err)
		}
	}
	placed := func(id uint64) {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		if j, err := c.client.WaitJob(wctx, id, api.StateStarting); err != nil {
			b.Fatalf("job %d was not placed: %v (state %s)", id, err, j.State)
		}
	}
	gone := func() {
		start := time.Now()
		for c.anyInState(b, api.StateSucceeded) {
			if time.Since(start) > 10*time.Minute {
				b.Fatalf("finished jobs still live 10 min after they ended with a 2 s retention window")
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	var pace time.Duration
	if s := os.Getenv("SHOAL_BENCH_ARCHIVE_PACE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			b.Fatalf("SHOAL_BENCH_ARCHIVE_PACE=%q: give a duration to wait before each thousand is placed, such as 130ms", s)
		}
		pace = d
	}

	// Submit n jobs; at once: wait until every job is placed
	// (STARTING), then end them all; streamed: end each batch once it is
	// placed. mid, if set, is called half-way.
	exported, script := archiveAsSbatch(b)
	if len(exported) > 0 {
		size := 0
		for k, v := range exported {
			size += len(k) + len(v) + 1
		}
		figure(b, "archive %s: each job carries, as sbatch submits it, %d variables of its submitter's environment (%d bytes) and a batch script (%d bytes)", mode, len(exported), size, len(script))
	}
	push := func(n int, mode string, mid func()) {
		var last uint64
		for i := 0; i < n; i += queuedBatch {
			req := api.SubmitBatchRequest{}
			for k := range min(queuedBatch, n-i) {
				j := queuedJob(i+k, 0)
				j.Resources.MemoryMB = 1
				maps.Copy(j.Env, exported)
				j.Script = script
				req.Jobs = append(req.Jobs, j)
			}
			var resp api.SubmitBatchResponse
			if err := c.client.Call(ctx, api.PathSubmitBatch, req, &resp); err != nil {
				b.Fatalf("submit batch at job %d: %v", i, err)
			}
			last = resp.IDs[len(resp.IDs)-1]
			if mode == "streamed" {
				time.Sleep(pace)
				placed(last)
				end(resp.IDs[0], last)
				if i == n/2/queuedBatch*queuedBatch && mid != nil {
					mid()
				}
			}
		}
		if mode != "streamed" {
			placed(last)
			for c.anyInState(b, api.StateRunnable) {
				time.Sleep(50 * time.Millisecond)
			}
			if mid != nil {
				mid()
			}
			for id := last - uint64(n) + 1; id <= last; id += queuedBatch {
				end(id, min(id+queuedBatch-1, last))
			}
		}
	}

	// "before" is the controller as it starts; "warm" after a first
	// thousand jobs have gone through and left (what a controller in
	// service is: its code for jobs paged in, its archive and buffers
	// made). Growth beyond warm is what history costs.
	push(warmJobs, "streamed", nil)
	gone()
	time.Sleep(2 * time.Second)
	warm, warmFree := c.mem(b, false), c.mem(b, true)

	start := time.Now()
	var active childMem
	push(n, mode, func() { active = c.mem(b, false) })
	pushTime := time.Since(start)

	// They leave the live state 2 s after they ended (asked every 100 ms:
	// there is no blocking query for a job leaving).
	start = time.Now()
	gone()
	expireTime := time.Since(start)
	settle()
	after, afterFree := c.mem(b, false), c.mem(b, true)

	// SHOAL_BENCH_ARCHIVE_AGAIN=1 pushes a second burst of n through the
	// same controller: what it holds after it, against after the first,
	// is what more history costs.
	rounds := 1
	var again, againFree childMem
	if os.Getenv("SHOAL_BENCH_ARCHIVE_AGAIN") == "1" {
		rounds = 2
		push(n, mode, nil)
		gone()
		settle()
		again, againFree = c.mem(b, false), c.mem(b, true)
	}

	// sacct over the history: the real command (this binary as sacct, a
	// process of its own), every archived job, as root (-a) over a window
	// that holds them all; the controller's peak RSS while it answers.
	// Then filters that the archive's indexes answer.
	c.resetPeak(b)
	start = time.Now()
	rows, sacctPeak := runSacct(b, c.sock, "-a", "-X", "-n", "-P", "-o", "JobID,JobName,State,ExitCode", "-S", "2020-01-01T00:00:00")
	listTime := time.Since(start)
	listPeak := c.peak(b)
	if rows != rounds*n+warmJobs {
		b.Fatalf("sacct lists %d jobs, want all %d", rows, rounds*n+warmJobs)
	}
	start = time.Now()
	failed, err := c.client.ListJobs(ctx, api.ListJobsRequest{History: true, States: []api.JobState{api.StateFailed}})
	failedTime := time.Since(start)
	if err != nil || len(failed) != 0 {
		b.Fatalf("list failed history: %d jobs, %v; want none", len(failed), err)
	}
	start = time.Now()
	recent, err := c.client.ListJobs(ctx, api.ListJobsRequest{History: true, EndedAfter: time.Now().Add(-time.Minute).UnixMilli(), User: "nobody"})
	filterTime := time.Since(start)
	if err != nil || len(recent) != 0 {
		b.Fatalf("list history of user nobody: %d jobs, %v; want none", len(recent), err)
	}
	// sacct's page at the controller: its request (every field but the
	// heavy ones, in the row form) over the archive, 20,000 jobs, read
	// to the end and not decoded, median of five.
	var pageTimes []time.Duration
	var pageBytes int64
	for range 5 {
		d, n := rawList(b, c.sock, api.ListJobsRequest{History: true, EndedAfter: 1, Fields: slurm.SacctFields(), Limit: 20_000, Form: api.ListFormRows})
		pageTimes, pageBytes = append(pageTimes, d), n
	}
	slices.Sort(pageTimes)
	afterList := c.mem(b, false)
	var fileSize int64
	if info, err := os.Stat(filepath.Join(c.dir, "controller", "archive.db")); err == nil {
		fileSize = info.Size()
	}

	perActive := float64(active.rss-before.rss) / float64(n)
	b.ReportMetric(perActive, "B-rss/active-job")
	b.ReportMetric(float64(after.rss-before.rss)/float64(n), "B-rss/archived-job")
	b.ReportMetric(ms(listTime), "sacct-ms")
	b.ReportMetric(mb(uint64(listPeak)), "MB-peak-rss-sacct")
	b.ReportMetric(float64(afterFree.rss)/float64(beforeFree.rss), "rss-after/before")
	// Against warm once freed: as it is, warm still holds the first
	// thousand's garbage (too few jobs for the controller to give it back).
	b.ReportMetric(float64(after.rss)/float64(warmFree.rss), "rss-after/warm")
	figure(b, "archive %s jobs=%d: pushed through in %.1f s (%.0f jobs/s), all gone from the live state %.1f s later (window 2 s)",
		mode, n, pushTime.Seconds(), float64(n)/pushTime.Seconds(), expireTime.Seconds())
	for _, m := range []struct {
		name string
		m    childMem
	}{{"before", before}, {"before, freed", beforeFree}, {"warm", warm}, {"warm, freed", warmFree}, {"active", active}, {"archived", after}, {"archived, freed", afterFree}, {"after sacct list", afterList}} {
		figure(b, "archive-mem %s %s jobs=%d: RSS %.1f MB (anon %.1f), Go heap in use %.1f MB, Go runtime holds %.1f MB, of it free heap not returned %.1f MB (controller process)",
			mode, m.name, n, mb(uint64(m.m.rss)), mb(uint64(m.m.rssAnon)), mb(uint64(m.m.heap)), mb(uint64(m.m.goHeld)), mb(uint64(m.m.heapFree)))
	}
	figure(b, "archive %s per active job: %.0f bytes RSS, %.0f bytes Go heap", mode, perActive, float64(active.heap-before.heap)/float64(n))
	figure(b, "archive %s per archived job: %.1f bytes RSS (%.1f freed), %.1f bytes Go heap; %.0f bytes on disk (archive.db %.1f MB)",
		mode, float64(after.rss-before.rss)/float64(n), float64(afterFree.rss-beforeFree.rss)/float64(n),
		float64(after.heap-before.heap)/float64(n), float64(fileSize)/float64(n), mb(uint64(fileSize)))
	figure(b, "archive %s rss after/before jobs=%d: %.2f as it is, %.2f freed again (debug.FreeOSMemory; %.1f MB of free heap it did not return)", mode, n,
		float64(after.rss)/float64(before.rss), float64(afterFree.rss)/float64(beforeFree.rss), mb(uint64(afterFree.heapFree)))
	figure(b, "archive %s rss after/warm jobs=%d: %.2f as it is, %.2f freed again (warm: after the first %d jobs, freed)", mode, n,
		float64(after.rss)/float64(warmFree.rss), float64(afterFree.rss)/float64(warmFree.rss), warmJobs)
	if rounds == 2 {
		figure(b, "archive %s second burst jobs=%d: RSS %.1f MB (anon %.1f) after it, %.1f MB freed again; after/after the first %.2f as it is, %.2f freed",
			mode, n, mb(uint64(again.rss)), mb(uint64(again.rssAnon)), mb(uint64(againFree.rss)),
			float64(again.rss)/float64(after.rss), float64(againFree.rss)/float64(afterFree.rss))
	}
	figure(b, "archive %s sacct jobs=%d: %.0f ms for all %d rows (sacct -a -X -P, pages of 20,000); controller peak RSS %.1f MB while it answered (%.1f MB before), sacct's peak RSS %.1f MB",
		mode, n, ms(listTime), rows, mb(uint64(listPeak)), mb(uint64(afterFree.rss)), mb(uint64(sacctPeak)))
	figure(b, "archive %s history filters jobs=%d: state=FAILED (0 rows) %.1f ms; user=nobody %.1f ms", mode, n, ms(failedTime), ms(filterTime))
	figure(b, "archive %s sacct page at the controller jobs=%d: %.1f ms median (min %.1f ms) for 20,000 archived jobs with sacct's fields in rows (%.1f MB, read not decoded)",
		mode, n, ms(pageTimes[len(pageTimes)/2]), ms(pageTimes[0]), mb(uint64(pageBytes)))
}
