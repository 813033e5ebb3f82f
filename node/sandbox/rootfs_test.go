package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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

// mountInRoot looks the target up inside the job's root as the job's
// user and makes nothing: a directory of the path swapped for a symlink
// after Start's checks leads only where the user may go within the job's
// root; a target leading to the root itself, into the sandbox's own
// /proc, /dev, /sys or /tmp, or through a /proc magic link is refused;
// and the mount lies inside the job's root, never over the host's path.
func TestMountInRoot(t *testing.T) {
	src := scratchDir(t)
	os.WriteFile(filepath.Join(src, "data"), []byte("input\n"), 0o644)
	os.Chmod(src, 0o755)
	user := scratchDir(t) // the user's: a directory of the path to swap
	os.Chown(user, 65534, 65534)
	os.Mkdir(filepath.Join(user, "ok"), 0o755)
	rootOnly := scratchDir(t)
	os.Mkdir(filepath.Join(rootOnly, "in"), 0o755)
	rootDir := scratchDir(t) // root's, open to all, without the mountpoint
	os.Chmod(rootDir, 0o755)
	for name, to := range map[string]string{"swapped": rootDir, "proc": "/proc/self", "top": "/", "tmp": "/tmp"} {
		if err := os.Symlink(to, filepath.Join(user, name)); err != nil {
			t.Fatal(err)
		}
	}
	jobRoot := scratchDir(t)
	cases := []struct {
		target string
		uid    uint32
		want   string // "" for a mount that shows the source
	}{
		{filepath.Join(user, "ok"), 65534, ""},
		{filepath.Join(user, "swapped", "x"), 65534, "no such file"},
		{filepath.Join(rootOnly, "in"), 65534, "permission denied"},
		{filepath.Join(rootOnly, "in"), 0, ""},
		{filepath.Join(user, "proc"), 65534, "in the job's own /proc"},
		{filepath.Join(user, "top"), 65534, "the job's / itself"},
		{filepath.Join(user, "tmp"), 0, "in the job's own /tmp"},
		{"/proc/self/root" + filepath.Join(user, "ok"), 0, "symbolic links"},
	}
	for _, tc := range cases {
		m := shimMount{Source: src, Asked: src, Target: tc.target, ReadOnly: true}
		err := inOwnMountNamespace(func() error {
			tree, err := sourceTree(m)
			if err != nil {
				return err
			}
			defer unix.Close(tree)
			if err := unix.Mount("/", jobRoot, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return err
			}
			root, err := unix.Open(jobRoot, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(root)
			if err := mountInRoot(root, jobRoot, tree, m, tc.uid, tc.uid, nil); err != nil {
				return err
			}
			inside := filepath.Join(jobRoot, tc.target)
			if got, err := os.ReadFile(filepath.Join(inside, "data")); err != nil || string(got) != "input\n" {
				return fmt.Errorf("mounted, but %s reads %q, %v", inside, got, err)
			}
			if err := os.WriteFile(filepath.Join(inside, "new"), nil, 0o644); !errors.Is(err, unix.EROFS) {
				return fmt.Errorf("mounted read-only, but a write gave %v", err)
			}
			if _, err := os.Stat(filepath.Join(tc.target, "data")); err == nil {
				return fmt.Errorf("the mount lies over the host's %s, outside the job's root", tc.target)
			}
			return nil
		})
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("mount onto %s as uid %d: %v, want %q", tc.target, tc.uid, err, tc.want)
		}
	}
	if entries, _ := os.ReadDir(rootDir); len(entries) != 0 {
		t.Errorf("%s, where the user's symlink leads, holds %d entries: a mountpoint was made there", rootDir, len(entries))
	}
}

// inOwnMountNamespace runs fn on a thread with a mount namespace of its
// own (slave mounts), which ends with the thread.
func inOwnMountNamespace(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := ownMountNamespace(); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// A user's mount onto the directory the sandbox's own state lies in (Root
// under /run, as a node's is) lands in the job's root only: the job sees
// the user's tree there, while the supervisor and libcontainer, as root,
// still find their state, and the user's symlink shaped like that state
// leads root nowhere.
func TestMountOverRootsDirectory(t *testing.T) {
	r := runnerUnderRun(t)
	victim := scratchDir(t)
	os.Chmod(victim, 0o755)
	tree := scratchDir(t) // the user's
	os.Chmod(tree, 0o755)
	spec := baseSpec(t, "sh", "-c", "ls /run/mine; id -u")
	spec.UID, spec.GID = 65534, 65534
	os.Chown(filepath.Dir(spec.Stdout), 65534, 65534)
	os.MkdirAll(filepath.Join(tree, strings.TrimPrefix(r.Root, "/run/")), 0o755)
	os.Symlink(victim, filepath.Join(tree, strings.TrimPrefix(r.Root, "/run/"), spec.ID))
	os.WriteFile(filepath.Join(tree, "mine"), nil, 0o644)
	spec.Mounts = []Mount{{Source: tree, Target: "/run"}}
	if res, out := run(t, r, spec); res != (Result{}) || out != "/run/mine\n65534\n" {
		t.Errorf("result %+v, output %q, want the user's tree at /run (stderr %q)", res, out, readFile(t, spec.Stderr))
	}
	if entries, _ := os.ReadDir(victim); len(entries) != 0 {
		t.Errorf("%s, where the user's copy of the job's state directory leads, holds %d entries", victim, len(entries))
	}
}
