package sandbox

import (
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"

	"github.com/shoal-batch/shoal/node/sandbox/enterdir"
)

// ErrBinaryAboveRoot is returned by Start when the running binary's
// directory is Root or an ancestor of it; see "Binary placement" in the
// package documentation.
var ErrBinaryAboveRoot = errors.New("sandbox binary directory is an ancestor of the state root")

// ErrDuplicateID is returned by Start for an id that this Runner is
// already running.
var ErrDuplicateID = errors.New("sandbox id already running")

// Runner starts sandboxes. Set its fields before the first call; a Runner
// must not be copied after first use. Its methods are safe for concurrent
// use.
type Runner struct {
	// Root is libcontainer's state root, e.g. /run/shoal/sandbox: one
	// directory per container. It belongs to this Runner alone.
	Root string
	// CgroupParent is the cgroup under which each job gets
	// <CgroupParent>/<id>, in every hierarchy, e.g. "shoal" gives
	// /sys/fs/cgroup/memory/shoal/<id>.
	CgroupParent string
	// TmpRoot is the node's scratch root, where the job directories are
	// made, TmpRoot/<id> (root-only): an image job's writable layer, binds
	// of mount sources and of a working directory under /tmp (the private
	// /tmp itself is a tmpfs). It should be on a real disk (a file system
	// overlayfs takes as an upper layer: ext4, xfs, not an overlay), apart
	// from the controller's state, and belongs to this Runner alone.
	TmpRoot string
	// Supervisor is the binary each job's supervisor (and so its
	// libcontainer init) runs: a build of cmd/shoal-sandbox, the same
	// build as this binary (SiblingSupervisor finds one); "" is this
	// binary. It must not lie in or above Root either.
	Supervisor string
	// StartCheckTimeout bounds each lookup of a path the job names,
	// which Start makes as the job's user: its working directory,
	// output, input and mount sources (see withinBound), and the check
	// of its working directory and program (a walk of its PATH) before
	// its init is released. Past it the start fails, naming the lookup
	// that hung. 0: DefaultStartCheckTimeout.
	StartCheckTimeout time.Duration

	mu   sync.Mutex
	live map[string]bool // ids of jobs started and not yet finished
	// quiesced: Quiesce was called; freezing counts the sections that
	// have a job's cgroup frozen (freeze.go).
	quiesced bool
	freezing sync.WaitGroup

	placement    sync.Once
	placementErr error
	hostname     string
	supervisor   *os.File // Supervisor, opened by checkPlacement
	// initStatic: the binary jobs' inits run from has no ELF interpreter,
	// so it runs inside any image (see entersAsUser).
	initStatic bool
}

