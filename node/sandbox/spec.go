package sandbox

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
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
	// Dir is the working directory: a host path, visible inside as is. It
	// must exist. A Dir under /tmp is bind-mounted at the same path into
	// the job's private /tmp (only that directory: the rest of the host's
	// /tmp stays hidden); Dir "/tmp" is the private /tmp itself.
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
	// Stdout and Stderr are host file paths, created or truncated by Start
	// with the job user's credentials (mode 0644, owned by UID and GID).
	// They may be the same path.
	Stdout, Stderr string
}

// Result is how a job ended.
type Result struct {
	// ExitCode is the exit status, or 128+signal when killed by a signal.
	ExitCode int
	// Signal is the terminating signal number, 0 if the job exited.
	Signal int
	// OOMKilled is true when the kernel's OOM killer killed any process of
	// the job (memory.oom_control oom_kill > 0), whichever process it was.
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
	case !filepath.IsAbs(s.Stdout) || !filepath.IsAbs(s.Stderr):
		return fmt.Errorf("%w: stdout %q and stderr %q must be absolute", ErrInvalidSpec, s.Stdout, s.Stderr)
	case s.MemoryBytes < 0 || s.CPUs < 0:
		return fmt.Errorf("%w: negative limit", ErrInvalidSpec)
	}
	return nil
}
