package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// Job is one running sandbox.
type Job struct {
	r       *Runner
	c       *libcontainer.Container
	proc    *libcontainer.Process
	initPid int // host pid of the job's PID 1
	cg      jobCgroups
	jobDir  string // TmpRoot/<id>: an image job's layer, binds of mount sources and working directory
	relays  []*relay

	exited chan struct{} // closed once PID 1 has been reaped
	state  *os.ProcessState
	reapEr error

	finish sync.Once
	res    Result
	usage  Usage
	err    error

	// emulated is a signal Signal emulated with SIGKILL on PID 1 (which
	// drops signals it has no handler for): the Result reports it.
	emulated atomic.Int32
}

func newJob(r *Runner, c *libcontainer.Container, proc *libcontainer.Process, dir string, relays []*relay) (*Job, error) {
	st, err := c.State()
	if err != nil {
		return nil, fmt.Errorf("read container state: %w", err)
	}
	j := &Job{
		r:       r,
		c:       c,
		proc:    proc,
		initPid: st.InitProcessPid,
		cg:      jobCgroupsOf(st.CgroupPaths),
		jobDir:  dir,
		relays:  relays,
		exited:  make(chan struct{}),
	}
	go j.reap()
	return j, nil
}

// reap waits for PID 1. When it exits the kernel kills every other process
// of the PID namespace and waits for them, so by the time PID 1 is reaped
// the job's cgroups are empty.
func (j *Job) reap() {
	ps, err := j.proc.Wait()
	var ee *exec.ExitError
	if ps == nil && errors.As(err, &ee) {
		ps = ee.ProcessState
	}
	j.state = ps
	if ps == nil {
		j.reapEr = fmt.Errorf("wait job: %w", err)
	}
	close(j.exited)
}

// ID returns the job's container id.
func (j *Job) ID() string { return j.c.ID() }

// Pid returns the host pid of the job's PID 1.
func (j *Job) Pid() int { return j.initPid }

// Done is closed when the job's process has exited; Wait then returns
// without blocking on the job (only on the cleanup).
func (j *Job) Done() <-chan struct{} { return j.exited }

// Wait blocks until the job exits, then reads its OOM count, destroys the
// container and its cgroups, removes its job directory and waits for the
// relays of its outputs to copy the last of them. It may be called
// more than once and from several goroutines; all get the same answer. The
// error is for daemon-side failures only (the Result is still filled in as
// far as it is known); a job killed by a signal or the OOM killer is a
// Result, not an error.
func (j *Job) Wait() (Result, error) {
	<-j.exited
	j.finish.Do(j.cleanup)
	return j.res, j.err
}

// Usage returns what the job used, as its cgroups counted it when it
// ended. Call it after Wait has returned in the same goroutine (before
// that it is zero).
func (j *Job) Usage() Usage { return j.usage }

func (j *Job) cleanup() {
	var errs []error
	if j.state != nil {
		ws := j.state.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			j.res.Signal = int(ws.Signal())
			if e := j.emulated.Load(); e != 0 && ws.Signal() == unix.SIGKILL {
				j.res.Signal = int(e) // what Signal was asked to send
			}
			j.res.ExitCode = 128 + j.res.Signal
		} else {
			j.res.ExitCode = ws.ExitStatus()
		}
	} else {
		// Could not wait for PID 1: make sure it is gone before Destroy.
		errs = append(errs, j.reapEr)
		_ = j.c.Signal(unix.SIGKILL)
	}
	// The OOM count and the usage live in the cgroup: read them before
	// Destroy removes it.
	if j.cg.mem != "" {
		n, err := j.cg.oomKills()
		if err != nil {
			errs = append(errs, err)
		}
		j.res.OOMKilled = n > 0
	}
	j.usage = j.cg.usage()
	if err := j.c.Destroy(); err != nil {
		errs = append(errs, fmt.Errorf("destroy container: %w", err))
	}
	if err := removeJobDir(j.jobDir); err != nil {
		errs = append(errs, err)
	}
	// Every process of the job is gone, so every writer of a relay's
	// pipe: each ends once it has copied what is left.
	for _, rl := range j.relays {
		if err := rl.wait(); err != nil {
			errs = append(errs, err)
		}
	}
	j.r.release(j.c.ID())
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
	select {
	case <-j.exited:
		return nil
	default:
	}
	stopped, err := j.terminate()
	if err != nil {
		select {
		case <-j.exited: // it ended meanwhile: nothing to stop
			return nil
		default:
			return fmt.Errorf("stop job %s: %w", j.c.ID(), err)
		}
	}
	go j.killAfter(grace, stopped)
	return nil
}

