package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/internal/clock"
	"github.com/shoal-batch/shoal/node/gpu"
	"github.com/shoal-batch/shoal/node/sandbox"
)

// Config describes one node daemon.
type Config struct {
	Name     string
	Client   *client.Client // the controller
	DataDir  string         // job logs live under DataDir/logs
	Executor Executor       // runs the jobs
	Capacity api.Resources  // zero: discover the host's (GPUs through NVML)
	// GPUs are the GPUs the node hands to jobs (Discover's); Capacity.GPUs
	// may not exceed their number.
	GPUs []gpu.GPU
	// DevDir is where the GPUs' device nodes are; "" is /dev.
	DevDir string
	// Driver are the NVIDIA driver's files that image jobs given GPUs get
	// (gpu.FindDriver's); nil on a node with GPUs: the host's.
	Driver []gpu.DriverFile
	// GPULib reads GPU jobs' GPUs while they run (gpu.NVML{}); nil: no
	// sampling.
	GPULib  gpu.Library
	Labels  map[string]string
	LogAddr string        // where this daemon serves logs: a unix socket path, or host:port (TLS)
	Grace   time.Duration // SIGTERM → SIGKILL delay on terminate
	// JobTmpBytes sizes a job's private /tmp (a tmpfs charged to the
	// job's memory) when the job asks for no size (api.JobSpec.TmpMB);
	// 0: the job's memory limit.
	JobTmpBytes int64
	// JobPidsMax bounds the processes and threads of each job; 0: none.
	JobPidsMax int64
	// MaxLogBytes bounds each of a job's stdout and stderr kept in the
	// node's log dir (DataDir/logs, for jobs given no output file), which
	// a job must not be able to fill: past it the output is dropped with a
	// line saying so (sandbox.Spec.StdoutLimit); 0: no bound.
	MaxLogBytes int64
	// LogRetention is how long logs in the node's log dir are kept after
	// their last write, once their job has ended; 0: for ever.
	LogRetention time.Duration
	// ImageCacheBytes bounds the unpacked size of the images the node
	// keeps (DataDir/images): past it the least recently used ones that
	// no job uses are removed; 0: no bound. See images.go.
	ImageCacheBytes int64
	// MaxImageBytes bounds one image's unpacked size (and ImageCacheBytes
	// does too): a job of a larger image fails to start; 0: no bound.
	MaxImageBytes int64
	Log           *slog.Logger

	// LogInsecureHTTP serves a TCP LogAddr as plain HTTP, not TLS: the
	// controller then presents the boot's log token in clear.
	LogInsecureHTTP bool
	// Clock times jobs' limits, heartbeats and report retries; nil is
	// the wall clock (tests give a clock.Fake).
	Clock clock.Clock
}

// Agent is a running node daemon.
type Agent struct {
	cfg       Config
	log       *slog.Logger
	clock     clock.Clock
	logDir    string
	scriptDir string // canonical (placeScripts)
	boot      string
	gpus      *gpu.Allocator // which job holds which of cfg.GPUs
	// imageCache holds the images fetched for jobs (images()).
	imagesOnce sync.Once
	imageCache *imageCache

	// bindScripts: scriptDir is under the host's /tmp, which jobs do not
	// see (theirs is private): each script is bound into its job.
	bindScripts bool

	mu    sync.Mutex
	tasks map[uint64]*task // jobs this daemon runs (started or recovered) and has not yet reported finished
	// registeredAs is what the last registration told the controller.
	registeredAs string
	// leaving: the daemon is shutting down; jobs not started go back to
	// the controller, running ones run on for the next daemon.
	leaving bool
	// unreported are ended jobs whose end report the controller has not
	// yet acknowledged: their records are kept (Process.Forget) till then.
	unreported map[uint64]Process
	// ended are the attempts this daemon has finished (job id to
	// attempt) while a work list still gives them: a list answered from
	// a state that predates the end's report (a lagging controller after
	// a failover, or one computed just before the report applied) must
	// not start them again. Dropped once a list no longer gives them.
	ended map[uint64]int
	// events carries job reports to the reporter; sendMu guards its close.
	events       chan api.JobEvent
	sendMu       sync.RWMutex
	eventsClosed bool
	logSrv       *logServer
	// credClient presents the node's credential (credential.go); nil
	// until the node has one: cfg.Client, with the join token, serves.
	credClient atomic.Pointer[client.Client]
	regMu      sync.Mutex // one registration at a time
	// workIndex is the index of the last work list followed.
	workIndex uint64
	cancel    context.CancelFunc
	stopped   chan struct{}
	// reportCtx ends retries of event reports, a while after Close.
	reportCtx    context.Context
	reportCancel context.CancelFunc
	// beatEvery is the heartbeat interval the controller asked for (ms);
	// kick sends a heartbeat at once (a job the controller gave up on has
	// been stopped: the node may be UP again).
	beatEvery atomic.Int64
	kick      chan struct{}
}

