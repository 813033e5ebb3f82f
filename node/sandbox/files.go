package sandbox

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// openOutputs creates or truncates the job's stdout and stderr files. The
// same path twice gives one shared file (one offset, like 2>&1).
func openOutputs(spec *Spec) (stdout, stderr *os.File, err error) {
	stdout, err = openAsUser(spec.Stdout, spec.UID, spec.GID, spec.Groups)
	if err != nil {
		return nil, nil, err
	}
	if spec.Stderr == spec.Stdout {
		return stdout, stdout, nil
	}
	stderr, err = openAsUser(spec.Stderr, spec.UID, spec.GID, spec.Groups)
	if err != nil {
		stdout.Close()
		return nil, nil, err
	}
	return stdout, stderr, nil
}

// openAsUser opens path for writing (create, truncate) with the file-system
// credentials of uid, gid and groups, so that a user cannot make the root
// daemon create or truncate a file the user could not (a symlink or a
// swapped directory in a path the user controls). New files get that owner.
func openAsUser(path string, uid, gid uint32, groups []uint32) (*os.File, error) {
	const flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC | unix.O_CLOEXEC | unix.O_NOCTTY
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
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	// fsuid, fsgid and the group list are per-thread in the kernel, so they
	// are changed on one locked OS thread only, with raw syscalls (Go's
	// syscall.Setgroups would change every thread), in a goroutine of its
	// own: if they cannot be restored, the goroutine exits still locked and
	// the runtime destroys the thread.
	go func() {
		runtime.LockOSThread()
		f, restored, err := openWithThreadCreds(path, flags, uid, gid, groups)
		if restored {
			runtime.UnlockOSThread()
		}
		ch <- result{f, err}
	}()
	r := <-ch
	return r.f, r.err
}

// openWithThreadCreds runs on a locked thread; restored reports whether the
// thread's credentials are root's again.
func openWithThreadCreds(path string, flags int, uid, gid uint32, groups []uint32) (f *os.File, restored bool, err error) {
	saved, err := unix.Getgroups()
	if err != nil {
		return nil, true, fmt.Errorf("get groups: %w", err)
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
		return nil, false, fmt.Errorf("set groups: %w", err)
	}
	unix.Setfsgid(int(gid))
	unix.Setfsuid(int(uid))
	f, err = os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, false, fmt.Errorf("open output as uid %d: %w", uid, err)
	}
	return f, false, nil
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

// makeTmp creates the job's private /tmp: TmpRoot/<id>, mode 1777, owned by
// the job user. TmpRoot itself is root-only so other users cannot reach it
// from the host.
func (r *Runner) makeTmp(spec *Spec) (string, error) {
	if err := os.MkdirAll(r.TmpRoot, 0o700); err != nil {
		return "", fmt.Errorf("create tmp root: %w", err)
	}
	dir := r.tmpDir(spec.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("create private tmp: %w", err)
		}
		// Left over from a crash with a reused id: start empty.
		if err := os.RemoveAll(dir); err != nil {
			return "", fmt.Errorf("remove stale tmp: %w", err)
		}
		if err := os.Mkdir(dir, 0o700); err != nil {
			return "", fmt.Errorf("create private tmp: %w", err)
		}
	}
	if err := os.Lchown(dir, int(spec.UID), int(spec.GID)); err != nil {
		os.Remove(dir)
		return "", fmt.Errorf("chown private tmp: %w", err)
	}
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
		os.Remove(dir)
		return "", fmt.Errorf("chmod private tmp: %w", err)
	}
	return dir, nil
}
