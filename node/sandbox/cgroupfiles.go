package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/cgroups"
)

// Usage is what a job used, read from its cgroups as it ended. A figure
// the kernel does not keep (memory.peak needs Linux 5.19 on cgroup v2)
// reads as zero.
type Usage struct {
	// MaxRSSBytes is the peak of the job's memory use, page cache
	// included: memory.peak (v2) or memory.max_usage_in_bytes (v1).
	MaxRSSBytes int64
	// CPU is the CPU time of all the job's processes, user and system:
	// cpu.stat usage_usec (v2) or cpuacct.usage (v1).
	CPU time.Duration
}

// jobCgroups are the directories of one job's cgroups that its results
// are read from. On cgroup v2 (the unified hierarchy) both are the job's
// one cgroup.
type jobCgroups struct {
	v2  bool
	mem string // the memory cgroup, "" if unknown
	cpu string // the cpuacct (v1) or unified (v2) cgroup, "" if unknown
}

// jobCgroupsOf picks the job's directories out of libcontainer's
// State.CgroupPaths, which is keyed by v1 controller name, or by "" for the
// one v2 directory.
func jobCgroupsOf(paths map[string]string) jobCgroups {
	if cgroups.IsCgroup2UnifiedMode() {
		return jobCgroups{v2: true, mem: paths[""], cpu: paths[""]}
	}
	return jobCgroups{mem: paths["memory"], cpu: paths["cpuacct"]}
}

// oomKills returns how many processes of the job the kernel's OOM killer
// killed: oom_kill in memory.events (v2; it counts descendant cgroups
// too) or memory.oom_control (v1).
func (c jobCgroups) oomKills() (int64, error) {
	file := "memory.oom_control"
	if c.v2 {
		file = "memory.events"
	}
	n, ok, err := readKeyed(filepath.Join(c.mem, file), "oom_kill")
	if err != nil {
		return 0, fmt.Errorf("read oom kills: %w", err)
	}
	if !ok {
		return 0, fmt.Errorf("read oom kills: no oom_kill line in %s (kernel older than 4.13?)", file)
	}
	return n, nil
}

// usage reads what the job used; figures that cannot be read are zero:
// they are a report, never a reason to fail the job.
func (c jobCgroups) usage() Usage {
	var u Usage
	if c.mem != "" {
		file := "memory.max_usage_in_bytes"
		if c.v2 {
			file = "memory.peak"
		}
		u.MaxRSSBytes, _ = readInt(filepath.Join(c.mem, file))
	}
	if c.cpu != "" {
		if c.v2 {
			usec, _, _ := readKeyed(filepath.Join(c.cpu, "cpu.stat"), "usage_usec")
			u.CPU = time.Duration(usec) * time.Microsecond
		} else {
			ns, _ := readInt(filepath.Join(c.cpu, "cpuacct.usage"))
			u.CPU = time.Duration(ns)
		}
	}
	return u
}

// readKeyed reads the value of key from a flat-keyed cgroup file ("key
// value" per line, as memory.events, memory.oom_control and cpu.stat are).
func readKeyed(path, key string) (int64, bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+" "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, false, fmt.Errorf("parse %s in %s: %w", key, path, err)
			}
			return n, true, nil
		}
	}
	return 0, false, nil
}

// readInt reads a cgroup file that holds one number.
func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", path, err)
	}
	return n, nil
}