// task is one job in this daemon's hands.
type task struct {
	id       uint64
	attempt  int           // the job's attempt this task runs
	index    uint64        // the index of the work list that gave it
	orphan   bool          // the controller gave it up: stopped, its end ignored
	proc     Process       // nil until started
	stopping bool          // a stop was requested
	started  chan struct{} // closed once proc is set (or start failed)
	// ctx ends when a stop is requested: what the start waits on (an
	// image fetch) gives up, and a stopped job is never started.
	ctx    context.Context
	cancel context.CancelFunc
	// Signals: lastSeq is the highest Seq handed to delivery; pending
	// waits for the one delivering goroutine (delivering), in order.
	lastSeq    uint64
	pending    []api.JobSignal
	delivering bool
	// The time limit (seconds, 0 for none) as last seen, and, once the
	// job runs, when it started and the timers that enforce the limit.
	timeLimit  int64
	runningAt  time.Time
	kill, warn clock.Timer
	timedOut   atomic.Bool

	// grace is the stop's SIGTERM -> SIGKILL delay when the controller
	// gave one (a preempting queue's GraceTime); 0: the node's.
	grace time.Duration
}

// StartAgent registers the node and starts following its assignments.
func StartAgent(cfg Config) (*Agent, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Grace == 0 {
		cfg.Grace = 10 * time.Second
	}
	if cfg.Name == "" {
		host, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("node name: %w", err)
		}
		cfg.Name = host
	}
	if cfg.Capacity == (api.Resources{}) {
		res, gpus, err := Discover(gpu.NVML{}, cfg.Log)
		if err != nil {
			return nil, err
		}
		cfg.Capacity, cfg.GPUs, cfg.GPULib = res, gpus, gpu.NVML{}
	}
	if cfg.Driver == nil && len(cfg.GPUs) > 0 {
		cfg.Driver = gpu.FindDriver(gpu.DriverBinDirs, cfg.Log)
	}
	if cfg.Capacity.GPUs > len(cfg.GPUs) {
		return nil, fmt.Errorf("node capacity offers %d GPUs but the node has %d it can give to jobs: offer at most %d",
			cfg.Capacity.GPUs, len(cfg.GPUs), len(cfg.GPUs))
	}
	a := &Agent{
		cfg: cfg, log: cfg.Log.With("node", cfg.Name), clock: clock.Or(cfg.Clock), logDir: filepath.Join(cfg.DataDir, "logs"),
		scriptDir: filepath.Join(cfg.DataDir, "scripts"),
		tasks:     map[uint64]*task{}, events: make(chan api.JobEvent, 4096),
		unreported: map[uint64]Process{}, ended: map[uint64]int{}, kick: make(chan struct{}, 1),
		gpus:    gpu.NewAllocator(cfg.GPUs),
		stopped: make(chan struct{}),
	}
	// The spool, as Slurm's SlurmdSpoolDir: jobs reach their own batch
	// scripts (0500, owned by the job's user) by name, as that user, and
	// nobody but root may list these dirs. The default logs are out of
	// users' reach (0700): written through the job's supervisor, bounded,
	// and read through the node (shoal logs).
	for _, dir := range []struct {
		path string
		mode os.FileMode
	}{{cfg.DataDir, 0o711}, {a.logDir, 0o700}, {a.scriptDir, 0o711}} {
		if err := os.MkdirAll(dir.path, dir.mode); err != nil {
			return nil, fmt.Errorf("create node dir: %w", err)
		}
		if err := os.Chmod(dir.path, dir.mode); err != nil {
			return nil, fmt.Errorf("node dir: %w", err)
		}
	}
	if err := a.placeScripts(); err != nil {
		return nil, err
	}
	boot, err := loadBoot(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a.boot = boot
	if err := a.loadCredential(); err != nil { // credential.go
		return nil, err
	}
	// Jobs an earlier daemon of this boot left running (or ended without
	// reporting) are taken over once the controller has said which are
	// still this node's (adopt).
	recovered, err := cfg.Executor.Recover()
	if err != nil {
		// What could be recovered was; the rest is gone.
		a.log.Warn("recover the jobs of an earlier node daemon", "err", err)
	}
	srv, err := startLogServer(cfg.LogAddr, cfg.LogInsecureHTTP, a)
	if err != nil {
		return nil, err
	}
	a.logSrv = srv
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.reportCtx, a.reportCancel = context.WithCancel(context.Background())
	if err := a.register(ctx); err != nil {
		cancel()
		srv.close()
		return nil, err
	}
	reporterDone := make(chan struct{})
	go func() { defer close(reporterDone); a.report() }()
	if err := a.adopt(ctx, recovered); err != nil {
		// The recovered jobs run on, for the next start to take over.
		cancel()
		a.reportCancel()
		a.closeEvents()
		<-reporterDone
		srv.close()
		return nil, err
	}
	go func() {
		a.follow(ctx)
		a.leave()
		a.closeEvents()
		<-reporterDone
		close(a.stopped)
	}()
	go a.heartbeat(ctx)
	go a.sweepLogs(ctx)
	return a, nil
}

