package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		Init() // libcontainer re-executes this test binary as the sandbox init
	}
	if os.Geteuid() != 0 {
		fmt.Println("sandbox tests need root; skipping")
		os.Exit(0)
	}
	code := m.Run()
	if static.dir != "" {
		os.RemoveAll(static.dir)
	}
	os.Exit(code)
}

const testPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

var jobSeq atomic.Int64

// newRunner returns a Runner with its own Root, TmpRoot and CgroupParent.
// When the test ends it checks that Cleanup finds nothing to fail on, that
// no cgroup, state or tmp directory is left, and that the host's mount
// table is exactly what it was.
func newRunner(t testing.TB) *Runner {
	t.Helper()
	before := hostMounts(t)
	base := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if checkPlacement(exe, base) != nil {
		// The test binary sits above the temp dir (go test -c -o /tmp/x):
		// keep Root elsewhere, as the package documentation requires.
		base = fmt.Sprintf("/run/shoal-test-%d/%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "_"))
		t.Cleanup(func() {
			os.RemoveAll(base)
			os.Remove(filepath.Dir(base)) // once the last test's is gone
		})
	}
	r := &Runner{
		Root:         filepath.Join(base, "state"),
		TmpRoot:      filepath.Join(base, "tmp"),
		CgroupParent: fmt.Sprintf("shoal-test-%d-%d", os.Getpid(), jobSeq.Add(1)),
	}
	t.Cleanup(func() {
		// As the next daemon would: the jobs' records, kept until
		// Forget, go too.
		if err := abandon(r).Cleanup(); err != nil {
			t.Errorf("Cleanup: %v", err)
		}
		for _, m := range mustCgroupMounts(t) {
			if _, err := os.Stat(filepath.Join(m, r.CgroupParent)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("cgroup parent %s/%s still there after Cleanup (stat: %v)", m, r.CgroupParent, err)
			}
		}
		for _, dir := range []string{r.Root, r.TmpRoot} {
			entries, _ := os.ReadDir(dir)
			entries = slices.DeleteFunc(entries, func(e os.DirEntry) bool { return e.Name() == ".rootfs" })
			if len(entries) != 0 {
				t.Errorf("%s not empty after Cleanup: %v", dir, entries)
			}
		}
		if after := hostMounts(t); !slices.Equal(before, after) {
			t.Errorf("host mount table changed:\nbefore %q\nafter  %q", before, after)
		}
	})
	return r
}

// scratchDir is a fresh directory the job can see: not under /tmp, which
// the job's private /tmp hides.
func scratchDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "shoal-sandbox-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// baseSpec is a root job with a fresh working dir and output files in it.
func baseSpec(t testing.TB, argv ...string) Spec {
	dir := scratchDir(t)
	return Spec{
		ID:     fmt.Sprintf("job-%d", jobSeq.Add(1)),
		Argv:   argv,
		Env:    []string{testPath, "HOME=/root"},
		Dir:    dir,
		Stdout: filepath.Join(dir, "stdout"),
		Stderr: filepath.Join(dir, "stderr"),
	}
}

// start starts spec and makes sure the job is gone when the test ends,
// whatever happens in between.
func start(t *testing.T, r *Runner, spec Spec) *Job {
	t.Helper()
	j, err := r.Start(spec)
	if err != nil {
		t.Fatalf("Start(%v): %v", spec.Argv, err)
	}
	t.Cleanup(func() {
		j.Stop(0)
		j.Wait()
	})
	return j
}

// run starts spec, waits for it, checks that nothing of it is left and
// returns its result and stdout.
func run(t *testing.T, r *Runner, spec Spec) (Result, string) {
	t.Helper()
	j := start(t, r, spec)
	res, err := j.Wait()
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	assertGone(t, r, spec.ID)
	return res, readFile(t, spec.Stdout)
}

// assertGone checks that no cgroup (in any hierarchy), state dir or private
// tmp of job id is left.
func assertGone(t testing.TB, r *Runner, id string) {
	t.Helper()
	paths := []string{filepath.Join(r.Root, id), r.jobDir(id)}
	for _, m := range mustCgroupMounts(t) {
		paths = append(paths, filepath.Join(m, r.CgroupParent, id))
	}
	for _, p := range paths {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind by job %s (stat: %v)", p, id, err)
		}
	}
}

