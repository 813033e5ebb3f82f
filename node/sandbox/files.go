package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"time"
	"unsafe"

	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// stdio is what a job gets as its stdout and stderr: the files, opened
// as the job's user. One that is not the job user's own is written through
// a pipe whose other end the job's supervisor copies into the file (see
// openOutputs).
type stdio struct {
	stdout, stderr *os.File // the output files (the same one for 2>&1)
	stdin          *os.File // Spec.Stdin's file, nil for none
	relayOut       bool     // stdout goes through a relay
	relayErr       bool     // stderr goes through a relay
	relays         []string // the outputs that do: "stdout", "stderr"
}

// close closes what Start holds: the supervisor has its own copies.
func (s *stdio) close() {
	for _, f := range []*os.File{s.stdout, s.stderr, s.stdin} {
		if f != nil {
			f.Close()
		}
	}
}

// openOutputs opens the job's stdout and stderr files as the job's user
// (see OpenAsUser): created (mode 0644) or truncated or appended to. The
// same path twice gives one shared file (one offset, like 2>&1).
//
// libcontainer's init fchowns the container's stdio to the job's uid when
// the file's owner differs (runc's fixStdioPermissions; /dev/null aside),
// so a file the user may write but does not own (another user's 0666
// file, or anything not root's for a root job) is never handed to the
// container: it gets a pipe, and a relay in the job's supervisor copies
// the pipe into the file. Nothing the job opens ever changes an existing
// file's owner or mode.
func openOutputs(spec *Spec, bound time.Duration) (*stdio, error) {
	flags := os.O_WRONLY | os.O_CREATE
	if spec.AppendOutput {
		flags |= os.O_APPEND
	} else {
		flags |= os.O_TRUNC
	}
	s := &stdio{}
	open := func(path string, node bool, limit int64) (*os.File, bool, error) {
		f, err := openOutput(path, flags, node, spec.UID, spec.GID, spec.Groups, bound)
		if err != nil {
			return nil, false, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			f.Close()
			return nil, false, fmt.Errorf("output %s: stat: %w", path, err)
		}
		return f, (st.Uid != spec.UID || limit > 0) && !isDevNull(&st), nil
	}
	var err error
	if s.stdout, s.relayOut, err = open(spec.Stdout, spec.NodeStdout, spec.StdoutLimit); err != nil {
		return nil, err
	}
	if s.relayOut {
		s.relays = append(s.relays, "stdout")
	}
	if spec.Stderr == spec.Stdout {
		s.stderr, s.relayErr = s.stdout, s.relayOut
		return s, openInput(spec, s, bound)
	}
	if s.stderr, s.relayErr, err = open(spec.Stderr, spec.NodeStderr, spec.StderrLimit); err != nil {
		s.close()
		return nil, err
	}
	if s.relayErr {
		s.relays = append(s.relays, "stderr")
	}
	return s, openInput(spec, s, bound)
}

// openInput opens Spec.Stdin, if any, as the job's user, read-only, into
// s.stdin; on error it closes what s holds. The job reads it through a
// pipe its supervisor fills (libcontainer would chown a file handed to
// the container as stdio), so the file's owner and mode never change.
func openInput(spec *Spec, s *stdio, bound time.Duration) error {
	if spec.Stdin == "" {
		return nil
	}
	f, err := openAsUserWithin(bound, spec.Stdin, os.O_RDONLY, spec.UID, spec.GID, spec.Groups)
	if err != nil {
		s.close()
		return fmt.Errorf("input %w", err)
	}
	s.stdin = f
	return nil
}

// relay copies what a job writes into a pipe to the output file it may
// not be handed directly (or not without a bound), until every writer has
// closed the pipe (the job's last process has exited), or until finish's
// deadline.
type relay struct {
	r    *os.File
	done chan struct{}
	err  error
}

// relayDrainGrace is how long a relay goes on copying once the job's
// processes are gone: what they wrote is in the pipe (64 KiB, 1 MiB at
// most), copied at once unless the file is very slow; a writer left is a
// process outside the job that was handed the pipe (a descriptor passed
// over a socket), which must not keep the job, and its allocation, from
// ending.
const relayDrainGrace = 10 * time.Second

