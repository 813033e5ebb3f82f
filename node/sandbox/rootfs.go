package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// The job's root is a skeleton directory with the host's "/" (or its
// top-level entries) bound onto it: see "How: the host's root, bound onto
// a skeleton" in the package documentation for why libcontainer cannot
// simply take "/".

// rootfsDir is the skeleton: Root/.rootfs (not a valid container id, so
// Cleanup leaves it alone).
func (r *Runner) rootfsDir() string {
	return filepath.Join(r.Root, ".rootfs")
}

// hostMounts returns a host job's mounts: a fresh /proc, the host's /dev
// with a private /dev/shm, the private /tmp (tmpMount) and, if the
// working directory wd is below /tmp, the bind of it (made by
// bindWorkdir) at its own path in there. With wholeRoot, the job's
// supervisor binds the host's whole "/" onto the skeleton first (see
// bindHostRoot), so that is all. Otherwise (a mount of the spec's needs a
// new top-level entry, which must not be made in the host's "/") the
// mounts also bind each of the host's top-level entries onto the
// skeleton, whose symlinks hostMounts syncs with the host's.
func (r *Runner) hostMounts(spec *Spec, wd *workdir) (mounts []*configs.Mount, wholeRoot bool, err error) {
	skel := r.rootfsDir()
	if err := os.MkdirAll(skel, 0o755); err != nil {
		return nil, false, fmt.Errorf("create rootfs skeleton: %w", err)
	}
	const rbind = unix.MS_BIND | unix.MS_REC
	mounts = []*configs.Mount{
		// Never drop this bind: without a bind on /dev libcontainer
		// mknods and symlinks in /dev (even replacing /dev/ptmx), which
		// is the host's devtmpfs here.
		{Source: "/dev", Destination: "/dev", Device: "bind", Flags: rbind},
		{Source: "shm", Destination: "/dev/shm", Device: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: "mode=1777"},
		{Source: "proc", Destination: "/proc", Device: "proc", Flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		tmpMount(spec),
	}
	if wd.bind != "" {
		// libcontainer creates the mountpoint (root-owned) in the tmpfs.
		mounts = append(mounts, &configs.Mount{Source: wd.bind, Destination: wd.path, Device: "bind", Flags: rbind})
	}
	if wholeRootFits(spec) {
		return mounts, true, nil
	}
	entries, err := os.ReadDir("/")
	if err != nil {
		return nil, false, fmt.Errorf("list host root: %w", err)
	}
	// Mountpoints are made here, not by libcontainer's init: two inits
	// creating the same one in the shared skeleton race (EEXIST).
	for _, name := range []string{"dev", "proc", "tmp"} {
		if err := ensureMountpoint(filepath.Join(skel, name), true); err != nil {
			return nil, false, err
		}
	}
	skelTop := topEntry(skel)
	for _, e := range entries {
		name := e.Name()
		host := "/" + name
		var m *configs.Mount
		switch {
		case name == "dev" || name == "proc" || name == "tmp":
			continue // set up above
		case e.Type()&os.ModeSymlink != 0:
			if err := syncSymlink(host, filepath.Join(skel, name)); err != nil {
				return nil, false, err
			}
			continue
		case e.IsDir():
			m = &configs.Mount{Source: host, Destination: host, Device: "bind", Flags: rbind}
		case e.Type().IsRegular():
			m = &configs.Mount{Source: host, Destination: host, Device: "bind", Flags: unix.MS_BIND}
		default:
			continue // sockets, fifos, devices: not bound
		}
		if err := ensureMountpoint(filepath.Join(skel, name), e.IsDir()); err != nil {
			return nil, false, err
		}
		if name == skelTop {
			// The entry the skeleton lies in (/run, /var: the sandbox
			// root) goes first: a recursive bind of it copies the mounts
			// below it, and once the job's /dev, /proc or /etc are on the
			// skeleton, those would be copied into the job a second time
			// (24 more mounts to make and to tear down, on each start).
			mounts = slices.Insert(mounts, 0, m)
			continue
		}
		mounts = append(mounts, m)
	}
	return mounts, false, nil
}

// wholeRootFits says whether a host job can have the host's whole "/" as
// its root: the host has the directories the sandbox mounts over (/dev,
// /proc, /tmp), and no mount of the spec lands on a new top-level entry.
// Such a mount needs the skeleton: its mountpoint is made there
// (hostMountpoint), and libcontainer would otherwise make it in the host's
// own "/".
func wholeRootFits(spec *Spec) bool {
	return sandboxDirsOnHost() && newTopLevelTarget(spec) == ""
}

// sandboxDirsOnHost says whether the host has /dev, /proc and /tmp as
// directories.
func sandboxDirsOnHost() bool {
	for _, name := range []string{"/dev", "/proc", "/tmp"} {
		if fi, err := os.Lstat(name); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// newTopLevelTarget is the first of the spec's mount targets whose
// top-level entry the host lacks ("" if none; /tmp is the job's own).
func newTopLevelTarget(spec *Spec) string {
	for _, m := range spec.Mounts {
		if m.Target == "/tmp" || strings.HasPrefix(m.Target, "/tmp/") {
			continue
		}
		top, _, _ := strings.Cut(strings.TrimPrefix(m.Target, "/"), "/")
		if _, err := os.Lstat("/" + top); err != nil {
			return m.Target
		}
	}
	return ""
}

// ownMountNamespace gives the calling (locked) thread a mount namespace
// of its own whose mounts are slaves of the host's.
func ownMountNamespace() error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("new mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make mounts slaves: %w", err)
	}
	return nil
}

// bindHostRoot runs start (the container's Start) on a thread of its own
// whose mount namespace has the host's "/" bound, recursively, onto the
// rootfs (the skeleton): libcontainer's init copies its mount namespace
// from that thread's, so the job sees the host's whole tree through this
// one mount instead of one bind per top-level entry. Each mount costs
// the init its path checks (a new procfs for each), ~0.4 ms of CPU on a
// 2-core VM, and a host has about twenty such entries. The job's mounts
// onto the host's own paths go inside that root (mountInRoot), from
// copies of their sources made before anything is mounted: the user's
// trees never lie over a path root's code uses here.
//
// The namespace's mounts are made slaves first: nothing mounted in it
// reaches the host's table, and what the host mounts later under its
// shared mounts (autofs homes) still reaches the job, as with a namespace
// libcontainer copies from the host's. The thread is never given back to
// the Go runtime, so the namespace ends with it, and no mount is left
// anywhere. The init, whose parent thread that was, is reparented to this
// process's other threads and waited for as before; so a parent-death
// signal, were the config to ask for one, would kill it as soon as Start
// returns.
func bindHostRoot(s *shimSpec, start func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		errc <- func() error {
			if err := ownMountNamespace(); err != nil {
				return err
			}
			trees := make([]int, 0, len(s.Mounts))
			defer func() {
				for _, t := range trees {
					unix.Close(t)
				}
			}()
			for _, m := range s.Mounts {
				t, err := sourceTree(m)
				if err != nil {
					return err
				}
				trees = append(trees, t)
			}
			rootfs, err := filepath.EvalSymlinks(s.Config.Rootfs)
			if err != nil {
				return fmt.Errorf("resolve the job's root: %w", err)
			}
			if err := unix.Mount("/", rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return fmt.Errorf("bind the host's / onto %s: %w", rootfs, err)
			}
			if len(s.Mounts) > 0 {
				root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
				if err != nil {
					return fmt.Errorf("open the job's root: %w", err)
				}
				defer unix.Close(root)
				for i, m := range s.Mounts {
					if err := mountInRoot(root, rootfs, trees[i], m, uint32(s.UID), uint32(s.GID), toU32(s.Groups)); err != nil {
						return err // the init is never started from this thread
					}
				}
			}
			return start()
		}()
	}()
	return <-errc
}

