package node

import (
	"context"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/api/reply"
	"github.com/shoal-batch/shoal/daemon"
	"github.com/shoal-batch/shoal/internal/clock"
	"github.com/shoal-batch/shoal/internal/testwait"
	"github.com/shoal-batch/shoal/node/sandbox"
)

// funcExecutor is an Executor whose jobs are fakeProcs: nothing runs, the
// test decides how each job ends. Function fields, as STYLE.md's fakes.
type funcExecutor struct {
	start     func(sandbox.Spec) (Process, error)
	recoverFn func() (map[string]Process, error)
}

var _ Executor = (*funcExecutor)(nil)

func (e *funcExecutor) Start(spec sandbox.Spec) (Process, error) { return e.start(spec) }

func (e *funcExecutor) Recover() (map[string]Process, error) {
	if e.recoverFn == nil {
		return nil, nil
	}
	return e.recoverFn()
}

// fakeProc is a job that runs until end is called (or Stop, which ends
// it as SIGTERM would). It records the signals it was sent.
type fakeProc struct {
	spec    sandbox.Spec
	done    chan sandbox.Result
	mu      sync.Mutex
	ended   bool
	stopped chan struct{} // closed by the first Stop
	signals []syscall.Signal
	signal  chan syscall.Signal // each signal, as it comes
	forgot  chan struct{}
}

var _ Process = (*fakeProc)(nil)

func newFakeProc(spec sandbox.Spec) *fakeProc {
	return &fakeProc{spec: spec, done: make(chan sandbox.Result, 1), stopped: make(chan struct{}),
		signal: make(chan syscall.Signal, 16), forgot: make(chan struct{})}
}

// end makes Wait return res (once).
func (p *fakeProc) end(res sandbox.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.ended {
		p.ended = true
		p.done <- res
	}
}

func (p *fakeProc) Wait() (sandbox.Result, error) { return <-p.done, nil }

func (p *fakeProc) Stop(time.Duration) error {
	p.mu.Lock()
	select {
	case <-p.stopped:
	default:
		close(p.stopped)
	}
	p.mu.Unlock()
	p.end(sandbox.Result{ExitCode: 128 + int(syscall.SIGTERM), Signal: int(syscall.SIGTERM)})
	return nil
}

func (p *fakeProc) Signal(sig syscall.Signal, _ sandbox.Scope) error {
	p.mu.Lock()
	p.signals = append(p.signals, sig)
	p.mu.Unlock()
	p.signal <- sig
	return nil
}

func (p *fakeProc) Forget() error { close(p.forgot); return nil }

func (p *fakeProc) wasStopped() bool {
	select {
	case <-p.stopped:
		return true
	default:
		return false
	}
}

// fakeNode is a node daemon with a fake executor and a fake clock, in
// front of a real controller over an in-memory raft (with a fake clock
// of its own). Its calls go through a proxy that can refuse job reports.
// Nothing here needs root: the jobs are the test user's own.
type fakeNode struct {
	t      *testing.T
	ctl    *daemon.Controller
	ctlClk *clock.Fake // the controller's: heartbeat deadlines
	clk    *clock.Fake // the node daemon's: limits, heartbeats, retries
	agent  *Agent
	client *client.Client // the controller, as the test user
	procs  chan *fakeProc
	// failReports is how many job reports the proxy still refuses;
	// refused carries one value per refusal.
	mu          sync.Mutex
	failReports int
	refused     chan struct{}
	// beats carries one value per heartbeat the controller answered.
	beats chan struct{}
	// fetching carries one value per image fetch, which the proxy holds
	// until the node daemon gives it up.
	fetching chan struct{}
}

// fakeMaxLog and fakeLogRetention are the fake node's MaxLogBytes and
// LogRetention.
const (
	fakeMaxLog       = 3 << 20
	fakeLogRetention = 48 * time.Hour
)

