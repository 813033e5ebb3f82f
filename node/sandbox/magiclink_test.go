package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// magicTree is what a magic link must not reach: the daemon's (the test
// process's) current directory, a world-writable directory with a 0644
// secret inside root's 0700 directory, so that the job's user reaches
// neither by its path; and mine, nobody's own directory beside it, with
// nobody's file in it, reachable by its path. The test process changes
// into cwd until the test ends, as the daemon started from there.
func magicTree(t *testing.T) (cwd, mine string) {
	t.Helper()
	base := reachable(t, t.TempDir()) // under /tmp: a working directory there is bound into the job
	priv := filepath.Join(base, "private")
	cwd = filepath.Join(priv, "cwd")
	mine = filepath.Join(base, "mine")
	for _, d := range []string{cwd, mine} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(priv, 0o700)
	os.Chmod(cwd, 0o777)
	if err := os.WriteFile(filepath.Join(cwd, "secret.txt"), []byte("root's secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(mine, "mine.txt"), []byte("nobody's own\n"), 0o644)
	for _, p := range []string{mine, filepath.Join(mine, "mine.txt")} {
		os.Chown(p, nobody, nobody)
	}
	t.Chdir(cwd)
	return cwd, mine
}

// bothLookups runs f once with openat2 and once with the walk used where
// the kernel has no openat2 (ENOSYS).
func bothLookups(t *testing.T, f func(t *testing.T)) {
	for _, walk := range []bool{false, true} {
		name := "openat2"
		if walk {
			name = "walk"
		}
		t.Run(name, func(t *testing.T) {
			haveOpenat2()
			was := openat2Missing.Load()
			if !walk && was {
				t.Skip("this kernel has no openat2")
			}
			openat2Missing.Store(walk)
			defer openat2Missing.Store(was)
			f(t)
		})
	}
}

// A job file looked up through a magic link of /proc (the daemon's
// /proc/self/cwd, /proc/thread-self/cwd, /proc/<pid>/cwd and root,
// /dev/fd/N of a directory the daemon holds open), directly or through
// the user's own symlink to one, is refused, for reading and for
// creating, for a user and for root, with the path and the reason; the
// file is neither read nor made. Ordinary paths and symlinks work as
// before, with openat2 and with the walk of kernels without it.
func TestOpenAsUserRefusesMagicLinks(t *testing.T) {
	cwd, mine := magicTree(t)
	dirFile, err := os.Open(cwd) // a descriptor of the daemon's on the private directory
	if err != nil {
		t.Fatal(err)
	}
	defer dirFile.Close()
	links := filepath.Join(mine, "links") // nobody's symlinks
	os.Mkdir(links, 0o755)
	symlink := func(name, target string) string {
		p := filepath.Join(links, name)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		os.Lchown(p, nobody, nobody)
		return p
	}
	toCwd := symlink("to-cwd", "/proc/self/cwd")
	toRoot := symlink("to-root", "/proc/self/root"+mine)
	toDevFd := symlink("to-devfd", "/dev/fd/"+strconv.Itoa(int(dirFile.Fd())))
	toMine := symlink("to-mine", mine)
	symlink("rel", "../mine.txt")
	loop := symlink("loop", "loop")
	final := symlink("final", filepath.Join(mine, "mine.txt"))
	pid := strconv.Itoa(os.Getpid())

	if f, err := OpenAsUser(filepath.Join(cwd, "secret.txt"), os.O_RDONLY, nobody, nobody, nil); err == nil {
		f.Close()
		t.Fatal("nobody opened the secret by its own path: the test's tree is wrong")
	}
	// A relative path is looked up from the daemon's directory, as
	// /proc/self/cwd: refused too.
	if f, err := OpenAsUser("secret.txt", os.O_RDONLY, nobody, nobody, nil); err == nil || !strings.Contains(err.Error(), "secret.txt: is not an absolute path") {
		if err == nil {
			f.Close()
		}
		t.Errorf("OpenAsUser(secret.txt), relative to the daemon's directory: %v, want it refused", err)
	}
	bothLookups(t, func(t *testing.T) {
		for _, uid := range []uint32{nobody, 0} {
			for _, p := range []string{
				"/proc/self/cwd/secret.txt",
				"/proc/thread-self/cwd/secret.txt",
				"/proc/" + pid + "/cwd/secret.txt",
				"/proc/" + pid + "/root" + cwd + "/secret.txt",
				"/dev/fd/" + strconv.Itoa(int(dirFile.Fd())) + "/secret.txt",
				toCwd + "/secret.txt",
				toDevFd + "/secret.txt",
				toRoot + "/mine.txt", // nobody's own file: still not through /proc
			} {
				f, err := OpenAsUser(p, os.O_RDONLY, uid, uid, nil)
				if err == nil {
					b := make([]byte, 64)
					n, _ := f.Read(b)
					f.Close()
					t.Errorf("uid %d: OpenAsUser(%s) opened it: %q", uid, p, b[:n])
					continue
				}
				var me *magicLinkError
				if !errors.As(err, &me) || !strings.HasPrefix(err.Error(), p+": ") ||
					!strings.Contains(err.Error(), "/proc and /dev/fd") || !strings.Contains(err.Error(), "not followed for job files") {
					t.Errorf("uid %d: OpenAsUser(%s): %v, want it refused as a link of /proc, naming the path", uid, p, err)
				}
			}
			// Creating an output through one makes nothing.
			for _, p := range []string{"/proc/self/cwd/made.out", toCwd + "/made.out"} {
				f, err := OpenAsUser(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, uid, uid, nil)
				if err == nil {
					f.Close()
				}
				var me *magicLinkError
				if !errors.As(err, &me) {
					t.Errorf("uid %d: output %s: %v, want it refused as a link of /proc", uid, p, err)
				}
				if _, err := os.Lstat(filepath.Join(cwd, "made.out")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("uid %d: output %s made %s/made.out (lstat: %v)", uid, p, cwd, err)
					os.Remove(filepath.Join(cwd, "made.out"))
				}
			}
		}

		// What worked still works.
		for _, c := range []struct{ path, want string }{
			{filepath.Join(mine, "mine.txt"), "nobody's own\n"},
			{toMine + "/mine.txt", "nobody's own\n"},
			{links + "/../mine.txt", "nobody's own\n"},
			{toMine + "/links/rel", ""}, // a final symlink
		} {
			f, err := OpenAsUser(c.path, os.O_RDONLY, nobody, nobody, nil)
			if c.want == "" {
				if err == nil || !strings.Contains(err.Error(), c.path+": is a symbolic link: give the file's own path") {
					t.Errorf("OpenAsUser(%s), a final symlink: %v, want it refused as one", c.path, err)
				}
				if err == nil {
					f.Close()
				}
				continue
			}
			if err != nil {
				t.Errorf("OpenAsUser(%s): %v", c.path, err)
				continue
			}
			b := make([]byte, 64)
			n, _ := f.Read(b)
			f.Close()
			if string(b[:n]) != c.want {
				t.Errorf("OpenAsUser(%s) read %q, want %q", c.path, b[:n], c.want)
			}
		}
		out := toMine + "/new.out"
		f, err := OpenAsUser(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, nobody, nobody, nil)
		if err != nil {
			t.Errorf("output %s, through nobody's symlink: %v", out, err)
		} else {
			f.Close()
			var st unix.Stat_t
			if err := unix.Stat(filepath.Join(mine, "new.out"), &st); err != nil || st.Uid != nobody || st.Mode&0o777 != 0o644 {
				t.Errorf("output %s: made %d mode %o (%v), want nobody's 0644", out, st.Uid, st.Mode&0o777, err)
			}
			os.Remove(filepath.Join(mine, "new.out"))
		}
		if _, err := OpenAsUser(loop+"/x", os.O_RDONLY, nobody, nobody, nil); !errors.Is(err, unix.ELOOP) {
			t.Errorf("through a symlink loop: %v, want ELOOP", err)
		}
		if _, err := OpenAsUser(final+"/", os.O_RDONLY, nobody, nobody, nil); !errors.Is(err, unix.ENOTDIR) {
			t.Errorf("a file with a trailing slash: %v, want ENOTDIR", err)
		}
		// A working directory or mount source is looked up following a
		// final symlink (an ordinary one).
		d, err := openNoMagic(toMine, unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Errorf("directory %s: %v", toMine, err)
		} else {
			at, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", d.Fd()))
			d.Close()
			if at != mine {
				t.Errorf("directory %s opened %s, want %s", toMine, at, mine)
			}
		}
		if d, err := openNoMagic(toCwd, unix.O_PATH|unix.O_DIRECTORY, 0); err == nil {
			d.Close()
			t.Errorf("directory %s -> /proc/self/cwd opened", toCwd)
		}
	})
}

// A job whose input, output, working directory or mount source leads
// through a magic link of /proc (here into the root-only directory the
// daemon runs in) fails to start, with the path and the reason, and
// leaves nothing behind; the same job with its own files runs.
func TestJobMagicLinksRefused(t *testing.T) {
	r := newRunner(t)
	cwd, mine := magicTree(t)
	toRoot := filepath.Join(mine, "to-root")
	os.Symlink("/proc/self/root"+mine, toRoot)
	os.Lchown(toRoot, nobody, nobody)
	bothLookups(t, func(t *testing.T) {
		for _, c := range []struct {
			what string
			set  func(*Spec)
			want string
		}{
			{"input", func(s *Spec) { s.Stdin = "/proc/self/cwd/secret.txt" }, "input /proc/self/cwd/secret.txt: leads through /proc/self"},
			{"output", func(s *Spec) { s.Stdout = "/proc/self/cwd/out" }, "output /proc/self/cwd/out: leads through /proc/self"},
			{"error", func(s *Spec) { s.Stderr = toRoot + "/err" }, "output " + toRoot + "/err: leads through /proc/self"},
			{"input via the user's symlink", func(s *Spec) { s.Stdin = toRoot + "/mine.txt" }, "input " + toRoot + "/mine.txt: leads through /proc/self"},
			{"working directory", func(s *Spec) { s.Dir = "/proc/self/cwd" }, "working directory /proc/self/cwd: leads through /proc/self"},
			{"mount source", func(s *Spec) { s.Mounts = []Mount{{Source: "/proc/self/cwd", Target: "/tmp/p"}} }, "mount source /proc/self/cwd (looked up as uid 65534): open /proc/self/cwd: leads through /proc/self"},
		} {
			spec := userSpec(t, "sh", "-c", "cat; cat secret.txt /tmp/p/secret.txt")
			spec.Stdin = filepath.Join(mine, "mine.txt")
			c.set(&spec)
			j, err := r.Start(spec)
			if err == nil {
				j.Wait()
				t.Errorf("%s: a job of nobody started; stdout %q", c.what, readFile(t, spec.Stdout))
			} else if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "are not followed for job files") {
				t.Errorf("%s: Start = %v, want ErrInvalidSpec and %q", c.what, err, c.want)
			}
			assertGone(t, r, spec.ID)
			if _, err := os.Lstat(filepath.Join(cwd, "out")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: %s/out was made (lstat: %v)", c.what, cwd, err)
			}
		}
		spec := userSpec(t, "cat")
		spec.Stdin = filepath.Join(mine, "mine.txt")
		if res, out := run(t, r, spec); res != (Result{}) || out != "nobody's own\n" {
			t.Errorf("a job of nobody reading its own file: %+v, stdout %q (stderr %q)", res, out, readFile(t, spec.Stderr))
		}
	})
}