// terminate sends SIGTERM to all processes of the job, with the cgroup
// frozen so that none can fork past the list or exit and have its pid
// reused. It reports whether it also had to SIGSTOP PID 1.
func (j *Job) terminate() (stoppedInit bool, err error) {
	if err := j.c.Pause(); err != nil {
		return false, fmt.Errorf("freeze: %w", err)
	}
	defer func() {
		// SIGKILL thaws by itself: then it is not paused any more.
		if rerr := j.c.Resume(); rerr != nil && !errors.Is(rerr, libcontainer.ErrNotPaused) {
			err = errors.Join(err, fmt.Errorf("thaw: %w", rerr))
		}
	}()
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
// is left, unless it has ended by then. Killing PID 1 kills the namespace.
func (j *Job) killAfter(grace time.Duration, stoppedInit bool) {
	timer := time.NewTimer(grace)
	defer timer.Stop()
	othersGone := make(chan struct{})
	if stoppedInit {
		deadline := time.Now().Add(grace)
		go func() {
			if j.waitOthers(deadline) {
				close(othersGone)
			}
		}()
	}
	select {
	case <-j.exited:
		return
	case <-timer.C:
	case <-othersGone:
	}
	// ErrNotRunning if it ended meanwhile; nothing else can be done anyway.
	_ = j.c.Signal(unix.SIGKILL)
}

// waitOthers waits until every process of the job but PID 1 has exited,
// using pidfds, and reports whether that happened before deadline.
func (j *Job) waitOthers(deadline time.Time) bool {
	gone := map[int]bool{j.initPid: true}
	for {
		pids, err := j.c.Processes()
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
type Scope int

// Scopes. The batch script is the job's own first process, PID 1.
const (
	ScopeSteps Scope = iota // every process but PID 1
	ScopeBatch              // PID 1 alone
	ScopeFull               // every process, PID 1 too
)

func (s Scope) String() string {
	switch s {
	case ScopeSteps:
		return "steps"
	case ScopeBatch:
		return "batch"
	case ScopeFull:
		return "full"
	}
	return "Scope(" + strconv.Itoa(int(s)) + ")"
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
	if scope != ScopeSteps && scope != ScopeBatch && scope != ScopeFull {
		return fmt.Errorf("signal job %s: unknown scope %v", j.c.ID(), scope)
	}
	select {
	case <-j.exited:
		return nil
	default:
	}
	err := j.waitExec()
	if err == nil {
		err = j.signal(unix.Signal(sig), scope)
	}
	if err != nil {
		select {
		case <-j.exited: // it ended meanwhile: nothing to signal
			return nil
		default:
			return fmt.Errorf("signal job %s with %s (%s): %w", j.c.ID(), unix.SignalName(unix.Signal(sig)), scope, err)
		}
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
	if err := j.c.Pause(); err != nil {
		return fmt.Errorf("freeze: %w", err)
	}
	defer func() {
		// SIGKILL thaws by itself: then it is not paused any more.
		if rerr := j.c.Resume(); rerr != nil && !errors.Is(rerr, libcontainer.ErrNotPaused) {
			err = errors.Join(err, fmt.Errorf("thaw: %w", rerr))
		}
	}()
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
						go j.killAfter(fullSignalGrace, true)
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
