package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// Job is one running sandbox, started by this Runner or found again by
// Recover. Its container's init is a child of the job's supervisor (see
// shim.go), not of the daemon, so it outlives the daemon.
type Job struct {
	r       *Runner
	id      string
	c       *libcontainer.Container
	initPid int // host pid of the job's PID 1
	initFd  int // pidfd of PID 1, -1 if it could not be opened
	cg      jobCgroups
	shimDir string

	exited chan struct{} // closed once the supervisor has exited: the job has ended, its sandbox is gone

	finish sync.Once
	res    Result
	usage  Usage
	err    error

	// emulated is a signal Signal emulated with SIGKILL on PID 1 (which
	// drops signals it has no handler for): the Result reports it.
	emulated atomic.Int32

	// frozenMu serializes the sections that freeze the job's cgroup
	// (frozen): a stop and a signal never overlap, so the one that froze
	// it is the one that thaws it.
	frozenMu sync.Mutex
}

func newJob(r *Runner, id string, c *libcontainer.Container, sh *supervisor, cg jobCgroups) *Job {
	return &Job{r: r, id: id, c: c, initPid: sh.initPid, initFd: sh.initFd, cg: cg,
		shimDir: r.shimDir(id), exited: sh.exited}
}

// ID returns the job's container id.
func (j *Job) ID() string { return j.id }

// Note records line for the job's supervisor to append to the job's
// stderr file once the job has ended (after all the job itself wrote):
// why it was stopped, as Slurm's slurmstepd writes "*** JOB 7 ON n1
// CANCELLED AT ... DUE TO TIME LIMIT ***". The supervisor writes through
// the file the job got, opened as the job's user. A note made after the
// job has ended is not written.
func (j *Job) Note(line string) error {
	f, err := os.OpenFile(filepath.Join(j.shimDir, shimNotesFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("note for job %s: %w", j.id, err)
	}
	_, err = f.WriteString(strings.TrimRight(line, "\n") + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("note for job %s: %w", j.id, err)
	}
	return nil
}

// Pid returns the host pid of the job's PID 1.
func (j *Job) Pid() int { return j.initPid }

// Done is closed when the job has ended and its supervisor has removed
// its sandbox; Wait then returns without blocking.
func (j *Job) Done() <-chan struct{} { return j.exited }

// ended reports whether the job's PID 1 has exited (its supervisor may
// still be removing the sandbox).
func (j *Job) ended() bool {
	if j.c == nil {
		return true // found again with its container already gone
	}
	select {
	case <-j.exited:
		return true
	default:
	}
	return j.initFd >= 0 && pidfdExited(j.initFd)
}

// Wait blocks until the job has ended and its supervisor has read its
// OOM count and usage, destroyed the container and its cgroups, removed
// its job directory and copied the last of any relayed output. It may be
// called more than once and from several goroutines; all get the same
// answer. The error is for daemon-side failures only (the Result is still
// filled in as far as it is known); a job killed by a signal or the OOM
// killer is a Result, not an error. The record of the end stays on disk,
// for a daemon that starts after this one, and the job stays this
// Runner's (its id taken, Cleanup and Remove leave it), until Forget.
func (j *Job) Wait() (Result, error) {
	<-j.exited
	j.finish.Do(j.collect)
	return j.res, j.err
}

// Usage returns what the job used, as its cgroups counted it when it
// ended. Call it after Wait has returned in the same goroutine (before
// that it is zero).
func (j *Job) Usage() Usage { return j.usage }

// Forget removes the record of the job's end, once the daemon has
// reported it: a daemon that starts later does not find the job. Call it
// after Wait.
func (j *Job) Forget() error {
	if err := os.RemoveAll(j.shimDir); err != nil {
		return fmt.Errorf("forget job %s: %w", j.id, err)
	}
	j.r.release(j.id)
	return nil
}

// collect reads the supervisor's record of the job's end.
func (j *Job) collect() {
	if j.initFd >= 0 {
		unix.Close(j.initFd)
		j.initFd = -1
	}
	var rec exitRecord
	err := readJSON(filepath.Join(j.shimDir, shimExitFile), &rec)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(j.shimDir, shimLogFile))
		err = fmt.Errorf("supervisor of job %s ended without recording its end: %w (its log: %q)", j.id, err, strings.TrimSpace(string(log)))
		// Whatever it left: make sure nothing of the job runs on.
		if derr := j.r.destroySandbox(j.id); derr != nil {
			err = errors.Join(err, derr)
		}
		j.err = err
		return
	}
	j.res, j.usage = rec.Result, rec.Usage
	if e := j.emulated.Load(); e != 0 && j.res.Signal == int(unix.SIGKILL) {
		j.res.Signal = int(e) // what Signal was asked to send
		j.res.ExitCode = 128 + j.res.Signal
	}
	var errs []error
	if rec.Err != "" {
		errs = append(errs, errors.New(rec.Err))
	}
	if !rec.Cleaned {
		// The supervisor died before it was done.
		if err := j.r.destroySandbox(j.id); err != nil {
			errs = append(errs, err)
		}
	}
	j.err = errors.Join(errs...)
}

