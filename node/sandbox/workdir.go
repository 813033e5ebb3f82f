package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The working directory is chosen by the user, and libcontainer's init
// makes it (MkdirAll) and changes into it as root, inside the job's root,
// before it drops to the job's user. A path that leads elsewhere than the
// user could go (a symlink in /tmp to /home/bob/private/shared, a
// directory swapped for a symlink after the checks, a symlink inside one
// of the job's mounts) would take root there: into a directory the user
// may not enter, or making one wherever the symlink points. So, for a
// job that does not run as root,
//
//  1. Start opens a host job's directory with the user's credentials
//     (O_PATH): one the user cannot reach fails the start with a clear
//     reason. It binds the opened directory itself (never a path) into
//     the private /tmp when it lies under /tmp;
//  2. the init is given no working directory: it stays in the job's "/"
//     and executes the job through enterdir, which changes into the
//     directory's canonical path once it runs as the job's user, with
//     the job's credentials and no capabilities;
//  3. before the init is released, checkStart (in the job's supervisor)
//     resolves the directory and the program inside the job's own root,
//     as the user, so that what would fail in enterdir fails the start
//     instead, with the reason.
//
// Root jobs keep libcontainer's way: root may enter anything.

// workdir is a host job's working directory, opened as its user.
type workdir struct {
	f    *os.File // O_PATH; nil for image and root jobs
	path string   // the canonical path: the job's cwd
	bind string   // the bind of f in the job dir, for a path under /tmp
}

func (w *workdir) close() {
	if w.f != nil {
		w.f.Close()
	}
}

// openWorkdir opens a host job's working directory as its user, within
// bound (see withinBound).
func openWorkdir(spec *Spec, bound time.Duration) (*workdir, error) {
	if spec.Rootfs != "" {
		return &workdir{path: spec.Dir}, nil
	}
	var f *os.File
	open := func() error {
		var err error
		// No magic link of /proc (see openNoMagic): /proc/self/cwd is
		// the daemon's, and a directory reached through one could be
		// bound into the job's /tmp, past the directories above it.
		f, err = openNoMagic(spec.Dir, unix.O_PATH|unix.O_DIRECTORY, 0)
		return err
	}
	err := withinBound(bound, func() error {
		if spec.UID == 0 {
			return open()
		}
		return asUser(spec.UID, spec.GID, spec.Groups, open)
	}, func() { f.Close() })
	var (
		magic    *magicLinkError
		noAnswer *noAnswerError
	)
	switch {
	case errors.As(err, &noAnswer):
		return nil, fmt.Errorf("working directory %s: %w", spec.Dir, err)
	case errors.As(err, &magic):
		return nil, fmt.Errorf("%w: working directory %s: %w", ErrInvalidSpec, spec.Dir, magic)
	case errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM):
		return nil, fmt.Errorf("%w: working directory %s: permission denied for user %s", ErrInvalidSpec, spec.Dir, userName(spec.UID))
	case errors.Is(err, unix.ENOTDIR):
		return nil, fmt.Errorf("%w: working directory %s is not a directory", ErrInvalidSpec, spec.Dir)
	case err != nil:
		return nil, fmt.Errorf("%w: working directory: %w", ErrInvalidSpec, err)
	}
	path, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil || !filepath.IsAbs(path) {
		f.Close()
		return nil, fmt.Errorf("resolve working directory %s: %q: %v", spec.Dir, path, err)
	}
	return &workdir{f: f, path: path}, nil
}

// underTmp reports whether a host path lies below /tmp (not /tmp itself,
// which is the job's private /tmp).
func underTmp(path string) bool { return strings.HasPrefix(path, "/tmp/") }

// tmpPath is the path of a working directory bound into the job's
// private /tmp, "" if there is none.
func (w *workdir) tmpPath() string {
	if w.bind == "" {
		return ""
	}
	return w.path
}

// bindWorkdir binds a working directory under /tmp into the job's
// directory dir, whence hostMounts binds it into the private /tmp.
func (w *workdir) bindWorkdir(dir string) error {
	if w.f == nil || !underTmp(w.path) {
		return nil
	}
	p, err := bindFd(w.f, filepath.Join(dir, jobCwd))
	if err != nil {
		return fmt.Errorf("bind working directory %s: %w", w.path, err)
	}
	w.bind = p
	return nil
}

// DefaultStartCheckTimeout bounds checkStart where Runner.StartCheckTimeout
// is 0: a healthy lookup, even over NFS with cold caches, takes
// milliseconds; one on a mount whose server is gone never ends.
const DefaultStartCheckTimeout = 30 * time.Second

// startCheck is what checkStart needs of a non-root job; the daemon hands
// it to the job's supervisor (shimSpec.Check), which runs it on its init.
type startCheck struct {
	Dir      string `json:"dir"`     // the working directory, as the job sees it
	Program  string `json:"program"` // Argv[0]
	Path     string `json:"path"`    // the job's PATH
	EnterDir bool   `json:"enterDir,omitempty"`
	// Timeout bounds the whole check (see checkStart).
	Timeout time.Duration `json:"timeout"`
}

// checkFor is the check of a non-root job's start, nil for root's.
func (w *workdir) checkFor(spec *Spec, viaEnterdir bool, timeout time.Duration) *startCheck {
	if spec.UID == 0 {
		return nil
	}
	return &startCheck{Dir: w.path, Program: spec.Argv[0], Path: envValue(spec.Env, "PATH"), EnterDir: viaEnterdir, Timeout: timeout}
}

