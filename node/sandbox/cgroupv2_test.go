package sandbox

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/cgroups"
)

// testCgroupLimitsV2 is TestCgroupLimits on a cgroup v2 host: the job's one
// cgroup has its memory and CPU limits, no swap beyond the memory limit
// (memory.swap.max 0, or no swap controller at all), and holds the job. The
// device rules are an eBPF program there, which has no file to read:
// TestDevicesDenied checks them by what the job can open.
func testCgroupLimitsV2(t *testing.T) {
	r := newRunner(t)
	spec := baseSpec(t, "sh", "-c", `cd /sys/fs/cgroup/$P
cat memory.max cpu.max
cat memory.swap.max 2>/dev/null || echo no-swap
cat /proc/self/cgroup`)
	spec.MemoryBytes = 64 << 20
	spec.CPUs = 0.5
	spec.Env = append(spec.Env, "P="+r.CgroupParent+"/"+spec.ID)
	res, out := run(t, r, spec)
	if res != (Result{}) {
		t.Fatalf("result = %+v, want zero (stderr %q)", res, readFile(t, spec.Stderr))
	}
	head := fmt.Sprintf("%d\n50000 100000\n", 64<<20)
	tail := fmt.Sprintf("0::/%s/%s\n", r.CgroupParent, spec.ID)
	if out != head+"0\n"+tail && out != head+"no-swap\n"+tail {
		t.Errorf("limits seen by the job:\n%s\nwant:\n%s0 (or no-swap)\n%s", out, head, tail)
	}
}

// TestUsage: a job's peak memory and CPU time are read from its cgroup
// (whichever hierarchy the host runs) before the cgroup is removed.
func TestUsage(t *testing.T) {
	r := newRunner(t)
	// dd fills a 16 MiB buffer; the shell's loop burns some CPU.
	spec := baseSpec(t, "sh", "-c", `dd if=/dev/zero of=/dev/null bs=16M count=2 2>/dev/null; i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done`)
	j := start(t, r, spec)
	if _, err := j.Wait(); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	u := j.Usage()
	t.Logf("usage on cgroup v2=%v: %+v", cgroups.IsCgroup2UnifiedMode(), u)
	if u.CPU < 10*time.Millisecond || u.CPU > time.Minute {
		t.Errorf("CPU = %v, want the job's loop (10 ms to a minute)", u.CPU)
	}
	if u.MaxRSSBytes < 16<<20 && !noMemoryPeak(t) {
		t.Errorf("MaxRSSBytes = %d, want at least dd's 16 MiB buffer", u.MaxRSSBytes)
	}
}

// noMemoryPeak reports whether this kernel lacks memory.peak (cgroup v2
// before Linux 5.19), where MaxRSS cannot be known.
func noMemoryPeak(t *testing.T) bool {
	if !cgroups.IsCgroup2UnifiedMode() {
		return false
	}
	b := readFile(t, "/proc/sys/kernel/osrelease")
	var major, minor int
	fmt.Sscanf(strings.TrimSpace(b), "%d.%d", &major, &minor)
	return major < 5 || major == 5 && minor < 19
}
