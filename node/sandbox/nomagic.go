package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// A path a job's user chose (its -i, -o and -e files, its working
// directory, a mount's source) is looked up with the user's credentials,
// so that the kernel checks each of its components against the user. A
// "magic link" of /proc would skip those checks: /proc/self/cwd,
// /proc/<pid>/root and /proc/<pid>/fd/N (and /dev/fd/N, /dev/stdin and
// /proc/thread-self, which lead there) jump straight to a directory or
// file, whatever lies above it, and the /proc/self of the thread that
// looks the path up is the daemon's: -i /proc/self/cwd/secret.txt would
// read a file inside the root-only directory the daemon was started from.
// So such a lookup never follows a magic link (openNoMagic). Ordinary
// symlinks are followed as before, each of their components checked
// against the user.

// openat2Missing is set once openat2 has failed with ENOSYS (a kernel
// before 5.6, or a seccomp filter that does not know it), or could not
// open "/" at all (a seccomp filter answering EPERM): from then on
// openNoMagic walks the path itself (walkOpen). Tests set it too.
var (
	openat2Missing atomic.Bool
	openat2Probe   sync.Once
)

// haveOpenat2 reports whether openat2 with RESOLVE_NO_MAGICLINKS works,
// trying it on "/" the first time.
func haveOpenat2() bool {
	openat2Probe.Do(func() {
		fd, err := unix.Openat2(unix.AT_FDCWD, "/", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_MAGICLINKS})
		if err != nil {
			openat2Missing.Store(true)
			return
		}
		unix.Close(fd)
	})
	return !openat2Missing.Load()
}

// maxSymlinks is how many symlinks one lookup may follow, as the
// kernel's MAXSYMLINKS.
const maxSymlinks = 40

// magicLinkError refuses a path that leads through a link of /proc. It
// unwraps to ELOOP, what openat2 returns for it.
type magicLinkError struct {
	via string // the link, as far as the lookup had resolved the path
}

func (e *magicLinkError) Error() string {
	return "leads through " + e.via + ", a link of /proc: links of /proc and /dev/fd (/proc/self/cwd, /proc/<pid>/root, /proc/<pid>/fd/N, /dev/fd/N, /dev/stdin, ...) are not followed for job files"
}

func (e *magicLinkError) Unwrap() error { return unix.ELOOP }

// errFinalSymlink is what an open with O_NOFOLLOW of a symlink gets.
var errFinalSymlink = fmt.Errorf("is a symbolic link: give the file's own path (%w)", unix.ELOOP)

