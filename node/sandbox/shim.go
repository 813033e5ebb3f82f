package sandbox

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// shimEnv marks a re-execution of the binary (as "init", so that every
// main and TestMain that dispatches libcontainer's init reaches Init) as a
// job's supervisor rather than libcontainer's init.
const shimEnv = "_SHOAL_SHIM"

// The supervisor's descriptors.
const (
	shimSpecFd   = 3 // the shimSpec, JSON, from the daemon
	shimStatusFd = 4 // one shimStatus, JSON, to the daemon
	shimStdoutFd = 5 // the job's stdout file
	shimStderrFd = 6 // the job's stderr file, unless it is stdout's
)

// Files in a supervisor's directory, Root/.shim/<id>.
const (
	shimStateFile = "shim.json" // shimState, once the job's init runs
	shimExitFile  = "exit.json" // exitRecord, once it has ended
	shimLogFile   = "log"       // the supervisor's stderr
	shimNotesFile = "notes"     // lines for the job's stderr at its end (Job.Note)
	shimCtlFile   = "ctl"       // fifo: killRequests from the daemon, a JSON line each
	shimDirName   = ".shim"     // under Root; not a container id (idPattern)
)

// shimSpec is what the daemon hands a job's supervisor: the container to
// create and the process to start in it.
type shimSpec struct {
	Root       string          `json:"root"`
	ID         string          `json:"id"`
	Dir        string          `json:"dir"`    // the supervisor's directory
	JobDir     string          `json:"jobDir"` // TmpRoot/<id>, removed at the end
	Config     *configs.Config `json:"config"`
	Args       []string        `json:"args"`
	Env        []string        `json:"env"`
	UID        int             `json:"uid"`
	GID        int             `json:"gid"`
	Groups     []int           `json:"groups,omitempty"`
	Cwd        string          `json:"cwd"`
	SameStderr bool            `json:"sameStderr,omitempty"`
	// RelayStdout and RelayStderr: the file is not the job user's own, so
	// the job writes into a pipe the supervisor copies into the file.
	RelayStdout bool `json:"relayStdout,omitempty"`
	RelayStderr bool `json:"relayStderr,omitempty"`
	// StdoutLimit and StderrLimit are Spec's, for the relays.
	StdoutLimit int64 `json:"stdoutLimit,omitempty"`
	StderrLimit int64 `json:"stderrLimit,omitempty"`
	// OOMNote is Spec.OOMNote.
	OOMNote string `json:"oomNote,omitempty"`
	// StdinFd, if not 0, is the supervisor's descriptor of the job's
	// input file, which it copies into the job's stdin pipe.
	StdinFd int `json:"stdinFd,omitempty"`
	// WholeRoot: the job's root is the host's "/", bound onto
	// Config.Rootfs for the init alone (bindHostRoot).
	WholeRoot bool `json:"wholeRoot,omitempty"`
	// Mounts of a WholeRoot job onto the host's own paths, which the
	// supervisor makes inside the job's root (mountInRoot); Config holds
	// the job's other mounts.
	Mounts []shimMount `json:"mounts,omitempty"`
	// Check, for a job that does not run as root, is run on its init
	// before the daemon is told of it (checkStart).
	Check *startCheck `json:"check,omitempty"`
}