func newBootID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Name is the node's name.
func (a *Agent) Name() string { return a.cfg.Name }

// Close stops the daemon. Jobs it has placed but not started go back to
// the controller (RUNNABLE); running jobs run on under their supervisors,
// for the next daemon to recover (see adopt); ends already seen are
// reported, or left recorded for the next daemon.
func (a *Agent) Close() error {
	a.cancel()
	giveUp := a.clock.AfterFunc(30*time.Second, a.reportCancel)
	<-a.stopped
	giveUp.Stop()
	a.reportCancel()
	// A stop or signal still under way (a goroutine of its own) thaws
	// its job before the daemon may exit.
	if q, ok := a.cfg.Executor.(interface{ Quiesce() }); ok {
		q.Quiesce()
	}
	return a.logSrv.close()
}

func (a *Agent) register(ctx context.Context) error {
	var resp api.RegisterNodeResponse
	a.regMu.Lock() // one registration at a time: one credential
	err := a.registerCall(ctx, api.RegisterNodeRequest{
		Name: a.cfg.Name, Capacity: a.cfg.Capacity, Boot: a.boot, LogAddr: a.logSrv.addr, Labels: a.cfg.Labels,
		LogCertHash: a.logSrv.certHash, LogToken: a.logSrv.token, Load: loadAverage(),
	}, &resp)
	a.regMu.Unlock()
	if err != nil {
		return fmt.Errorf("register node %s: %w", a.cfg.Name, err)
	}
	if resp.HeartbeatMillis > 0 {
		a.beatEvery.Store(resp.HeartbeatMillis)
	}
	// INFO for the first registration and for one that changed what the
	// controller knows of the node; a registration again after the
	// controller lost the node (a new leader, a restart) is DEBUG.
	what := fmt.Sprint(a.cfg.Capacity, a.cfg.Labels, a.logSrv.addr, resp.HeartbeatMillis)
	level := slog.LevelDebug
	a.mu.Lock()
	if what != a.registeredAs {
		a.registeredAs, level = what, slog.LevelInfo
	}
	a.mu.Unlock()
	a.log.Log(ctx, level, "registered", "cpus", a.cfg.Capacity.CPUs, "memoryMiB", a.cfg.Capacity.MemoryMB, "gpus", a.cfg.Capacity.GPUs)
	return nil
}

