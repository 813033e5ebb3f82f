package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/mountinfo"
	devices "github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"golang.org/x/sys/unix"
)

// The job's directory, TmpRoot/<id> (root-only), holds what the job
// needs on the host while it runs (see makeJobDir):
//
//	cwd            a bind of a host job's working directory under /tmp,
//	               opened as the job's user
//	mnt/<n>        a bind of Mounts[n].Source, checked as the job's user
//	upper/, work/  an image job's overlayfs upper and work directories
//	rootfs/        an image job's overlay (lower: Spec.Rootfs): its root
//
// The binds and the overlay are in the host's mount table while the job
// lives; removeJobDir unmounts them.
const (
	jobCwd    = "cwd"
	jobMnt    = "mnt"
	jobUpper  = "upper"
	jobWork   = "work"
	jobRootfs = "rootfs"
)

// makeLayer mounts an image job's overlay in its directory dir, and makes
// the working directory exist in it; it returns the overlay's path. The
// caller removes dir on error.
func makeLayer(spec *Spec, dir string) (string, error) {
	var lower unix.Stat_t
	if err := unix.Stat(spec.Rootfs, &lower); err != nil {
		return "", fmt.Errorf("%w: rootfs: %w", ErrInvalidSpec, err)
	}
	if lower.Mode&unix.S_IFMT != unix.S_IFDIR {
		return "", fmt.Errorf("%w: rootfs %q is not a directory", ErrInvalidSpec, spec.Rootfs)
	}
	upper, work, merged := filepath.Join(dir, jobUpper), filepath.Join(dir, jobWork), filepath.Join(dir, jobRootfs)
	for _, d := range []string{upper, work, merged} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return "", fmt.Errorf("create image layer: %w", err)
		}
	}
	// The overlay's root takes the upper directory's owner and mode: give
	// it the image root's, or a non-root job could not even look up "/".
	if err := os.Lchown(upper, int(lower.Uid), int(lower.Gid)); err != nil {
		return "", fmt.Errorf("chown layer root: %w", err)
	}
	if err := unix.Chmod(upper, lower.Mode&0o7777); err != nil {
		return "", fmt.Errorf("chmod layer root: %w", err)
	}
	// index=off: the image directory is the lower layer of many overlays
	// at once. nodev: no device node of an image is ever usable.
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s,index=off", spec.Rootfs, upper, work)
	if err := unix.Mount("overlay", merged, "overlay", unix.MS_NODEV, opts); err != nil {
		return "", fmt.Errorf("mount image layer: %w", err)
	}
	if err := ownMountpoints(merged); err != nil {
		return "", err
	}
	if err := mkdirInRoot(merged, spec.Dir); err != nil {
		return "", fmt.Errorf("create working directory %s in the image: %w", spec.Dir, err)
	}
	return merged, nil
}

// MountedImages returns the directories that overlays on this host now
// use as lower layers, as the kernel shows them: every image (Spec.Rootfs)
// a running job uses, whichever daemon started it, and maybe others'. A
// cache of images must not remove those.
func MountedImages() (map[string]bool, error) {
	infos, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("overlay"))
	if err != nil {
		return nil, fmt.Errorf("list overlay mounts: %w", err)
	}
	dirs := map[string]bool{}
	for _, m := range infos {
		for o := range strings.SplitSeq(m.VFSOptions, ",") {
			if l, ok := strings.CutPrefix(o, "lowerdir="); ok {
				for d := range strings.SplitSeq(l, ":") {
					dirs[d] = true
				}
			}
		}
	}
	return dirs, nil
}

// ownMountpoints makes the directories the sandbox mounts its own /proc,
// /dev, /sys and /tmp onto real directories of the layer: libcontainer
// follows a symlink there (an image whose /dev leads to /foo would have
// its /dev made at /foo, and the device nodes made wherever a user's
// mount then puts /foo). The image's entry, if it is anything else, goes
// from the job's layer.
func ownMountpoints(layer string) error {
	for _, name := range []string{"proc", "dev", "sys", "tmp"} {
		p := filepath.Join(layer, name)
		fi, err := os.Lstat(p)
		if err == nil && fi.IsDir() {
			continue
		}
		if err == nil {
			err = os.Remove(p)
		}
		if err == nil || errors.Is(err, os.ErrNotExist) {
			err = os.Mkdir(p, 0o755)
		}
		if err != nil {
			return fmt.Errorf("make /%s a directory in the image layer: %w", name, err)
		}
	}
	return nil
}