// Start creates the job's sandbox and starts its process: it opens the
// output files and the working directory as the job's user, makes the
// job's directory (an image job's overlay, mounted; binds of the mount
// sources, looked up as the job's user, and of a working directory under
// /tmp), and has the job's supervisor (see shim.go) create the container
// and run its init, which sets up the namespaces, mounts, cgroups and
// credentials, and checks that the init's working directory and program
// are ones the user can reach, within StartCheckTimeout (see workdir.go);
// it then releases the init to exec Argv. It returns once that
// init has been released (the execve itself may still be in flight; Stop
// copes with that). Nothing it opens can block it (a FIFO as an output is
// refused). On error nothing is left behind but the output files. Errors
// about the Spec wrap ErrInvalidSpec; an Argv[0] that cannot be found or
// executed is reported by the init, as a Start error.
func (r *Runner) Start(spec Spec) (*Job, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	if err := r.checkPlacement(); err != nil {
		return nil, err
	}
	if !r.claim(spec.ID) {
		return nil, fmt.Errorf("start %s: %w", spec.ID, ErrDuplicateID)
	}
	started := false
	defer func() {
		if !started {
			r.release(spec.ID)
		}
	}()
	wd, err := openWorkdir(&spec, r.lookupBound())
	if err != nil {
		return nil, err
	}
	defer wd.close()
	out, err := openOutputs(&spec, r.lookupBound())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	// The supervisor gets its own descriptors when it is started.
	defer out.close()
	dir, err := r.makeJobDir(&spec)
	if err != nil {
		return nil, err
	}
	var (
		rootfs    string
		mounts    []*configs.Mount
		srcs      []string
		wholeRoot bool
	)
	if spec.Rootfs == "" {
		rootfs = r.rootfsDir()
		if err = wd.bindWorkdir(dir); err == nil {
			mounts, wholeRoot, err = r.hostMounts(&spec, wd)
		}
	} else if rootfs, err = makeLayer(&spec, dir); err == nil {
		mounts = imageMounts(&spec)
	}
	if err == nil {
		srcs, err = bindMountSources(&spec, dir, r.lookupBound())
	}
	var inRoot []shimMount
	if err == nil {
		var um []*configs.Mount
		um, inRoot, err = r.userMounts(&spec, srcs, mountSite{rootfs: rootfs, wholeRoot: wholeRoot, tmpWorkdir: wd.tmpPath()})
		mounts = append(mounts, um...)
	}
	args, cwd, asUser := spec.Argv, wd.path, false
	if err == nil {
		if asUser, err = r.entersAsUser(&spec, srcs); asUser {
			args, cwd = enterdir.Args("/proc/self/exe", wd.path, spec.Argv), ""
		}
	}
	if err != nil {
		_ = removeJobDir(dir)
		return nil, err
	}
	ss := shimSpec{
		Root: r.Root, ID: spec.ID, Dir: r.shimDir(spec.ID), JobDir: dir,
		Config: r.config(&spec, r.hostname, rootfs, mounts), WholeRoot: wholeRoot,
		Args: args, Env: spec.Env, UID: int(spec.UID), GID: int(spec.GID), Groups: toInts(spec.Groups),
		Cwd: cwd, SameStderr: spec.Stderr == spec.Stdout, RelayStdout: out.relayOut, RelayStderr: out.relayErr,
		StdoutLimit: spec.StdoutLimit, StderrLimit: spec.StderrLimit, OOMNote: spec.OOMNote, Mounts: inRoot,
		Check: wd.checkFor(&spec, asUser, r.lookupBound()),
	}
	sh, err := r.startShim(&ss, out)
	if err != nil {
		_ = removeJobDir(dir)
		_ = os.RemoveAll(ss.Dir)
		return nil, err
	}
	// The init is set up (credentials dropped), checked (ss.Check) and
	// waits on its exec fifo; releaseInit releases it (libcontainer's
	// Exec where the kernel gave no pidfd).
	c, err := libcontainer.Load(r.Root, spec.ID)
	if err == nil && sh.initGone {
		err = errInitEnded // its pid names another process now, if any
	}
	if err == nil && sh.initFd >= 0 {
		err = releaseInit(filepath.Join(r.Root, spec.ID, execFifo), sh.initFd)
	} else if err == nil {
		err = c.Exec()
	}
	var st *libcontainer.State
	if err == nil {
		if st, err = c.State(); err != nil {
			err = fmt.Errorf("read container state: %w", err)
		}
	}
	if err != nil {
		sh.abandon()
		_ = os.RemoveAll(ss.Dir)
		return nil, err
	}
	started = true
	return newJob(r, spec.ID, c, sh, jobCgroupsOf(st.CgroupPaths)), nil
}

// supervisorError is why a supervisor did not start its job; one it
// reported as invalid is an ErrInvalidSpec.
type supervisorError struct {
	msg     string
	invalid bool
}

func (e supervisorError) Error() string        { return e.msg }
func (e supervisorError) Is(target error) bool { return e.invalid && target == ErrInvalidSpec }

// supervisor is a job's running supervisor, as the daemon knows it.
type supervisor struct {
	pid     int
	initPid int
	initFd  int           // pidfd of the job's init, -1 if unknown
	exited  chan struct{} // closed once the supervisor has exited
	// initGone is set when the init had ended (its pid, then, may be
	// another process's) by the time its pidfd was to be opened.
	initGone bool
}

// abandon kills a job's init that is not to run (the supervisor records
// it, destroys the container and removes the job directory) and waits for
// the supervisor to end. Through the pidfd where there is one: an init
// already gone may have been reaped, and its pid taken by another process.
func (sh *supervisor) abandon() {
	if sh.initFd >= 0 {
		_ = unix.PidfdSendSignal(sh.initFd, unix.SIGKILL, nil, 0)
		unix.Close(sh.initFd)
		sh.initFd = -1
	} else if !sh.initGone {
		_ = unix.Kill(sh.initPid, unix.SIGKILL)
	}
	<-sh.exited
}