// follow holds a blocking query open on the controller and acts on every
// answer: start what is newly placed here, stop what is to be stopped.
func (a *Agent) follow(ctx context.Context) {
	var (
		index  uint64
		digest string
	)
	backoff := newBackoff(a.clock)
	for ctx.Err() == nil {
		var resp api.NodeWorkResponse
		err := a.client().Call(ctx, api.PathNodeWork, api.NodeWorkRequest{
			Name: a.cfg.Name, Boot: a.boot, AfterIndex: index, AfterDigest: digest, WaitMillis: 30_000,
		}, &resp)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			a.log.Warn("wait for work", "err", err)
			if api.IsCode(err, api.CodeConflict) || api.IsCode(err, api.CodeNotFound) || api.IsCode(err, api.CodeUnauthenticated) {
				if err := a.register(ctx); err != nil {
					a.log.Warn("register again", "err", err)
				}
				// Perhaps another controller's state (a new cluster):
				// its indexes are not comparable with the last answer's.
				index, digest = 0, ""
			}
			backoff.wait(ctx)
			continue
		}
		if resp.Index < index { // an answer older than the last (a lagging controller): ask again
			backoff.wait(ctx)
			continue
		}
		backoff.reset()
		index, digest = resp.Index, resp.Digest
		a.mu.Lock()
		a.workIndex = resp.Index
		a.mu.Unlock()
		for i := range resp.Jobs {
			a.reconcile(&resp.Jobs[i])
		}
		a.stopUnassigned(&resp)
	}
}

// stopUnassigned stops every task that the work list, the controller's
// truth, no longer gives this node (at the task's attempt): the controller
// gave it up while the node did not answer, and ended or requeued it. A
// job never runs twice: the node kills its copy, and its late report is
// ignored (the attempt is not the job's any more).
func (a *Agent) stopUnassigned(resp *api.NodeWorkResponse) {
	listed := make(map[uint64]int, len(resp.Jobs))
	for i := range resp.Jobs {
		listed[resp.Jobs[i].ID] = resp.Jobs[i].Attempt
	}
	a.mu.Lock()
	for id, attempt := range a.ended {
		if given, ok := listed[id]; !ok || given != attempt {
			delete(a.ended, id)
		}
	}
	var stop []*task
	for id, t := range a.tasks {
		if attempt, ok := listed[id]; t.index > resp.Index || (ok && (t.attempt == 0 || attempt == t.attempt)) {
			continue // given by a newer list, or still this node's
		}
		if a.giveUp(t) {
			stop = append(stop, t)
		}
	}
	a.mu.Unlock()
	for _, t := range stop {
		a.log.Warn("stopping a job the controller no longer assigns to this node", "job", t.id, "attempt", t.attempt)
		go a.stop(t)
	}
}

// giveUp marks a task the controller gave up on and reports whether it
// still has to be stopped. Called with a.mu held.
func (a *Agent) giveUp(t *task) bool {
	if t.orphan {
		return false
	}
	t.orphan = true
	if t.stopping {
		return false
	}
	t.stopping = true
	return true
}