// startRelay copies r into f with the credentials of the job's uid, gid
// and groups and no capabilities, on a thread of its own: a write as root
// would use root's reserved blocks and quota (CAP_SYS_RESOURCE) and keep
// a setuid bit the user's own write clears (CAP_FSETID). With limit above
// 0, at most limit bytes reach f (see Spec.StdoutLimit).
func startRelay(r, f *os.File, limit int64, uid, gid uint32, groups []uint32) *relay {
	rl := &relay{r: r, done: make(chan struct{})}
	go func() {
		defer close(rl.done)
		runtime.LockOSThread()
		var copyErr error
		restored, err := withThreadCreds(uid, gid, groups, func() error {
			copyErr = copyBounded(f, r, limit)
			return nil
		})
		if restored {
			runtime.UnlockOSThread()
		} // else the thread goes with the goroutine
		if errors.Is(copyErr, os.ErrDeadlineExceeded) {
			copyErr = nil // finish: the job has ended, with all it wrote copied
		}
		err = errors.Join(err, copyErr)
		// If the file took no more (a full disk), closing the read end
		// gives the job's next write EPIPE (SIGPIPE), as a closed pipe
		// would: it never blocks on a pipe nobody reads.
		r.Close()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			rl.err = fmt.Errorf("copy job output to %s: %w", f.Name(), err)
		}
	}()
	return rl
}

// finish bounds the relay's copy once the job's processes are gone: it
// copies what is in the pipe and stops within relayDrainGrace, whoever
// still holds a write end.
func (rl *relay) finish() {
	rl.r.SetReadDeadline(time.Now().Add(relayDrainGrace))
}

// copyBounded copies r into f, at most limit bytes of it if limit is
// above 0: the rest is read and dropped (the job is not stopped by a
// pipe nobody reads), and one line in f says so.
func copyBounded(f io.Writer, r io.Reader, limit int64) error {
	if limit <= 0 {
		_, err := io.Copy(f, r)
		return err
	}
	if _, err := io.CopyN(f, r, limit); err != nil {
		if err == io.EOF {
			return nil // all of it fit
		}
		return err
	}
	var one [1]byte
	if n, err := r.Read(one[:]); n == 0 {
		if err == io.EOF {
			return nil // exactly the limit
		}
		return err
	}
	if _, err := fmt.Fprintf(f, "\nshoal: output past %d bytes was dropped (the node's log limit)\n", limit); err != nil {
		return err
	}
	_, err := io.Copy(io.Discard, r)
	return err
}

// relayWriteGrace is how long, past relayDrainGrace, a relay may still
// be writing into its file once the job has ended: a file system that
// takes no more (a hung NFS server, a user's FUSE mount) must not keep
// the job from ending either.
const relayWriteGrace = 20 * time.Second

// waitWithin waits for the relay to end, at most d: past it, the job ends
// without what the relay had not written, and says so.
func (rl *relay) waitWithin(d time.Duration) error {
	select {
	case <-rl.done:
		return rl.err
	default:
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-rl.done:
		return rl.err
	case <-t.C:
		return fmt.Errorf("copy job output: its file took nothing for %v after the job ended; the rest is lost", d)
	}
}

// openOutput opens one output file as the user, or the node's own log
// file (node) as root: no final symlink, and nothing but a regular file
// or /dev/null.
func openOutput(path string, flags int, node bool, uid, gid uint32, groups []uint32, bound time.Duration) (*os.File, error) {
	var f *os.File
	var err error
	if node {
		f, err = OpenNodeLog(path, flags&^os.O_CREATE)
	} else {
		f, err = openAsUserWithin(bound, path, flags, uid, gid, groups)
	}
	if err != nil {
		return nil, fmt.Errorf("output %w", err)
	}
	return f, nil
}

// OpenNodeLog opens, as root, a log file the node made for a job in its
// own directory, which only root reaches (a path no user chose): no
// final symlink, and nothing but a regular file.
func OpenNodeLog(path string, flags int) (*os.File, error) {
	f, err := os.OpenFile(path, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not the node's log file", path)
	}
	return f, nil
}

// isDevNull reports whether st is the null device (character 1:3).
func isDevNull(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && unix.Major(st.Rdev) == 1 && unix.Minor(st.Rdev) == 3
}

// OpenAsUser opens path with flags (os.O_RDONLY or os.O_WRONLY with
// O_CREATE, O_TRUNC, O_APPEND) and the file-system credentials of uid, gid
// and groups, so that root never follows a path a user chose: the kernel
// checks every lookup, and the creation of a new file (mode 0644, owned by
// uid and gid), against the user's permissions. No magic link of /proc
// is followed anywhere in the path (/proc/self/cwd, /dev/fd/N, ...: see
// openNoMagic), since it would skip those checks. A final symlink is
// refused (O_NOFOLLOW), the open never blocks (O_NONBLOCK, cleared once
// open: a FIFO cannot hang the caller), and anything but a regular file or
// /dev/null is refused, as is a file of a kernel interface file system
// (/proc, /sys, ...: see kernelFileSystems), each with an error that names
// the path and what was found. A relative path is refused. An existing
// file's owner and mode are never changed. An open that does not return
// within DefaultStartCheckTimeout (a file system that does not answer)
// fails, saying so (see withinBound). Errors read "<path>: <what>", so
// callers prefix what the path is.
func OpenAsUser(path string, flags int, uid, gid uint32, groups []uint32) (*os.File, error) {
	return openAsUserWithin(DefaultStartCheckTimeout, path, flags, uid, gid, groups)
}

