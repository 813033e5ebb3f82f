package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// Why a skeleton and not Rootfs "/": libcontainer bind-mounts the rootfs
// onto itself and pivot_roots into it through a descriptor opened by path.
// A mount stacked on "/" is invisible to a lookup of "/" (the walk starts at
// the process root, below the new mount), so with Rootfs "/" pivot_root
// gets the current root as the new one and fails with EBUSY; NoPivotRoot's
// MS_MOVE of "/" onto "/" fails too (ELOOP). Binding the host's / somewhere
// first would need a mount in the host's table. Instead the rootfs is an
// empty skeleton directory, and every top-level entry of the host's / is
// bind-mounted (recursively) onto it, in the job's namespace only:
// directories and files are bound, symlinks (bin -> usr/bin) are recreated
// in the skeleton. The job's / thus lists what the host's does; only a new
// file created directly in / lands in the skeleton instead of the host's /.

// rootfsDir is the skeleton: Root/.rootfs (not a valid container id, so
// Cleanup leaves it alone).
func (r *Runner) rootfsDir() string {
	return filepath.Join(r.Root, ".rootfs")
}

// hostMounts syncs the skeleton's symlinks with the host's / and returns
// the job's mounts: the host's top-level entries, a fresh /proc, the host's
// /dev with a private /dev/shm, tmpDir as /tmp and, if the working
// directory dir is below /tmp, dir at its own path in there.
func (r *Runner) hostMounts(tmpDir, dir string) ([]*configs.Mount, error) {
	skel := r.rootfsDir()
	if err := os.MkdirAll(skel, 0o755); err != nil {
		return nil, fmt.Errorf("create rootfs skeleton: %w", err)
	}
	entries, err := os.ReadDir("/")
	if err != nil {
		return nil, fmt.Errorf("list host root: %w", err)
	}
	const rbind = unix.MS_BIND | unix.MS_REC
	mounts := []*configs.Mount{
		// A bind on /dev also stops libcontainer from creating device
		// nodes in /dev, which is the host's.
		{Source: "/dev", Destination: "/dev", Device: "bind", Flags: rbind},
		{Source: "shm", Destination: "/dev/shm", Device: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: "mode=1777"},
		{Source: "proc", Destination: "/proc", Device: "proc", Flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		{Source: tmpDir, Destination: "/tmp", Device: "bind", Flags: unix.MS_BIND},
	}
	if strings.HasPrefix(filepath.Clean(dir), "/tmp/") {
		// libcontainer creates the mountpoint (root-owned) in tmpDir.
		mounts = append(mounts, &configs.Mount{Source: dir, Destination: filepath.Clean(dir), Device: "bind", Flags: rbind})
	}
	for _, e := range entries {
		name := e.Name()
		host := "/" + name
		switch {
		case name == "dev" || name == "proc" || name == "tmp":
			// Set up above.
		case e.Type()&os.ModeSymlink != 0:
			if err := syncSymlink(host, filepath.Join(skel, name)); err != nil {
				return nil, err
			}
		case e.IsDir():
			mounts = append(mounts, &configs.Mount{Source: host, Destination: host, Device: "bind", Flags: rbind})
		case e.Type().IsRegular():
			mounts = append(mounts, &configs.Mount{Source: host, Destination: host, Device: "bind", Flags: unix.MS_BIND})
		}
	}
	return mounts, nil
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