// reconcile brings one assigned job in line with what the controller wants.
func (a *Agent) reconcile(j *api.Job) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.tasks[j.ID]
	if attempt, ended := a.ended[j.ID]; !ok && ended && attempt == j.Attempt {
		return // ended here, reported; the list predates the report
	}
	switch {
	case !ok && j.State == api.StateStarting:
		t = &task{id: j.ID, attempt: j.Attempt, index: a.workIndex, started: make(chan struct{}), stopping: j.StopRequested, timeLimit: j.TimeLimit}
		t.ctx, t.cancel = context.WithCancel(context.Background())
		if t.stopping {
			t.cancel()
		}
		a.tasks[j.ID] = t
		go a.run(*j, t)
	case !ok:
		return // RUNNING but not ours: already ended (adopt took over those of an earlier daemon)
	case j.StopRequested && !t.stopping:
		t.stopping = true
		t.grace = time.Duration(j.StopGraceSeconds) * time.Second
		why, note := stopNote(j)
		go func() {
			t.cancel() // a start still under way gives up first
			if note {
				a.noteStop(t, time.Now(), why)
			}
			a.stop(t)
		}()
	}
	if j.TimeLimit != t.timeLimit { // scontrol update TimeLimit= on a placed job
		t.timeLimit = j.TimeLimit
		if !t.runningAt.IsZero() {
			a.armLimit(t, j)
		}
	}
	a.queueSignals(t, j.SignalRequests)
}

// queueSignals hands the signals newer than the task's last to its
// delivering goroutine (starting one if none runs). Called with a.mu held.
func (a *Agent) queueSignals(t *task, sigs []api.JobSignal) {
	for _, s := range sigs {
		if s.Seq > t.lastSeq {
			t.pending = append(t.pending, s)
			t.lastSeq = s.Seq
		}
	}
	if len(t.pending) > 0 && !t.delivering {
		t.delivering = true
		go a.deliver(t)
	}
}

// deliver sends a task's pending signals in order, once the job has started.
func (a *Agent) deliver(t *task) {
	<-t.started
	for {
		a.mu.Lock()
		sigs := t.pending
		t.pending = nil
		if len(sigs) == 0 {
			t.delivering = false
			a.mu.Unlock()
			return
		}
		a.mu.Unlock()
		for _, s := range sigs {
			a.sendSignal(t, s, "requested")
		}
	}
}

// sendSignal delivers one signal to a started task's processes (nothing if
// the task could not start).
func (a *Agent) sendSignal(t *task, s api.JobSignal, why string) {
	if t.proc == nil {
		return
	}
	sc := sandbox.ScopeSteps
	switch s.Scope {
	case api.SignalBatch:
		sc = sandbox.ScopeBatch
	case api.SignalFull:
		sc = sandbox.ScopeFull
	case api.SignalStep:
		sc = sandbox.StepScope(s.Step, s.SrunPID)
	}
	if err := t.proc.Signal(syscall.Signal(s.Signal), sc); err != nil {
		a.log.Warn("signal job", "job", t.id, "signal", s.Signal, "scope", sc, "err", err)
		return
	}
	a.log.Debug("signalled job", "job", t.id, "signal", s.Signal, "scope", sc, "why", why)
}

// run starts a job, reports RUNNING, waits for it and reports how it ended.
// recovered runs fn, and returns a panic in it as an error.
func recovered(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("shoal could not prepare the job (a bug, please report it): %v", r)
		}
	}()
	return fn()
}

