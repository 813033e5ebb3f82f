package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// nobody is the unprivileged job user of these tests; other is a second
// user, whose files nobody's jobs must not take over.
const (
	nobody = 65534
	other  = 4242
)

// userSpec is a job of nobody in a working dir nobody owns.
func userSpec(t *testing.T, argv ...string) Spec {
	spec := baseSpec(t, argv...)
	spec.UID, spec.GID = nobody, nobody
	if err := os.Chown(spec.Dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	return spec
}

// reachable opens dir and the temp dirs above it (up to /tmp or
// /var/tmp) to everyone's lookups.
func reachable(t *testing.T, dir string) string {
	t.Helper()
	for d := dir; d != "/tmp" && d != "/var/tmp" && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// privateTree makes other's 0700 directory with a world-readable
// directory and file inside: what a symlink must not reach through.
func privateTree(t *testing.T) (shared string) {
	t.Helper()
	priv := filepath.Join(reachable(t, scratchDir(t)), "private")
	shared = filepath.Join(priv, "shared")
	if err := os.MkdirAll(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(shared, "secret.txt"), []byte("other's secret\n"), 0o644)
	for _, p := range []string{priv, shared, filepath.Join(shared, "secret.txt")} {
		os.Chown(p, other, other)
	}
	os.Chmod(priv, 0o700)
	return shared
}

// A working directory reached through a symlink into another user's 0700
// tree is refused with a clear reason, under /tmp and elsewhere; the
// user's own 0700 directory under /tmp, reached through a symlink, works
// and the job sees its canonical path.
func TestWorkdirOpenedAsUser(t *testing.T) {
	r := newRunner(t)
	shared := privateTree(t)
	for _, base := range []string{reachable(t, scratchDir(t)), reachable(t, t.TempDir())} {
		link := filepath.Join(base, "l")
		if err := os.Symlink(shared, link); err != nil {
			t.Fatal(err)
		}
		spec := userSpec(t, "cat", "secret.txt")
		spec.Dir = link
		j, err := r.Start(spec)
		if err == nil {
			j.Wait()
			t.Fatalf("job in %s -> %s started; stdout %q", link, shared, readFile(t, spec.Stdout))
		}
		if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "working directory "+link+": permission denied for user") {
			t.Errorf("Start in %s: %v, want ErrInvalidSpec naming the directory and the user", link, err)
		}
		assertGone(t, r, spec.ID)
	}

	own := filepath.Join(reachable(t, t.TempDir()), "own")
	os.Mkdir(own, 0o700)
	os.Chown(own, nobody, nobody)
	link := filepath.Join(reachable(t, scratchDir(t)), "tolink")
	os.Symlink(own, link)
	spec := userSpec(t, "sh", "-c", "pwd; echo mine > f; cat f")
	spec.Dir = link
	if res, out := run(t, r, spec); res != (Result{}) || out != own+"\nmine\n" {
		t.Errorf("job in its own dir %s via %s: %+v, output %q (stderr %q), want its canonical path and the file", own, link, res, out, readFile(t, spec.Stderr))
	}
}

// checkStart, in a running job's root, as the job's user: a working
// directory through other's 0700 tree, a program not on PATH and a file
// the user may not execute fail with the reason; what the user may reach
// passes.
func TestCheckStart(t *testing.T) {
	r := newRunner(t)
	shared := privateTree(t)
	probe := start(t, r, baseSpec(t, "sleep", "60")) // its root is the job's root
	bin := filepath.Join(reachable(t, scratchDir(t)), "prog")
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o744) // root's to execute only
	for _, c := range []struct {
		dir, prog, path, want string
	}{
		{"/", "true", "/usr/bin:/bin", ""},
		{"/", "./bin/true", "", ""},
		{shared, "true", "/usr/bin:/bin", "working directory " + shared + ": permission denied for user"},
		{"/", "no-such-prog", "/usr/bin:relative:/bin", `exec: "no-such-prog": executable file not found in $PATH`},
		{"/", "true", "", `exec: "true": executable file not found in $PATH`},
		{"/", "sh", "bin", `exec: "sh": executable file not found in $PATH`}, // relative entries are skipped
		{"/", bin, "", `exec: "` + bin + `": permission denied`},
		{"/", "/etc", "", `exec: "/etc": permission denied`},
	} {
		spec := userSpec(t, c.prog)
		spec.Env = []string{"PATH=/nowhere", "PATH=" + c.path}
		w := &workdir{path: c.dir}
		err := w.checkFor(&spec, true, DefaultStartCheckTimeout).checkStart(spec.UID, spec.GID, spec.Groups, probe.Pid())
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrInvalidSpec)) {
			t.Errorf("checkStart(dir %s, %q, PATH %q): %v, want %q", c.dir, c.prog, c.path, err, c.want)
		}
	}
	// Through Start: the job fails to start, with the reason.
	spec := userSpec(t, "no-such-prog")
	if j, err := r.Start(spec); err == nil {
		j.Wait()
		t.Error("a job of a program not on PATH started")
	} else if !strings.Contains(err.Error(), `exec: "no-such-prog": executable file not found in $PATH`) {
		t.Errorf("Start of a program not on PATH: %v", err)
	}
	assertGone(t, r, spec.ID)
}