func startFakeNode(t *testing.T, ttl time.Duration) *fakeNode {
	t.Helper()
	dir := t.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	fn := &fakeNode{t: t, ctlClk: clock.NewFake(time.UnixMilli(1_700_000_000_000)), clk: clock.NewFake(time.UnixMilli(1_700_000_000_000)),
		procs: make(chan *fakeProc, 16), refused: make(chan struct{}, 16), beats: make(chan struct{}, 64),
		fetching: make(chan struct{}, 16)}
	sock := filepath.Join(dir, "shoal.sock")
	ctl, err := daemon.Start(daemon.Config{DataDir: filepath.Join(dir, "controller"), Socket: sock, Log: quiet,
		InMemory: true, Clock: fn.ctlClk, NodeTTL: ttl})
	if err != nil {
		t.Fatalf("start controller: %v", err)
	}
	t.Cleanup(func() { ctl.Close() })
	fn.ctl = ctl
	// The proxy connects to the socket as this process: the controller's
	// own uid, which may act as a node daemon.
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: "unix"})
	proxy.ErrorLog = log.New(io.Discard, "", 0) // calls the test's end cuts short
	proxy.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == api.PathImageFetch {
			io.Copy(io.Discard, r.Body) // then the server sees the client go
			fn.fetching <- struct{}{}
			<-r.Context().Done()
			return
		}
		if r.URL.Path == api.PathNodeEvents {
			fn.mu.Lock()
			refuse := fn.failReports > 0
			if refuse {
				fn.failReports--
			}
			fn.mu.Unlock()
			if refuse {
				reply.Error(w, api.Errorf(api.CodeUnavailable, "refused by the test"))
				fn.refused <- struct{}{}
				return
			}
		}
		proxy.ServeHTTP(w, r)
		if r.URL.Path == api.PathNodeBeat {
			select {
			case fn.beats <- struct{}{}:
			default:
			}
		}
	}))
	t.Cleanup(srv.Close)
	exec := &funcExecutor{start: func(spec sandbox.Spec) (Process, error) {
		p := newFakeProc(spec)
		fn.procs <- p
		return p, nil
	}}
	agent, err := StartAgent(Config{
		Name: "fake1", Client: client.New(srv.URL, ctl.JoinToken()), DataDir: filepath.Join(dir, "node"),
		Executor: exec, Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}, LogAddr: filepath.Join(dir, "node.sock"),
		Grace: time.Second, Log: quiet, Clock: fn.clk, MaxLogBytes: fakeMaxLog,
		LogRetention: fakeLogRetention,
	})
	if err != nil {
		t.Fatalf("start node daemon: %v", err)
	}
	fn.agent = agent
	t.Cleanup(func() { agent.Close() })
	fn.client = client.New(sock, "")
	return fn
}

func (fn *fakeNode) refuseReports(n int) {
	fn.mu.Lock()
	fn.failReports = n
	fn.mu.Unlock()
}

func (fn *fakeNode) submit(spec api.JobSpec) uint64 {
	fn.t.Helper()
	if spec.Command == nil {
		spec.Command = []string{"true"}
	}
	spec.Dir, spec.Resources = "/", api.Resources{CPUs: 1, MemoryMB: 64}
	resp, err := fn.client.Submit(context.Background(), api.SubmitJobRequest{JobSpec: spec})
	if err != nil {
		fn.t.Fatalf("submit: %v", err)
	}
	return resp.ID
}

// started returns the next job the executor was asked to start.
func (fn *fakeNode) started() *fakeProc {
	fn.t.Helper()
	select {
	case p := <-fn.procs:
		return p
	case <-time.After(10 * time.Second):
		fn.t.Fatal("no job started within 10 s")
		return nil
	}
}

func (fn *fakeNode) wait(id uint64, states ...api.JobState) api.Job {
	fn.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	j, err := fn.client.WaitJob(ctx, id, states...)
	if err != nil {
		fn.t.Fatalf("wait for job %d to reach %v: %v (it is %s: %s)", id, states, err, j.State, j.StatusReason)
	}
	return j
}

// TestAgentReportRetries: the controller refuses the node's reports
// twice; the node retries after 100 ms, then 200 ms of its clock, and
// the job's RUNNING and its end arrive, in order, exactly once.
func TestAgentReportRetries(t *testing.T) {
	fn := startFakeNode(t, 0)
	fn.refuseReports(2)
	id := fn.submit(api.JobSpec{Name: "retried"})
	p := fn.started()
	<-fn.refused
	fn.clk.WaitArmed(100 * time.Millisecond)
	if j, _ := fn.client.Job(context.Background(), id); j.State != api.StateStarting {
		t.Fatalf("with its report refused the job is %s, want %s", j.State, api.StateStarting)
	}
	fn.clk.Advance(100 * time.Millisecond)
	<-fn.refused
	fn.clk.WaitArmed(200 * time.Millisecond)
	fn.clk.Advance(200 * time.Millisecond)
	fn.wait(id, api.StateRunning)
	p.end(sandbox.Result{ExitCode: 3})
	j := fn.wait(id, api.StateFailed)
	if j.ExitCode == nil || *j.ExitCode != 3 || j.Cause != api.CauseExitCode {
		t.Fatalf("job ended with exit code %v cause %s, want 3 and %s", j.ExitCode, j.Cause, api.CauseExitCode)
	}
	select {
	case <-p.forgot: // the end was acknowledged: its record is dropped
	case <-time.After(10 * time.Second):
		t.Fatal("the node kept the record of a job whose end the controller acknowledged")
	}
}