func (a *Agent) run(j api.Job, t *task) {
	// The controller placed the job where enough GPUs are free; which
	// ones is decided here, and finish gives them back.
	gpus, err := a.gpus.Allocate(j.ID, j.Resources.GPUs, j.Resources.GPUTypes)
	if err == nil {
		err = a.recordGPUs(j.ID, gpus)
	}
	var spec sandbox.Spec
	perr := recovered(func() error { // a bug here fails this job, not the daemon and every job on it
		spec = a.jobSpec(&j)
		if err != nil {
			return err
		}
		if err := a.prepareLogs(&j, &spec); err != nil {
			return err
		}
		return a.writeScript(&j, &spec)
	})
	if err == nil {
		err = perr
	}
	if j.Script != "" {
		defer os.Remove(a.scriptPath(&j))
	}
	reason := api.ReasonSandboxFailed
	if err == nil && j.Image != "" {
		var release func()
		if release, err = a.imageSpec(t.ctx, &j, &spec); err != nil {
			reason = api.ReasonCannotPull
		} else {
			defer release() // in use until the job has ended (await)
		}
	}
	if t.ctx.Err() != nil {
		a.mu.Lock()
		handBack := a.leaving && !t.stopping
		a.mu.Unlock()
		if handBack {
			// The daemon is shutting down: the job never ran, so it goes
			// back to the queue, not to FAILED.
			a.finish(j.ID, api.JobEvent{ID: j.ID, Attempt: j.Attempt, Node: a.cfg.Name, State: api.StateRunnable,
				Reason: fmt.Sprintf("node %s shut down before the job started", a.cfg.Name)}, nil)
			close(t.started)
			return
		}
		// Terminated while STARTING: never start it (the controller
		// reports the user's reason, not this one).
		if err == nil {
			err = errors.New("stopped before it started")
		}
	}
	if err == nil {
		a.gpuSpec(&spec, gpus) // after the image's env, which may name GPUs
	}
	var proc Process
	if err == nil {
		proc, err = a.cfg.Executor.Start(spec)
	}
	t.cancel()
	if err != nil {
		a.log.Warn("start job", "job", j.ID, "err", err)
		// Reported before started closes: a daemon that is leaving
		// waits for started, then closes the reports.
		a.finish(j.ID, api.JobEvent{ID: j.ID, Attempt: j.Attempt, Node: a.cfg.Name, State: api.StateFailed, Cause: api.CauseStartFailed,
			Reason: fmt.Sprintf("%s: %v", reason, err)}, nil)
		close(t.started)
		return
	}
	a.mu.Lock()
	t.proc = proc
	stopping := t.stopping
	a.mu.Unlock()
	a.send(api.JobEvent{ID: j.ID, Node: a.cfg.Name, State: api.StateRunning, Attempt: j.Attempt})
	close(t.started)
	if stopping {
		go a.stop(t)
	}
	a.mu.Lock()
	t.runningAt = a.clock.Now()
	a.armLimit(t, &j)
	a.mu.Unlock()
	a.await(j, t, proc, gpus, a.watchGPUs(j.ID, gpus))
}

// await waits for a running job to end and reports how it ended. Should
// the daemon leave first, the report is not sent: the job's record stays
// for the next daemon.
func (a *Agent) await(j api.Job, t *task, proc Process, gpus []gpu.GPU, watch *gpu.Watch) {
	a.mu.Lock()
	start := t.runningAt
	a.mu.Unlock()
	res, err := proc.Wait()
	a.mu.Lock()
	t.disarmLimit()
	a.mu.Unlock()
	ev := api.JobEvent{ID: j.ID, Node: a.cfg.Name, State: api.StateSucceeded, TimedOut: t.timedOut.Load(), Attempt: j.Attempt,
		Usage: a.jobUsage(j.ID, proc, gpus, watch, start)}
	code := res.ExitCode
	ev.ExitCode, ev.Signal, ev.OOMKilled = &code, res.Signal, res.OOMKilled
	switch {
	case err != nil:
		ev.State, ev.Cause = api.StateFailed, api.CauseNodeLost
		ev.Reason = fmt.Sprintf("shoal node %s lost track of the job: %v", a.cfg.Name, err)
	case code != 0 || res.OOMKilled || ev.TimedOut:
		ev.State = api.StateFailed
	}
	a.finish(j.ID, ev, proc)
}

