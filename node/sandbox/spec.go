package sandbox

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	devices "github.com/opencontainers/cgroups/devices/config"
)

// Spec is everything needed to run one job.
type Spec struct {
	// ID is the unique container id, e.g. "job-17-1". It names the state
	// directory, the cgroups and the private /tmp, so it must match
	// [A-Za-z0-9][A-Za-z0-9_.+-]*.
	ID string
	// Argv is the command; argv[0] is looked up in the PATH of Env if it
	// is not absolute.
	Argv []string
	// Env is the complete environment of the job, as KEY=VALUE.
	Env []string
	// Dir is the working directory. For a host job it is a host path that
	// must exist: Start opens it with the job user's credentials (a
	// directory the user cannot reach on the host fails the start, however
	// the path was reached) and the job starts in that very directory, at
	// its canonical path (symlinks resolved). One whose canonical path is
	// under /tmp is bind-mounted at that path into the job's private /tmp
	// (only that directory: the rest of the host's /tmp stays hidden); Dir
	// "/tmp" is the private /tmp itself. For an image job it is a path in
	// the image, created (root-owned, 0755) in the job's own layer if
	// missing, as a Dockerfile's WORKDIR is; the job's user must be able
	// to reach it there. One that lies in a mounted directory must exist
	// there: nothing is made in a mount for the job.
	Dir string
	// UID and GID are the job's user and primary group.
	UID, GID uint32
	// Groups are the supplementary groups.
	Groups []uint32
	// MemoryBytes is the hard memory limit, 0 for none. Where the kernel
	// accounts swap, memory+swap is limited to the same value, so the job
	// cannot swap past it.
	MemoryBytes int64
	// CPUs is the CPU quota in cores, 0 for none.
	CPUs float64
	// PidsMax bounds the number of processes and threads of the job (the
	// pids cgroup), 0 for no limit.
	PidsMax int64
	// TmpBytes is the size of the job's private /tmp, a tmpfs charged to
	// the job's memory; 0 leaves the kernel's default (half the RAM), so
	// only the memory limit bounds it.
	TmpBytes int64
	// Stdout and Stderr are host file paths, opened by Start with the job
	// user's credentials: created (mode 0644, owned by UID and GID) or
	// truncated. A final symlink, and anything but a regular file or
	// /dev/null, is refused. An existing file the user may write but does
	// not own keeps its owner and mode (the job writes to it through a
	// relay). They may be the same path.
	Stdout, Stderr string
	// Stdin, if set, is a host file path the job reads as its standard
	// input (sbatch --input), opened read-only with the job user's
	// credentials, with Stdout's checks; "" gives it /dev/null.
	Stdin string
	// AppendOutput appends to Stdout and Stderr instead of truncating them
	// (sbatch --open-mode=append).
	AppendOutput bool
	// NodeStdout and NodeStderr say that Stdout or Stderr is the node's
	// own log file (for a job given no output file), which the node made
	// in a directory only root reaches: it is opened as root (never made,
	// no final symlink, a regular file only), not as the user, who could
	// not reach it. Never set them for a path a user chose.
	NodeStdout, NodeStderr bool
	// StdoutLimit and StderrLimit, if above 0, are the most bytes of the
	// job's output that reach Stdout and Stderr (one file: Stdout's): the
	// job writes into a pipe the supervisor copies into the file, up to
	// the limit; past it the output is read and dropped, with one line
	// saying so, and the job goes on. For files a job may not fill at will
	// (the node's own log dir).
	StdoutLimit, StderrLimit int64
	// OOMNote, if set, is a line the job's supervisor writes into the
	// job's stderr file after the job has ended, if the OOM killer killed
	// any of its processes: a format with one %d, the number of kills
	// (Slurm's slurmstepd writes such a line). Like Job.Note's lines it
	// goes through the file the job got, never by path.
	OOMNote string

	// Rootfs, if set, makes this an image job: an unpacked image file
	// system (a host directory) becomes the job's root instead of the
	// host's. Rootfs itself is never written to: the job writes to an
	// overlay layer of its own, which Wait removes. See "Image jobs" in the
	// package documentation. It must be a clean absolute path without ','
	// or ':' (overlayfs option syntax).
	Rootfs string
	// ReadonlyRootfs makes an image job's root file system read-only; its
	// private /tmp, /dev/shm and read-write Mounts stay writable. Host
	// jobs ignore it.
	ReadonlyRootfs bool
	// Mounts are host paths bind-mounted into the job, in order, after the
	// sandbox's own mounts (so a Target under /tmp lands in the private
	// /tmp). Sources are looked up with the job user's credentials: a
	// user can only mount what the user can reach on the host.
	Mounts []Mount
	// Devices are host device nodes (character or block) the job may open
	// besides the sandbox's own (null, zero, full, random, urandom, tty,
	// ptmx, pts), e.g. a GPU job's /dev/nvidia0 and /dev/nvidiactl: the
	// device cgroup (v1 devices.allow; the eBPF filter on v2) lets the job
	// read and write exactly these and no others. A host job sees the
	// host's /dev, where each must be; an image job's private /dev gets a
	// node of each, at the same path, so there each must be under /dev.
	// Each must be a clean absolute path of an existing device node.
	Devices []string

	// devices are Devices as looked up by validate.
	devices []*devices.Device
}

