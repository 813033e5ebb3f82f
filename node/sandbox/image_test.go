package sandbox

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shoal-batch/shoal/internal/testimage"
)

// busyboxRootfs unpacks the test busybox image into a fresh directory, or
// skips the test when the host has no static busybox to build it from.
func busyboxRootfs(t testing.TB) string {
	t.Helper()
	root, err := testimage.BusyboxRootfs(t.TempDir())
	if errors.Is(err, testimage.ErrNoBusybox) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// imageSpec is a root job in the image at rootfs, run in "/", with its
// output files in a host scratch directory.
func imageSpec(t testing.TB, rootfs string, argv ...string) Spec {
	spec := baseSpec(t, argv...)
	spec.Rootfs, spec.Dir = rootfs, "/"
	spec.Env = []string{"PATH=/bin", "HOME=/"}
	return spec
}

// treeDigest summarizes a directory tree: every entry's path, type, mode,
// owner, and content or link target. Equal digests: nothing changed.
func treeDigest(t testing.TB, root string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		line := fmt.Sprintf("%s %o %d:%d", strings.TrimPrefix(p, root), st.Mode, st.Uid, st.Gid)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return strings.Join(lines, "\n")
}

func TestImageJob(t *testing.T) {
	r := newRunner(t)
	rootfs := busyboxRootfs(t)
	before := treeDigest(t, rootfs)

	spec := imageSpec(t, rootfs, "echo", "hi")
	res, out := run(t, r, spec)
	if res != (Result{}) || out != "hi\n" {
		t.Errorf("echo hi in the image: result %+v, stdout %q (stderr %q); want zero, %q", res, out, readFile(t, spec.Stderr), "hi\n")
	}

	// As a user the image does not know, in its own view of the system.
	spec = imageSpec(t, rootfs, "sh", "-c", `id -u; id -g; pwd; cat /etc/passwd | wc -l; stat -c '%a %u' / /tmp
echo x > /tmp/f && echo tmp-ok; ls /dev | tr '\n' ' '; echo
grep -c . /proc/self/mountinfo >/dev/null && echo proc-ok`)
	spec.UID, spec.GID = 4242, 4242
	os.Chown(filepath.Dir(spec.Stdout), 4242, 4242)
	res, out = run(t, r, spec)
	want := "4242\n4242\n/\n2\n755 0\n700 4242\ntmp-ok\n" +
		"fd full null ptmx random shm stderr stdin stdout tty urandom zero \nproc-ok\n"
	if res != (Result{}) || out != want {
		t.Errorf("a user's job in the image: result %+v, output:\n%s\nwant:\n%s\nstderr %q", res, out, want, readFile(t, spec.Stderr))
	}
	if after := treeDigest(t, rootfs); after != before {
		t.Errorf("the image directory changed:\nbefore\n%s\nafter\n%s", before, after)
	}
}

// The host's file system is out of sight: not the test's directories, not
// the host's /etc, not its devices.
func TestImageHidesHost(t *testing.T) {
	r := newRunner(t)
	rootfs := busyboxRootfs(t)
	spec := imageSpec(t, rootfs, "sh", "-c", `for p in "$HOSTDIR" "$ROOTFS" /work /usr /var /etc/hostname /dev/vda /sys/fs/cgroup/memory/x; do
test -e "$p" && echo "sees $p"; done; ls /; cat /etc/passwd`)
	spec.Env = append(spec.Env, "HOSTDIR="+filepath.Dir(spec.Stdout), "ROOTFS="+rootfs)
	res, out := run(t, r, spec)
	want := "bin\ndev\netc\nproc\nroot\nsys\ntmp\n" + testimage.Passwd
	if res != (Result{}) || out != want {
		t.Errorf("result %+v, output:\n%s\nwant:\n%s\nstderr %q", res, out, want, readFile(t, spec.Stderr))
	}
}

// Mounts make host directories visible, read-write or read-only, in image
// jobs and host jobs alike.
func TestMounts(t *testing.T) {
	r := newRunner(t)
	rootfs := busyboxRootfs(t)
	rw, ro := scratchDir(t), scratchDir(t)
	os.WriteFile(filepath.Join(ro, "data"), []byte("input\n"), 0o644)
	os.WriteFile(filepath.Join(rw, "file"), []byte("single\n"), 0o644)
	script := `cat /in/data; echo out > /out/result && echo wrote; touch /in/x 2>/dev/null && echo ro-written || echo ro-denied; cat /one`
	mounts := []Mount{
		{Source: ro, Target: "/in", ReadOnly: true},
		{Source: rw, Target: "/out"},
		{Source: filepath.Join(rw, "file"), Target: "/one", ReadOnly: true},
	}
	want := "input\nwrote\nro-denied\nsingle\n"

	spec := imageSpec(t, rootfs, "sh", "-c", script)
	spec.Mounts = mounts
	if res, out := run(t, r, spec); res != (Result{}) || out != want {
		t.Errorf("image job: result %+v, output %q, want %q (stderr %q)", res, out, want, readFile(t, spec.Stderr))
	}
	if got := readFile(t, filepath.Join(rw, "result")); got != "out\n" {
		t.Errorf("written through the read-write mount: %q on the host, want %q", got, "out\n")
	}
	os.Remove(filepath.Join(rw, "result"))

	// A host job: new top-level targets are made in the skeleton; a
	// target in a host directory must exist there.
	spec = baseSpec(t, "sh", "-c", script)
	top := fmt.Sprintf("/shoal-test-%s", spec.ID)
	spec.Mounts = []Mount{
		{Source: ro, Target: top + "/in", ReadOnly: true},
	}
	spec.Argv = []string{"sh", "-c", "cat " + top + "/in/data; touch " + top + "/in/x 2>/dev/null || echo ro-denied"}
	if res, out := run(t, r, spec); res != (Result{}) || out != "input\nro-denied\n" {
		t.Errorf("host job: result %+v, output %q (stderr %q)", res, out, readFile(t, spec.Stderr))
	}
	if _, err := os.Stat(top); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the host job's mount target %s was created on the host (stat: %v)", top, err)
	}
	// With one onto a path the host has as well: refused (on the
	// skeleton, libcontainer would look that one up by path, as root).
	spec = baseSpec(t, "true")
	spec.Mounts = []Mount{{Source: ro, Target: top + "/in", ReadOnly: true}, {Source: ro, Target: rw}}
	if j, err := r.Start(spec); !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "new top-level entry") {
		if err == nil {
			j.Wait()
		}
		t.Errorf("host job mounting onto a new top-level entry and onto %s: Start = %v, want ErrInvalidSpec", rw, err)
	}
	assertGone(t, r, spec.ID)
	spec = baseSpec(t, "true")
	spec.Mounts = []Mount{{Source: ro, Target: "/usr/shoal-no-such-dir"}}
	if j, err := r.Start(spec); !errors.Is(err, ErrInvalidSpec) {
		if err == nil {
			j.Wait()
		}
		t.Errorf("host job mounting onto a missing host path: Start = %v, want ErrInvalidSpec", err)
	}
	assertGone(t, r, spec.ID)

	// A top-level symlink that leads nowhere: refused, and what it
	// points to is not made (libcontainer's init would make it, as root).
	link := fmt.Sprintf("/shoal-test-link-%s", spec.ID)
	missing := link + "-missing"
	if err := os.Symlink(missing, link); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(link); os.Remove(missing) })
	spec = baseSpec(t, "true")
	spec.Mounts = []Mount{{Source: ro, Target: link}}
	if j, err := r.Start(spec); !errors.Is(err, ErrInvalidSpec) {
		if err == nil {
			j.Wait()
		}
		t.Errorf("host job mounting onto a dangling top-level symlink: Start = %v, want ErrInvalidSpec", err)
	}
	if _, err := os.Lstat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s, where the dangling %s points, was made on the host (lstat: %v)", missing, link, err)
	}
	assertGone(t, r, spec.ID)

	// A target in an earlier mount's target would be looked up through
	// that mount's source (the user's): refused, for host and image
	// jobs, as is the same target twice.
	for _, image := range []bool{false, true} {
		for _, second := range []string{"/tmp/a/b", "/tmp/a"} {
			spec = baseSpec(t, "true")
			if image {
				spec = imageSpec(t, rootfs, "true")
			}
			spec.Mounts = []Mount{{Source: rw, Target: "/tmp/a"}, {Source: ro, Target: second}}
			if j, err := r.Start(spec); !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "earlier mount") {
				if err == nil {
					j.Wait()
				}
				t.Errorf("image=%v: mounts onto /tmp/a then %s: Start = %v, want ErrInvalidSpec naming the earlier mount", image, second, err)
			}
			assertGone(t, r, spec.ID)
		}
	}
}

