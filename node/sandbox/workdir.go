package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The working directory is chosen by the user, and libcontainer's init
// chdirs into it as root (runc's finalizeNamespace tries before it drops
// to the job's user), which would let a path through a directory the user
// may not enter (a symlink in /tmp to /home/bob/private/shared) take the
// job into what lies beyond. So Start
//
//  1. opens a host job's directory with the user's credentials (O_PATH):
//     one the user cannot reach fails the start with a clear reason;
//  2. gives libcontainer that directory's canonical path, and binds the
//     opened directory itself (never a path) into the private /tmp when
//     it lies under /tmp;
//  3. after the init has chdir'd (Start returns once the init has
//     finished its setup and waits to exec) and before it execs the
//     job, resolves the path again with the user's credentials inside
//     the job's own root (openat2 RESOLVE_IN_ROOT on /proc/<pid>/root)
//     and checks that it is the very directory the init is in: a path
//     swapped between 1 and 3 fails the start, nothing of the job runs.
//
// Step 3 covers image jobs too, whose working directory may lie in a
// mount source. Root jobs skip all of it: root may enter anything.

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

// openWorkdir opens a host job's working directory as its user.
func openWorkdir(spec *Spec) (*workdir, error) {
	if spec.Rootfs != "" {
		return &workdir{path: spec.Dir}, nil
	}
	var f *os.File
	open := func() error {
		var err error
		f, err = os.OpenFile(spec.Dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		return err
	}
	var err error
	if spec.UID == 0 {
		err = open()
	} else {
		err = asUser(spec.UID, spec.GID, spec.Groups, open)
	}
	switch {
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

// verify checks, for a non-root job whose init has chdir'd (and not yet
// exec'd), that the init's working directory is what w.path leads to,
// resolved with the job user's credentials inside the job's own root.
func (w *workdir) verify(spec *Spec, pid int) error {
	if spec.UID == 0 {
		return nil
	}
	proc := "/proc/" + strconv.Itoa(pid)
	root, err := os.OpenFile(proc+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the job's root: %w", err)
	}
	defer root.Close()
	var want unix.Stat_t
	err = asUser(spec.UID, spec.GID, spec.Groups, func() error {
		fd, err := unix.Openat2(int(root.Fd()), w.path, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Fstat(fd, &want)
	})
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
		return fmt.Errorf("%w: working directory %s: permission denied for user %s", ErrInvalidSpec, w.path, userName(spec.UID))
	}
	if err != nil {
		return fmt.Errorf("%w: working directory %s: %w", ErrInvalidSpec, w.path, err)
	}
	var got unix.Stat_t
	if err := unix.Stat(proc+"/cwd", &got); err != nil {
		return fmt.Errorf("stat the job's working directory: %w", err)
	}
	if got.Dev != want.Dev || got.Ino != want.Ino {
		return fmt.Errorf("%w: working directory %s changed while the job started (a path component was replaced): not started",
			ErrInvalidSpec, w.path)
	}
	return nil
}