// mkdirInRoot makes dir (a path inside root) exist, like a Dockerfile's
// WORKDIR: missing directories are created root-owned, mode 0755. Symlinks
// in the image are followed as the job will see them, never out of root.
func mkdirInRoot(root, dir string) error {
	_, err := makeInRoot(root, dir, true)
	return err
}

// makeInRoot makes p (a path inside root, an image layer that nothing is
// mounted in yet) exist as mkdirInRoot does, as a directory, or as an
// empty file (mode 0644) in such directories; and returns it with the
// image's symlinks resolved, inside root.
func makeInRoot(root, p string, dir bool) (string, error) {
	rf, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer rf.Close()
	var f *os.File
	if dir {
		f, err = pathrs.MkdirAllHandle(rf, p, 0o755)
	} else {
		f, err = makeFileInRoot(rf, p)
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	base, err1 := fdPath(rf)
	got, err2 := fdPath(f)
	if err := errors.Join(err1, err2); err != nil {
		return "", err
	}
	if got == base {
		return "/", nil
	}
	rel, ok := strings.CutPrefix(got, base+"/")
	if !ok {
		return "", fmt.Errorf("%s resolved to %s, outside %s", p, got, base)
	}
	return "/" + rel, nil
}

// makeFileInRoot opens the file p inside root, or creates it empty.
func makeFileInRoot(root *os.File, p string) (*os.File, error) {
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(int(root.Fd()), p, how)
	if errors.Is(err, unix.ENOENT) {
		var parent *os.File
		if parent, err = pathrs.MkdirAllHandle(root, path.Dir(p), 0o755); err != nil {
			return nil, err
		}
		defer parent.Close()
		fd, err = unix.Openat(int(parent.Fd()), path.Base(p), unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		if errors.Is(err, unix.EEXIST) {
			return nil, errors.New("a symlink that leads nowhere")
		}
	}
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), p)
	if fi, err := f.Stat(); err != nil || fi.IsDir() {
		f.Close()
		return nil, errors.Join(err, errors.New("a directory, and the source is a file"))
	}
	return f, nil
}

// fdPath is the path of the file open in f.
func fdPath(f *os.File) (string, error) {
	return os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
}