// A user may not mount what the user cannot reach on the host.
func TestMountSourceCheckedAsUser(t *testing.T) {
	r := newRunner(t)
	rootfs := busyboxRootfs(t)
	locked := scratchDir(t) // root's, 0700
	os.Chmod(locked, 0o700)
	inner := filepath.Join(locked, "inner")
	os.Mkdir(inner, 0o755)
	for _, image := range []bool{false, true} {
		spec := baseSpec(t, "true")
		if image {
			spec = imageSpec(t, rootfs, "true")
		}
		spec.UID, spec.GID = 65534, 65534
		os.Chown(filepath.Dir(spec.Stdout), 65534, 65534)
		spec.Mounts = []Mount{{Source: inner, Target: "/tmp/inner"}}
		j, err := r.Start(spec)
		if err == nil {
			j.Wait()
		}
		if !errors.Is(err, ErrInvalidSpec) || !errors.Is(err, os.ErrPermission) {
			t.Errorf("image=%v: mounting %s (below a root-only dir) as uid 65534: Start = %v, want ErrInvalidSpec and permission denied", image, inner, err)
		}
		assertGone(t, r, spec.ID)
		// The daemon's own /proc/self, and /proc/sys: kernel interfaces.
		for _, src := range []string{"/proc/self", "/proc/sys"} {
			spec.ID, spec.Mounts = fmt.Sprintf("job-%d", jobSeq.Add(1)), []Mount{{Source: src, Target: "/tmp/p"}}
			if j, err := r.Start(spec); err == nil {
				j.Wait()
				t.Errorf("image=%v: a job of uid 65534 mounting %s started", image, src)
			} else if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "a kernel interface") {
				t.Errorf("image=%v: mounting %s: %v, want it refused as a kernel interface", image, src, err)
			}
			assertGone(t, r, spec.ID)
		}
	}
}