// TestAgentTimeLimit: the warning signal comes LimitWarnSeconds before the
// limit and the job is stopped at the limit, both by the node's clock;
// the controller reports it as timed out.
func TestAgentTimeLimit(t *testing.T) {
	fn := startFakeNode(t, 0)
	id := fn.submit(api.JobSpec{Name: "limited", TimeLimit: 60, LimitWarnSignal: int(syscall.SIGUSR1), LimitWarnSeconds: 10})
	p := fn.started()
	fn.wait(id, api.StateRunning)
	fn.clk.WaitArmed(60 * time.Second)
	fn.clk.Advance(49 * time.Second)
	select {
	case sig := <-p.signal:
		t.Fatalf("signal %d 11 s before the limit, want the warning at 10 s", sig)
	default:
	}
	fn.clk.Advance(time.Second)
	if sig := <-p.signal; sig != syscall.SIGUSR1 {
		t.Fatalf("warning signal: got %d, want SIGUSR1 (%d)", sig, syscall.SIGUSR1)
	}
	if p.wasStopped() {
		t.Fatal("the job was stopped at its warning, want it to run to its limit")
	}
	fn.clk.Advance(10 * time.Second)
	j := fn.wait(id, api.StateFailed)
	if !p.wasStopped() || j.Cause != api.CauseTimeout {
		t.Fatalf("after the limit: stopped %v, cause %s; want stopped, cause %s", p.wasStopped(), j.Cause, api.CauseTimeout)
	}
}

// TestAgentStopsWhatTheControllerGaveUp: once the controller sets the
// node DOWN (its clock passed the TTL) and requeues the job, the node's
// next work list no longer has it, and the node stops its copy: a job
// never runs twice.
func TestAgentStopsWhatTheControllerGaveUp(t *testing.T) {
	const ttl = 30 * time.Second
	fn := startFakeNode(t, ttl)
	id := fn.submit(api.JobSpec{Name: "given-up"})
	p := fn.started()
	fn.wait(id, api.StateRunning)
	// The node's first heartbeat (sent when it starts; its clock does
	// not move here, so there is no other) has armed its deadline.
	<-fn.beats
	fn.ctlClk.WaitArmed(ttl)
	fn.ctlClk.Advance(ttl)
	select {
	case <-p.stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the node did not stop the job the controller gave up")
	}
	if j := fn.wait(id, api.StateRunnable, api.StateStarting, api.StateRunning); j.Attempt == 0 && j.State == api.StateRunning && j.Node == "fake1" {
		t.Logf("job %d after requeue: %s on %q", id, j.State, j.Node)
	}
}

// TestAgentCloseLeavesRunningJobs: a node daemon that shuts down leaves
// its running jobs running (their supervisors outlive it; the next daemon
// recovers them) and reports nothing about them.
// TestAgentBoundsItsLogs: a job's stdout and stderr that go to the node's
// log dir (it gave no file; 0700, out of users' reach) are the node's
// files, bounded at MaxLogBytes; a file the job named is its own affair,
// even one it names in the node's log dir: the node neither removes nor
// makes it (the sandbox opens it as the user, who cannot reach it).
func TestAgentBoundsItsLogs(t *testing.T) {
	fn := startFakeNode(t, 0)
	logs := filepath.Join(fn.agent.cfg.DataDir, "logs")
	if st, err := os.Stat(logs); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("the node's log dir: %v %v, want mode 0700", st.Mode(), err)
	}
	theirs := filepath.Join(logs, "99.out")
	if err := os.WriteFile(theirs, []byte("another job's output\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stdout         string
		node           bool
		wantOut, wantE int64
	}{{"", true, fakeMaxLog, fakeMaxLog}, {"/dev/null", false, 0, fakeMaxLog}, {theirs, false, 0, fakeMaxLog}} {
		id := fn.submit(api.JobSpec{Name: "logs", Stdout: tc.stdout})
		p := fn.started()
		if p.spec.StdoutLimit != tc.wantOut || p.spec.StderrLimit != tc.wantE || p.spec.NodeStdout != tc.node || !p.spec.NodeStderr {
			t.Errorf("stdout %q: node's %v %v, limits %d and %d; want %v true, %d and %d", tc.stdout,
				p.spec.NodeStdout, p.spec.NodeStderr, p.spec.StdoutLimit, p.spec.StderrLimit, tc.node, tc.wantOut, tc.wantE)
		}
		p.end(sandbox.Result{})
		fn.wait(id, api.StateSucceeded)
	}
	if b, err := os.ReadFile(theirs); err != nil || string(b) != "another job's output\n" {
		t.Errorf("a job that named another's log in the node's log dir changed it: %q, %v", b, err)
	}
}