// startShim starts a job's supervisor (this binary again, see shim.go)
// and waits until it has created the container and started its init, or
// failed to. The supervisor is in a session of its own and is not killed
// with the daemon.
func (r *Runner) startShim(ss *shimSpec, out *stdio) (*supervisor, error) {
	if err := os.MkdirAll(r.shimRoot(), 0o700); err != nil {
		return nil, fmt.Errorf("create supervisor root: %w", err)
	}
	if err := os.RemoveAll(ss.Dir); err != nil {
		return nil, fmt.Errorf("remove stale supervisor directory: %w", err)
	}
	if err := os.Mkdir(ss.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create supervisor directory: %w", err)
	}
	logF, err := os.OpenFile(filepath.Join(ss.Dir, shimLogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create supervisor log: %w", err)
	}
	defer logF.Close()
	specR, specW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("supervisor pipe: %w", err)
	}
	defer specR.Close()
	defer specW.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("supervisor pipe: %w", err)
	}
	defer statusR.Close()
	defer statusW.Close()
	files := []*os.File{specR, statusW, out.stdout}
	if !ss.SameStderr {
		files = append(files, out.stderr)
	}
	if out.stdin != nil {
		ss.StdinFd = 3 + len(files) // ExtraFiles[i] is descriptor 3+i
		files = append(files, out.stdin)
	}
	// GOMAXPROCS=1: a supervisor needs no parallelism, and libcontainer
	// hands the value on to its init (which sets 1 itself, but only once
	// its runtime has started a P for every CPU). Two Go starts a job with
	// one P each cost ~3-4 ms less CPU a job on 2 cores (draining `true`
	// jobs: 28-34 against 25-31 ms of the machine's CPU a job, alternate
	// runs).
	cmd := &exec.Cmd{
		Path:        r.supervisorExe(),
		Args:        []string{"shoal-supervisor:" + ss.ID, "init"},
		Env:         []string{shimEnv + "=1", "GOMAXPROCS=1", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Stderr:      logF,
		ExtraFiles:  files,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start supervisor: %w", err)
	}
	sh := &supervisor{pid: cmd.Process.Pid, initFd: -1, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(sh.exited)
	}()
	specR.Close()
	statusW.Close()
	if err := json.NewEncoder(specW).Encode(ss); err != nil {
		_ = cmd.Process.Kill()
		<-sh.exited
		return nil, fmt.Errorf("hand the job to its supervisor: %w", err)
	}
	specW.Close()
	var st shimStatus
	if err := json.NewDecoder(statusR).Decode(&st); err != nil {
		<-sh.exited
		log, _ := os.ReadFile(filepath.Join(ss.Dir, shimLogFile))
		return nil, fmt.Errorf("supervisor of %s ended without starting it: %w (its log: %q)", ss.ID, err, strings.TrimSpace(string(log)))
	}
	if st.Err != "" {
		<-sh.exited
		return nil, supervisorError{st.Err, st.Invalid}
	}
	sh.initPid = st.Pid
	// The supervisor is this very build (SiblingSupervisor): it sends
	// the start time.
	switch fd, err := openPidfd(st.Pid, st.Start); {
	case err == nil && fd >= 0:
		sh.initFd = fd
	case err == nil:
		sh.initGone = true
	} // an error: not known, as where the kernel has no pidfds (Exec, a kill by pid)
	return sh, nil
}

// Check reports, before any job is started, what would make every Start
// fail: bad fields, or a binary whose directory contains Root. A daemon
// calls it at startup so that a misplaced binary stops the daemon rather
// than failing each job.
func (r *Runner) Check() error { return r.checkPlacement() }

// checkPlacement refuses a binary whose directory contains Root, and looks
// up the hostname once.
func (r *Runner) checkPlacement() error {
	r.placement.Do(func() {
		r.hostname, r.placementErr = os.Hostname()
		if r.placementErr != nil {
			r.placementErr = fmt.Errorf("get hostname: %w", r.placementErr)
			return
		}
		if r.placementErr = r.validate(); r.placementErr != nil {
			return
		}
		if err := os.MkdirAll(r.Root, 0o700); err != nil {
			r.placementErr = fmt.Errorf("create state root: %w", err)
			return
		}
		exe, err := os.Executable()
		if err != nil {
			r.placementErr = fmt.Errorf("find executable: %w", err)
			return
		}
		if r.placementErr = checkPlacement(exe, r.Root); r.placementErr != nil {
			return
		}
		init, name := "/proc/self/exe", exe
		if r.Supervisor != "" {
			if r.placementErr = checkPlacement(r.Supervisor, r.Root); r.placementErr != nil {
				return
			}
			if r.supervisor, r.placementErr = openSupervisor(r.Supervisor); r.placementErr != nil {
				return
			}
			init, name = r.supervisorExe(), r.Supervisor
		}
		r.initStatic, r.placementErr = checkInitBinary(init, name)
	})
	return r.placementErr
}