// armLimit (re)sets a running task's time limit, t.timeLimit seconds from
// when it started, and the warning signal before it (Slurm's --signal:
// LimitWarnSeconds before the limit, at once if that is past, to the batch
// script or the other processes). Called with a.mu held.
func (a *Agent) armLimit(t *task, j *api.Job) {
	t.disarmLimit()
	if t.timeLimit <= 0 {
		return
	}
	end := t.runningAt.Add(time.Duration(t.timeLimit) * time.Second)
	now := a.clock.Now()
	t.kill = a.clock.AfterFunc(end.Sub(now), func() {
		t.timedOut.Store(true)
		a.noteStop(t, time.Now(), " DUE TO TIME LIMIT")
		a.stop(t)
	})
	if j.LimitWarnSignal > 0 {
		scope, sig := api.SignalSteps, j.LimitWarnSignal
		if j.LimitWarnBatch {
			scope = api.SignalBatch
		}
		at := end.Add(-time.Duration(j.LimitWarnSeconds) * time.Second)
		t.warn = a.clock.AfterFunc(at.Sub(now), func() { a.sendSignal(t, api.JobSignal{Signal: sig, Scope: scope}, "time limit warning") })
	}
}

// disarmLimit stops a task's limit timers. Called with a.mu held.
func (t *task) disarmLimit() {
	for _, tm := range []clock.Timer{t.kill, t.warn} {
		if tm != nil {
			tm.Stop()
		}
	}
	t.kill, t.warn = nil, nil
}

// finish ends a task and reports ev; proc, if the job ran, forgets its
// record once the controller has acknowledged the report.
func (a *Agent) finish(id uint64, ev api.JobEvent, proc Process) {
	// Before the end is reported: the controller may place the next GPU
	// job here as soon as it learns of it.
	a.gpus.Release(id)
	a.forgetGPUs(id)
	a.mu.Lock()
	orphan := a.tasks[id] != nil && a.tasks[id].orphan
	delete(a.tasks, id)
	if ev.State.Terminal() {
		a.ended[id] = ev.Attempt
	}
	if proc != nil {
		a.unreported[id] = proc
	}
	a.mu.Unlock()
	a.send(ev)
	if orphan { // one fewer job the controller gave up on: tell it now
		select {
		case a.kick <- struct{}{}:
		default:
		}
	}
}

// send queues ev for the reporter; after the daemon has closed its
// reports (it is leaving) it drops ev and says so: the next daemon
// recovers what it reported.
func (a *Agent) send(ev api.JobEvent) bool {
	a.sendMu.RLock()
	defer a.sendMu.RUnlock()
	if a.eventsClosed {
		return false
	}
	a.events <- ev
	return true
}

// closeEvents ends the reporter once it has sent what is queued.
func (a *Agent) closeEvents() {
	a.sendMu.Lock()
	defer a.sendMu.Unlock()
	if !a.eventsClosed {
		a.eventsClosed = true
		close(a.events)
	}
}

// stop ends a task: one still starting gives up what it waits on and is
// not started; a started one gets Stop.
func (a *Agent) stop(t *task) {
	t.cancel()
	<-t.started
	grace := a.cfg.Grace
	if t.grace > 0 {
		grace = t.grace
	}
	if t.proc != nil {
		if err := t.proc.Stop(grace); err != nil {
			a.log.Warn("stop job", "err", err)
		}
	}
}

// leave, on shutdown, gives every job that has not started back to the
// controller and leaves the running ones running: their supervisors
// outlive the daemon and the next one recovers them. It returns once
// every job is started or reported.
func (a *Agent) leave() {
	a.mu.Lock()
	a.leaving = true
	var tasks []*task
	for _, t := range a.tasks {
		tasks = append(tasks, t)
		// The limits are the next daemon's to enforce, from the job's
		// start; one that fired now would end the job as if it had
		// timed out, while no one is left to say so.
		t.disarmLimit()
		if t.proc == nil {
			t.cancel() // what the start waits on gives up; run hands the job back
		}
	}
	a.mu.Unlock()
	for _, t := range tasks {
		<-t.started
	}
}