func TestStdoutStderr(t *testing.T) {
	r := newRunner(t)
	spec := baseSpec(t, "sh", "-c", "echo hello; echo oops >&2")
	res, out := run(t, r, spec)
	if res != (Result{}) {
		t.Errorf("result = %+v, want zero", res)
	}
	if out != "hello\n" {
		t.Errorf("stdout = %q, want %q", out, "hello\n")
	}
	if got := readFile(t, spec.Stderr); got != "oops\n" {
		t.Errorf("stderr = %q, want %q", got, "oops\n")
	}

	// One path for both: a shared file, as with 2>&1.
	spec = baseSpec(t, "sh", "-c", "echo one; echo two >&2; echo three")
	spec.Stderr = spec.Stdout
	if _, out := run(t, r, spec); out != "one\ntwo\nthree\n" {
		t.Errorf("merged output = %q, want one two three", out)
	}
}

// Jobs start concurrently, each with its own exit code, on a fresh
// skeleton (whose mountpoints they would otherwise race to create).
func TestConcurrentJobs(t *testing.T) {
	r := newRunner(t)
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		spec := baseSpec(t, "sh", "-c", "exit $N")
		spec.Env = append(spec.Env, "N="+strconv.Itoa(i))
		go func() {
			j, err := r.Start(spec)
			if err != nil {
				errs <- err
				return
			}
			res, err := j.Wait()
			if err == nil && res.ExitCode != i {
				err = fmt.Errorf("job %d: result %+v", i, res)
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

func TestExitCode(t *testing.T) {
	r := newRunner(t)
	res, _ := run(t, r, baseSpec(t, "sh", "-c", "exit 3"))
	if want := (Result{ExitCode: 3}); res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
}

func TestStartFailureLeavesNothing(t *testing.T) {
	r := newRunner(t)
	spec := baseSpec(t, "no-such-command-here")
	if j, err := r.Start(spec); err == nil {
		j.Wait()
		t.Fatal("Start of a missing command succeeded")
	}
	assertGone(t, r, spec.ID)
	// The id is free again.
	spec.Argv = []string{"true"}
	if res, _ := run(t, r, spec); res != (Result{}) {
		t.Errorf("rerun result = %+v, want zero", res)
	}
}

func TestOOMKilled(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skipf("no %s: %v", python, err)
	}
	r := newRunner(t)
	// bytes * n writes every page, unlike bytearray(n) (calloc'd, untouched).
	spec := baseSpec(t, python, "-c", "a = b'x' * (200 << 20)")
	spec.MemoryBytes = 32 << 20
	res, _ := run(t, r, spec)
	if want := (Result{ExitCode: 137, Signal: 9, OOMKilled: true}); res != want {
		t.Errorf("result = %+v, want %+v (stderr %q)", res, want, readFile(t, spec.Stderr))
	}

	// The OOM killer hits a child; the shell goes on and exits 0.
	spec = baseSpec(t, "sh", "-c", python+` -c "a = b'x' * (200 << 20)"; echo after`)
	spec.MemoryBytes = 32 << 20
	res, out := run(t, r, spec)
	if want := (Result{OOMKilled: true}); res != want || out != "after\n" {
		t.Errorf("result = %+v, stdout %q; want %+v, %q", res, out, want, "after\n")
	}

	// The same limit, used well within: no OOM.
	spec = baseSpec(t, python, "-c", "a = b'x' * (4 << 20)")
	spec.MemoryBytes = 32 << 20
	if res, _ := run(t, r, spec); res != (Result{}) {
		t.Errorf("small job result = %+v, want zero", res)
	}
}

func TestCgroupLimits(t *testing.T) {
	if cgroups.IsCgroup2UnifiedMode() {
		testCgroupLimitsV2(t)
		return
	}
	r := newRunner(t)
	spec := baseSpec(t, "sh", "-c", `cd /sys/fs/cgroup
cat memory/$P/memory.limit_in_bytes cpu/$P/cpu.cfs_quota_us cpu/$P/cpu.cfs_period_us
cat memory/$P/memory.memsw.limit_in_bytes 2>/dev/null || echo no-memsw
grep -c '^a ' devices/$P/devices.list
grep -Ec ':(memory|pids|devices|freezer):/'$P'$' /proc/self/cgroup`)
	spec.MemoryBytes = 64 << 20
	spec.CPUs = 0.5
	spec.Env = append(spec.Env, "P="+r.CgroupParent+"/"+spec.ID)
	res, out := run(t, r, spec)
	if res != (Result{}) {
		t.Fatalf("result = %+v, want zero (stderr %q)", res, readFile(t, spec.Stderr))
	}
	memsw := strconv.Itoa(64 << 20)
	if !haveMemsw {
		memsw = "no-memsw"
	}
	// The devices.list of a deny-all cgroup has no "a *:* rwm" line, and
	// the job is in its own cgroup in each hierarchy.
	want := fmt.Sprintf("%d\n50000\n100000\n%s\n0\n4\n", 64<<20, memsw)
	if out != want {
		t.Errorf("limits seen by the job:\n%s\nwant:\n%s", out, want)
	}
}

func TestDevicesDenied(t *testing.T) {
	r := newRunner(t)
	blocks, _ := os.ReadDir("/sys/block")
	if len(blocks) == 0 {
		t.Skip("no block device")
	}
	dev := "/dev/" + blocks[0].Name()
	if _, err := os.Stat(dev); err != nil {
		t.Skipf("no %s: %v", dev, err)
	}
	// Root, with CAP_DAC_OVERRIDE, is stopped by the device cgroup alone.
	spec := baseSpec(t, "sh", "-c", "head -c1 "+dev+" >/dev/null && echo read || echo denied; head -c1 /dev/zero | od -An -tx1")
	_, out := run(t, r, spec)
	if want := "denied\n 00\n"; out != want {
		t.Errorf("output = %q, want %q (stderr %q)", out, want, readFile(t, spec.Stderr))
	}
}

func TestHostFilesystem(t *testing.T) {
	r := newRunner(t)
	spec := baseSpec(t, "sh", "-c", "echo data > \"$PWD/result\" && pwd && head -1 /etc/passwd")
	_, out := run(t, r, spec)
	passwd := strings.SplitN(readFile(t, "/etc/passwd"), "\n", 2)[0]
	if want := spec.Dir + "\n" + passwd + "\n"; out != want {
		t.Errorf("output = %q, want %q", out, want)
	}
	if got := readFile(t, filepath.Join(spec.Dir, "result")); got != "data\n" {
		t.Errorf("file written by the job reads %q on the host, want %q", got, "data\n")
	}
}

func TestPrivateTmp(t *testing.T) {
	r := newRunner(t)
	spec := baseSpec(t, "sh", "-c", "echo secret > /tmp/$M && cat /tmp/$M && stat -c '%a %u' /tmp && ls -A /tmp")
	marker := "shoal-marker-" + spec.ID
	spec.Env = append(spec.Env, "M="+marker)
	_, out := run(t, r, spec)
	if want := "secret\n700 0\n" + marker + "\n"; out != want {
		t.Errorf("output = %q, want %q (stderr %q)", out, want, readFile(t, spec.Stderr))
	}
	if _, err := os.Stat(filepath.Join("/tmp", marker)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the job's /tmp/%s is visible in the host's /tmp (stat: %v)", marker, err)
	}
	// run checked that TmpRoot/<id> is gone.
}

// A working dir under /tmp is bound into the private /tmp at its own path;
// nothing else of the host's /tmp is visible.
func TestDirUnderTmp(t *testing.T) {
	r := newRunner(t)
	spec := baseSpec(t, "sh", "-c", `echo data > result && pwd && ls -A /tmp`)
	spec.Dir = t.TempDir()
	_, out := run(t, r, spec)
	top := strings.Split(spec.Dir, "/")[2] // /tmp/<top>/...
	if want := spec.Dir + "\n" + top + "\n"; out != want {
		t.Errorf("output = %q, want %q (stderr %q)", out, want, readFile(t, spec.Stderr))
	}
	if got := readFile(t, filepath.Join(spec.Dir, "result")); got != "data\n" {
		t.Errorf("file written by the job reads %q on the host, want %q", got, "data\n")
	}

	spec = baseSpec(t, "sh", "-c", `pwd && ls -A`)
	spec.Dir = "/tmp"
	if _, out := run(t, r, spec); out != "/tmp\n" {
		t.Errorf("job in /tmp: output = %q, want just its empty private /tmp", out)
	}
}

func TestMountsStayInside(t *testing.T) {
	r := newRunner(t)
	before := hostMounts(t)
	j, spec, _ := startWithFifo(t, r, `cat /proc/self/mountinfo; echo ready > "$FIFO"; exec sleep 3600`)
	during := hostMounts(t)
	if err := j.Stop(0); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Wait(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, r, spec.ID)
	if !slices.Equal(before, during) {
		t.Errorf("the job's mounts appear on the host:\nbefore %q\nduring %q", before, during)
	}
	inside := map[string]string{} // mountpoint -> fs type
	for line := range strings.Lines(readFile(t, spec.Stdout)) {
		pre, post, _ := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) > 4 && len(g) > 0 {
			inside[f[4]] = g[0] // the last mount on a point wins
		}
	}
	for mp, fs := range map[string]string{"/": "", "/proc": "proc", "/dev/shm": "tmpfs", "/tmp": "tmpfs"} {
		got, ok := inside[mp]
		if !ok || (fs != "" && got != fs) {
			t.Errorf("job's mount on %s = %q (present %v), want %q; job's mountinfo:\n%s", mp, got, ok, fs, readFile(t, spec.Stdout))
		}
	}
}

// runnerUnderRun is newRunner with its Root under /run, as a node's is
// (a test's is under /tmp, which a job sees as its own private /tmp).
func runnerUnderRun(t *testing.T) *Runner {
	base := fmt.Sprintf("/run/shoal-test-%d/%s", os.Getpid(), t.Name())
	t.Cleanup(func() {
		os.RemoveAll(base)
		os.Remove(filepath.Dir(base))
	})
	r := newRunner(t)
	r.Root = filepath.Join(base, "state")
	return r
}

// An agent's sandbox root is under /run or /var, which the job gets as a
// recursive bind: the job's own root, mounted there by then, must not be
// copied into the job a second time.
func TestRootNotCopiedIntoJob(t *testing.T) {
	r := runnerUnderRun(t)
	_, out := run(t, r, baseSpec(t, "cat", "/proc/self/mountinfo"))
	skel := r.rootfsDir()
	var below []string
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], skel+"/") {
			below = append(below, f[4])
		}
	}
	if len(below) > 0 {
		t.Errorf("the job sees %d mounts below its own root's skeleton %s, a copy of its root: %q", len(below), skel, below)
	}
}