// The job writes to a layer of its own: never to the image, gone after
// Wait; two jobs on one image do not see each other's writes.
func TestImageLayers(t *testing.T) {
	r := newRunner(t)
	rootfs := busyboxRootfs(t)
	before := treeDigest(t, rootfs)

	// Job A writes all over its root and stays.
	a, aspec, _ := startImageWithFifo(t, r, rootfs, `echo A > /marker && echo A >> /etc/passwd && rm /bin/ls && mkdir -p /usr/lib && echo ready > /sync/fifo && exec sleep 3600`)
	// Job B, meanwhile, on the same image.
	bspec := imageSpec(t, rootfs, "sh", "-c", `cat /marker 2>&1; wc -l < /etc/passwd; test -e /bin/ls && echo has-ls; echo B > /marker; cat /marker`)
	res, out := run(t, r, bspec)
	want := "cat: can't open '/marker': No such file or directory\n2\nhas-ls\nB\n"
	if res != (Result{}) || out != want {
		t.Errorf("job B beside A: result %+v, output:\n%s\nwant:\n%s", res, out, want)
	}
	upper := filepath.Join(r.jobDir(aspec.ID), jobUpper)
	if got, err := os.ReadFile(filepath.Join(upper, "marker")); err != nil || string(got) != "A\n" {
		t.Errorf("A's /marker in its layer %s: %q, %v; want %q", upper, got, err, "A\n")
	}
	if err := a.Stop(0); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Wait(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, r, aspec.ID)
	if after := treeDigest(t, rootfs); after != before {
		t.Errorf("the image directory changed:\nbefore\n%s\nafter\n%s", before, after)
	}
}