// hungMount mounts, under a directory everyone may reach, a FUSE file
// system whose server never answers: no daemon reads its device, so every
// lookup below its root waits in the kernel (killably, as on a hard NFS
// mount whose server is gone) until the connection is aborted, which the
// test's cleanup (or abort) does before it unmounts. It returns the
// mountpoint, a reader of the connection's "waiting" count (fusectl): the
// requests blocked on it, and abort. It skips where the kernel has no FUSE.
func hungMount(t *testing.T) (dir string, waiting func() int, abort func()) {
	t.Helper()
	fd, err := unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no FUSE device to make a mount that hangs: %v", err)
	}
	dir = filepath.Join(reachable(t, scratchDir(t)), "hung")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := fmt.Sprintf("fd=%d,rootmode=40755,user_id=0,group_id=0,allow_other", fd)
	if err := unix.Mount("shoal-test-hung", dir, "fuse.shoal-test-hung", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		unix.Close(fd)
		t.Skipf("mount a FUSE file system: %v", err)
	}
	abort = sync.OnceFunc(func() { unix.Close(fd) }) // blocked lookups fail
	t.Cleanup(func() {
		abort()
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	var conn string
	for line := range strings.Lines(readFile(t, "/proc/self/mountinfo")) {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			_, conn, _ = strings.Cut(f[2], ":") // the minor of 0:N
		}
	}
	ctl := "/sys/fs/fuse/connections"
	if _, err := os.Stat(filepath.Join(ctl, conn)); err != nil {
		ctl = t.TempDir()
		if err := unix.Mount("fusectl", ctl, "fusectl", 0, ""); err != nil {
			t.Fatalf("mount fusectl: %v", err)
		}
		t.Cleanup(func() { unix.Unmount(ctl, 0) })
	}
	return dir, func() int {
		n, err := strconv.Atoi(strings.TrimSpace(readFile(t, filepath.Join(ctl, conn, "waiting"))))
		if err != nil {
			t.Fatalf("FUSE connection %s: %v", conn, err)
		}
		return n
	}, abort
}

// startOnHungMount starts spec, which names what (a path on a hungMount),
// and returns Start's error (nil once the job ran and ended). A start still
// blocked long after StartCheckTimeout aborts the mount and fails the test.
func startOnHungMount(t *testing.T, r *Runner, spec Spec, abort func(), what string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		j, err := r.Start(spec)
		if err == nil {
			j.Wait()
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second): // the start's own bound is 1s
		abort()
		<-done
		t.Fatalf("Start still blocked after 20s on %s (StartCheckTimeout %v)", what, r.StartCheckTimeout)
		return nil
	}
}

// A PATH entry on a file system that never answers fails the start once
// StartCheckTimeout has passed, naming the entry and the limit, and
// leaves nothing behind: no job, and no lookup still blocked on the mount
// (the supervisor that ran it is gone).
func TestCheckStartHungPath(t *testing.T) {
	r := newRunner(t)
	r.StartCheckTimeout = time.Second
	hung, waiting, abort := hungMount(t)
	before := waiting()
	spec := userSpec(t, "true")
	spec.Env = []string{"PATH=" + hung + "/bin:/usr/bin:/bin"}
	err := startOnHungMount(t, r, spec, abort, "the PATH entry "+hung+"/bin")
	want := `looking up "true" in the PATH entry ` + hung + "/bin did not finish within 1s"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "out of the job's PATH") {
		t.Errorf("Start with a hung PATH entry: %v, want an error saying %q and what to do", err, want)
	}
	assertGone(t, r, spec.ID)
	if n := waiting(); n != before {
		t.Errorf("%d lookups still blocked on the hung mount after Start returned (%d before): the check was left running", n-before, before)
	}
}

