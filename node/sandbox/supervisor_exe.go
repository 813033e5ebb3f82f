package sandbox

import (
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// SupervisorName is the file name of the small binary built from
// cmd/shoal-sandbox, installed next to shoal's: it holds only this package
// and libcontainer, and a daemon that finds it there (SiblingSupervisor)
// starts each job's supervisor from it instead of re-executing its own,
// much larger binary.
//
// Each job costs two starts of the binary that runs its supervisor: the
// supervisor itself, and libcontainer's init, which re-executes the
// supervisor's /proc/self/exe. A Go binary's start (runtime set-up,
// package initialisation, the page faults of its data) grows with what is
// linked in: shoal's (35 MB, ~180 initialised packages: raft, the HTTP
// API, the CLI, the registry client) takes ~1.6 ms of CPU more than this
// one (8 MB) on a 2-core VM, per start. Measured with 1,000 `sbatch
// --wrap true` jobs through `shoal agent -dev` there: ~34 ms of CPU per
// job's life (daemon, supervisor, init, controller) down to ~27, a drain
// of them from ~43 to ~54 jobs/s.
const SupervisorName = "shoal-sandbox"

// SiblingSupervisor returns the SupervisorName binary next to the running
// one (symlinks resolved), for Runner.Supervisor: "" and no error when
// there is none; an error saying why one that is there cannot be used
// (not a regular file, writable by others than root, or not the same build
// as this binary).
func SiblingSupervisor() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find executable: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return "", fmt.Errorf("resolve executable: %w", err)
	}
	p := filepath.Join(filepath.Dir(exe), SupervisorName)
	if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	f, err := openSupervisor(p)
	if err != nil {
		return "", err
	}
	f.Close()
	return p, nil
}

// openSupervisor opens a supervisor binary for good (the daemon starts
// supervisors from this open file, so that a later replacement of the path
// does not change what jobs run under) after checking that only root can
// change it and that it is the same build as this binary.
func openSupervisor(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("supervisor binary: %w", err)
	}
	fail := func(format string, args ...any) (*os.File, error) {
		f.Close()
		return nil, fmt.Errorf("supervisor binary %s: "+format, append([]any{path}, args...)...)
	}
	fi, err := f.Stat()
	if err != nil {
		return fail("%w", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return fail("not an executable regular file (mode %v)", fi.Mode())
	}
	for _, p := range []string{path, filepath.Dir(path)} {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			return fail("%w", err)
		}
		if st.Uid != 0 && int(st.Uid) != os.Geteuid() || st.Mode&0o022 != 0 {
			return fail("%s is owned by uid %d with mode %o: only root (or the daemon's user) may be able to change it, since every job's supervisor runs it as root",
				p, st.Uid, st.Mode&0o7777)
		}
	}
	if err := sameBuild(f); err != nil {
		return fail("%w; build both with `make build` (or remove it: the daemon then uses its own binary)", err)
	}
	// Of this very file, not of the path (which may change meanwhile).
	out, err := exec.Command("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), "fingerprint").Output()
	if got := strings.TrimSpace(string(out)); err != nil || got != Fingerprint() {
		return fail("its node/sandbox is another build (fingerprint %q, error %v; this binary's %s); build both with `make build` (or remove it: the daemon then uses its own binary)",
			got, err, Fingerprint())
	}
	// Kept above the descriptors a supervisor is given (3 and up): the
	// child execs /proc/self/fd/N after it has placed those.
	hi, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 100)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("supervisor binary %s: %w", path, err)
	}
	return os.NewFile(uintptr(hi), path), nil
}

// sameBuild checks that the binary f was built from the same module
// versions, source revision and Go toolchain as the running one: a stale
// supervisor would misread what the daemon hands it.
func sameBuild(f *os.File) error {
	self, ok := debug.ReadBuildInfo()
	if !ok {
		return errors.New("this binary carries no build information to compare with")
	}
	other, err := buildinfo.Read(f)
	if err != nil {
		return fmt.Errorf("read its build information: %w", err)
	}
	if other.GoVersion != self.GoVersion {
		return fmt.Errorf("built with %s, this binary with %s", other.GoVersion, self.GoVersion)
	}
	if other.Main.Path != self.Main.Path || other.Main.Version != self.Main.Version {
		return fmt.Errorf("module %s %s, this binary's %s %s", other.Main.Path, other.Main.Version, self.Main.Path, self.Main.Version)
	}
	mine := map[string]string{}
	for _, d := range self.Deps {
		mine[d.Path] = d.Version + " " + d.Sum
	}
	for _, d := range other.Deps {
		if v, ok := mine[d.Path]; ok && v != d.Version+" "+d.Sum {
			return fmt.Errorf("dependency %s %s differs from this binary's (%s)", d.Path, d.Version, v)
		}
	}
	settings := func(bi *debug.BuildInfo) map[string]string {
		m := map[string]string{}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision", "vcs.time", "vcs.modified", "CGO_ENABLED":
				m[s.Key] = s.Value
			}
		}
		return m
	}
	a, b := settings(other), settings(self)
	for _, k := range []string{"vcs.revision", "vcs.time", "vcs.modified", "CGO_ENABLED"} {
		if a[k] != b[k] {
			return fmt.Errorf("%s %q, this binary's %q", k, a[k], b[k])
		}
	}
	return nil
}

// supervisorExe is what startShim executes: the supervisor binary opened
// at the first Start, or this binary.
func (r *Runner) supervisorExe() string {
	if r.supervisor == nil {
		return "/proc/self/exe"
	}
	return "/proc/self/fd/" + strconv.Itoa(int(r.supervisor.Fd()))
}