// TestAgentSweepsOldLogs: once an hour the node removes the logs in its
// log dir not written for LogRetention, but not those of a job it runs
// (however quiet) nor anything else there.
func TestAgentSweepsOldLogs(t *testing.T) {
	fn := startFakeNode(t, 0)
	id := fn.submit(api.JobSpec{Name: "quiet"})
	p := fn.started()
	fn.wait(id, api.StateRunning)
	logs := filepath.Dir(p.spec.Stdout)
	old := fn.clk.Now().Add(-fakeLogRetention - time.Hour)
	files := map[string]bool{ // kept?
		p.spec.Stdout: true, p.spec.Stderr: true, // its job runs
		filepath.Join(logs, "7.out"): false, filepath.Join(logs, "7.err"): false,
		filepath.Join(logs, "8.out"):     true, // written within the retention
		filepath.Join(logs, "notes.txt"): true, // not a job's log
	}
	for f := range files {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		mtime := old
		if strings.HasSuffix(f, "8.out") {
			mtime = fn.clk.Now().Add(-time.Hour)
		}
		if err := os.Chtimes(f, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	fn.clk.WaitArmed(logSweepEvery)
	fn.clk.Advance(logSweepEvery)
	// Removed in name order: 7.out is the last to go.
	if err := testwait.File(filepath.Join(logs, "7.out"), 10*time.Second, func(c string) bool { return c == "" }); err != nil {
		t.Error(err)
	}
	for f, kept := range files {
		if _, err := os.Stat(f); (err == nil) != kept {
			t.Errorf("%s: kept %v, want %v", filepath.Base(f), err == nil, kept)
		}
	}
	p.end(sandbox.Result{})
}

func TestAgentCloseLeavesRunningJobs(t *testing.T) {
	fn := startFakeNode(t, 0)
	id := fn.submit(api.JobSpec{Name: "outlives"})
	p := fn.started()
	fn.wait(id, api.StateRunning)
	if err := fn.agent.Close(); err != nil {
		t.Fatalf("close the node daemon: %v", err)
	}
	if p.wasStopped() {
		t.Fatal("closing the node daemon stopped its running job, want it left running")
	}
	if j, _ := fn.client.Job(context.Background(), id); j.State != api.StateRunning {
		t.Fatalf("after the node daemon closed the job is %s, want still %s", j.State, api.StateRunning)
	}
	p.end(sandbox.Result{})
}

// TestAgentCloseHandsBackUnstartedJobs: a job still waiting for its image
// when the node daemon shuts down is given back to the queue (RUNNABLE,
// its attempt not counted), not failed: it never ran.
func TestAgentCloseHandsBackUnstartedJobs(t *testing.T) {
	fn := startFakeNode(t, 0)
	id := fn.submit(api.JobSpec{Name: "waits-for-image", Image: "busybox:latest"})
	<-fn.fetching
	// Drained, the node is not given the job again once it is back.
	if err := fn.client.UpdateNode(context.Background(), api.UpdateNodeRequest{Name: "fake1", State: api.NodeDrain, Reason: "test"}); err != nil {
		t.Fatalf("drain the node: %v", err)
	}
	if err := fn.agent.Close(); err != nil {
		t.Fatalf("close the node daemon: %v", err)
	}
	j := fn.wait(id, api.StateRunnable)
	if j.StartedAt != 0 || len(j.Attempts) != 0 {
		t.Fatalf("handed back: startedAt %d, %d attempts recorded; want 0 and none (it never ran)", j.StartedAt, len(j.Attempts))
	}
	select {
	case p := <-fn.procs:
		t.Fatalf("the executor started job %v, want nothing started", p.spec)
	default:
	}
}