// Stop sends SIGTERM to every process of the job and, if the job is still
// running grace later, SIGKILL to all of them. It returns once SIGTERM has
// been sent; Wait reports the end. Stopping an ended job does nothing.
//
// The job's PID 1 only receives signals it has a handler for (see the
// package documentation). If it neither catches nor ignores SIGTERM, Stop
// also sends it SIGSTOP, so that it cannot go on (a script to its next
// command) while its children handle SIGTERM, and SIGKILLs it as soon as
// all other processes have exited, or when grace runs out.
func (j *Job) Stop(grace time.Duration) error {
	if j.ended() {
		return nil
	}
	stopped, err := j.terminate()
	if err != nil {
		if j.ended() { // it ended meanwhile: nothing to stop
			return nil
		}
		if errors.Is(err, ErrQuiesced) { // the daemon is going: jobs stay as they are
			return fmt.Errorf("stop job %s: %w", j.id, err)
		}
		// SIGTERM could not reach the job's processes in order (its
		// cgroup would not freeze, say), yet a time limit or a cancel
		// must end it: it is killed at once, which needs no freeze
		// (PID 1's death ends its PID namespace).
		if rerr := j.c.Resume(); rerr != nil && !errors.Is(rerr, libcontainer.ErrNotPaused) {
			err = errors.Join(err, fmt.Errorf("thaw: %w", rerr))
		}
		j.killAfter(0, false)
		return fmt.Errorf("stop job %s: %w; killed it instead", j.id, err)
	}
	j.killAfter(grace, stopped)
	return nil
}

// terminate sends SIGTERM to all processes of the job, with the cgroup
// frozen so that none can fork past the list or exit and have its pid
// reused. It reports whether it also had to SIGSTOP PID 1.
func (j *Job) terminate() (stoppedInit bool, err error) {
	thaw, err := j.freeze()
	if err != nil {
		return false, err
	}
	defer func() { err = errors.Join(err, thaw()) }()
	// Start returns once libcontainer has released its init to exec the
	// job, so PID 1 may still be that init (a Go program, which would exit
	// 2 on SIGTERM). It has not run any of the job yet: kill it outright.
	if comm, err := os.ReadFile("/proc/" + strconv.Itoa(j.initPid) + "/comm"); err == nil && string(comm) == "runc:[2:INIT]\n" {
		if err := j.c.Signal(unix.SIGKILL); err != nil {
			return false, fmt.Errorf("kill init: %w", err)
		}
		return false, nil
	}
	pids, err := j.c.Processes()
	if err != nil {
		return false, fmt.Errorf("list processes: %w", err)
	}
	for _, pid := range pids {
		if pid == j.initPid {
			continue
		}
		if err := unix.Kill(pid, unix.SIGTERM); err != nil && err != unix.ESRCH {
			return false, fmt.Errorf("signal %d: %w", pid, err)
		}
	}
	dies, err := diesOnSignal(j.initPid, unix.SIGTERM)
	if err != nil {
		return false, err
	}
	sig := unix.SIGTERM // delivered if PID 1 has a handler, dropped otherwise
	if dies {
		sig = unix.SIGSTOP
	}
	if err := j.c.Signal(sig); err != nil {
		return false, fmt.Errorf("signal init: %w", err)
	}
	return dies, nil
}

// diesOnSignal reports whether pid has the default disposition for sig
// (neither caught nor ignored), for which the default action is to die.
func diesOnSignal(pid int, sig unix.Signal) (bool, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false, fmt.Errorf("read init status: %w", err)
	}
	bit := uint64(1) << (uint(sig) - 1)
	seen := 0
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (k != "SigIgn" && k != "SigCgt") {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return false, fmt.Errorf("parse init %s: %w", k, err)
		}
		if mask&bit != 0 {
			return false, nil
		}
		seen++
	}
	if seen != 2 {
		return false, errors.New("read init status: no SigIgn/SigCgt")
	}
	return true, nil
}

// killAfter SIGKILLs the job after grace, or as soon as only a stopped PID 1
// is left, unless it has ended by then. The job's supervisor does it
// (askSupervisor): it outlives this daemon, so a stop under way is
// finished even if the daemon exits or dies within grace, where a daemon's
// goroutine would leave a SIGSTOPped PID 1 waiting for ever. Only a
// supervisor that cannot be asked (it has ended, or an older build from
// before an upgrade) leaves it to the daemon.
func (j *Job) killAfter(grace time.Duration, stoppedInit bool) {
	grace = max(grace, 0) // a negative one kills at once, as a timer does
	if err := j.askSupervisor(killRequest{GraceMs: grace.Milliseconds(), StoppedInit: stoppedInit}); err == nil {
		return
	}
	go escalate(j.c, j.initPid, j.exited, grace, stoppedInit)
}