func TestNamespaces(t *testing.T) {
	r := newRunner(t)
	spec := baseSpec(t, "sh", "-c", `echo $$; hostname; ls /proc | grep -c '^[0-9]'; for n in net pid mnt uts ipc; do readlink /proc/self/ns/$n; done`)
	_, out := run(t, r, spec)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 8 {
		t.Fatalf("output = %q, want 8 lines (stderr %q)", out, readFile(t, spec.Stderr))
	}
	host, _ := os.Hostname()
	if lines[0] != "1" || lines[1] != host {
		t.Errorf("pid, hostname = %q, %q; want 1, %q", lines[0], lines[1], host)
	}
	if n, _ := strconv.Atoi(lines[2]); n < 1 || n > 4 {
		t.Errorf("the job sees %s processes in /proc, want its own few", lines[2])
	}
	for i, ns := range []string{"net", "pid", "mnt", "uts", "ipc"} {
		own, _ := os.Readlink("/proc/self/ns/" + ns)
		if shared := lines[3+i] == own; shared != (ns == "net") {
			t.Errorf("%s namespace %s, host %s: shared=%v, want %v", ns, lines[3+i], own, shared, ns == "net")
		}
	}
}

func TestNonRootUser(t *testing.T) {
	r := newRunner(t)
	spec := baseSpec(t, "sh", "-c", `id -u; id -G; touch "$RO/x" 2>/dev/null && echo wrote || echo denied
grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' /proc/self/status | tr -s '\t' ' '
stat -c '%u %g' /tmp`)
	spec.UID, spec.GID, spec.Groups = 65534, 65534, []uint32{65534, 100}
	// A working dir owned by the user, and a root-owned 0755 one.
	os.Chown(spec.Dir, 65534, 65534)
	ro := scratchDir(t)
	os.Chmod(ro, 0o755)
	spec.Env = append(spec.Env, "RO="+ro)

	res, out := run(t, r, spec)
	want := `65534
65534 100
denied
CapInh: 0000000000000000
CapPrm: 0000000000000000
CapEff: 0000000000000000
CapBnd: 0000000000000000
CapAmb: 0000000000000000
NoNewPrivs: 1
65534 65534
`
	if res != (Result{}) || out != want {
		t.Errorf("result %+v, output:\n%s\nwant:\n%s\nstderr %q", res, out, want, readFile(t, spec.Stderr))
	}
	var st unix.Stat_t
	if err := unix.Stat(spec.Stdout, &st); err != nil || st.Uid != 65534 || st.Gid != 65534 {
		t.Errorf("stdout owned by %d:%d (%v), want 65534:65534", st.Uid, st.Gid, err)
	}

	// The output files are opened as the user: not in a root-only dir.
	spec2 := spec
	spec2.ID += "-ro"
	spec2.Stdout = filepath.Join(ro, "out")
	if j, err := r.Start(spec2); err == nil {
		j.Wait()
		t.Errorf("Start with stdout in a root-owned 0755 dir succeeded")
	}
	if _, err := os.Stat(spec2.Stdout); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stdout %s created in a dir the user cannot write (stat: %v)", spec2.Stdout, err)
	}
	assertGone(t, r, spec2.ID)
}