// Each path a job names that Start looks up in the daemon (its working
// directory, output, input and mount sources), on a file system that never
// answers, fails the start once StartCheckTimeout has passed, naming the
// path, for a user's job and for root's, and leaves no job behind. The
// lookups stay blocked in the kernel until the mount is aborted; then they
// all end.
func TestStartHungPaths(t *testing.T) {
	r := newRunner(t)
	r.StartCheckTimeout = time.Second
	hung, waiting, abort := hungMount(t)
	before := waiting()
	for _, c := range []struct {
		name string
		root bool
		set  func(*Spec) string // sets the hung path, returns it
	}{
		{"working directory", false, func(s *Spec) string { s.Dir = hung + "/work"; return s.Dir }},
		{"working directory of root", true, func(s *Spec) string { s.Dir = hung + "/work"; return s.Dir }},
		{"output", false, func(s *Spec) string { s.Stdout = hung + "/out"; return s.Stdout }},
		{"output of root", true, func(s *Spec) string { s.Stderr = hung + "/err"; return s.Stderr }},
		{"input", false, func(s *Spec) string { s.Stdin = hung + "/in"; return s.Stdin }},
		{"mount source", false, func(s *Spec) string {
			s.Mounts = []Mount{{Source: hung + "/src", Target: reachable(t, scratchDir(t))}}
			return s.Mounts[0].Source
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := userSpec(t, "true")
			if c.root {
				spec = baseSpec(t, "true")
			}
			path := c.set(&spec)
			err := startOnHungMount(t, r, spec, abort, path)
			if err == nil || !strings.Contains(err.Error(), path+": did not answer within 1s") || !strings.Contains(err.Error(), "does not answer") {
				t.Errorf("Start with its %s on a file system that does not answer: %v, want an error naming %s and saying it did not answer within 1s", c.name, err, path)
			}
			assertGone(t, r, spec.ID)
		})
	}
	// Each start gave up on a lookup that is still blocked: the first
	// waits for the server, the others for the directory it holds
	// (before counts the mount's own INIT, which nothing answers either).
	if n := waiting() - before; n < 1 {
		t.Errorf("no lookup blocked on the mount after the starts gave up: they did not wait on it")
	}
	abort()
	deadline := time.Now().Add(10 * time.Second)
	for waiting() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := waiting(); n != 0 {
		t.Errorf("%d lookups still blocked on the mount after it was aborted", n)
	}
}

// A working directory that lies, in the job, through a symlink of one of
// the user's mounts is never made by root where the symlink leads: the
// start fails, for a host job (the host's root) and an image job (a
// root-owned host directory mounted in). Nor is a mount target in a
// working directory under /tmp, nor one an image's symlink leads into an
// earlier mount.
func TestWorkdirNotMadeAsRoot(t *testing.T) {
	r := staticRunner(t)                  // the image job executes it in its image
	victim := reachable(t, scratchDir(t)) // root's, 0755: nobody may not write there
	src := filepath.Join(reachable(t, scratchDir(t)), "tree")
	target := filepath.Join(reachable(t, scratchDir(t)), "mnt")
	for _, d := range []string{src, target, filepath.Join(target, "link", "made")} {
		os.MkdirAll(d, 0o755)
	}
	os.Symlink(victim, filepath.Join(src, "link"))
	for _, p := range []string{src, filepath.Join(src, "link"), target, filepath.Join(target, "link"), filepath.Join(target, "link", "made")} {
		os.Lchown(p, nobody, nobody)
	}
	host := userSpec(t, "pwd")
	host.Mounts = []Mount{{Source: src, Target: target}}
	host.Dir = filepath.Join(target, "link", "made") // on the host, nobody's own directory

	image := imageSpec(t, busyboxRootfs(t), "pwd")
	image.UID, image.GID = nobody, nobody
	os.Chown(filepath.Dir(image.Stdout), nobody, nobody)
	image.Mounts = []Mount{{Source: victim, Target: "/data"}}
	image.Dir = "/data/made"

	// A working directory under /tmp is the user's own directory, bound
	// into the private /tmp: a mount target in it is refused.
	tmp := userSpec(t, "pwd")
	tmp.Dir = filepath.Join(reachable(t, t.TempDir()), "w")
	os.Mkdir(tmp.Dir, 0o755)
	os.Symlink(filepath.Join(victim, "made"), filepath.Join(tmp.Dir, "sub"))
	os.Lchown(tmp.Dir, nobody, nobody)
	os.Lchown(filepath.Join(tmp.Dir, "sub"), nobody, nobody)
	tmp.Mounts = []Mount{{Source: src, Target: filepath.Join(tmp.Dir, "sub")}}

	// An image symlink that leads a mount target into an earlier mount:
	// libcontainer would make the mountpoint in that mount's source.
	rootfs := busyboxRootfs(t)
	os.Symlink("/data", filepath.Join(rootfs, "b"))
	nested := imageSpec(t, rootfs, "true")
	nested.UID, nested.GID = nobody, nobody
	os.Chown(filepath.Dir(nested.Stdout), nobody, nobody)
	nested.Mounts = []Mount{{Source: victim, Target: "/data"}, {Source: src, Target: "/b/made"}}

	for _, c := range []struct {
		spec Spec
		want string
	}{
		{host, "working directory " + host.Dir + ": no such file or directory"},
		{image, "working directory " + image.Dir + ": no such file or directory"},
		{tmp, "mount target " + tmp.Mounts[0].Target + " lies in the working directory " + tmp.Dir},
		{nested, "mount target /b/made leads to /data/made, in the target of an earlier mount, /data"},
	} {
		spec := c.spec
		j, err := r.Start(spec)
		if err == nil {
			j.Wait()
			t.Errorf("job in %s started (stdout %q)", spec.Dir, readFile(t, spec.Stdout))
		} else if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Start in %s: %v, want %q", spec.Dir, err, c.want)
		}
		if _, err := os.Lstat(filepath.Join(victim, "made")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s/made was made for a job of nobody in %s (lstat: %v)", victim, spec.Dir, err)
		}
		assertGone(t, r, spec.ID)
	}
}