// topEntry is the host's top-level entry that path lies in ("run" for
// /run/shoal/.rootfs), with symlinks resolved; "" if it cannot be resolved.
func topEntry(path string) string {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return ""
	}
	top, _, _ := strings.Cut(strings.TrimPrefix(real, "/"), "/")
	return top
}

// ensureMountpoint makes path an empty directory or file in the skeleton,
// replacing an entry of the wrong type; it is safe to race with itself.
func ensureMountpoint(path string, dir bool) error {
	fi, err := os.Lstat(path)
	if err == nil && fi.IsDir() == dir && (dir || fi.Mode().IsRegular()) {
		return nil
	}
	if err == nil {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("replace skeleton mountpoint: %w", err)
		}
	}
	if dir {
		err = os.Mkdir(path, 0o755)
	} else {
		var f *os.File
		if f, err = os.OpenFile(path, os.O_CREATE|os.O_RDONLY|unix.O_CLOEXEC, 0o644); err == nil {
			f.Close()
		}
	}
	if err != nil && !os.IsExist(err) {
		return fmt.Errorf("create skeleton mountpoint: %w", err)
	}
	return nil
}

var symlinkSeq atomic.Int64

// syncSymlink makes link a symlink with the same target as host.
func syncSymlink(host, link string) error {
	target, err := os.Readlink(host)
	if err != nil {
		return fmt.Errorf("read host symlink: %w", err)
	}
	if cur, err := os.Readlink(link); err == nil && cur == target {
		return nil
	}
	tmp := fmt.Sprintf("%s.tmp%d", link, symlinkSeq.Add(1))
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("create skeleton symlink: %w", err)
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		if cur, err2 := os.Readlink(link); err2 == nil && cur == target {
			return nil // a concurrent Start won
		}
		return fmt.Errorf("create skeleton symlink: %w", err)
	}
	return nil
}
