package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A host job's root is the host's own "/" (one recursive bind, made for
// the init alone: see bindHostRoot), unless a mount of the job needs a
// new top-level entry: then it is the skeleton, with the host's entries
// bound onto it one by one.
func TestHostJobRoot(t *testing.T) {
	r := newRunner(t)
	rootOf := func(mountinfo string) (dev, root string) {
		for line := range strings.Lines(mountinfo) {
			if f := strings.Fields(line); len(f) > 4 && f[4] == "/" {
				dev, root = f[2], f[3] // the last mount on "/" wins
			}
		}
		return dev, root
	}
	hostDev, hostRoot := rootOf(readFile(t, "/proc/self/mountinfo"))
	if hostRoot != "/" {
		t.Skipf("this process's root is not its file system's root (%q): nothing to compare with", hostRoot)
	}

	_, out := run(t, r, baseSpec(t, "cat", "/proc/self/mountinfo"))
	if dev, root := rootOf(out); dev != hostDev || root != "/" {
		t.Errorf("the job's / is %s on %s, want the host's / (/ on %s); job's mountinfo:\n%s", root, dev, hostDev, out)
	}

	spec := baseSpec(t, "cat", "/proc/self/mountinfo")
	spec.Mounts = []Mount{{Source: scratchDir(t), Target: fmt.Sprintf("/shoal-test-%s", spec.ID)}}
	_, out = run(t, r, spec)
	if _, root := rootOf(out); root == "/" {
		t.Errorf("a job mounting onto a new top-level entry has the host's / as its root, want the skeleton; job's mountinfo:\n%s", out)
	}
}

// What the host mounts under a shared mount after a job started reaches
// the job (autofs homes), as when libcontainer copied the host's mount
// namespace itself: the job's mounts are slaves of the host's, never
// private copies, and send nothing back.
func TestHostMountsReachJob(t *testing.T) {
	r := newRunner(t)
	base := scratchDir(t)
	if err := unix.Mount("tmpfs", base, "tmpfs", 0, "size=1m,mode=755"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(base, unix.MNT_DETACH) })
	if err := unix.Mount("", base, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(base, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	j, spec, _ := startWithFifo(t, r, fmt.Sprintf(`echo ready > "$FIFO"
for i in $(seq 200); do [ -e %[1]s/marker ] && { echo seen; break; }; sleep 0.05; done
grep -c " %[1]s " /proc/self/mountinfo`, sub))
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(sub, unix.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(sub, "marker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Wait(); err != nil {
		t.Fatal(err)
	}
	if out := readFile(t, spec.Stdout); out != "seen\n1\n" {
		t.Errorf("a tmpfs the host mounted in a shared mount after the job started: the job printed %q, want it seen, and mounted once", out)
	}
}