// Files of the kernel's interfaces (/proc, /sys) are refused as outputs
// and inputs, for root and users alike: their permission checks look at
// the daemon's effective uid, root, not at the user's file-system uid,
// so a user could have had root read or write a sysctl (core_pattern: a
// program run as root), or read the daemon's own /proc/self.
func TestKernelFilesRefused(t *testing.T) {
	r := newRunner(t)
	for _, uid := range []uint32{0, nobody} {
		for _, c := range []struct{ stdout, stdin string }{
			{stdout: "/proc/sys/vm/drop_caches"}, // writing "hello" would only fail
			{stdin: "/proc/self/maps"},
			{stdin: "/proc/sys/kernel/core_pattern"},
			{stdin: "/sys/kernel/mm/transparent_hugepage/enabled"},
		} {
			spec := userSpec(t, "cat")
			spec.UID, spec.GID = uid, uid
			path := c.stdin
			if c.stdout != "" {
				spec.Stdout, path = c.stdout, c.stdout
			} else {
				spec.Stdin = c.stdin
			}
			if _, err := os.Stat(path); err != nil {
				continue // not on this kernel
			}
			j, err := r.Start(spec)
			if err == nil {
				j.Wait()
				t.Errorf("uid %d: a job with %s started", uid, path)
			} else if !strings.Contains(err.Error(), path+": is a file of ") || !strings.Contains(err.Error(), "a kernel interface") {
				t.Errorf("uid %d: Start with %s: %v, want it refused as a kernel interface", uid, path, err)
			}
			assertGone(t, r, spec.ID)
		}
	}
	if f, err := OpenAsUser("/proc/sys/kernel/core_pattern", os.O_RDONLY, nobody, nobody, nil); err == nil {
		f.Close()
		t.Error("OpenAsUser opened /proc/sys/kernel/core_pattern for nobody")
	}
}

// Outputs: a final symlink, a FIFO (with or without a reader), a
// directory and a device other than /dev/null are refused at once, with
// the path and the reason; /dev/null is accepted.
func TestOutputsRefused(t *testing.T) {
	r := newRunner(t)
	dir := scratchDir(t)
	os.Chmod(dir, 0o777)
	target := filepath.Join(dir, "target")
	os.WriteFile(target, nil, 0o666)
	link := filepath.Join(dir, "link")
	os.Symlink(target, link)
	fifo := filepath.Join(dir, "fifo")
	unix.Mkfifo(fifo, 0o666)
	readFifo := filepath.Join(dir, "fifo-read")
	unix.Mkfifo(readFifo, 0o666)
	os.Chmod(fifo, 0o666) // past the umask
	os.Chmod(readFifo, 0o666)
	rd, err := os.OpenFile(readFifo, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	for _, tc := range []struct{ path, want string }{
		{link, "is a symbolic link"},
		{fifo, "named pipe (FIFO)"},
		{readFifo, "is a named pipe (FIFO), not a regular file"},
		{dir, "is a directory"},
		{"/dev/zero", "is a character device, not a regular file"},
	} {
		for _, uid := range []uint32{0, nobody} {
			spec := userSpec(t, "echo", "hello")
			spec.UID, spec.GID = uid, uid
			spec.Stdout = tc.path
			begin := time.Now()
			j, err := r.Start(spec)
			if err == nil {
				j.Wait()
				t.Errorf("uid %d: Start with stdout %s succeeded", uid, tc.path)
				continue
			}
			if !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("uid %d: stdout %s: %v, want the path and %q", uid, tc.path, err, tc.want)
			}
			if d := time.Since(begin); d > 5*time.Second {
				t.Errorf("uid %d: refusing stdout %s took %v", uid, tc.path, d)
			}
			assertGone(t, r, spec.ID)
		}
	}
	var st unix.Stat_t
	unix.Lstat(target, &st)
	if st.Size != 0 {
		t.Errorf("the symlink's target was written to")
	}
	spec := userSpec(t, "echo", "hello")
	spec.Stdout = "/dev/null"
	if res, _ := run(t, r, spec); res != (Result{}) {
		t.Errorf("job with stdout /dev/null: %+v", res)
	}
	unix.Stat("/dev/null", &st)
	if st.Uid != 0 || st.Mode&0o777 != 0o666 {
		t.Errorf("/dev/null now owned by %d, mode %o", st.Uid, st.Mode&0o777)
	}
}