func TestRootCapabilities(t *testing.T) {
	r := newRunner(t)
	_, out := run(t, r, baseSpec(t, "sh", "-c", "grep -E '^(CapEff|CapAmb|NoNewPrivs):' /proc/self/status | tr -s '\t' ' '"))
	// Docker's default set: chown dac_override fowner fsetid kill setgid
	// setuid setpcap net_bind_service net_raw sys_chroot mknod audit_write
	// setfcap.
	if want := "CapEff: 00000000a80425fb\nCapAmb: 0000000000000000\nNoNewPrivs: 0\n"; out != want {
		t.Errorf("root job capabilities:\n%s\nwant:\n%s", out, want)
	}
}

// startWithFifo starts a job whose script writes a line to $FIFO once it is
// ready, and returns the job and that line.
func startWithFifo(t *testing.T, r *Runner, script string) (*Job, Spec, string) {
	t.Helper()
	spec := baseSpec(t, "sh", "-c", script)
	fifo := filepath.Join(spec.Dir, "fifo")
	spec.Env = append(spec.Env, "FIFO="+fifo)
	return startFifo(t, r, spec, fifo)
}

// startFifo makes the fifo at the host path fifo, starts spec, and waits
// for the job to write a line to it.
func startFifo(t *testing.T, r *Runner, spec Spec, fifo string) (*Job, Spec, string) {
	t.Helper()
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	j := start(t, r, spec)
	go func() {
		// Should the job end without writing, unblock the reader below.
		<-j.Done()
		if w, err := os.OpenFile(fifo, os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	}()
	f, err := os.Open(fifo) // blocks until the job opens it for writing
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		t.Fatalf("read fifo: %v (stderr %q)", err, readFile(t, spec.Stderr))
	}
	return j, spec, line
}