// askSupervisor hands req to the job's supervisor through its control
// fifo. It fails at once (ENXIO) if no supervisor holds the fifo open.
func (j *Job) askSupervisor(req killRequest) error {
	f, err := os.OpenFile(filepath.Join(j.shimDir, shimCtlFile), os.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("reach the supervisor of %s: %w", j.id, err)
	}
	defer f.Close()
	// One line, far under PIPE_BUF: written whole or not at all.
	if _, err := f.Write(append(req.encode(), '\n')); err != nil {
		return fmt.Errorf("reach the supervisor of %s: %w", j.id, err)
	}
	return nil
}

// escalate SIGKILLs the container c after grace, or as soon as every
// process but a stopped PID 1 (initPid) has exited, unless ended is closed
// first. Killing PID 1 kills the namespace. The daemon and the supervisor
// both run it.
func escalate(c *libcontainer.Container, initPid int, ended <-chan struct{}, grace time.Duration, stoppedInit bool) {
	timer := time.NewTimer(grace)
	defer timer.Stop()
	othersGone := make(chan struct{})
	if stoppedInit {
		deadline := time.Now().Add(grace)
		go func() {
			if waitOthers(c, initPid, deadline) {
				close(othersGone)
			}
		}()
	}
	select {
	case <-ended:
		return
	case <-timer.C:
	case <-othersGone:
	}
	// ErrNotRunning if it ended meanwhile; nothing else can be done anyway.
	_ = c.Signal(unix.SIGKILL)
}

// waitOthers waits until every process of c but PID 1 has exited, using
// pidfds, and reports whether that happened before deadline.
func waitOthers(c *libcontainer.Container, initPid int, deadline time.Time) bool {
	gone := map[int]bool{initPid: true}
	for {
		pids, err := c.Processes()
		if err != nil {
			return false
		}
		var alive []int
		for _, pid := range pids {
			if !gone[pid] {
				alive = append(alive, pid)
			}
		}
		if len(alive) == 0 {
			return true
		}
		exited, ok := waitAnyExit(alive, time.Until(deadline))
		if !ok {
			return false
		}
		for _, pid := range exited {
			gone[pid] = true
		}
	}
}

// waitAnyExit blocks until at least one of pids has exited or timeout
// passes; it returns those that have exited (including ones already gone),
// and false on timeout or error.
func waitAnyExit(pids []int, timeout time.Duration) ([]int, bool) {
	var fds []unix.PollFd
	var exited []int
	defer func() {
		for _, fd := range fds {
			unix.Close(int(fd.Fd))
		}
	}()
	owner := make(map[int32]int)
	for _, pid := range pids {
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			exited = append(exited, pid) // ESRCH: gone already
			continue
		}
		fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
		owner[int32(fd)] = pid
	}
	if len(exited) > 0 {
		return exited, true
	}
	if timeout <= 0 {
		return nil, false
	}
	for {
		n, err := unix.Poll(fds, int(timeout.Milliseconds())+1)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return nil, false
		}
		break
	}
	for _, fd := range fds {
		if fd.Revents != 0 {
			exited = append(exited, owner[fd.Fd])
		}
	}
	return exited, true
}

// Scope names the processes of a job that Signal reaches.
type Scope struct {
	kind scopeKind
	step uint32 // scopeStep: which step
	// launcher is the step's srun, by its pid in the job's PID namespace
	// (0: not known): the processes it started are the step's.
	launcher int
}

type scopeKind uint8

const (
	scopeSteps scopeKind = iota
	scopeBatch
	scopeFull
	scopeStep
)

// Scopes. The batch script is the job's own first process, PID 1.
var (
	ScopeSteps = Scope{kind: scopeSteps} // every process but PID 1
	ScopeBatch = Scope{kind: scopeBatch} // PID 1 alone
	ScopeFull  = Scope{kind: scopeFull}  // every process, PID 1 too
)

func (s Scope) String() string {
	switch s.kind {
	case scopeSteps:
		return "steps"
	case scopeBatch:
		return "batch"
	case scopeFull:
		return "full"
	}
	return "step " + strconv.FormatUint(uint64(s.step), 10)
}

// fullSignalGrace bounds how long Signal with ScopeFull leaves a stopped
// PID 1 (whose default action is to die) waiting for the job's other
// processes to handle the signal, before it kills the job.
const fullSignalGrace = 10 * time.Second