// removeJobDir removes a job's directory under TmpRoot, first unmounting
// whatever is mounted in it (an image layer, binds of mount sources). It
// removes nothing while a mount is left there.
func removeJobDir(dir string) error {
	// Only image jobs and jobs with mounts have any: spare the others
	// the read of the mount table. The names are root's to make.
	_, err1 := os.Lstat(filepath.Join(dir, jobRootfs))
	_, err2 := os.Lstat(filepath.Join(dir, jobMnt))
	_, err3 := os.Lstat(filepath.Join(dir, jobCwd))
	if err1 == nil || err2 == nil || err3 == nil {
		infos, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
		if err != nil {
			return fmt.Errorf("list job mounts: %w", err)
		}
		// Deepest first, the latest of stacked mounts first.
		sort.Slice(infos, func(a, b int) bool {
			if la, lb := len(infos[a].Mountpoint), len(infos[b].Mountpoint); la != lb {
				return la > lb
			}
			return infos[a].ID > infos[b].ID
		})
		for _, m := range infos {
			if err := unmount(m.Mountpoint); err != nil {
				return err
			}
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove job directory: %w", err)
	}
	return nil
}

func unmount(path string) error {
	err := unix.Unmount(path, unix.UMOUNT_NOFOLLOW)
	if errors.Is(err, unix.EBUSY) {
		// Held by something outside the job (a shell cd'ed into it):
		// detach it from the tree; the kernel frees it once unused.
		err = unix.Unmount(path, unix.UMOUNT_NOFOLLOW|unix.MNT_DETACH)
	}
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	return nil
}

// imageMounts are an image job's own mounts: a fresh /proc, a tmpfs /dev
// that libcontainer fills with imageDevices (what runc does: no bind of
// /dev, so its doSetupDev runs, here on a tmpfs of the job's own, never on
// the host's devtmpfs), a private /dev/shm, a read-only /sys and the
// private /tmp (tmpMount).
func imageMounts(spec *Spec) []*configs.Mount {
	return []*configs.Mount{
		{Source: "proc", Destination: "/proc", Device: "proc", Flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		{Source: "tmpfs", Destination: "/dev", Device: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755,size=65536k"},
		{Source: "shm", Destination: "/dev/shm", Device: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: "mode=1777"},
		{Source: "sysfs", Destination: "/sys", Device: "sysfs", Flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RDONLY},
		tmpMount(spec),
	}
}

// imageDevices are the nodes libcontainer creates in an image job's /dev:
// those of its default allow list that have a path (null, zero, full,
// random, urandom, tty). The device cgroup allows exactly these.
var imageDevices = func() []*devices.Device {
	var out []*devices.Device
	for _, d := range specconv.AllowedDevices {
		if d.Path != "" {
			out = append(out, d)
		}
	}
	return out
}()

// bindMountSources binds each mount's source at dir/mnt/<n>, having
// looked it up with the job user's file-system credentials: a user cannot
// mount what the user could not reach on the host (say, a directory below
// one only root may enter). The job's init mounts these binds, whose paths
// the user cannot touch, so a source path swapped after the check does not
// matter. The binds are private: no mount event propagates through them.
func bindMountSources(spec *Spec, dir string, bound time.Duration) ([]string, error) {
	if len(spec.Mounts) == 0 {
		return nil, nil
	}
	if err := os.Mkdir(filepath.Join(dir, jobMnt), 0o700); err != nil {
		return nil, fmt.Errorf("create mount source dir: %w", err)
	}
	var paths []string
	for i, m := range spec.Mounts {
		var f *os.File
		open := func() error {
			var err error
			if m.NodeSource {
				f, err = os.OpenFile(m.Source, unix.O_PATH|unix.O_CLOEXEC, 0)
			} else {
				// No magic link of /proc (see openNoMagic): through
				// /proc/self/cwd, say, a user would mount a directory
				// below one the user may not enter.
				f, err = openNoMagic(m.Source, unix.O_PATH, 0)
			}
			return err
		}
		err := withinBound(bound, func() error {
			if spec.UID == 0 || m.NodeSource {
				return open()
			}
			return asUser(spec.UID, spec.GID, spec.Groups, open)
		}, func() { f.Close() })
		var noAnswer *noAnswerError
		if errors.As(err, &noAnswer) {
			return nil, fmt.Errorf("mount source %s: %w", m.Source, err)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: mount source %s (looked up as uid %d): %w", ErrInvalidSpec, m.Source, spec.UID, err)
		}
		// A kernel interface's files check the effective uid: one, or the
		// daemon's own /proc/self, is no mount for a job.
		if fs, err := kernelFS(f); err != nil || fs != "" {
			f.Close()
			return nil, fmt.Errorf("%w: mount source %s: on %s, a kernel interface file system (statfs: %v)", ErrInvalidSpec, m.Source, fs, err)
		}
		p, err := bindFd(f, filepath.Join(dir, jobMnt, strconv.Itoa(i)))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("bind mount source %s: %w", m.Source, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// bindFd bind-mounts the file or directory open in f (recursively) at
// path, which it creates, and makes that mount tree private.
func bindFd(f *os.File, path string) (string, error) {
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if fi.IsDir() {
		err = os.Mkdir(path, 0o700)
	} else {
		err = ensureMountpoint(path, false)
	}
	if err != nil {
		return "", err
	}
	if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return "", err
	}
	if err := unix.Mount("", path, "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		return "", err
	}
	return path, nil
}

// userMounts turns the spec's mounts, whose sources are bound at srcs,
// into libcontainer mounts. For a host job it first makes the mountpoints
// that must be made in the skeleton (see Mount.Target). A wholeRoot job's
// mounts onto paths the host has are not libcontainer's: they come back
// as inRoot, for the supervisor to make inside the job's root
// (mountInRoot). libcontainer's init would look such a target up by path,
// as root, after the checks here, and make it if it were missing by then:
// a user who swapped a directory of the path for a symlink in between
// would have root make a file wherever it led.
func (r *Runner) userMounts(spec *Spec, srcs []string, at mountSite) (out []*configs.Mount, inRoot []shimMount, err error) {
	newTop := newTopLevelTarget(spec)
	var dests []string // an image job's targets, resolved
	for i, m := range spec.Mounts {
		fi, err := os.Stat(srcs[i])
		if err != nil {
			return nil, nil, fmt.Errorf("stat mount source %s: %w", m.Source, err)
		}
		if tmpWorkdir := at.tmpWorkdir; tmpWorkdir != "" && under(m.Target, tmpWorkdir) {
			// Bound into the private /tmp before the mounts, the user's
			// own directory: libcontainer would look the target up
			// through it, as root.
			return nil, nil, fmt.Errorf("%w: mount target %s lies in the working directory %s, the user's own directory in the job's private /tmp: "+
				"mount it elsewhere, or work in another directory", ErrInvalidSpec, m.Target, tmpWorkdir)
		}
		if spec.Rootfs == "" {
			onHost, err := r.hostMountpoint(m.Target, fi.IsDir())
			if err != nil {
				return nil, nil, err
			}
			if onHost && at.wholeRoot {
				inRoot = append(inRoot, shimMount{Source: srcs[i], Asked: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
				continue
			}
			if onHost && newTop != "" {
				// On the skeleton, libcontainer would look this
				// target up by path, as root.
				return nil, nil, fmt.Errorf("%w: mount targets %s and %s: a job that mounts onto a new top-level entry "+
					"mounts only onto new top-level entries and under /tmp, not onto a path the host has", ErrInvalidSpec, newTop, m.Target)
			}
		}
		dest := m.Target
		if spec.Rootfs != "" {
			if dest, err = imageTarget(at.rootfs, m.Target, fi.IsDir(), dests); err != nil {
				return nil, nil, err
			}
			dests = append(dests, dest)
		}
		if under(m.Target, at.rootfs) || under(dest, at.rootfs) {
			// libcontainer strips the root's path off the front of a
			// destination, up to twice: it would mount elsewhere than
			// checked here.
			return nil, nil, fmt.Errorf("%w: mount target %s lies where the sandbox keeps the job's root (%s): mount it elsewhere",
				ErrInvalidSpec, m.Target, at.rootfs)
		}
		flags := unix.MS_BIND | unix.MS_REC | unix.MS_NOSUID | unix.MS_NODEV
		var rec *unix.MountAttr
		if m.ReadOnly {
			flags |= unix.MS_RDONLY
			// MS_RDONLY covers the mount itself; this its submounts too.
			rec = &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		}
		out = append(out, &configs.Mount{Source: srcs[i], Destination: dest, Device: "bind", Flags: flags, RecAttr: rec})
	}
	return out, inRoot, nil
}

// mountSite is where a job's mounts go: rootfs, the root libcontainer
// mounts into (an image job's layer, or a host job's skeleton);
// wholeRoot, a host job whose root is the host's "/"; tmpWorkdir, the
// working directory bound into the private /tmp, if any.
type mountSite struct {
	rootfs     string
	wholeRoot  bool
	tmpWorkdir string
}

// under reports whether path p is dir or lies below it.
func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// imageTarget makes an image job's mount target exist in its layer, as
// root, before anything is mounted there, following the image's symlinks
// as the job would and never out of the layer; and returns it resolved,
// for libcontainer to mount onto. libcontainer would resolve the target
// itself, as root, at mount time, through what earlier mounts put there:
// an image symlink leading a target into an earlier mount (earlier, those
// resolved) would have it make the mountpoint in that mount's source, a
// directory of the host's.
//
// A target in /tmp is not resolved: there, the job's private tmpfs, which
// libcontainer mounts before the user's mounts, holds only what
// libcontainer makes and earlier mounts.
func imageTarget(layer, target string, dir bool, earlier []string) (string, error) {
	dest := target
	if !under(target, "/tmp") {
		var err error
		if dest, err = makeInRoot(layer, target, dir); err != nil {
			return "", fmt.Errorf("%w: mount target %s in the image: %w", ErrInvalidSpec, target, err)
		}
	}
	for _, own := range []string{"/proc", "/dev", "/sys"} {
		if under(dest, own) {
			return "", fmt.Errorf("%w: mount target %s leads to %s, in the job's own %s", ErrInvalidSpec, target, dest, own)
		}
	}
	if dest == "/" {
		return "", fmt.Errorf("%w: mount target %s leads to the job's / itself", ErrInvalidSpec, target)
	}
	for _, e := range earlier {
		if under(dest, e) {
			return "", fmt.Errorf("%w: mount target %s leads to %s, in the target of an earlier mount, %s: mount each onto a path of its own",
				ErrInvalidSpec, target, dest, e)
		}
	}
	return dest, nil
}

// hostMountpoint prepares a host job's mount target. Under /tmp it is in
// the private /tmp, where libcontainer creates it. A target whose
// top-level entry the host has must exist on the host (onHost): creating
// it would change a host directory. Otherwise it is made in the skeleton
// (shared by all jobs, safe to race, left there).
func (r *Runner) hostMountpoint(target string, dir bool) (onHost bool, err error) {
	if target == "/tmp" || strings.HasPrefix(target, "/tmp/") {
		return false, nil
	}
	top := "/" + strings.SplitN(target[1:], "/", 2)[0]
	if _, err := os.Lstat(top); err == nil {
		// Even the top-level entry itself: a dangling symlink there
		// would have libcontainer's init make what it points to.
		if _, err := os.Stat(target); err != nil {
			return false, fmt.Errorf("%w: mount target %s: %w (a host job mounts onto an existing path, "+
				"a new top-level directory or a path under /tmp)", ErrInvalidSpec, target, err)
		}
		return true, nil
	}
	path := filepath.Join(r.rootfsDir(), target)
	if dir {
		if err := os.MkdirAll(path, 0o755); err != nil {
			return false, fmt.Errorf("create mountpoint %s in the skeleton: %w", target, err)
		}
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, fmt.Errorf("create mountpoint %s in the skeleton: %w", target, err)
	}
	return false, ensureMountpoint(path, false)
}

// mountInRoot mounts tree (a copy of m's source, made before anything
// was mounted in this thread's namespace) onto m's target inside the
// job's root, rootfs (the host's "/" bound there; root is open on it):
// the target is looked up from root, never leaving it, following no
// /proc magic links, with the job user's file-system credentials (root's
// for a root job), and the mount goes onto that very file. Nothing is
// created; and since the target lies inside the job's root, no path the
// supervisor or libcontainer use as root (their state, the cgroups,
// /proc) leads through a user's tree. A target that leads to the root
// itself, or into the /proc, /dev, /sys or /tmp the sandbox mounts, is
// refused. An error leaves the thread unfit to start the init (its
// credentials may not be root's again).
func mountInRoot(root int, rootfs string, tree int, m shimMount, uid, gid uint32, groups []uint32) error {
	target := -1
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	open := func() error {
		fd, err := unix.Openat2(root, m.Target, &how)
		target = fd
		return err
	}
	var err error
	if uid == 0 {
		err = open()
	} else if restored, werr := withThreadCreds(uid, gid, groups, open); !restored {
		err = errors.Join(werr, errors.New("the thread's credentials could not be made root's again"))
	} else {
		err = werr
	}
	if err != nil {
		if target >= 0 {
			unix.Close(target)
		}
		return fmt.Errorf("mount target %s (looked up as uid %d): %w", m.Target, uid, err)
	}
	defer unix.Close(target)
	at, err := os.Readlink(fmt.Sprintf("/proc/thread-self/fd/%d", target))
	if err != nil {
		return fmt.Errorf("mount target %s: where it leads: %w", m.Target, err)
	}
	rel, inside := strings.CutPrefix(at, rootfs)
	if !inside || !strings.HasPrefix(rel, "/") {
		return fmt.Errorf("%w: mount target %s leads to the job's / itself", ErrInvalidSpec, m.Target)
	}
	for _, own := range []string{"/proc", "/dev", "/sys", "/tmp"} {
		if under(rel, own) {
			return fmt.Errorf("%w: mount target %s leads to %s, in the job's own %s", ErrInvalidSpec, m.Target, rel, own)
		}
	}
	var src, dst unix.Stat_t
	if err := unix.Fstat(tree, &src); err != nil {
		return fmt.Errorf("mount source %s: %w", m.Asked, err)
	}
	if err := unix.Fstat(target, &dst); err != nil {
		return fmt.Errorf("mount target %s: %w", m.Target, err)
	}
	if (src.Mode&unix.S_IFMT == unix.S_IFDIR) != (dst.Mode&unix.S_IFMT == unix.S_IFDIR) {
		return fmt.Errorf("%w: mount source %s and target %s: a directory mounts onto a directory, a file onto a file", ErrInvalidSpec, m.Asked, m.Target)
	}
	if err := unix.MoveMount(tree, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount %s onto %s: %w", m.Asked, m.Target, err)
	}
	return nil
}

// sourceTree copies m's source (recursively: a detached mount tree),
// nosuid and nodev, read-only if asked, for mountInRoot.
func sourceTree(m shimMount) (int, error) {
	tree, err := unix.OpenTree(unix.AT_FDCWD, m.Source, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return -1, fmt.Errorf("copy mount source %s: %w", m.Asked, err)
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if m.ReadOnly {
		attr.Attr_set |= unix.MOUNT_ATTR_RDONLY
	}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		unix.Close(tree)
		return -1, fmt.Errorf("mount source %s: nosuid, nodev, read-only: %w", m.Asked, err)
	}
	return tree, nil
}