// report sends job events to the controller in batches, in order, retrying
// until each is acknowledged: an exit the node saw is never dropped.
func (a *Agent) report() {
	backoff := newBackoff(a.clock)
	for ev := range a.events {
		batch := []api.JobEvent{ev}
	more:
		for len(batch) < 1024 {
			select {
			case ev, ok := <-a.events:
				if !ok {
					break more
				}
				batch = append(batch, ev)
			default:
				break more
			}
		}
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			err := a.client().Call(ctx, api.PathNodeEvents, api.JobEventsRequest{Events: batch}, nil)
			cancel()
			if err == nil {
				a.forget(batch)
				break
			}
			a.log.Warn("report job events", "events", len(batch), "err", err)
			if !backoff.wait(a.reportCtx) {
				a.log.Error("gave up reporting job events: the controller will fail these jobs when this node registers again", "events", len(batch))
				break
			}
		}
		backoff.reset()
	}
}

// forget drops the records of the ends the controller has acknowledged.
func (a *Agent) forget(batch []api.JobEvent) {
	for _, ev := range batch {
		if !ev.State.Terminal() {
			continue
		}
		a.mu.Lock()
		proc := a.unreported[ev.ID]
		delete(a.unreported, ev.ID)
		a.mu.Unlock()
		if proc == nil {
			continue
		}
		if err := proc.Forget(); err != nil {
			a.log.Warn("forget a reported job", "job", ev.ID, "err", err)
		}
	}
}

// defaultBeatEvery is the heartbeat interval until the controller names one.
const defaultBeatEvery = 10 * time.Second

// heartbeat tells the controller the node is alive, at the interval the
// controller asks for (a third of its deadline), at once when started and
// when a job it gave up on has been stopped.
func (a *Agent) heartbeat(ctx context.Context) {
	for {
		every := time.Duration(a.beatEvery.Load()) * time.Millisecond
		if every <= 0 {
			every = defaultBeatEvery
		}
		a.beat(ctx, every)
		t := a.clock.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		case <-a.kick:
			t.Stop()
		}
	}
}

// beat sends one heartbeat with the jobs this daemon runs, and stops those
// the controller says are not this node's any more.
func (a *Agent) beat(ctx context.Context, timeout time.Duration) {
	a.mu.Lock()
	running := make([]api.RunningJob, 0, len(a.tasks))
	for _, t := range a.tasks {
		running = append(running, api.RunningJob{ID: t.id, Attempt: t.attempt})
	}
	a.mu.Unlock()
	var resp api.NodeHeartbeatResponse
	cctx, cancel := context.WithTimeout(ctx, timeout)
	err := a.client().Call(cctx, api.PathNodeBeat, api.NodeHeartbeatRequest{Name: a.cfg.Name, Boot: a.boot, Running: running, Load: loadAverage()}, &resp)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		a.log.Warn("heartbeat", "err", err)
		if api.IsCode(err, api.CodeConflict) || api.IsCode(err, api.CodeNotFound) || api.IsCode(err, api.CodeUnauthenticated) {
			if err := a.register(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("register again", "err", err)
			}
		}
		return
	}
	if resp.HeartbeatMillis > 0 {
		a.beatEvery.Store(resp.HeartbeatMillis)
	}
	if resp.NotResponding {
		a.log.Warn("the controller set this node DOWN for not responding: stopping the jobs it gave up on", "jobs", len(resp.Stray))
	}
	if len(resp.Stray) == 0 {
		return
	}
	a.mu.Lock()
	var stop []*task
	for _, r := range resp.Stray {
		if t := a.tasks[r.ID]; t != nil && (r.Attempt == 0 || r.Attempt == t.attempt) && a.giveUp(t) {
			stop = append(stop, t)
		}
	}
	a.mu.Unlock()
	for _, t := range stop {
		a.log.Warn("stopping a job the controller no longer assigns to this node", "job", t.id, "attempt", t.attempt)
		go a.stop(t)
	}
}

// loadAverage is the host's 1-minute load average (the first field of
// /proc/loadavg), or nil if it cannot be read.
func loadAverage() *float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil
	}
	first, _, _ := strings.Cut(string(b), " ")
	l, err := strconv.ParseFloat(first, 64)
	if err != nil {
		return nil
	}
	return &l
}