// A file the job's user may write but does not own (another user's 0666
// file; for a root job, anyone's) gets the output and keeps its owner and
// mode: the job writes through a relay, which Wait drains.
func TestOutputOwnerKept(t *testing.T) {
	r := newRunner(t)
	dir := scratchDir(t)
	os.Chmod(dir, 0o755)
	for _, uid := range []uint32{nobody, 0} {
		out := filepath.Join(dir, "out-"+strconv.Itoa(int(uid)))
		errf := filepath.Join(dir, "err-"+strconv.Itoa(int(uid)))
		for _, p := range []string{out, errf} {
			os.WriteFile(p, []byte("old contents\n"), 0o666)
			os.Chown(p, other, other)
			os.Chmod(p, 0o666) // chown cleared nothing, but be explicit
		}
		spec := userSpec(t, "sh", "-c", "echo to-out; echo to-err >&2; seq 1 20000 | tail -1; stat -L -c '%u %a' /proc/self/fd/1")
		spec.UID, spec.GID = uid, uid
		spec.Stdout, spec.Stderr = out, errf
		res, got := run(t, r, spec)
		if res != (Result{}) || got != "to-out\n20000\n"+strconv.Itoa(int(uid))+" 600\n" {
			// The job's stdout is the relay's pipe (owned by the job's user once
			// libcontainer's init has fchowned it), never the file.
			t.Errorf("uid %d: result %+v, stdout %q (stderr %q), want to-out, 20000 and the pipe", uid, res, got, readFile(t, errf))
		}
		if e := readFile(t, errf); e != "to-err\n" {
			t.Errorf("uid %d: stderr %q, want to-err", uid, e)
		}
		for _, p := range []string{out, errf} {
			var st unix.Stat_t
			unix.Stat(p, &st)
			if st.Uid != other || st.Gid != other || st.Mode&0o7777 != 0o666 {
				t.Errorf("uid %d: %s now %d:%d mode %o, want %d:%d 666 as it was", uid, p, st.Uid, st.Gid, st.Mode&0o7777, other, other)
			}
		}
	}
}

// The relay writes as the job's user, with no capabilities: appending to
// another user's setuid file that the job's group may write clears the
// setuid bit, as the user's own write would (root's, with CAP_FSETID,
// kept it).
func TestRelayWritesAsUser(t *testing.T) {
	r := newRunner(t)
	dir := scratchDir(t)
	os.Chmod(dir, 0o755)
	out := filepath.Join(dir, "tool")
	os.WriteFile(out, []byte("#!/bin/sh\n"), 0o644)
	os.Chown(out, other, nobody)
	unix.Chmod(out, 0o4775) // os.Chmod takes os.ModeSetuid, not 0o4000
	var st unix.Stat_t
	if unix.Stat(out, &st); st.Mode&0o7777 != 0o4775 {
		t.Fatalf("%s has mode %o before the job, want 4775", out, st.Mode&0o7777)
	}
	spec := userSpec(t, "echo", "appended")
	spec.Stdout, spec.AppendOutput = out, true
	if res, _ := run(t, r, spec); res != (Result{}) {
		t.Fatalf("result %+v (stderr %q)", res, readFile(t, spec.Stderr))
	}
	unix.Stat(out, &st)
	if got := readFile(t, out); got != "#!/bin/sh\nappended\n" || st.Mode&0o7777 != 0o775 || st.Uid != other {
		t.Errorf("%s after the job: %q, owner %d, mode %o; want the line appended, %d's, and the setuid bit cleared (775)",
			out, got, st.Uid, st.Mode&0o7777, other)
	}
}

