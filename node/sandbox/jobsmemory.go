package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/opencontainers/cgroups"
)

// LimitJobsMemory bounds the memory of all the jobs under CgroupParent
// together at bytes: the parent cgroup's own limit (memory.max on cgroup
// v2, memory.limit_in_bytes on v1), made if it is not there yet.
//
// Each job has its own limit, and the scheduler keeps their sum within
// the node's memory; but memory charged to a job outlives it when a
// process elsewhere holds it (a memfd or a tmpfs file whose descriptor
// the job passed on over a socket), and no job's limit bounds it any
// more. Under the parent's, the kernel reclaims or OOM-kills among the
// node's jobs when they hold more than the node gave them, never among
// the host's own processes (the node daemon, sshd).
func (r *Runner) LimitJobsMemory(bytes int64) error {
	if bytes <= 0 {
		return fmt.Errorf("limit jobs' memory: %d bytes: give the node's memory for jobs", bytes)
	}
	if err := r.validate(); err != nil {
		return err
	}
	dir, file := "", "memory.limit_in_bytes"
	if cgroups.IsCgroup2UnifiedMode() {
		dir, file = filepath.Join("/sys/fs/cgroup", r.CgroupParent), "memory.max"
	} else {
		mnt, err := cgroups.FindCgroupMountpoint("", "memory")
		if err != nil {
			return fmt.Errorf("limit jobs' memory: find the memory cgroup hierarchy: %w", err)
		}
		dir = filepath.Join(mnt, r.CgroupParent)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("limit jobs' memory: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, file)); errors.Is(err, os.ErrNotExist) && file == "memory.max" {
		// The memory controller is not on for the root's children yet
		// (libcontainer turns it on for a job's cgroup's ancestors).
		if err := cgroups.WriteFile("/sys/fs/cgroup", "cgroup.subtree_control", "+memory"); err != nil {
			return fmt.Errorf("limit jobs' memory: enable the memory controller: %w", err)
		}
	}
	if err := cgroups.WriteFile(dir, file, strconv.FormatInt(bytes, 10)); err != nil {
		return fmt.Errorf("limit jobs' memory to %d bytes: %w", bytes, err)
	}
	return nil
}