// openAsUserWithin is OpenAsUser with the bound d.
func openAsUserWithin(d time.Duration, path string, flags int, uid, gid uint32, groups []uint32) (*os.File, error) {
	var f *os.File
	err := withinBound(d, func() error {
		var err error
		f, err = openAsUser(path, flags, uid, gid, groups)
		return err
	}, func() { f.Close() })
	var na *noAnswerError
	if errors.As(err, &na) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, err
}

// openAsUser is OpenAsUser's work, unbounded.
func openAsUser(path string, flags int, uid, gid uint32, groups []uint32) (*os.File, error) {
	if !filepath.IsAbs(path) {
		// Looked up from the daemon's own directory, as /proc/self/cwd.
		return nil, fmt.Errorf("%s: is not an absolute path (a relative one would be looked up from the node daemon's own directory)", path)
	}
	flags |= unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOCTTY
	var f *os.File
	open := func() error {
		var err error
		f, err = openNoMagic(path, flags, 0o644)
		if errors.Is(err, unix.ENXIO) {
			err = explainNXIO(path, err) // nxio.go: with the same credentials
		}
		return err
	}
	var err error
	if uid == 0 && gid == 0 {
		err = open()
	} else {
		// Root with another group too: a new file gets that group
		// without a chown.
		err = asUser(uid, gid, groups, open)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, explainOpen(path, err, uid))
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: stat: %w", path, err)
	}
	if t := st.Mode & unix.S_IFMT; t != unix.S_IFREG && !isDevNull(&st) {
		f.Close()
		return nil, fmt.Errorf("%s: is a %s, not a regular file (only regular files and /dev/null are accepted)", path, fileType(t))
	}
	if fs, err := kernelFS(f); err != nil || fs != "" {
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: statfs: %w", path, err)
		}
		return nil, fmt.Errorf("%s: is a file of %s, a kernel interface, not a file of data (only regular files and /dev/null are accepted)", path, fs)
	}
	// Back to blocking I/O: the job (or a relay) writes, the logs reader reads.
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err == nil {
		_, err = unix.FcntlInt(f.Fd(), unix.F_SETFL, fl&^unix.O_NONBLOCK)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: clear O_NONBLOCK: %w", path, err)
	}
	return f, nil
}

// kernelFileSystems are file systems whose files are interfaces to the
// kernel. Their permission checks look at the effective uid or at
// capabilities, at open or at each read and write, not at the file-system
// uid an open as the user sets: the daemon (root) could open
// /proc/sys/kernel/core_pattern for a user, and read or write it for the
// job as root; and /proc/self is the daemon's own.
var kernelFileSystems = map[int64]string{
	unix.PROC_SUPER_MAGIC: "proc", unix.SYSFS_MAGIC: "sysfs", unix.DEBUGFS_MAGIC: "debugfs",
	unix.TRACEFS_MAGIC: "tracefs", unix.SECURITYFS_MAGIC: "securityfs", unix.CGROUP_SUPER_MAGIC: "cgroup",
	unix.CGROUP2_SUPER_MAGIC: "cgroup2", unix.BPF_FS_MAGIC: "bpf", unix.EFIVARFS_MAGIC: "efivarfs",
	unix.PSTOREFS_MAGIC: "pstore", unix.SELINUX_MAGIC: "selinuxfs", unix.SMACK_MAGIC: "smackfs",
	unix.BINFMTFS_MAGIC: "binfmt_misc", unix.NSFS_MAGIC: "nsfs",
	0x62656570: "configfs", 0x65735543: "fusectl",
}

// kernelFS names the kernel interface file system f lies on, "" for any
// other.
func kernelFS(f *os.File) (string, error) {
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &fs); err != nil {
		return "", err
	}
	return kernelFileSystems[int64(fs.Type)], nil
}

// explainOpen turns the errors of an open as uid into what the user can act on.
func explainOpen(path string, err error, uid uint32) error {
	var ne *nxioError
	if errors.As(err, &ne) {
		return ne // says what the path is
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err // the caller names the path
	}
	switch {
	case errors.Is(err, unix.ELOOP):
		// openNoMagic has said why, looking as the user: a link of
		// /proc or /dev/fd, a final symlink, or a loop.
		return err
	case errors.Is(err, unix.ENXIO):
		return fmt.Errorf("is a named pipe (FIFO), a socket or a device, not a regular file (%w)", err) // what, explainNXIO could not tell
	case errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM):
		return &deniedError{user: userName(uid), err: err}
	}
	return err
}