// Many jobs start at once on one image; each sees only its own writes.
func TestImageConcurrentJobs(t *testing.T) {
	r := newRunner(t)
	rootfs := busyboxRootfs(t)
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		spec := imageSpec(t, rootfs, "sh", "-c", `echo $N > /mine-$N; sleep 0.2; ls / | grep -c '^mine-'; cat /mine-$N`)
		spec.Env = append(spec.Env, fmt.Sprintf("N=%d", i))
		go func() {
			j, err := r.Start(spec)
			if err != nil {
				errs <- err
				return
			}
			res, err := j.Wait()
			if out, _ := os.ReadFile(spec.Stdout); err == nil && (res != (Result{}) || string(out) != fmt.Sprintf("1\n%d\n", i)) {
				err = fmt.Errorf("job %d: result %+v, output %q, want its own file only", i, res, out)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// startImageWithFifo starts an image job that writes a line to
// /sync/fifo (a host fifo, mounted in) once it is ready.
func startImageWithFifo(t *testing.T, r *Runner, rootfs, script string) (*Job, Spec, string) {
	t.Helper()
	spec := imageSpec(t, rootfs, "sh", "-c", script)
	sync := scratchDir(t)
	spec.Mounts = append(spec.Mounts, Mount{Source: sync, Target: "/sync"})
	return startFifo(t, r, spec, filepath.Join(sync, "fifo"))
}

func TestImageReadonlyRootfs(t *testing.T) {
	r := newRunner(t)
	rootfs := busyboxRootfs(t)
	rw := scratchDir(t)
	spec := imageSpec(t, rootfs, "sh", "-c", `touch /x 2>&1; touch /tmp/x && echo tmp-ok; echo y > /out/y && echo mount-ok; pwd`)
	spec.ReadonlyRootfs = true
	spec.Dir = "/work/dir"
	spec.Mounts = []Mount{{Source: rw, Target: "/out"}}
	res, out := run(t, r, spec)
	want := "touch: /x: Read-only file system\ntmp-ok\nmount-ok\n/work/dir\n"
	if res != (Result{}) || out != want {
		t.Errorf("result %+v, output:\n%s\nwant:\n%s\nstderr %q", res, out, want, readFile(t, spec.Stderr))
	}
}

// A working directory the image lacks is created, in the job's layer.
func TestImageWorkdir(t *testing.T) {
	r := newRunner(t)
	rootfs := busyboxRootfs(t)
	spec := imageSpec(t, rootfs, "sh", "-c", `pwd; stat -c '%a %u' .; touch f 2>/dev/null || echo denied`)
	spec.Dir = "/data/work"
	spec.UID, spec.GID = 4242, 4242
	os.Chown(filepath.Dir(spec.Stdout), 4242, 4242)
	res, out := run(t, r, spec)
	if want := "/data/work\n755 0\ndenied\n"; res != (Result{}) || out != want {
		t.Errorf("result %+v, output %q, want %q (stderr %q)", res, out, want, readFile(t, spec.Stderr))
	}
	if _, err := os.Stat(filepath.Join(rootfs, "data")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the working dir was made in the image directory (stat: %v)", err)
	}
	// Through a symlink that points out of the image: it stays inside.
	os.Symlink("/", filepath.Join(rootfs, "escape"))
	spec = imageSpec(t, rootfs, "pwd")
	out2 := scratchDir(t)
	spec.Dir = "/escape/" + strings.TrimPrefix(out2, "/") + "/made"
	// In the job, /escape is its own root: the directory is made there.
	if _, out := run(t, r, spec); out != strings.TrimPrefix(spec.Dir, "/escape")+"\n" {
		t.Errorf("working dir %s: pwd printed %q (stderr %q)", spec.Dir, out, readFile(t, spec.Stderr))
	}
	if _, err := os.Stat(filepath.Join(out2, "made")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a working dir through a symlink to / was created on the host (stat: %v)", err)
	}
}

// After a crash, Cleanup kills an image job and unmounts and removes its
// layer (newRunner checks that the host's mount table is as it was).
func TestImageCleanupLeftovers(t *testing.T) {
	r := newRunner(t)
	rootfs := busyboxRootfs(t)
	j, spec, _ := startImageWithFifo(t, r, rootfs, `echo ready > /sync/fifo; exec sleep 3600`)
	merged := filepath.Join(r.jobDir(spec.ID), jobRootfs)
	if !slices.ContainsFunc(hostMounts(t), func(l string) bool { return strings.Contains(l, " "+merged+" ") }) {
		t.Errorf("the job's overlay %s is not in the host's mount table", merged)
	}
	r2 := &Runner{Root: r.Root, TmpRoot: r.TmpRoot, CgroupParent: r.CgroupParent}
	if err := r2.Cleanup(); err != nil {
		t.Errorf("Cleanup: %v", err)
	}
	select {
	case <-j.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("job still running 30s after Cleanup")
	}
	assertGone(t, r, spec.ID)
	j.Wait()
}

func BenchmarkStartWaitImage(b *testing.B) {
	r := newRunner(b)
	spec := imageSpec(b, busyboxRootfs(b), "/bin/true")
	var starting time.Duration
	start := time.Now()
	for i := range b.N {
		spec.ID = fmt.Sprintf("bench-%d", i)
		t0 := time.Now()
		j, err := r.Start(spec)
		if err != nil {
			b.Fatal(err)
		}
		starting += time.Since(t0)
		if res, err := j.Wait(); err != nil || res != (Result{}) {
			b.Fatalf("Wait = %+v, %v", res, err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
	b.ReportMetric(starting.Seconds()*1000/float64(b.N), "start-ms/op")
}

// A host job's mount onto a path the host has: made for the job alone,
// onto the target the job's user looks up, read-only when asked.
func TestMountOntoHostPath(t *testing.T) {
	r := newRunner(t)
	src, target := scratchDir(t), scratchDir(t)
	os.WriteFile(filepath.Join(src, "data"), []byte("input\n"), 0o644)
	os.Chmod(src, 0o755)
	os.Chmod(target, 0o755)
	spec := baseSpec(t, "sh", "-c", fmt.Sprintf(`cat %[1]s/data; touch %[1]s/x 2>/dev/null && echo written || echo ro-denied`, target))
	spec.UID, spec.GID = 65534, 65534
	os.Chown(filepath.Dir(spec.Stdout), 65534, 65534)
	spec.Mounts = []Mount{{Source: src, Target: target, ReadOnly: true}}
	if res, out := run(t, r, spec); res != (Result{}) || out != "input\nro-denied\n" {
		t.Errorf("result %+v, output %q, want the source's file, read-only (stderr %q)", res, out, readFile(t, spec.Stderr))
	}
	if entries, _ := os.ReadDir(target); len(entries) != 0 {
		t.Errorf("the host's %s holds %d entries after the job: its mount reached the host", target, len(entries))
	}
	// A target that leads into the job's own /proc: refused by the
	// supervisor, as the job's fault.
	link := filepath.Join(target, "proc")
	os.Symlink("/proc/self", link)
	spec.ID, spec.Mounts = fmt.Sprintf("job-%d", jobSeq.Add(1)), []Mount{{Source: src, Target: link, ReadOnly: true}}
	if j, err := r.Start(spec); err == nil {
		j.Wait()
		t.Errorf("a job mounting onto %s -> /proc/self started", link)
	} else if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "in the job's own /proc") {
		t.Errorf("Start mounting onto %s -> /proc/self: %v, want ErrInvalidSpec naming /proc", link, err)
	}
	assertGone(t, r, spec.ID)
}