// Mount bind-mounts a host path into a job (recursively, nosuid, nodev).
type Mount struct {
	// Source is the host path, a directory or a file. It must exist.
	Source string
	// Target is where the job sees it: a clean absolute path, not "/" and
	// not in /proc or /dev. A missing target is created: in an image job's
	// layer or private /tmp; for a host job only where that changes no
	// host directory (a new top-level entry of the job's root, or under
	// /tmp): otherwise it must already exist on the host.
	Target string
	// ReadOnly makes the mount read-only, submounts included.
	ReadOnly bool
	// NodeSource says the node daemon chose Source, not the user (the GPU
	// driver's files for an image job, see DriverMounts): it is looked up
	// as root. Never set it for a path a user named.
	NodeSource bool
}

// Result is how a job ended.
type Result struct {
	// ExitCode is the exit status, or 128+signal when killed by a signal.
	ExitCode int
	// Signal is the terminating signal number, 0 if the job exited.
	Signal int
	// OOMKilled is true when the kernel's OOM killer killed any process of
	// the job (oom_kill > 0 in memory.events on cgroup v2, memory.oom_control
	// on v1), whichever process it was.
	OOMKilled bool
}

// ErrInvalidSpec is wrapped by Start's errors for a Spec that cannot run.
var ErrInvalidSpec = errors.New("invalid sandbox spec")

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.+-]*$`)

func (s *Spec) validate() error {
	switch {
	case !idPattern.MatchString(s.ID) || len(s.ID) > 200:
		return fmt.Errorf("%w: id %q", ErrInvalidSpec, s.ID)
	case len(s.Argv) == 0 || s.Argv[0] == "":
		return fmt.Errorf("%w: empty argv", ErrInvalidSpec)
	case !filepath.IsAbs(s.Dir):
		return fmt.Errorf("%w: dir %q is not absolute", ErrInvalidSpec, s.Dir)
	case s.Stdin != "" && !filepath.IsAbs(s.Stdin):
		return fmt.Errorf("%w: stdin %q must be absolute", ErrInvalidSpec, s.Stdin)
	case !filepath.IsAbs(s.Stdout) || !filepath.IsAbs(s.Stderr):
		return fmt.Errorf("%w: stdout %q and stderr %q must be absolute", ErrInvalidSpec, s.Stdout, s.Stderr)
	case s.MemoryBytes < 0 || s.CPUs < 0 || s.PidsMax < 0 || s.TmpBytes < 0:
		return fmt.Errorf("%w: negative limit", ErrInvalidSpec)
	case s.Rootfs != "" && (!filepath.IsAbs(s.Rootfs) || filepath.Clean(s.Rootfs) != s.Rootfs || s.Rootfs == "/" ||
		strings.ContainsAny(s.Rootfs, ",:")):
		return fmt.Errorf("%w: rootfs %q must be a clean absolute path, not /, without ',' or ':'", ErrInvalidSpec, s.Rootfs)
	}
	s.devices = nil
	for _, p := range s.Devices {
		if !filepath.IsAbs(p) || filepath.Clean(p) != p {
			return fmt.Errorf("%w: device %q must be a clean absolute path", ErrInvalidSpec, p)
		}
		if s.Rootfs != "" && !strings.HasPrefix(p, "/dev/") {
			return fmt.Errorf("%w: device %q of an image job must be under /dev", ErrInvalidSpec, p)
		}
		d, err := hostDevice(p)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidSpec, err)
		}
		s.devices = append(s.devices, d)
	}
	for i, m := range s.Mounts {
		t := m.Target
		switch {
		case !filepath.IsAbs(m.Source):
			return fmt.Errorf("%w: mount source %q is not absolute", ErrInvalidSpec, m.Source)
		case !filepath.IsAbs(t) || filepath.Clean(t) != t:
			return fmt.Errorf("%w: mount target %q must be a clean absolute path", ErrInvalidSpec, t)
		case t == "/" || under(t, "/proc") || under(t, "/dev"):
			return fmt.Errorf("%w: mount target %q: not /, nor in /proc or /dev", ErrInvalidSpec, t)
		}
		// The mounts are made in order, and a later target is looked up
		// through the earlier mounts: below one, through a directory the
		// user may control (a symlink there would lead libcontainer's
		// init, root, to make the mountpoint wherever it points).
		for _, before := range s.Mounts[:i] {
			if !under(t, before.Target) {
				continue
			}
			if m.NodeSource && !before.NodeSource {
				return fmt.Errorf("%w: mount target %q holds %q, where the node mounts the GPU driver's files: mount it elsewhere", ErrInvalidSpec, before.Target, t)
			}
			return fmt.Errorf("%w: mount target %q lies in the target of an earlier mount, %q: mount each onto a path of its own", ErrInvalidSpec, t, before.Target)
		}
	}
	return nil
}