// deniedError says whose permissions refused an open; it unwraps to the
// errno (errors.Is(err, os.ErrPermission) holds).
type deniedError struct {
	user string
	err  error
}

func (e *deniedError) Error() string { return "permission denied for user " + e.user }
func (e *deniedError) Unwrap() error { return e.err }

// userName is "name (uid N)", or "uid N" for a uid without a name.
func userName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username + " (uid " + id + ")"
	}
	return "uid " + id
}

func fileType(t uint32) string {
	switch t {
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFIFO:
		return "named pipe (FIFO)"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFCHR:
		return "character device"
	case unix.S_IFBLK:
		return "block device"
	case unix.S_IFLNK:
		return "symbolic link"
	}
	return fmt.Sprintf("file of type %#o", t)
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
// thread's credentials are root's again. Besides the user's fsuid, fsgid
// and groups, the thread has no effective capabilities while fn runs: a
// change of fsuid drops only the file-system ones, and CAP_SYS_PTRACE
// alone lets a lookup follow /proc/<pid>/cwd, root or fd/N of any process
// into directories the user may not enter.
func withThreadCreds(uid, gid uint32, groups []uint32, fn func() error) (restored bool, err error) {
	saved, err := unix.Getgroups()
	if err != nil {
		return true, fmt.Errorf("get groups: %w", err)
	}
	caps, err := threadCaps()
	if err != nil {
		return true, fmt.Errorf("get capabilities: %w", err)
	}
	defer func() {
		// Capabilities first: changing fsuid, fsgid and groups needs them.
		if setThreadCaps(caps) != nil {
			return
		}
		unix.Setfsuid(0)
		unix.Setfsgid(0)
		if threadSetgroups(toU32(saved)) == nil {
			fsuid, _ := unix.SetfsuidRetUid(-1)
			fsgid, _ := unix.SetfsgidRetGid(-1)
			now, err := threadCaps()
			restored = fsuid == 0 && fsgid == 0 && err == nil && now == caps
		}
	}()
	if err := threadSetgroups(groups); err != nil {
		return false, fmt.Errorf("set groups: %w", err)
	}
	unix.Setfsgid(int(gid))
	unix.Setfsuid(int(uid))
	none := caps
	none[0].Effective, none[1].Effective = 0, 0
	if err := setThreadCaps(none); err != nil {
		return false, fmt.Errorf("drop capabilities: %w", err)
	}
	return false, fn()
}

// threadCaps reads the calling thread's capabilities, and setThreadCaps
// sets them (capget and capset act on the calling thread alone).
func threadCaps() ([2]unix.CapUserData, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	err := unix.Capget(&hdr, &data[0])
	return data, err
}

func setThreadCaps(data [2]unix.CapUserData) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	return unix.Capset(&hdr, &data[0])
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

// makeJobDir creates the job's directory, TmpRoot/<id>, root-only (and
// TmpRoot itself root-only), where the host-side mounts of the job live:
// an image job's layer, the binds of its mount sources and of a working
// directory under /tmp, none of which the user can rename anything in.
// The job's private /tmp is not here: it is a tmpfs of the job's own
// (see tmpMount).
func (r *Runner) makeJobDir(spec *Spec) (dir string, err error) {
	if err := os.MkdirAll(r.TmpRoot, 0o700); err != nil {
		return "", fmt.Errorf("create scratch root: %w", err)
	}
	dir = r.jobDir(spec.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("create job directory: %w", err)
		}
		// Left over from a crash with a reused id: start empty.
		if err := removeJobDir(dir); err != nil {
			return "", fmt.Errorf("remove stale job directory: %w", err)
		}
		if err := os.Mkdir(dir, 0o700); err != nil {
			return "", fmt.Errorf("create job directory: %w", err)
		}
	}
	return dir, nil
}

// tmpMount is the job's private /tmp: a tmpfs of TmpBytes (the kernel's
// default, half the RAM, if 0), owned by the job's user and mode 0700,
// nosuid and nodev. Its pages are charged to the job's memory cgroup, it
// lives in the job's mount namespace only (no other user can reach it)
// and it vanishes with the job.
func tmpMount(spec *Spec) *configs.Mount {
	data := fmt.Sprintf("mode=0700,uid=%d,gid=%d", spec.UID, spec.GID)
	if spec.TmpBytes > 0 {
		data += ",size=" + strconv.FormatInt(spec.TmpBytes, 10)
	}
	return &configs.Mount{Source: "tmpfs", Destination: "/tmp", Device: "tmpfs",
		Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: data}
}