func TestStopKillsTree(t *testing.T) {
	r := newRunner(t)
	j, spec, _ := startWithFifo(t, r, `sleep 3600 & sleep 3600 & echo ready > "$FIFO"; wait`)
	pids, err := j.c.Processes()
	if err != nil || len(pids) < 3 {
		t.Fatalf("job processes = %v, %v; want the shell and two sleeps", pids, err)
	}
	start := time.Now()
	if err := j.Stop(200 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	res, err := j.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.Signal != 15 && res.Signal != 9 {
		t.Errorf("result = %+v, want Signal 15 or 9 (stderr %q)", res, readFile(t, spec.Stderr))
	}
	t.Logf("stopped in %v: %+v", time.Since(start), res)
	for _, pid := range pids {
		if err := unix.Kill(pid, 0); err != unix.ESRCH {
			t.Errorf("job process %d still there after Wait (kill 0: %v)", pid, err)
		}
	}
	assertGone(t, r, spec.ID)
	if err := j.Stop(time.Second); err != nil {
		t.Errorf("Stop of an ended job: %v", err)
	}
}

// Stop right after Start may find PID 1 still libcontainer's init, before
// the exec of the job.
func TestStopRightAfterStart(t *testing.T) {
	r := newRunner(t)
	for range 5 {
		spec := baseSpec(t, "sh", "-c", "sleep 3600 & sleep 3600")
		j := start(t, r, spec)
		if err := j.Stop(time.Minute); err != nil {
			t.Fatal(err)
		}
		res, err := j.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if res.Signal != 15 && res.Signal != 9 {
			t.Errorf("result = %+v, want Signal 15 or 9 (stderr %q)", res, readFile(t, spec.Stderr))
		}
		assertGone(t, r, spec.ID)
	}
}

// A script without a trap must not go on to its next command once stopped,
// and must end as soon as its children have, long before the grace period.
func TestStopScriptWithoutTrap(t *testing.T) {
	r := newRunner(t)
	j, spec, _ := startWithFifo(t, r, `sleep 3600 & echo $! > "$FIFO"; wait; echo next > "$PWD/next"`)
	start := time.Now()
	const grace = time.Minute
	if err := j.Stop(grace); err != nil {
		t.Fatal(err)
	}
	res, err := j.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took >= grace {
		t.Errorf("stop took %v, the whole grace period", took)
	}
	if want := (Result{ExitCode: 137, Signal: 9}); res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	if _, err := os.Stat(filepath.Join(spec.Dir, "next")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the script ran its next command after Stop (stat: %v)", err)
	}
}

// A script with a trap gets SIGTERM itself and exits through its trap.
func TestStopScriptWithTrap(t *testing.T) {
	r := newRunner(t)
	j, spec, _ := startWithFifo(t, r, `trap 'echo trapped; exit 7' TERM; sleep 3600 & echo ready > "$FIFO"; wait`)
	if err := j.Stop(time.Minute); err != nil {
		t.Fatal(err)
	}
	res, err := j.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Result{ExitCode: 7}); res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	if out := readFile(t, spec.Stdout); out != "trapped\n" {
		t.Errorf("stdout = %q, want %q", out, "trapped\n")
	}
}

