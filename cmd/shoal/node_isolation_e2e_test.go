package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shoal-batch/shoal/api"
)

// sbatchAs runs `sbatch --parsable ARGS` as cred in dir and returns the
// job's id (0 and the output when sbatch fails).
func (c *cluster) sbatchAs(t *testing.T, cred *syscall.Credential, dir string, args ...string) (uint64, string) {
	t.Helper()
	links := t.TempDir()
	os.Chmod(links, 0o755)
	if err := os.Symlink(shoalBin, filepath.Join(links, "sbatch")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(links, "sbatch"), append([]string{"--parsable"}, args...)...)
	cmd.Env = append(os.Environ(), "SHOAL_TEST_MAIN=1", "SHOAL_ADDR="+c.socket)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return 0, out.String()
	}
	return mustID(t, out.String()), out.String()
}

// The node's side of multi-user isolation, as an unprivileged user meets
// it: files named by the job are opened as its owner, never as root.
func TestNodeFilesOpenedAsOwner(t *testing.T) {
	c := newCluster(t)
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	const other = 4242
	base := t.TempDir()
	os.Chmod(base, 0o755)
	os.Chmod(filepath.Dir(base), 0o755)
	home := filepath.Join(base, "nobody")
	os.Mkdir(home, 0o700)
	os.Chown(home, 65534, 65534)

	// Another user's 0700 tree with a world-readable directory inside,
	// reached through a symlink as the working directory: refused.
	priv := filepath.Join(base, "private")
	shared := filepath.Join(priv, "shared")
	os.MkdirAll(shared, 0o755)
	os.WriteFile(filepath.Join(shared, "secret.txt"), []byte("other's secret\n"), 0o644)
	for _, p := range []string{priv, shared, filepath.Join(shared, "secret.txt")} {
		os.Chown(p, other, other)
	}
	os.Chmod(priv, 0o700)
	link := filepath.Join(home, "l")
	if err := os.Symlink(shared, link); err != nil {
		t.Fatal(err)
	}
	id, out := c.sbatchAs(t, nobody, home, "-D", link, "-o", filepath.Join(home, "cat.out"), "--wrap", "cat secret.txt")
	if id == 0 {
		t.Fatalf("sbatch -D %s: %s", link, out)
	}
	j := c.wait(id)
	if j.State != api.StateFailed || !strings.Contains(j.StatusReason, "working directory "+link+": permission denied for user nobody") {
		t.Errorf("job in %s -> %s: %s %q, want FAILED with permission denied for user nobody", link, shared, j.State, j.StatusReason)
	}
	if b, _ := os.ReadFile(filepath.Join(home, "cat.out")); bytes.Contains(b, []byte("secret")) {
		t.Errorf("the job read through the 0700 directory: %q", b)
	}

	// sbatch -o /etc/shadow: the job cannot open it, and shoal logs,
	// which reads as the job's owner, does not return it.
	id, out = c.sbatchAs(t, nobody, home, "-o", "/etc/shadow", "--wrap", "true")
	if id == 0 {
		t.Fatalf("sbatch -o /etc/shadow: %s", out)
	}
	if j := c.wait(id); j.State != api.StateFailed || !strings.Contains(j.StatusReason, "/etc/shadow: permission denied for user nobody") {
		t.Errorf("job with -o /etc/shadow: %s %q, want FAILED with permission denied", j.State, j.StatusReason)
	}
	shadow, _ := os.ReadFile("/etc/shadow")
	r := c.shoalAs(nobody, "logs", api.FormatID(id))
	if r.code == 0 || (len(shadow) > 0 && strings.Contains(r.stdout, string(shadow[:min(len(shadow), 20)]))) ||
		!strings.Contains(r.stderr, "permission denied") {
		t.Errorf("shoal logs of -o /etc/shadow as nobody: exit %d, stdout %q, stderr %q; want refused", r.code, r.stdout, r.stderr)
	}

	// A FIFO as -o: refused at once with a clear reason; the node goes on.
	fifo := filepath.Join(home, "fifo")
	unix.Mkfifo(fifo, 0o600)
	os.Chown(fifo, 65534, 65534)
	id, out = c.sbatchAs(t, nobody, home, "-o", fifo, "--wrap", "echo hi")
	if id == 0 {
		t.Fatalf("sbatch -o fifo: %s", out)
	}
	if j := c.wait(id); j.State != api.StateFailed || !strings.Contains(j.StatusReason, "named pipe (FIFO)") {
		t.Errorf("job with -o a FIFO: %s %q, want FAILED naming the FIFO", j.State, j.StatusReason)
	}

	// Another user's 0666 file as -o: written, and it keeps its owner and mode.
	theirs := filepath.Join(base, "theirs.out")
	os.WriteFile(theirs, nil, 0o666)
	os.Chown(theirs, other, other)
	os.Chmod(theirs, 0o666)
	id, out = c.sbatchAs(t, nobody, home, "-o", theirs, "--wrap", "echo written")
	if id == 0 {
		t.Fatalf("sbatch -o %s: %s", theirs, out)
	}
	if j := c.wait(id); j.State != api.StateSucceeded {
		t.Errorf("job writing another user's 0666 file: %s %q, want SUCCEEDED", j.State, j.StatusReason)
	}
	var st unix.Stat_t
	unix.Stat(theirs, &st)
	if b, _ := os.ReadFile(theirs); string(b) != "written\n" || st.Uid != other || st.Mode&0o7777 != 0o666 {
		t.Errorf("%s: %q, owner %d mode %o; want the output, owner %d, mode 666", theirs, b, st.Uid, st.Mode&0o7777, other)
	}

	// The legitimate case: nobody's own 0700 directory and own output.
	id, out = c.sbatchAs(t, nobody, home, "-o", filepath.Join(home, "own.out"), "--wrap", "pwd; stat -c '%a %U' /tmp")
	if id == 0 {
		t.Fatalf("sbatch in own dir: %s", out)
	}
	if j := c.wait(id); j.State != api.StateSucceeded {
		t.Fatalf("job in its own dir: %s %q", j.State, j.StatusReason)
	}
	if r := c.shoalAs(nobody, "logs", api.FormatID(id)); r.stdout != home+"\n700 nobody\n" {
		t.Errorf("shoal logs of own job: %q (stderr %q), want %q", r.stdout, r.stderr, home+"\n700 nobody\n")
	}
}