// shimMount is a mount of a host job onto a path the host has: Source is
// root's private bind of Asked, the source the user named, under TmpRoot.
type shimMount struct {
	Source   string `json:"source"`
	Asked    string `json:"asked"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// shimStatus is the supervisor's answer to the daemon: the host pid of
// the job's init, created and waiting to be released (Exec), or why not.
type shimStatus struct {
	Pid int `json:"pid,omitempty"`
	// Start is the init's start time (procStartTime), which the daemon
	// checks the pidfd it opens against: a pid alone could be another
	// process's by then.
	Start uint64 `json:"start,omitempty"`
	Err   string `json:"error,omitempty"`
	// Invalid: Err is an ErrInvalidSpec (the job's own fault).
	Invalid bool `json:"invalid,omitempty"`
}

// shimState is what a new daemon needs to find a live supervisor and its
// job again. Start times guard against reused pids.
type shimState struct {
	ShimPid   int    `json:"shimPid"`
	ShimStart uint64 `json:"shimStart"`
	InitPid   int    `json:"initPid"`
	InitStart uint64 `json:"initStart"`
	JobDir    string `json:"jobDir"`
	// CgroupPaths is libcontainer's State.CgroupPaths.
	CgroupPaths map[string]string `json:"cgroupPaths"`
}

// killRequest asks a supervisor to SIGKILL its job GraceMs from now, or
// as soon as only PID 1 is left if the daemon has SIGSTOPped it
// (StoppedInit): Job.Stop's escalation, which must not die with the daemon.
type killRequest struct {
	GraceMs     int64 `json:"graceMs"`
	StoppedInit bool  `json:"stoppedInit,omitempty"`
}

func (k killRequest) encode() []byte {
	b, _ := json.Marshal(k) // two plain fields: cannot fail
	return b
}

// exitRecord is how a job ended, written by its supervisor before the
// cgroup is removed and kept until the daemon has reported it (Forget).
type exitRecord struct {
	Result Result `json:"result"`
	Usage  Usage  `json:"usage"`
	// NeverStarted: the init was killed before it was released to exec
	// the job (the daemon died between Start and Exec): nothing ran.
	NeverStarted bool `json:"neverStarted,omitempty"`
	// Cleaned: the container, cgroups and job directory are gone.
	Cleaned bool   `json:"cleaned,omitempty"`
	Err     string `json:"error,omitempty"` // cleanup failures
}

func (r *Runner) shimRoot() string         { return filepath.Join(r.Root, shimDirName) }
func (r *Runner) shimDir(id string) string { return filepath.Join(r.shimRoot(), id) }

// isShim reports whether this process was started as a job's supervisor.
func isShim() bool { return os.Getenv(shimEnv) == "1" }

// runShim is the supervisor's main: it creates the container, starts its
// init (so that the init is this process's child), tells the daemon the
// init's pid, waits for the init and records how the job ended, its OOM
// kills and usage, then destroys the container and the job directory and
// copies the last of any relayed output. It outlives the daemon: a new
// daemon finds the record (see Runner.Recover).
func runShim() {
	if err := shim(); err != nil {
		fmt.Fprintf(os.Stderr, "shoal supervisor %d: %v\n", os.Getpid(), err)
		os.Exit(1)
	}
	os.Exit(0)
}

// catchIgnoredSignals gives the job every signal at its default action,
// as slurmstepd does, whatever the node daemon was started with. A
// daemon started under nohup, or by a shell that ignored SIGINT,
// passes SIGHUP or SIGINT on ignored (Go keeps those two ignored when it
// starts with them so), and an ignored signal stays ignored across exec:
// the job's `trap ... HUP` would do nothing (POSIX shells cannot trap a
// signal ignored on entry) and `scancel --signal=HUP` would not reach it.
// A caught signal goes back to its default across exec, so this process
// catches them (and takes no action on them, as before) and its children,
// the job's init and so the job, start with them at default.
func catchIgnoredSignals() {
	var ignored []os.Signal
	for sig := syscall.Signal(1); sig < 32; sig++ {
		if sig != syscall.SIGKILL && sig != syscall.SIGSTOP && signal.Ignored(sig) {
			ignored = append(ignored, sig)
		}
	}
	if len(ignored) > 0 {
		signal.Notify(make(chan os.Signal, 1), ignored...) // never read: a full channel drops them
	}
}

func shim() error {
	// Started from /proc/self/exe or /proc/self/fd/N, its command name
	// would be "exe" or "N": name it for ps and top (its arguments name
	// the job).
	_ = os.WriteFile("/proc/self/comm", []byte("shoal-shim"), 0)
	catchIgnoredSignals()
	statusF := os.NewFile(shimStatusFd, "status")
	var s shimSpec
	specF := os.NewFile(shimSpecFd, "spec")
	err := json.NewDecoder(specF).Decode(&s)
	specF.Close()
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	answered := false
	answer := func(st shimStatus) {
		if !answered {
			answered = true
			_ = json.NewEncoder(statusF).Encode(st)
			statusF.Close()
		}
	}
	fail := func(err error) error {
		answer(shimStatus{Err: err.Error(), Invalid: errors.Is(err, ErrInvalidSpec)})
		return err
	}
	stdout := os.NewFile(shimStdoutFd, "stdout")
	stderr := stdout
	if !s.SameStderr {
		stderr = os.NewFile(shimStderrFd, "stderr")
	}
	// The job's stderr file, kept for the notes written at its end: the
	// very file the job got (opened as its user), never reopened by path.
	noteFd, err := unix.FcntlInt(stderr.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("keep the job's stderr: %w", err))
	}
	noteF := os.NewFile(uintptr(noteFd), "stderr")
	defer noteF.Close()
	var (
		relays  []*relay
		writers []*os.File // our copies of the relays' write ends
	)
	attach := func(f *os.File, relayed bool, limit int64) (*os.File, error) {
		if !relayed {
			return f, nil
		}
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("relay pipe for %s: %w", f.Name(), err)
		}
		relays = append(relays, startRelay(pr, f, limit, uint32(s.UID), uint32(s.GID), toU32(s.Groups)))
		writers = append(writers, pw)
		return pw, nil
	}
	out, err := attach(stdout, s.RelayStdout, s.StdoutLimit)
	if err != nil {
		return fail(err)
	}
	errOut := out
	if !s.SameStderr {
		if errOut, err = attach(stderr, s.RelayStderr, s.StderrLimit); err != nil {
			return fail(err)
		}
	}
	endRelays := func() error {
		for _, w := range writers {
			w.Close()
		}
		writers = nil
		var errs []error
		for _, rl := range relays {
			rl.finish()
		}
		deadline := time.Now().Add(relayDrainGrace + relayWriteGrace)
		for _, rl := range relays {
			if err := rl.waitWithin(time.Until(deadline)); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	c, err := libcontainer.Create(s.Root, s.ID, s.Config)
	if err != nil {
		endRelays()
		return fail(fmt.Errorf("create container: %w", err))
	}
	proc := &libcontainer.Process{
		Args: s.Args, Env: s.Env, UID: s.UID, GID: s.GID, AdditionalGroups: s.Groups, Cwd: s.Cwd,
		Stdout: out, Stderr: errOut, Init: true,
	}
	var inR, inW *os.File
	if s.StdinFd != 0 {
		if inR, inW, err = os.Pipe(); err != nil {
			endRelays()
			return fail(fmt.Errorf("stdin pipe: %w", err))
		}
		proc.Stdin = inR
	}
	if s.WholeRoot {
		err = bindHostRoot(&s, func() error { return c.Start(proc) })
	} else {
		err = c.Start(proc)
	}
	if inR != nil {
		inR.Close() // the init has its own copy
		in := os.NewFile(uintptr(s.StdinFd), "stdin")
		go func() {
			// Until the file ends, or the job's last reader is gone
			// (EPIPE): a job that does not read all of it still ends.
			_, _ = io.Copy(inW, in)
			inW.Close()
			in.Close()
		}()
	}
	if err != nil {
		err = fmt.Errorf("start container: %w", err)
		if derr := c.Destroy(); derr != nil {
			err = errors.Join(err, fmt.Errorf("destroy container: %w", derr))
		}
		endRelays()
		return fail(err)
	}
	// The init has its own descriptors now; the relays keep the files.
	for _, w := range writers {
		w.Close()
	}
	writers = nil
	if !s.RelayStdout {
		stdout.Close()
	}
	if !s.SameStderr && !s.RelayStderr {
		stderr.Close()
	}
	pid, err := proc.Pid()
	var st *libcontainer.State
	if err == nil {
		st, err = c.State()
	}
	var start uint64
	if err == nil {
		start, err = writeShimState(s.Dir, pid, s.JobDir, st.CgroupPaths)
	}
	// The daemon may ask for kills once it knows the job: the fifo is
	// there before the answer, and read until the job has ended.
	var ctl *os.File
	if err == nil {
		ctl, err = openCtl(s.Dir)
	}
	// Here, not in the daemon: a check that hangs ends with this process.
	if err == nil && s.Check != nil {
		err = s.Check.checkStart(uint32(s.UID), uint32(s.GID), toU32(s.Groups), pid)
	}
	if err != nil {
		if ctl != nil {
			ctl.Close()
		}
		_ = c.Signal(unix.SIGKILL)
		_, _ = proc.Wait()
		_ = c.Destroy()
		endRelays()
		return fail(err)
	}
	defer ctl.Close()
	ended := make(chan struct{})
	go serveKills(ctl, c, pid, ended)
	answer(shimStatus{Pid: pid, Start: start})

	ps, err := proc.Wait()
	close(ended)
	var ee *exec.ExitError
	if ps == nil && errors.As(err, &ee) {
		ps = ee.ProcessState
	}
	rec := exitRecord{}
	var errs []error
	if ps != nil {
		ws := ps.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			rec.Result.Signal = int(ws.Signal())
			rec.Result.ExitCode = 128 + rec.Result.Signal
		} else {
			rec.Result.ExitCode = ws.ExitStatus()
		}
	} else {
		errs = append(errs, fmt.Errorf("wait job: %w", err))
		_ = c.Signal(unix.SIGKILL)
	}
	// Releasing the init removes the exec fifo (releaseInit); still there
	// and the init killed (it blocks in the fifo's open until released,
	// so only a signal ends it), the job never ran.
	if _, err := os.Lstat(filepath.Join(s.Root, s.ID, execFifo)); err == nil && rec.Result.Signal == int(unix.SIGKILL) {
		rec.NeverStarted = true
	}
	// The OOM count and the usage live in the cgroup: read them before
	// Destroy removes it, and record them before anything can fail.
	cg := jobCgroupsOf(st.CgroupPaths)
	var oomKills uint64
	if cg.mem != "" {
		n, err := cg.oomKills()
		if err != nil {
			errs = append(errs, err)
		}
		rec.Result.OOMKilled = n > 0
		oomKills = uint64(n)
	}
	rec.Usage = cg.usage()
	if err := writeJSON(filepath.Join(s.Dir, shimExitFile), rec); err != nil {
		errs = append(errs, err)
	}
	if err := c.Destroy(); err != nil {
		errs = append(errs, fmt.Errorf("destroy container: %w", err))
	}
	if err := removeJobDir(s.JobDir); err != nil {
		errs = append(errs, err)
	}
	// Every process of the job is gone: each relay copies what is left
	// and ends, even if a process outside the job still holds its pipe.
	if err := endRelays(); err != nil {
		errs = append(errs, err)
	}
	// After all the job wrote: why it was stopped, and its OOM kills.
	if err := writeNotes(noteF, s.Dir, s.OOMNote, oomKills); err != nil {
		errs = append(errs, err)
	}
	rec.Cleaned = true
	if err := errors.Join(errs...); err != nil {
		rec.Err = err.Error()
	}
	return writeJSON(filepath.Join(s.Dir, shimExitFile), rec)
}

// openCtl makes the supervisor's control fifo in dir and opens it for
// reading and writing: with a writer of its own, it never reads an end of
// file when a daemon's writer closes, and a daemon's non-blocking open
// for writing succeeds exactly while this supervisor is there.
func openCtl(dir string) (*os.File, error) {
	path := filepath.Join(dir, shimCtlFile)
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return nil, fmt.Errorf("make control fifo: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open control fifo: %w", err)
	}
	return f, nil
}

// serveKills carries out the daemon's killRequests (see Job.killAfter)
// until the job has ended; each runs on its own, so the earliest deadline
// wins. Should the fifo become unreadable (a line too long), it is
// closed: the daemon then fails to reach it and escalates itself, rather
// than write requests no one reads.
func serveKills(ctl *os.File, c *libcontainer.Container, initPid int, ended <-chan struct{}) {
	lines := bufio.NewScanner(ctl)
	for lines.Scan() {
		var req killRequest
		if err := json.Unmarshal(lines.Bytes(), &req); err != nil {
			fmt.Fprintf(os.Stderr, "shoal supervisor %d: bad kill request %q: %v\n", os.Getpid(), lines.Bytes(), err)
			continue
		}
		grace := time.Duration(max(req.GraceMs, 0)) * time.Millisecond
		go escalate(c, initPid, ended, grace, req.StoppedInit)
	}
	if err := lines.Err(); !errors.Is(err, os.ErrClosed) { // closed: the supervisor is done
		fmt.Fprintf(os.Stderr, "shoal supervisor %d: control fifo: %v\n", os.Getpid(), err)
		ctl.Close()
	}
}

// writeNotes appends to the job's stderr f the lines Job.Note recorded in
// the supervisor's directory dir, then, if the job had OOM kills, the
// OOM note with their count.
func writeNotes(f *os.File, dir, oomNote string, oomKills uint64) error {
	notes, err := os.ReadFile(filepath.Join(dir, shimNotesFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read notes: %w", err)
	}
	if oomKills > 0 && oomNote != "" {
		notes = fmt.Appendf(notes, oomNote+"\n", oomKills)
	}
	if len(notes) == 0 {
		return nil
	}
	if _, err := f.Write(notes); err != nil {
		return fmt.Errorf("write notes to the job's stderr: %w", err)
	}
	return nil
}

// writeShimState records the supervisor and its job's init, for a daemon
// that starts after this one's daemon has gone; it returns the init's
// start time.
func writeShimState(dir string, initPid int, jobDir string, cgroupPaths map[string]string) (uint64, error) {
	self, err := procStartTime(os.Getpid())
	if err != nil {
		return 0, err
	}
	initStart, err := procStartTime(initPid)
	if err != nil {
		return 0, err
	}
	return initStart, writeJSON(filepath.Join(dir, shimStateFile), shimState{
		ShimPid: os.Getpid(), ShimStart: self, InitPid: initPid, InitStart: initStart,
		JobDir: jobDir, CgroupPaths: cgroupPaths,
	})
}

// writeJSON replaces path with v, atomically (a new file renamed over it).
// The directory lives on /run (a tmpfs) in production: no fsync, as a
// machine that reboots loses the jobs anyway.
func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readJSON reads path into v; a missing file is os.ErrNotExist.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// procStartTime is the start time of pid (clock ticks since boot, field
// 22 of /proc/<pid>/stat): with the pid, it names one process for good.
func procStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); the start time is field 22.
	if len(f) < 20 {
		return 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f)+2)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// openPidfd returns a pidfd for pid if pid is still the process that
// started at start; -1 and no error if that process is gone (its pid
// free, or another process's). Not knowing (its start time could not be
// read: out of file descriptors, say) is an error, never "gone".
func openPidfd(pid int, start uint64) (int, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return -1, nil
	}
	if err != nil {
		return -1, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	// Opened first, checked second: the pidfd cannot follow a reused pid.
	got, err := procStartTime(pid)
	switch {
	case err == nil && got == start:
		return fd, nil
	case err == nil || errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH):
		unix.Close(fd)
		return -1, nil
	default:
		unix.Close(fd)
		return -1, fmt.Errorf("read the start time of process %d: %w", pid, err)
	}
}

// pidfdExited reports, without blocking, whether the process of a pidfd
// has exited.
func pidfdExited(fd int) bool {
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(p, 0)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n > 0
	}
}

// waitPidfd blocks until the process of a pidfd has exited.
func waitPidfd(fd int) {
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(p, -1)
		if err != unix.EINTR {
			return
		}
	}
}