// A relayed output whose pipe a process outside the job still holds (a
// descriptor passed over a socket; here the test opens it through /proc)
// does not keep the job, and its allocation, from ending: once the job's
// processes are gone the relay copies what they wrote and stops within
// relayDrainGrace.
func TestRelayHeldOutside(t *testing.T) {
	r := newRunner(t)
	// ready is written by a subshell: the shell's own fd 1, which the
	// test opens, is the relay's pipe, not $FIFO as it is for a moment
	// while a builtin's output goes there.
	spec := baseSpec(t, "sh", "-c", `echo first; (echo ready > "$FIFO"); while [ ! -e "$GO" ]; do sleep 0.01; done; echo last`)
	fifo, goFile := filepath.Join(spec.Dir, "fifo"), filepath.Join(spec.Dir, "go")
	spec.Env = append(spec.Env, "FIFO="+fifo, "GO="+goFile)
	spec.Stdout = filepath.Join(scratchDir(t), "shared.out")
	if err := os.WriteFile(spec.Stdout, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	os.Chown(spec.Stdout, other, other) // not the job user's: relayed
	j, _, _ := startFifo(t, r, spec, fifo)
	// Not blocking: a pipe opened by path waits for a reader, and a
	// relay that had stopped would leave the test hanging, not failing.
	held, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/1", j.Pid()), os.O_WRONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatalf("open the job's relay pipe from outside: %v (ENXIO: no relay reads it any more, while the job runs)", err)
	}
	defer held.Close()
	if err := os.WriteFile(goFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() {
		_, err := j.Wait()
		ended <- err
	}()
	select {
	case err := <-ended:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(relayDrainGrace + 30*time.Second):
		t.Fatalf("the job has not ended %v after its last process exited: a writer outside the job holds its relay", relayDrainGrace+30*time.Second)
	}
	if got := readFile(t, spec.Stdout); got != "first\nlast\n" {
		t.Errorf("output %q, want both lines", got)
	}
}

// StdoutLimit bounds what reaches the job's stdout file: past it the
// output is dropped with one line saying so, and the job goes on to the
// end (no SIGPIPE); output of exactly the limit gets no line; stderr,
// unbounded, is whole.
func TestOutputLimit(t *testing.T) {
	r := newRunner(t)
	for _, tc := range []struct {
		n    int
		want string
	}{
		{5000, strings.Repeat("a", 1000) + "\nshoal: output past 1000 bytes was dropped (the node's log limit)\n"},
		{1000, strings.Repeat("a", 1000)},
	} {
		spec := userSpec(t, "sh", "-c", fmt.Sprintf(`head -c %d /dev/zero | tr '\0' a; echo went-on >&2`, tc.n))
		spec.StdoutLimit = 1000
		res, out := run(t, r, spec)
		if res != (Result{}) {
			t.Errorf("%d bytes: result %+v, want a clean exit", tc.n, res)
		}
		if out != tc.want {
			t.Errorf("%d bytes: stdout %q (%d bytes), want %q...", tc.n, out[:min(len(out), 40)], len(out), tc.want[:40])
		}
		if got := readFile(t, spec.Stderr); got != "went-on\n" {
			t.Errorf("%d bytes: stderr %q, want the whole of it", tc.n, got)
		}
	}
}

// The node's own log file (NodeStdout), in a directory only root
// reaches, is opened as root and written through the relay, bounded; the
// same file not marked the node's is opened as the user, who cannot
// reach it, and the start fails.
func TestNodeLogOpenedAsRoot(t *testing.T) {
	r := newRunner(t)
	logs := filepath.Join(scratchDir(t), "logs")
	if err := os.Mkdir(logs, 0o700); err != nil {
		t.Fatal(err)
	}
	spec := userSpec(t, "sh", "-c", "echo to-the-node; echo direct >> \"$LOG\" || echo refused >&2")
	spec.Stdout = filepath.Join(logs, "1.out")
	spec.Env = append(spec.Env, "LOG="+spec.Stdout)
	if err := os.WriteFile(spec.Stdout, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chown(spec.Stdout, nobody, nobody)
	spec.NodeStdout, spec.StdoutLimit = true, 1<<20
	if res, out := run(t, r, spec); res != (Result{}) || out != "to-the-node\n" {
		t.Errorf("result %+v, output %q; want the job's line alone (stderr %q)", res, out, readFile(t, spec.Stderr))
	}
	if got := readFile(t, spec.Stderr); !strings.Contains(got, "refused") {
		t.Errorf("the job wrote to the node's log file by its path: stderr %q", got)
	}
	spec.ID, spec.NodeStdout = fmt.Sprintf("job-%d", jobSeq.Add(1)), false
	if j, err := r.Start(spec); err == nil {
		j.Wait()
		t.Errorf("a file in root's 0700 dir, not marked the node's, was opened for a job of nobody")
	} else if !errors.Is(err, os.ErrPermission) {
		t.Errorf("a file in root's 0700 dir, as the user: %v, want permission denied", err)
	}
}

// A job of nobody cannot have more than PidsMax processes: the shell's
// fork fails (and dash gives up) once the limit is reached.
func TestPidsLimit(t *testing.T) {
	r := newRunner(t)
	const script = `for i in $(seq 1 40); do sleep 60 & echo $i; done`
	spec := userSpec(t, "sh", "-c", script)
	spec.PidsMax = 10
	_, out := run(t, r, spec)
	// sh itself and up to 9 sleeps.
	if n := len(strings.Fields(out)); n == 0 || n > 9 {
		t.Errorf("with PidsMax 10 the job started %d background processes (stdout %q, stderr %q), want 1 to 9",
			n, out, readFile(t, spec.Stderr))
	}
	spec = userSpec(t, "sh", "-c", script)
	if _, out := run(t, r, spec); len(strings.Fields(out)) != 40 {
		t.Errorf("without a limit: stdout %q, want 1 to 40 (stderr %q)", out, readFile(t, spec.Stderr))
	}
}

// The private /tmp is the user's own 0700 tmpfs of TmpBytes: writing
// past it fails with ENOSPC inside the job, nothing reaches the host.
func TestTmpSize(t *testing.T) {
	r := newRunner(t)
	spec := userSpec(t, "sh", "-c", `stat -c '%a %u %g' /tmp; dd if=/dev/zero of=/tmp/big bs=64k count=64 2>&1 | grep -c 'No space'; stat -c %s /tmp/big`)
	spec.TmpBytes = 1 << 20
	_, out := run(t, r, spec)
	if want := "700 65534 65534\n1\n1048576\n"; out != want {
		t.Errorf("output %q, want %q (stderr %q)", out, want, readFile(t, spec.Stderr))
	}
}

// BenchmarkOpenOutputs: what opening a job's stdout and stderr costs the
// start, as root and with the job user's credentials (a locked thread
// with its fsuid, fsgid and groups switched and back, per file).
//
//	go test -run '^$' -bench OpenOutputs -benchtime 2000x ./node/sandbox/
func BenchmarkOpenOutputs(b *testing.B) {
	for _, uid := range []uint32{0, nobody} {
		b.Run("uid="+strconv.Itoa(int(uid)), func(b *testing.B) {
			dir := scratchDir(b)
			os.Chown(dir, int(uid), int(uid))
			spec := Spec{UID: uid, GID: uid, Groups: []uint32{uid},
				Stdout: filepath.Join(dir, "out"), Stderr: filepath.Join(dir, "err")}
			b.ResetTimer()
			for range b.N {
				s, err := openOutputs(&spec, time.Second)
				if err != nil {
					b.Fatal(err)
				}
				if len(s.relays) != 0 {
					b.Fatal("a relay for the user's own file")
				}
				s.close()
			}
		})
	}
}

// A root job's new output file gets the job's group without a chown.
func TestRootOutputGroup(t *testing.T) {
	r := newRunner(t)
	spec := baseSpec(t, "echo", "hi")
	spec.GID = other
	run(t, r, spec)
	var st unix.Stat_t
	if err := unix.Stat(spec.Stdout, &st); err != nil || st.Uid != 0 || st.Gid != other || st.Mode&0o777 != 0o644 {
		t.Errorf("root job's stdout %d:%d mode %o (%v), want 0:%d 644", st.Uid, st.Gid, st.Mode&0o777, err, other)
	}
}

// A relayed output on a full file system: the job is not blocked (the
// relay closes its end: the writer gets SIGPIPE) and Wait reports the
// lost output.
func TestRelayFullDisk(t *testing.T) {
	r := newRunner(t)
	small := scratchDir(t)
	if err := unix.Mount("tmpfs", small, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=64k,mode=0777"); err != nil {
		t.Skipf("mount a small tmpfs: %v", err)
	}
	defer unix.Unmount(small, unix.MNT_DETACH)
	out := filepath.Join(small, "out")
	os.WriteFile(out, nil, 0o666)
	os.Chown(out, other, other)
	os.Chmod(out, 0o666) // past the umask
	spec := userSpec(t, "sh", "-c", "seq 1 200000; echo done >&2")
	spec.Stdout = out
	j := start(t, r, spec)
	res, err := j.Wait()
	if res != (Result{}) || err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Errorf("job writing 1.2 MB through a relay into a 64 KiB file system: %+v, %v; want a clean exit and the relay's ENOSPC", res, err)
	}
	if e := readFile(t, spec.Stderr); e != "done\n" {
		t.Errorf("stderr %q, want done", e)
	}
}

// A lookup as the user follows no process's /proc links into directories
// the user may not enter: the thread that looks has no effective
// capabilities (CAP_SYS_PTRACE alone would let it through), and has them
// all back afterwards.
func TestAsUserNoProcLinks(t *testing.T) {
	locked := scratchDir(t) // root's, 0700
	os.Chmod(locked, 0o700)
	inner := filepath.Join(locked, "inner")
	os.Mkdir(inner, 0o755)
	os.WriteFile(filepath.Join(inner, "data"), []byte("secret\n"), 0o644)
	cmd := exec.Command("sleep", "60")
	cmd.Dir = inner
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	through := fmt.Sprintf("/proc/%d/cwd/data", cmd.Process.Pid)
	if f, err := OpenAsUser(through, os.O_RDONLY, 65534, 65534, nil); err == nil {
		f.Close()
		t.Errorf("uid 65534 opened %s, a file in a root-only directory, through root's process's cwd", through)
	} else if !errors.Is(err, os.ErrPermission) {
		t.Errorf("uid 65534 opening %s: %v, want permission denied", through, err)
	}
	// The thread's capabilities come back, all of them.
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		before, err := threadCaps()
		if err != nil {
			done <- err
			return
		}
		restored, err := withThreadCreds(65534, 65534, nil, func() error {
			if during, _ := threadCaps(); during[0].Effective != 0 || during[1].Effective != 0 {
				return fmt.Errorf("effective capabilities while looking as the user: %+v", during)
			}
			return nil
		})
		after, cerr := threadCaps()
		if err == nil && (!restored || cerr != nil || after != before) {
			err = fmt.Errorf("restored %v: capabilities %+v (%v) after, %+v before", restored, after, cerr, before)
		}
		done <- err
	}()
	if err := <-done; err != nil {
		t.Error(err)
	}
	if data, err := os.ReadFile(through); err != nil || string(data) != "secret\n" {
		t.Errorf("root reading %s: %q, %v", through, data, err)
	}
}

