package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// openOutputs creates or truncates (or appends to) the job's stdout and
// stderr files. The same path twice gives one shared file (one offset, like
// 2>&1).
func openOutputs(spec *Spec) (stdout, stderr *os.File, err error) {
	flags := os.O_WRONLY | os.O_CREATE | unix.O_CLOEXEC | unix.O_NOCTTY
	if spec.AppendOutput {
		flags |= os.O_APPEND
	} else {
		flags |= os.O_TRUNC
	}
	stdout, err = openAsUser(spec.Stdout, flags, spec.UID, spec.GID, spec.Groups)
	if err != nil {
		return nil, nil, err
	}
	if spec.Stderr == spec.Stdout {
		return stdout, stdout, nil
	}
	stderr, err = openAsUser(spec.Stderr, flags, spec.UID, spec.GID, spec.Groups)
	if err != nil {
		stdout.Close()
		return nil, nil, err
	}
	return stdout, stderr, nil
}

// openAsUser opens path for writing with flags and the file-system
// credentials of uid, gid and groups, so that a user cannot make the root
// daemon create or truncate a file the user could not (a symlink or a
// swapped directory in a path the user controls). New files get that owner.
func openAsUser(path string, flags int, uid, gid uint32, groups []uint32) (*os.File, error) {
	if uid == 0 {
		f, err := os.OpenFile(path, flags, 0o644)
		if err != nil {
			return nil, fmt.Errorf("open output: %w", err)
		}
		if gid != 0 {
			if err := f.Chown(0, int(gid)); err != nil {
				f.Close()
				return nil, fmt.Errorf("chown output: %w", err)
			}
		}
		return f, nil
	}
	var f *os.File
	err := asUser(uid, gid, groups, func() error {
		var err error
		f, err = os.OpenFile(path, flags, 0o644)
		if err != nil {
			return fmt.Errorf("open output as uid %d: %w", uid, err)
		}
		return nil
	})
	return f, err
}

// asUser runs fn with the file-system credentials of uid, gid and groups:
// the kernel checks every path fn looks up, and every file it creates,
// against them.
func asUser(uid, gid uint32, groups []uint32, fn func() error) error {
	ch := make(chan error, 1)
	// fsuid, fsgid and the group list are per-thread in the kernel, so they
	// are changed on one locked OS thread only, with raw syscalls (Go's
	// syscall.Setgroups would change every thread), in a goroutine of its
	// own: if they cannot be restored, the goroutine exits still locked and
	// the runtime destroys the thread.
	go func() {
		runtime.LockOSThread()
		restored, err := withThreadCreds(uid, gid, groups, fn)
		if restored {
			runtime.UnlockOSThread()
		}
		ch <- err
	}()
	return <-ch
}

// withThreadCreds runs on a locked thread; restored reports whether the
// thread's credentials are root's again.
func withThreadCreds(uid, gid uint32, groups []uint32, fn func() error) (restored bool, err error) {
	saved, err := unix.Getgroups()
	if err != nil {
		return true, fmt.Errorf("get groups: %w", err)
	}
	defer func() {
		unix.Setfsuid(0)
		unix.Setfsgid(0)
		if threadSetgroups(toU32(saved)) == nil {
			fsuid, _ := unix.SetfsuidRetUid(-1)
			fsgid, _ := unix.SetfsgidRetGid(-1)
			restored = fsuid == 0 && fsgid == 0
		}
	}()
	if err := threadSetgroups(groups); err != nil {
		return false, fmt.Errorf("set groups: %w", err)
	}
	unix.Setfsgid(int(gid))
	unix.Setfsuid(int(uid))
	return false, fn()
}

// threadSetgroups sets the supplementary groups of the calling thread only.
func threadSetgroups(groups []uint32) error {
	var p unsafe.Pointer
	if len(groups) > 0 {
		p = unsafe.Pointer(&groups[0])
	}
	_, _, errno := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), uintptr(p), 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func toU32(ids []int) []uint32 {
	out := make([]uint32, len(ids))
	for i, id := range ids {
		out[i] = uint32(id)
	}
	return out
}

// makeJobDir creates the job's directory, TmpRoot/<id>, root-only, and in
// it the job's private /tmp, tmp/: mode 1777, owned by the job user.
// TmpRoot itself is root-only too, so other users cannot reach either from
// the host. An image job's layer and the binds of its mount sources go
// into the same directory, where the user cannot rename anything.
func (r *Runner) makeJobDir(spec *Spec) (dir, tmp string, err error) {
	if err := os.MkdirAll(r.TmpRoot, 0o700); err != nil {
		return "", "", fmt.Errorf("create tmp root: %w", err)
	}
	dir = r.jobDir(spec.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if !errors.Is(err, os.ErrExist) {
			return "", "", fmt.Errorf("create job directory: %w", err)
		}
		// Left over from a crash with a reused id: start empty.
		if err := removeJobDir(dir); err != nil {
			return "", "", fmt.Errorf("remove stale job directory: %w", err)
		}
		if err := os.Mkdir(dir, 0o700); err != nil {
			return "", "", fmt.Errorf("create job directory: %w", err)
		}
	}
	tmp = filepath.Join(dir, jobTmp)
	err = os.Mkdir(tmp, 0o700)
	if err == nil {
		err = os.Lchown(tmp, int(spec.UID), int(spec.GID))
	}
	if err == nil {
		err = os.Chmod(tmp, 0o777|os.ModeSticky)
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", "", fmt.Errorf("create private tmp: %w", err)
	}
	return dir, tmp, nil
}
