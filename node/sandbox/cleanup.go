package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/moby/sys/mountinfo"
	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// killTimeout bounds how long Cleanup waits for SIGKILLed processes to go.
const killTimeout = 10 * time.Second

// Cleanup destroys every sandbox left under Root, TmpRoot and CgroupParent
// that no Job of this Runner owns (after a daemon crash, say): it kills
// their processes and removes their cgroups in every hierarchy, state
// directories and job directories (unmounting an image layer or mount
// binds left in one first), then removes CgroupParent where
// it is empty. It is safe to call without any setup and while this Runner
// has jobs running (they are left alone, and so are the records of ended
// jobs not yet forgotten).
func (r *Runner) Cleanup() error {
	if err := r.validate(); err != nil {
		return err
	}
	mounts, err := cgroupMounts()
	if err != nil {
		return err
	}
	ids := map[string]bool{}
	dirs := []string{r.Root, r.TmpRoot, r.shimRoot()}
	for _, m := range mounts {
		dirs = append(dirs, filepath.Join(m, r.CgroupParent))
	}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("list %s: %w", dir, err)
		}
		for _, e := range entries {
			if e.IsDir() && idPattern.MatchString(e.Name()) {
				ids[e.Name()] = true
			}
		}
	}
	var errs []error
	for id := range ids {
		if r.isLive(id) {
			continue
		}
		if err := r.destroyLeftover(id, mounts); err != nil {
			errs = append(errs, fmt.Errorf("clean up %s: %w", id, err))
		}
	}
	for _, m := range mounts {
		// Fails harmlessly (EBUSY) while other jobs run.
		_ = unix.Rmdir(filepath.Join(m, r.CgroupParent))
	}
	_ = unix.Rmdir(r.shimRoot()) // likewise (ENOTEMPTY)
	return errors.Join(errs...)
}

// destroyLeftover kills one job's supervisor, if it still runs, then
// kills and removes its container, whatever state it is in, and forgets
// it.
func (r *Runner) destroyLeftover(id string, mounts []string) error {
	var errs []error
	// The supervisor first: else it would race us to destroy the container.
	if err := killShim(r.shimDir(id)); err != nil {
		errs = append(errs, err)
	}
	if err := r.destroyContainer(id, mounts); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(r.shimDir(id)); err != nil {
		errs = append(errs, fmt.Errorf("remove supervisor directory: %w", err))
	}
	return errors.Join(errs...)
}

// killShim SIGKILLs the supervisor recorded in dir, if it still runs, and
// waits for it to exit.
func killShim(dir string) error {
	var st shimState
	if err := readJSON(filepath.Join(dir, shimStateFile), &st); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	fd, err := openPidfd(st.ShimPid, st.ShimStart)
	if err != nil || fd < 0 {
		return err
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill supervisor %d: %w", st.ShimPid, err)
	}
	waitAllExit([]int{st.ShimPid}, killTimeout)
	return nil
}

// destroySandbox kills and removes one job's container, cgroups and job
// directory, leaving its supervisor's record.
func (r *Runner) destroySandbox(id string) error {
	mounts, err := cgroupMounts()
	if err != nil {
		return err
	}
	return r.destroyContainer(id, mounts)
}

// destroyContainer kills and removes one container, whatever state it is in.
func (r *Runner) destroyContainer(id string, mounts []string) error {
	var errs []error
	if c, err := libcontainer.Load(r.Root, id); err == nil {
		pids, _ := c.Processes()
		// SIGKILL to PID 1 kills the whole PID namespace (and thaws).
		if err := c.Signal(unix.SIGKILL); err != nil && !errors.Is(err, libcontainer.ErrNotRunning) {
			errs = append(errs, fmt.Errorf("kill container: %w", err))
		}
		waitAllExit(pids, killTimeout)
		if err := c.Destroy(); err != nil {
			errs = append(errs, fmt.Errorf("destroy container: %w", err))
		}
	}
	// Whatever libcontainer could not account for (no or broken state).
	for _, m := range mounts {
		dir := filepath.Join(m, r.CgroupParent, id)
		if err := killCgroup(dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(filepath.Join(r.Root, id)); err != nil {
		errs = append(errs, fmt.Errorf("remove state: %w", err))
	}
	if err := removeJobDir(r.jobDir(id)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// killCgroup thaws, kills and removes one cgroup directory (with any
// children); a missing directory is not an error.
func killCgroup(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	// A frozen v1 task does not die until thawed.
	_ = cgroups.WriteFile(dir, "freezer.state", string(cgroups.Thawed))
	pids, err := cgroups.GetAllPids(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("list cgroup processes: %w", err)
	}
	for _, pid := range pids {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	waitAllExit(pids, killTimeout)
	if err := cgroups.RemovePath(dir); err != nil {
		return fmt.Errorf("remove cgroup: %w", err)
	}
	return nil
}

// waitAllExit waits, with pidfds, until all pids have exited or timeout.
func waitAllExit(pids []int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for len(pids) > 0 {
		exited, ok := waitAnyExit(pids, time.Until(deadline))
		if !ok {
			return
		}
		gone := map[int]bool{}
		for _, pid := range exited {
			gone[pid] = true
		}
		var rest []int
		for _, pid := range pids {
			if !gone[pid] {
				rest = append(rest, pid)
			}
		}
		pids = rest
	}
}

// cgroupMounts lists the mountpoints of every cgroup hierarchy (v1
// controllers, named hierarchies and, in hybrid mode, the v2 one).
func cgroupMounts() ([]string, error) {
	infos, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, fmt.Errorf("list cgroup mounts: %w", err)
	}
	var out []string
	for _, m := range infos {
		out = append(out, m.Mountpoint)
	}
	return out, nil
}

// Remove, for a daemon that is shutting down, runs Cleanup and then, if
// no job of this Runner runs on (jobs are left running for the next
// daemon, see Recover), removes what the Runner made for itself: the
// rootfs skeleton, Root and TmpRoot, where they are empty. The skeleton holds only
// empty mountpoints and symlinks; it is taken apart one entry at a time,
// never recursively, so that nothing mounted on it could be reached.
func (r *Runner) Remove() error {
	if err := r.Cleanup(); err != nil {
		return err
	}
	if r.liveCount() > 0 {
		return nil // their mounts hang on the skeleton
	}
	skel := r.rootfsDir()
	entries, err := os.ReadDir(skel)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("list rootfs skeleton: %w", err)
	}
	for _, e := range entries {
		p := filepath.Join(skel, e.Name())
		if e.IsDir() {
			err = unix.Rmdir(p)
		} else {
			err = unix.Unlink(p)
		}
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("remove rootfs skeleton entry %s: %w", p, err)
		}
	}
	for _, dir := range []string{skel, r.Root, r.TmpRoot} {
		if err := unix.Rmdir(dir); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("remove %s: %w", dir, err)
		}
	}
	return nil
}
