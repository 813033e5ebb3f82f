package sandbox

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
)

// LimitJobsMemory bounds all the jobs together: the parent cgroup gets
// the limit, and a job whose own limit is above it is OOM-killed at it.
func TestLimitJobsMemory(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skipf("no %s: %v", python, err)
	}
	r := newRunner(t)
	if err := r.LimitJobsMemory(48 << 20); err != nil {
		t.Fatal(err)
	}
	dir, file := filepath.Join("/sys/fs/cgroup/memory", r.CgroupParent), "memory.limit_in_bytes"
	if cgroups.IsCgroup2UnifiedMode() {
		dir, file = filepath.Join("/sys/fs/cgroup", r.CgroupParent), "memory.max"
	}
	if got := strings.TrimSpace(readFile(t, filepath.Join(dir, file))); got != strconv.Itoa(48<<20) {
		t.Errorf("%s/%s = %s, want %d", dir, file, got, 48<<20)
	}
	spec := baseSpec(t, python, "-c", "a = b'x' * (200 << 20)")
	spec.MemoryBytes = 512 << 20
	if res, _ := run(t, r, spec); res.Signal != 9 || !res.OOMKilled {
		t.Errorf("a job of 512 MiB using 200 under a 48 MiB bound on all jobs: %+v, want it OOM-killed", res)
	}
	if err := r.LimitJobsMemory(0); err == nil {
		t.Error("a limit of 0 bytes was taken")
	}
}