// checkInitBinary checks the binary that jobs' inits run from, which a
// job that does not run as root executes again as its user (enterdir):
// everyone must be allowed to execute it. It reports whether the binary
// is statically linked. name is what errors call it.
func checkInitBinary(path, name string) (static bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("open the jobs' init binary %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("jobs' init binary %s: %w", name, err)
	}
	if fi.Mode()&0o001 == 0 {
		return false, fmt.Errorf("jobs' init binary %s has mode %v: jobs of users other than root execute it to enter their working directory, so everyone must be allowed to (chmod a+x)",
			name, fi.Mode())
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return false, fmt.Errorf("jobs' init binary %s: %w", name, err)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// entersAsUser reports whether a job's init is to enter no directory as
// root, the job entering it through enterdir as its user (see
// workdir.go): every job that does not run as root, but where the init's
// binary is linked dynamically (so cannot run inside an image) an image
// job that mounts no directory of the user's, whose init may enter it as
// root, harmlessly, in the job's own layer. An image job that mounts one
// is then refused. srcs are the job's mount sources as bindMountSources
// made them.
func (r *Runner) entersAsUser(spec *Spec, srcs []string) (bool, error) {
	if spec.UID == 0 {
		return false, nil
	}
	if spec.Rootfs == "" || r.initStatic {
		return true, nil
	}
	// checkStart then checks that the user may enter the directory.
	for i, m := range spec.Mounts {
		if fi, err := os.Stat(srcs[i]); m.NodeSource && m.ReadOnly || err != nil || !fi.IsDir() {
			continue
		}
		return false, fmt.Errorf("%w: an image job that mounts a directory enters its working directory as its user "+
			"through the binary jobs' inits run from, inside the image, and this node's is linked dynamically: "+
			"install a statically linked %s next to shoal (`make build` links it so where libc6-dev's libc.a is installed)",
			ErrInvalidSpec, SupervisorName)
	}
	return false, nil
}

// validate checks the Runner's fields. An empty or odd CgroupParent would
// make Cleanup treat other cgroups as its own.
func (r *Runner) validate() error {
	p := r.CgroupParent
	switch {
	case r.Root == "" || r.TmpRoot == "":
		return fmt.Errorf("%w: Runner needs Root and TmpRoot", ErrInvalidSpec)
	case p == "" || p == "." || path.IsAbs(p) || path.Clean(p) != p || strings.HasPrefix(p, ".."):
		return fmt.Errorf("%w: CgroupParent %q must be a clean relative cgroup path", ErrInvalidSpec, p)
	}
	return nil
}

// checkPlacement returns ErrBinaryAboveRoot if exe's directory is root or
// one of its ancestors, after resolving symlinks in both.
func checkPlacement(exe, root string) error {
	exe, err := filepath.EvalSymlinks(exe)
	if err != nil {
		return fmt.Errorf("resolve executable: %w", err)
	}
	root, err = filepath.EvalSymlinks(root)
	if err != nil {
		return fmt.Errorf("resolve state root: %w", err)
	}
	dir := filepath.Dir(exe)
	if dir == root || dir == "/" || strings.HasPrefix(root, dir+"/") {
		return fmt.Errorf("%w: binary %s, root %s", ErrBinaryAboveRoot, exe, root)
	}
	return nil
}

func (r *Runner) claim(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.live[id] {
		return false
	}
	if r.live == nil {
		r.live = make(map[string]bool)
	}
	r.live[id] = true
	return true
}

func (r *Runner) release(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.live, id)
}

func (r *Runner) isLive(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live[id]
}

func (r *Runner) liveCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.live)
}

func (r *Runner) jobDir(id string) string {
	return filepath.Join(r.TmpRoot, id)
}

func toInts(ids []uint32) []int {
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = int(id)
	}
	return out
}