// openNoMagic opens path (relative to the current directory if it is
// not absolute) with flags and mode (for O_CREAT) as os.OpenFile would,
// with the calling thread's credentials, except that no magic link of
// /proc is followed, anywhere in the path: the lookup fails with a
// *magicLinkError (openat2's RESOLVE_NO_MAGICLINKS, or walkOpen where
// the kernel has no openat2). Errors are *os.PathError; ELOOP is
// explained as a magic link, a final symlink (O_NOFOLLOW:
// errFinalSymlink), or too many links.
func openNoMagic(name string, flags int, mode uint32) (*os.File, error) {
	flags |= unix.O_CLOEXEC
	if flags&unix.O_PATH == 0 {
		flags |= unix.O_LARGEFILE // as os.OpenFile; openat2 refuses it with O_PATH
	}
	if flags&(unix.O_CREAT|unix.O_TMPFILE) == 0 {
		mode = 0 // openat2 refuses a mode it would not use
	}
	if haveOpenat2() {
		how := &unix.OpenHow{Flags: uint64(flags), Mode: uint64(mode), Resolve: unix.RESOLVE_NO_MAGICLINKS}
		fd, err := unix.Openat2(unix.AT_FDCWD, name, how)
		for err == unix.EINTR {
			fd, err = unix.Openat2(unix.AT_FDCWD, name, how)
		}
		switch {
		case err == nil:
			return os.NewFile(uintptr(fd), name), nil
		case err == unix.ELOOP:
			return nil, &os.PathError{Op: "open", Path: name, Err: explainLoop(name, flags)}
		case err != unix.ENOSYS:
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
		openat2Missing.Store(true)
	}
	fd, err := walkOpen(name, flags, mode)
	if err != nil {
		if err == unix.ELOOP {
			err = explainLoop(name, flags)
		}
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// explainLoop says why an open of name with flags found too many levels
// of symbolic links: it looks name up again, O_PATH (nothing is read,
// written, created or truncated), with the same credentials and no magic
// link followed, and returns a *magicLinkError, errFinalSymlink (a final
// symlink, or a final magic link, and O_NOFOLLOW), or ELOOP (a loop, or
// more than maxSymlinks links).
func explainLoop(name string, flags int) error {
	fd, err := walkOpen(name, unix.O_PATH|flags&unix.O_NOFOLLOW, 0)
	if err != nil {
		var me *magicLinkError
		if errors.As(err, &me) {
			return err
		}
		return unix.ELOOP
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
		return unix.ELOOP // changed since
	}
	if onProc(fd) {
		return &magicLinkError{via: name}
	}
	return errFinalSymlink
}

// walkOpen opens name as openat2 with RESOLVE_NO_MAGICLINKS would, for a
// kernel without openat2: one component at a time, each looked up
// (O_PATH|O_NOFOLLOW) in the directory the one before it opened, so with
// the caller's credentials and the kernel's checks; an ordinary symlink
// is followed by reading it, a symlink of /proc is refused (a
// *magicLinkError: /proc/self, /proc/thread-self, /proc/<pid>/cwd, ...),
// since the kernel would not follow a magic link by its text. The
// kernel itself follows no symlink, so nothing swapped in between two
// steps leads anywhere else. The last component is opened with flags
// (O_NOFOLLOW added), and followed first if it is a symlink and flags has
// no O_NOFOLLOW. It returns the descriptor or an errno (or
// *magicLinkError).
func walkOpen(name string, flags int, mode uint32) (int, error) {
	if name == "" {
		return -1, unix.ENOENT
	}
	follow := flags&unix.O_NOFOLLOW == 0
	dir, err := openDirAt(unix.AT_FDCWD, name)
	if err != nil {
		return -1, err
	}
	defer func() { unix.Close(dir) }()
	at := "." // what dir is, for errors
	if strings.HasPrefix(name, "/") {
		at = "/"
	}
	rest := splitPath(name)
	links := 0
	for {
		comp := rest[0]
		rest = rest[1:]
		last := len(rest) == 0
		fd, err := unix.Openat(dir, comp, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			if last && err == unix.ENOENT && flags&unix.O_CREAT != 0 {
				return openLast(dir, comp, flags, mode, follow)
			}
			return -1, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK && (!last || follow) {
			if onProc(fd) {
				unix.Close(fd)
				return -1, &magicLinkError{via: path.Join(at, comp)}
			}
			target, err := readlinkFd(fd)
			unix.Close(fd)
			if err != nil {
				return -1, err
			}
			if links++; links > maxSymlinks {
				return -1, unix.ELOOP
			}
			if target == "" {
				return -1, unix.ENOENT
			}
			if strings.HasPrefix(target, "/") {
				root, err := openDirAt(unix.AT_FDCWD, "/")
				if err != nil {
					return -1, err
				}
				unix.Close(dir)
				dir, at = root, "/"
			}
			rest = append(splitPath(target), rest...)
			continue
		}
		if last {
			unix.Close(fd)
			return openLast(dir, comp, flags, mode, follow)
		}
		unix.Close(dir)
		dir, at = fd, path.Join(at, comp)
	}
}

// openLast opens the last component of a walk, comp in dir, never
// following a symlink.
func openLast(dir int, comp string, flags int, mode uint32, follow bool) (int, error) {
	fd, err := unix.Openat(dir, comp, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	for err == unix.EINTR {
		fd, err = unix.Openat(dir, comp, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	}
	if err != nil {
		return -1, err
	}
	if follow && flags&unix.O_PATH != 0 {
		// O_PATH|O_NOFOLLOW opens a symlink itself: one swapped in
		// since the walk looked is not followed.
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT == unix.S_IFLNK {
			unix.Close(fd)
			if err == nil {
				err = unix.ELOOP
			}
			return -1, err
		}
	}
	return fd, nil
}

// openDirAt opens where a walk of name starts: "/" for an absolute name,
// the current directory for another.
func openDirAt(at int, name string) (int, error) {
	start := "."
	if strings.HasPrefix(name, "/") {
		start = "/"
	}
	return unix.Openat(at, start, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// splitPath is name's components, never none: a name ending in "/" (or
// "/" itself) ends in ".", which must be a directory, as the kernel
// requires of a trailing slash.
func splitPath(name string) []string {
	var comps []string
	for _, c := range strings.Split(name, "/") {
		if c != "" {
			comps = append(comps, c)
		}
	}
	if len(comps) == 0 || strings.HasSuffix(name, "/") {
		comps = append(comps, ".")
	}
	return comps
}

// onProc reports whether fd (a symlink's) lies on a proc file system:
// every magic link does.
func onProc(fd int) bool {
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return true // unknown: refused
	}
	return fs.Type == unix.PROC_SUPER_MAGIC
}

// readlinkFd reads the symlink open (O_PATH|O_NOFOLLOW) in fd.
func readlinkFd(fd int) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(fd, "", buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
		if size >= 1<<16 {
			return "", unix.ENAMETOOLONG
		}
	}
}
