package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/daemon"
	"github.com/shoal-batch/shoal/node/sandbox"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		sandbox.Init() // libcontainer re-executes this test binary as the sandbox init
	}
	code := m.Run()
	printFigures()
	os.Exit(code)
}

// Figures are collected while the benchmarks run and printed at the end:
// printed in the middle of a benchmark they would split its result line.
// A benchmark the framework runs again (b.N grows) replaces its figures.
var figures struct {
	sync.Mutex
	lines []string
	index map[string]int // figure name -> its line
}

// figure records one "name: value unit" line, the name being what comes
// before the first colon.
func figure(b *testing.B, format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	name, _, _ := strings.Cut(line, ":")
	figures.Lock()
	defer figures.Unlock()
	if figures.index == nil {
		figures.index = map[string]int{}
	}
	if i, ok := figures.index[name]; ok {
		figures.lines[i] = line
		return
	}
	figures.index[name] = len(figures.lines)
	figures.lines = append(figures.lines, line)
}

func printFigures() {
	figures.Lock()
	defer figures.Unlock()
	if len(figures.lines) == 0 {
		return
	}
	fmt.Printf("\n== shoal bench figures (GOMAXPROCS=%d, %s/%s) ==\n", runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	for _, l := range figures.lines {
		fmt.Println(l)
	}
	fmt.Println()
}

// quietLog passes the daemons' warnings and errors to stderr and drops
// their info lines.
func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// controller is an in-process controller (one raft voter, raft-boltdb on
// disk in a temp dir) serving its API on a unix socket.
type controller struct {
	ctl    *daemon.Controller
	dir    string
	sock   string
	client *client.Client
}

// startController starts a controller in b's temp dir; it is closed when b
// ends.
func startController(b *testing.B) *controller {
	b.Helper()
	dir := b.TempDir()
	sock := filepath.Join(dir, "shoal.sock")
	// Scheduling as the agent ships: a burst of submits holds passes back.
	ctl, err := daemon.Start(daemon.Config{DataDir: filepath.Join(dir, "controller"), Socket: sock, Log: quietLog(),
		BurstDefer: daemon.DefaultBurstDefer})
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

// newClient is a client with its own connections, as a separate process's.
func (c *controller) newClient() *client.Client { return client.New(c.sock, "") }

// registerNode registers a node without a node daemon behind it (this test
// process is root or the controller's own uid, so it may).
func (c *controller) registerNode(b *testing.B, name string, capacity api.Resources) {
	b.Helper()
	err := c.client.Call(context.Background(), api.PathNodeRegister, api.RegisterNodeRequest{
		Name: name, Capacity: capacity, Boot: "bench-" + name,
	}, nil)
	if err != nil {
		b.Fatalf("register node %s: %v", name, err)
	}
}

// queueBlocker prepares the controller so that jobs stay queued: it
// registers one node of 1 CPU and 1 GiB with no daemon behind it, and
// submits a job that fills it and never finishes (it is placed and sits
// STARTING). Jobs that depend on the returned id stay PENDING; jobs that
// ask for the node's CPU stay RUNNABLE.
func (c *controller) queueBlocker(b *testing.B) uint64 {
	b.Helper()
	c.registerNode(b, "bench-node", api.Resources{CPUs: 1, MemoryMB: 1024})
	ctx := context.Background()
	resp, err := c.client.Submit(ctx, api.SubmitJobRequest{
		JobSpec: api.JobSpec{
			Name: "blocker", Command: []string{"sleep", "infinity"},
			Resources: api.Resources{CPUs: 1, MemoryMB: 1024},
		},
	})
	if err != nil {
		b.Fatalf("submit blocker: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if j, err := c.client.WaitJob(wctx, resp.ID, api.StateStarting); err != nil {
		b.Fatalf("blocker job %d was not placed: %v (state %s)", resp.ID, err, j.State)
	}
	return resp.ID
}

// queuedJob is a small job as sbatch would send it, waiting on dep if set.
func queuedJob(i int, dep uint64) api.SubmitJobRequest {
	r := api.SubmitJobRequest{
		JobSpec: api.JobSpec{
			Name:    "bench-" + strconv.Itoa(i),
			Command: []string{"/bin/sh", "-c", "echo hello from a shoal benchmark job"},
			Dir:     "/tmp", Env: map[string]string{"BENCH_INDEX": strconv.Itoa(i)},
		},
	}
	if dep != 0 {
		r.DependsOn = []api.Dependency{{JobID: dep}}
	}
	return r
}

// stateIndex is the raft index the controller's state reflects (every
// commit, group-committed or not, takes one index).
func (c *controller) stateIndex(b *testing.B) uint64 {
	b.Helper()
	var resp api.NodeWorkResponse
	err := c.client.Call(context.Background(), api.PathNodeWork, api.NodeWorkRequest{Name: "bench-node", Boot: "bench-bench-node"}, &resp)
	if err != nil {
		b.Fatalf("read state index: %v", err)
	}
	return resp.Index
}

// countInState counts jobs in st.
func (c *controller) countInState(b *testing.B, st api.JobState) int {
	b.Helper()
	jobs, err := c.client.ListJobs(context.Background(), api.ListJobsRequest{States: []api.JobState{st}})
	if err != nil {
		b.Fatalf("list %s jobs: %v", st, err)
	}
	return len(jobs)
}

// anyInState tells whether a job is in st, with a list of at most one
// job: a benchmark that polls for the last job to leave a state must not
// have the controller encode every job in it each time (a list of 100,000
// jobs is a 24 MB answer, which the measure would count).
func (c *controller) anyInState(b *testing.B, st api.JobState) bool {
	b.Helper()
	jobs, err := c.client.ListJobs(context.Background(), api.ListJobsRequest{States: []api.JobState{st}, Limit: 1})
	if err != nil {
		b.Fatalf("list %s jobs: %v", st, err)
	}
	return len(jobs) > 0
}

// percentile of sorted ds (linear interpolation between closest ranks).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, k int) bool { return s[i] < s[k] })
	x := p * float64(len(s)-1)
	lo := int(math.Floor(x))
	hi := min(lo+1, len(s)-1)
	return s[lo] + time.Duration((x-float64(lo))*float64(s[hi]-s[lo]))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// procStatus returns fields of /proc/self/status in kB (VmRSS, RssAnon, ...).
func procStatus(b *testing.B) map[string]int64 {
	b.Helper()
	st, err := statusBytes("/proc/self/status")
	if err != nil {
		b.Fatalf("read process status: %v", err)
	}
	for k, v := range st {
		st[k] = v >> 10
	}
	return st
}

// statusBytes reads the kB fields of a /proc status file (VmRSS, RssAnon,
// ...), in bytes.
func statusBytes(path string) (map[string]int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		fields := strings.Fields(v)
		if !ok || len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		if n, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
			out[k] = n << 10
		}
	}
	return out, nil
}

func mb(bytes uint64) float64 { return float64(bytes) / (1 << 20) }