// Signal with ScopeSteps reaches the job's other processes, not PID 1: a
// child that traps USR1 runs its trap, the script's own trap does not run.
func TestSignalSteps(t *testing.T) {
	r := newRunner(t)
	j, spec, _ := startWithFifo(t, r, `trap 'echo script >> "$PWD/script-got"' USR1
sh -c 'trap "echo child > \"\$PWD/child-got\"; exit 0" USR1; echo ready > "$FIFO"; while :; do sleep 0.05; done'
echo after-child`)
	if err := j.Signal(unix.SIGUSR1, ScopeSteps); err != nil {
		t.Fatal(err)
	}
	res, err := j.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if res != (Result{}) {
		t.Errorf("result = %+v, want zero (stderr %q)", res, readFile(t, spec.Stderr))
	}
	if got := readFile(t, filepath.Join(spec.Dir, "child-got")); got != "child\n" {
		t.Errorf("child's trap wrote %q, want %q", got, "child\n")
	}
	if _, err := os.Stat(filepath.Join(spec.Dir, "script-got")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the batch script got a steps signal (stat: %v)", err)
	}
	if out := readFile(t, spec.Stdout); out != "after-child\n" {
		t.Errorf("stdout = %q, want %q", out, "after-child\n")
	}
	assertGone(t, r, spec.ID)
}

// ScopeBatch reaches PID 1 alone: a script's trap runs, its child is not
// signalled.
func TestSignalBatchTrap(t *testing.T) {
	r := newRunner(t)
	j, spec, _ := startWithFifo(t, r, `trap 'echo got-usr1 > "$PWD/got"; kill -0 $child && echo child-alive; exit 3' USR1
sleep 3600 & child=$!; echo ready > "$FIFO"; wait`)
	if err := j.Signal(unix.SIGUSR1, ScopeBatch); err != nil {
		t.Fatal(err)
	}
	res, err := j.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Result{ExitCode: 3}); res != want {
		t.Errorf("result = %+v, want %+v (stderr %q)", res, want, readFile(t, spec.Stderr))
	}
	if got := readFile(t, filepath.Join(spec.Dir, "got")); got != "got-usr1\n" {
		t.Errorf("trap wrote %q, want %q", got, "got-usr1\n")
	}
	if out := readFile(t, spec.Stdout); out != "child-alive\n" {
		t.Errorf("stdout = %q, want %q: the child must not get a batch signal", out, "child-alive\n")
	}
}