// An image job of nobody's that mounts a root-owned directory never has
// root make anything in it: not through a target that spells out the
// layer's host path (libcontainer strips it), nor through an image whose
// /dev or /tmp is a symlink (libcontainer would put the sandbox's own
// /dev, and make its device nodes, where the symlink leads).
func TestImageMountsMakeNothingInSource(t *testing.T) {
	r := staticRunner(t)
	victim := reachable(t, scratchDir(t))
	for _, c := range []struct {
		name  string
		image func(rootfs string) // changes the image
		mount func(spec *Spec) []Mount
		want  string // the start's error; "" for a job that runs and succeeds
	}{
		{"target with the layer's path", nil, func(spec *Spec) []Mount {
			layer := filepath.Join(r.TmpRoot, spec.ID, jobRootfs)
			return []Mount{{Source: victim, Target: "/data"}, {Source: victim, Target: layer + "/dev"}}
		}, "lies where the sandbox keeps the job's root"},
		{"/dev a symlink", func(rootfs string) {
			os.RemoveAll(filepath.Join(rootfs, "dev"))
			os.Symlink("/foo", filepath.Join(rootfs, "dev"))
		}, func(*Spec) []Mount { return []Mount{{Source: victim, Target: "/foo"}} }, ""},
		{"/dev into /tmp", func(rootfs string) {
			os.RemoveAll(filepath.Join(rootfs, "dev"))
			os.Symlink("/tmp", filepath.Join(rootfs, "dev"))
		}, func(*Spec) []Mount { return []Mount{{Source: victim, Target: "/tmp"}} }, ""},
		{"/tmp a symlink", func(rootfs string) {
			os.RemoveAll(filepath.Join(rootfs, "tmp"))
			os.Symlink("/data", filepath.Join(rootfs, "tmp"))
		}, func(*Spec) []Mount {
			return []Mount{{Source: victim, Target: "/data"}, {Source: victim, Target: "/tmp/x"}}
		}, ""},
	} {
		rootfs := busyboxRootfs(t)
		if c.image != nil {
			c.image(rootfs)
		}
		spec := imageSpec(t, rootfs, "sh", "-c", "ls /dev/null /tmp >/dev/null")
		spec.UID, spec.GID = nobody, nobody
		os.Chown(filepath.Dir(spec.Stdout), nobody, nobody)
		spec.Mounts = c.mount(&spec)
		j, err := r.Start(spec)
		var res Result
		if err == nil {
			res, _ = j.Wait()
		}
		if c.want == "" && (err != nil || res != Result{}) || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: start %v, result %+v (stderr %q), want %q", c.name, err, res, readFile(t, spec.Stderr), c.want)
		}
		if entries, _ := os.ReadDir(victim); len(entries) != 0 {
			t.Fatalf("%s: the mounted %s holds %d entries after the job (start: %v), root made them", c.name, victim, len(entries), err)
		}
		assertGone(t, r, spec.ID)
	}
}

// A relay whose file takes nothing (here a pipe nobody reads, as a hung
// NFS server or a user's FUSE mount would) does not keep the job from
// ending: once finished, waitWithin gives up after its bound, saying so.
func TestRelayStuckWriteBounded(t *testing.T) {
	jobR, jobW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fileR, fileW, err := os.Pipe() // the "file": nobody reads it
	if err != nil {
		t.Fatal(err)
	}
	defer fileR.Close()
	rl := startRelay(jobR, fileW, 0, uint32(os.Getuid()), uint32(os.Getgid()), nil)
	go func() {
		jobW.Write(make([]byte, 1<<20)) // more than both pipes hold
		jobW.Close()
	}()
	rl.finish()
	start := time.Now()
	if err := rl.waitWithin(200 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "the rest is lost") {
		t.Errorf("waitWithin on a relay stuck writing: %v, want it to give up", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("waitWithin took %v", d)
	}
	fileR.Close() // the stuck write fails (EPIPE) and the relay ends
	if err := rl.waitWithin(10 * time.Second); err == nil || strings.Contains(err.Error(), "the rest is lost") {
		t.Errorf("the relay once its file failed: %v, want the write's error", err)
	}
}