// checkStep is the lookup a check is in, for the error should it hang:
// what it looks up, and what the job could do instead.
type checkStep struct{ what, instead string }

// checkStart checks, for a non-root job whose init (pid) is set up and
// waits to exec, what the job's first step will meet, resolved with the
// job user's credentials inside the job's own root: that the working
// directory is one the user may enter, and that the program is a file the
// user may execute, found as exec.LookPath finds it; and, for a job that
// enters its directory through enterdir (EnterDir), that the user may
// execute the init's binary. For such a job nothing relies on it for
// safety (enterdir does it all as the user): it turns what would end the
// job at once into a start that fails with the reason. For an image job
// whose init entered the directory as root, it is what refuses one the
// user may not enter.
//
// The job's supervisor runs it, not the daemon: a lookup on a mount that
// no longer answers (a PATH entry on a hung NFS server) blocks in the
// kernel, and can be ended only with its process. So the check gives up
// after Timeout, naming the lookup that hung; the supervisor then kills
// the init and exits, which ends the blocked lookup too.
func (c *startCheck) checkStart(uid, gid uint32, groups []uint32, pid int) error {
	var step atomic.Pointer[checkStep]
	done := make(chan error, 1) // the lookup may outlive this call
	go func() { done <- c.check(uid, gid, groups, pid, &step) }()
	timer := time.NewTimer(c.Timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
	}
	s := step.Load()
	if s == nil { // not yet as the user: opening the init's own /proc files
		s = &checkStep{what: "opening the job's root in /proc/" + strconv.Itoa(pid)}
	}
	fix := "repair or unmount that file system on this node"
	if s.instead != "" {
		fix += ", or " + s.instead
	}
	return fmt.Errorf("checking the job's start as user %s: %s did not finish within %v: the file system there does not answer (an NFS or FUSE mount whose server is gone?): %s",
		userName(uid), s.what, c.Timeout, fix)
}

// check is checkStart's work; it notes each lookup in step before it
// starts it, and closes what it opens only once done, however late.
func (c *startCheck) check(uid, gid uint32, groups []uint32, pid int, step *atomic.Pointer[checkStep]) error {
	at := func(what, instead string) { step.Store(&checkStep{what, instead}) }
	proc := "/proc/" + strconv.Itoa(pid)
	root, err := os.OpenFile(proc+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the job's root: %w", err)
	}
	defer root.Close()
	var exe *os.File
	if c.EnterDir {
		// What the init will execute: libcontainer's sealed copy of its
		// binary, which the user must be allowed to execute.
		if exe, err = os.OpenFile(proc+"/exe", unix.O_PATH|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("open the job's init binary: %w", err)
		}
		defer exe.Close()
	}
	var cmdErr, exeErr error
	err = asUser(uid, gid, groups, func() error {
		at("entering the working directory "+c.Dir, "run the job in another working directory")
		if err := accessInRoot(root, c.Dir, unix.O_DIRECTORY); err != nil {
			return err
		}
		if exe != nil {
			at("checking the job's init binary", "")
			exeErr = unix.Faccessat2(int(exe.Fd()), "", unix.X_OK, unix.AT_EMPTY_PATH|unix.AT_EACCESS)
		}
		cmdErr = findInRoot(root, c.Dir, c.Program, c.Path, at)
		return nil
	})
	switch {
	case exeErr != nil:
		return fmt.Errorf("the job's init binary (libcontainer's copy of %s), which a job of uid %d executes to enter its working directory: %w",
			SupervisorName, uid, exeErr)
	case errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM):
		return fmt.Errorf("%w: working directory %s: permission denied for user %s", ErrInvalidSpec, c.Dir, userName(uid))
	case err != nil:
		return fmt.Errorf("%w: working directory %s: %w", ErrInvalidSpec, c.Dir, err)
	case cmdErr != nil:
		return fmt.Errorf("%w: %w", ErrInvalidSpec, cmdErr)
	}
	return nil
}

// accessInRoot opens path (flags: O_DIRECTORY or 0) inside root, as the
// job will, and checks that the caller may search or execute it.
func accessInRoot(root *os.File, path string, flags uint64) error {
	fd, err := unix.Openat2(int(root.Fd()), path, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC | flags,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if flags&unix.O_DIRECTORY == 0 {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return unix.EACCES
		}
	}
	// AT_EACCESS: the thread's own (file-system) credentials, the user's.
	return unix.Faccessat2(fd, "", unix.X_OK, unix.AT_EMPTY_PATH|unix.AT_EACCESS)
}

// findInRoot looks the program name up inside root as exec.LookPath would
// in directory dir with PATH path, and returns what exec.LookPath's error
// would say if it is not there. It tells at of each lookup it starts.
func findInRoot(root *os.File, dir, name, path string, at func(what, instead string)) error {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		at("looking up the program "+p, "run a program that lies elsewhere")
		if err := accessInRoot(root, p, 0); err != nil {
			return fmt.Errorf("exec: %q: %w", name, err)
		}
		return nil
	}
	if name != "" {
		for _, d := range filepath.SplitList(path) {
			// exec.LookPath refuses what it finds in a relative entry.
			if !filepath.IsAbs(d) {
				continue
			}
			at(fmt.Sprintf("looking up %q in the PATH entry %s", name, d), "leave that entry out of the job's PATH")
			if accessInRoot(root, filepath.Join(d, name), 0) == nil {
				return nil
			}
		}
	}
	return fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

// envValue is the value of key in env, the last one set as exec does.
func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}