// A bash script without a trap dies of a batch TERM as it would outside a
// PID namespace: at once, reported as signal 15, not 9, and it does not
// run its next command.
func TestSignalBatchNoTrap(t *testing.T) {
	r := newRunner(t)
	spec := baseSpec(t, "bash", "-c", `sleep 3600 & echo $! > "$FIFO"; wait; echo next > "$PWD/next"`)
	fifo := filepath.Join(spec.Dir, "fifo")
	spec.Env = append(spec.Env, "FIFO="+fifo)
	j, spec, _ := startFifo(t, r, spec, fifo)
	if err := j.Signal(unix.SIGTERM, ScopeBatch); err != nil {
		t.Fatal(err)
	}
	res, err := j.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Result{ExitCode: 128 + 15, Signal: 15}); res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	if _, err := os.Stat(filepath.Join(spec.Dir, "next")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the script ran its next command after a batch TERM (stat: %v)", err)
	}
	assertGone(t, r, spec.ID)
}

// ScopeFull without a trap in the script: the child handles TERM first,
// then PID 1 dies of it (reported as 15) without going on.
func TestSignalFull(t *testing.T) {
	r := newRunner(t)
	j, spec, _ := startWithFifo(t, r, `sh -c 'trap "echo child > \"\$PWD/child-got\"; exit 0" TERM; echo ready > "$FIFO"; while :; do sleep 0.05; done'
echo next > "$PWD/next"`)
	start := time.Now()
	if err := j.Signal(unix.SIGTERM, ScopeFull); err != nil {
		t.Fatal(err)
	}
	res, err := j.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took >= fullSignalGrace {
		t.Errorf("full TERM took %v, the whole grace period: PID 1 must die once the others have", took)
	}
	if want := (Result{ExitCode: 128 + 15, Signal: 15}); res != want {
		t.Errorf("result = %+v, want %+v (stderr %q)", res, want, readFile(t, spec.Stderr))
	}
	if got := readFile(t, filepath.Join(spec.Dir, "child-got")); got != "child\n" {
		t.Errorf("child's trap wrote %q, want %q", got, "child\n")
	}
	if _, err := os.Stat(filepath.Join(spec.Dir, "next")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the script ran its next command after a full TERM (stat: %v)", err)
	}
}

// Signal right after Start waits for the job's program: a TERM for PID 1
// then kills it as the job's own process, reported as 15.
func TestSignalRightAfterStart(t *testing.T) {
	r := newRunner(t)
	spec := baseSpec(t, "sleep", "3600")
	j := start(t, r, spec)
	if err := j.Signal(unix.SIGTERM, ScopeBatch); err != nil {
		t.Fatal(err)
	}
	res, err := j.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Result{ExitCode: 128 + 15, Signal: 15}); res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
}

// Cleanup after a "crash": a second Runner on the same directories kills
// and removes what the first one left running (supervisors included), and
// also removes pieces that have no container state at all.
func TestCleanupLeftovers(t *testing.T) {
	r := newRunner(t)
	j, spec, _ := startWithFifo(t, r, `sleep 3600 & echo $! > "$FIFO"; wait`)

	// Pieces of a job that crashed before its container had any state.
	ghost := "ghost-" + spec.ID
	mounts := mustCgroupMounts(t)
	for _, dir := range []string{filepath.Join(r.Root, ghost), filepath.Join(r.TmpRoot, ghost), filepath.Join(mounts[0], r.CgroupParent, ghost)} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}

	r2 := &Runner{Root: r.Root, TmpRoot: r.TmpRoot, CgroupParent: r.CgroupParent}
	if err := r2.Cleanup(); err != nil {
		t.Errorf("Cleanup: %v", err)
	}
	<-j.Done() // its supervisor is dead (reaped by its original parent, us)
	assertGone(t, r, spec.ID)
	assertGone(t, r, ghost)
	// The supervisor was killed first, so nothing recorded the end.
	res, err := j.Wait()
	if res != (Result{}) || err == nil || !strings.Contains(err.Error(), "without recording its end") {
		t.Errorf("Wait after someone else's Cleanup = %+v, %v; want no result and an error that says the end went unrecorded", res, err)
	}
}