// initExecWait bounds how long Signal waits for PID 1 to be the job's own
// program rather than libcontainer's init, right after Start.
const initExecWait = 5 * time.Second

// Signal sends sig to the processes of the job that scope names, with the
// cgroup frozen so that none forks past the list. Signalling an ended job
// does nothing.
//
// PID 1 only receives signals it has a handler for (see the package
// documentation), so when sig must reach it and it neither catches nor
// ignores sig, Signal does what the signal's default action would have
// done: for one that terminates (TERM, INT, HUP, USR1, ALRM, SEGV, ...) it
// SIGKILLs PID 1 (ScopeFull: stops it and kills it once the job's other
// processes have exited, or after fullSignalGrace) and the Result reports
// sig, not SIGKILL; for one that stops (TSTP, TTIN, TTOU) it sends SIGSTOP;
// for one ignored by default (CHLD, URG, WINCH) it sends nothing. KILL,
// STOP and CONT are sent as they are.
func (j *Job) Signal(sig syscall.Signal, scope Scope) error {
	if sig < 1 || sig > 64 {
		return fmt.Errorf("signal job %s: signal %d is not a signal number (1 to 64)", j.c.ID(), sig)
	}
	if scope.kind > scopeStep {
		return fmt.Errorf("signal job %s: unknown scope %v", j.c.ID(), scope)
	}
	if j.ended() {
		return nil
	}
	err := j.waitExec()
	if err == nil {
		err = j.signal(unix.Signal(sig), scope)
	}
	if err != nil {
		if j.ended() { // it ended meanwhile: nothing to signal
			return nil
		}
		return fmt.Errorf("signal job %s with %s (%s): %w", j.id, unix.SignalName(unix.Signal(sig)), scope, err)
	}
	return nil
}

// waitExec waits until PID 1 is no longer libcontainer's init: Start
// returns once the init is released to exec the job, and until it has,
// PID 1's signal dispositions are the init's, not the job's.
func (j *Job) waitExec() error {
	deadline := time.Now().Add(initExecWait)
	for {
		comm, err := os.ReadFile("/proc/" + strconv.Itoa(j.initPid) + "/comm")
		if err != nil || string(comm) != "runc:[2:INIT]\n" {
			return nil // gone (the caller sees it exited) or exec'd
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("PID 1 has not started the job's program after %v", initExecWait)
		}
		select {
		case <-j.exited:
			return nil
		case <-time.After(time.Millisecond):
		}
	}
}

// defaultAction is what a signal does to a process that neither catches
// nor ignores it (signal(7)).
type defaultAction int

const (
	actTerminate defaultAction = iota // Term and Core: the process dies
	actStop
	actIgnore
	actContinue
)

func defaultActionOf(sig unix.Signal) defaultAction {
	switch sig {
	case unix.SIGCHLD, unix.SIGURG, unix.SIGWINCH:
		return actIgnore
	case unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
		return actStop
	case unix.SIGCONT:
		return actContinue
	}
	return actTerminate // the rest, real-time signals included
}

// signal does Signal's work with the cgroup frozen.
func (j *Job) signal(sig unix.Signal, scope Scope) (err error) {
	thaw, err := j.freeze()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, thaw()) }()
	if scope.kind == scopeStep {
		return j.signalStep(sig, scope)
	}
	others := 0
	if scope != ScopeBatch {
		pids, err := j.c.Processes()
		if err != nil {
			return fmt.Errorf("list processes: %w", err)
		}
		for _, pid := range pids {
			if pid == j.initPid {
				continue
			}
			if err := unix.Kill(pid, sig); err != nil && err != unix.ESRCH {
				return fmt.Errorf("signal %d: %w", pid, err)
			}
			others++
		}
	}
	if scope == ScopeSteps {
		return nil
	}
	// PID 1: what would reach it outside a PID namespace.
	send := sig
	switch sig {
	case unix.SIGKILL, unix.SIGSTOP, unix.SIGCONT:
	default:
		deflt, err := diesOnSignal(j.initPid, sig) // true: default disposition
		if err != nil {
			return err
		}
		if !deflt {
			break // caught (delivered) or ignored (dropped either way)
		}
		switch defaultActionOf(sig) {
		case actIgnore:
			return nil
		case actStop:
			send = unix.SIGSTOP
		case actTerminate:
			j.emulated.Store(int32(sig))
			send = unix.SIGKILL
			if scope == ScopeFull && others > 0 {
				// Let the others handle sig first; PID 1 must not go on.
				send = unix.SIGSTOP
				defer func() {
					if err == nil {
						j.killAfter(fullSignalGrace, true)
					}
				}()
			}
		}
	}
	if err := j.c.Signal(send); err != nil {
		return fmt.Errorf("signal init: %w", err)
	}
	return nil
}