func TestRunnerFieldsChecked(t *testing.T) {
	for _, parent := range []string{"", ".", "/", "/shoal", "../x", "a/../b", "a/"} {
		r := &Runner{Root: t.TempDir(), TmpRoot: t.TempDir(), CgroupParent: parent}
		if err := r.Cleanup(); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("Cleanup with CgroupParent %q = %v, want ErrInvalidSpec", parent, err)
		}
		if _, err := r.Start(baseSpec(t, "true")); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("Start with CgroupParent %q = %v, want ErrInvalidSpec", parent, err)
		}
	}
}

func TestCheckPlacement(t *testing.T) {
	base, _ := filepath.EvalSymlinks(t.TempDir())
	for _, d := range []string{"bin", "bin/state", "other/state"} {
		os.MkdirAll(filepath.Join(base, d), 0o700)
	}
	exe := filepath.Join(base, "bin", "shoal")
	os.WriteFile(exe, nil, 0o700)
	for root, wantErr := range map[string]bool{
		filepath.Join(base, "bin"):         true,
		filepath.Join(base, "bin/state"):   true,
		filepath.Join(base, "other/state"): false,
	} {
		if err := checkPlacement(exe, root); errors.Is(err, ErrBinaryAboveRoot) != wantErr {
			t.Errorf("checkPlacement(%s, %s) = %v, want ErrBinaryAboveRoot: %v", exe, root, err, wantErr)
		}
	}
}

func BenchmarkStartWait(b *testing.B) {
	benchStartWait(b, baseSpec(b, "/bin/true"))
}

// BenchmarkStartWaitUser: the same as an unprivileged user, whose working
// dir and outputs Start opens, and whose cwd it checks, as that user.
func BenchmarkStartWaitUser(b *testing.B) {
	spec := baseSpec(b, "/bin/true")
	spec.UID, spec.GID = 65534, 65534
	if err := os.Chown(spec.Dir, 65534, 65534); err != nil {
		b.Fatal(err)
	}
	benchStartWait(b, spec)
}

func benchStartWait(b *testing.B, spec Spec) {
	r := newRunner(b)
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

func BenchmarkStartWaitParallel(b *testing.B) {
	r := newRunner(b)
	spec := baseSpec(b, "/bin/true")
	var seq atomic.Int64
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			spec := spec
			spec.ID = fmt.Sprintf("bench-%d", seq.Add(1))
			j, err := r.Start(spec)
			if err != nil {
				b.Error(err)
				return
			}
			if res, err := j.Wait(); err != nil || res != (Result{}) {
				b.Errorf("Wait = %+v, %v", res, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hostMounts is the host's mount table, less the image layers and binds
// that cmd/shoal's end-to-end tests mount under their own TMPDIR
// (/var/tmp/shoal-e2e-*) and their agents' default scratch dirs
// (/var/tmp/shoal-scratch/shoal-e2e-*) while go test runs that package
// alongside this one (node's image cache test mounts there too).
func hostMounts(t testing.TB) []string {
	t.Helper()
	var out []string
	for line := range strings.Lines(readFile(t, "/proc/self/mountinfo")) {
		if fields := strings.Fields(line); len(fields) > 4 && (strings.HasPrefix(fields[4], "/var/tmp/shoal-e2e-") ||
			strings.HasPrefix(fields[4], "/var/tmp/shoal-scratch/shoal-e2e-")) {
			continue
		}
		out = append(out, strings.TrimSpace(line))
	}
	return out
}

func mustCgroupMounts(t testing.TB) []string {
	t.Helper()
	m, err := cgroupMounts()
	if err != nil || len(m) == 0 {
		t.Fatalf("cgroup mounts: %v, %v", m, err)
	}
	return m
}

// An attempt run again with AppendOutput keeps what the first one wrote;
// without it, the output starts afresh.
func TestAppendOutput(t *testing.T) {
	r := newRunner(t)
	first := baseSpec(t, "echo", "first")
	run(t, r, first)
	again := first
	again.ID, again.Argv, again.AppendOutput = fmt.Sprintf("job-%d", jobSeq.Add(1)), []string{"echo", "second"}, true
	if _, out := run(t, r, again); out != "first\nsecond\n" {
		t.Errorf("appended output = %q, want first then second", out)
	}
	again.ID, again.AppendOutput = fmt.Sprintf("job-%d", jobSeq.Add(1)), false
	if _, out := run(t, r, again); out != "second\n" {
		t.Errorf("truncated output = %q, want only second", out)
	}
}
