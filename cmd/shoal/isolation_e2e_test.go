package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shoal-batch/shoal/api"
)

// The isolation acceptance test of issue 13: each attack class, replayed
// by one unprivileged user (alice) against another (bob) on one dev agent,
// must fail with a clear error, while the legitimate variant (alice's own
// 0700 directory, her own output file, bob's view of his own job) works.
// It asserts the secure behaviour; a branch without a defence fails the
// subtest that names it. One cluster serves every subtest, in this order:
//
//	symlink-workdir      (1) --chdir / sbatch -D through a link into bob's 0700 tree
//	supplementary-groups     alice's project group reaches her job (a file only
//	                         it may read), not bob's
//	output-takeover      (2) -o at bob's 0666 file, at a device node, at a symlink
//	others-jobs-private  (3) bob's environment, script and paths, as alice: describe,
//	                         queue --output json, squeue, scontrol show job, raw HTTP
//	unauthenticated-tcp  (3) the TCP API with no credentials: 401/403, nothing private
//	bounds               (4) a 100 MB body (413), control characters and NUL in a
//	                         name, a 5 MB script: refused at submit
//	logs-as-owner        (7) shoal logs of a job whose -o names a root-only file
//	hostile-name         (6) a newline or escapes in a name reach no terminal raw
//	fifo-output          (5) a FIFO as -o: the job ends, terminate ends it, the
//	                         agent still stops (at the end)
//	data-dir-private         nothing under the data dir is open to group or other
//
// (numbers: the items of issue 13.)

// testUser is a real account made for the test (useradd), with a 0700
// home under the test's temporary directory.
type testUser struct {
	name     string
	uid, gid uint32
	home     string
}

func (u *testUser) cred() *syscall.Credential {
	return &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: []uint32{u.gid}}
}

// addUser creates user name with its own group and a 0700 home under
// base, and deletes both when the test ends.
func addUser(t *testing.T, base, name string) *testUser {
	t.Helper()
	home := filepath.Join(base, name)
	if out, err := exec.Command("useradd", "-M", "-U", "-d", home, "-s", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
		exec.Command("groupdel", name).Run() // where userdel left the group; absent otherwise
	})
	pw, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("look up the new user %s: %v", name, err)
	}
	uid, _ := strconv.ParseUint(pw.Uid, 10, 32)
	gid, _ := strconv.ParseUint(pw.Gid, 10, 32)
	u := &testUser{name: name, uid: uint32(uid), gid: uint32(gid), home: home}
	u.mkdir(t, home, 0o700)
	return u
}

// addGroup creates group name with members and deletes it when the test
// ends; it returns the group's id.
func addGroup(t *testing.T, name string, members ...*testUser) uint32 {
	t.Helper()
	if out, err := exec.Command("groupadd", name).CombinedOutput(); err != nil {
		t.Fatalf("groupadd %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() { exec.Command("groupdel", name).Run() })
	for _, u := range members {
		if out, err := exec.Command("usermod", "-aG", name, u.name).CombinedOutput(); err != nil {
			t.Fatalf("usermod -aG %s %s: %v: %s", name, u.name, err, out)
		}
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		t.Fatalf("look up the new group %s: %v", name, err)
	}
	gid, _ := strconv.ParseUint(g.Gid, 10, 32)
	return uint32(gid)
}

// mkdir makes dir owned by u with mode.
func (u *testUser) mkdir(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	u.own(t, dir, mode)
}

// write makes file owned by u with mode and content.
func (u *testUser) write(t *testing.T, file, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	u.own(t, file, mode)
}

func (u *testUser) own(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Lchown(path, int(u.uid), int(u.gid)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// runAs runs the shoal binary as u (root when nil) in u's home, with
// stdin and the environment a login shell of u would have (plus extra).
func (c *cluster) runAs(u *testUser, stdin string, extra []string, args ...string) result {
	c.t.Helper()
	var cred *syscall.Credential
	if u != nil {
		cred = u.cred()
	}
	cmd := c.command(cred, args...)
	if u != nil {
		cmd.Dir = u.home
		cmd.Env = append(cmd.Env, "USER="+u.name, "LOGNAME="+u.name, "HOME="+u.home)
	}
	cmd.Env = append(cmd.Env, extra...)
	cmd.Stdin = strings.NewReader(stdin)
	return c.run(cmd)
}

// sbatch runs `shoal slurm sbatch --parsable ARGS` as u with script on
// stdin; id is 0 when sbatch refused the job.
func (c *cluster) sbatch(u *testUser, script string, args ...string) (uint64, result) {
	c.t.Helper()
	r := c.runAs(u, script, nil, append([]string{"slurm", "sbatch", "--parsable"}, args...)...)
	if r.code != 0 {
		return 0, r
	}
	return mustID(c.t, r.stdout), r
}

// waitEnd waits (a blocking query) up to timeout for the job to end; ok
// is false when it has not.
func (c *cluster) waitEnd(id uint64, timeout time.Duration) (api.Job, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	j, err := c.client.WaitJob(ctx, id)
	if err != nil {
		j, _ = c.client.Job(context.Background(), id)
	}
	return j, err == nil && j.State.Terminal()
}

// wantRefused passes when a submission was refused with a message, or
// its job ended FAILED with a statusReason holding one of words (any
// reason when none are given); it fails when the job succeeded or never
// ended.
func (c *cluster) wantRefused(t *testing.T, what string, id uint64, r result, words ...string) api.Job {
	t.Helper()
	if id == 0 {
		if strings.TrimSpace(r.stderr) == "" {
			t.Errorf("%s: refused (exit %d) with nothing on stderr; want a reason", what, r.code)
		}
		t.Logf("%s: refused at submit: %s", what, strings.TrimSpace(r.stderr))
		return api.Job{}
	}
	j, ok := c.waitEnd(id, 30*time.Second)
	switch {
	case !ok:
		t.Errorf("%s: job %d still %s after 30s; want it refused or FAILED", what, id, j.State)
	case j.State == api.StateSucceeded:
		t.Errorf("%s: job %d SUCCEEDED; want it refused or FAILED with a reason naming %v", what, id, words)
	default:
		found := len(words) == 0 && j.StatusReason != ""
		for _, w := range words {
			found = found || strings.Contains(strings.ToLower(j.StatusReason), w)
		}
		if !found {
			t.Errorf("%s: job %d FAILED with reason %q; want a reason naming one of %v", what, id, j.StatusReason, words)
		}
	}
	return j
}

// wantOwner fails unless path is owned by uid with mode perm.
func wantOwner(t *testing.T, what, path string, uid uint32, perm os.FileMode) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Errorf("%s: stat %s: %v", what, path, err)
		return
	}
	if st.Uid != uid || os.FileMode(st.Mode)&os.ModePerm != perm {
		t.Errorf("%s: %s is now uid %d mode %#o; want uid %d mode %#o unchanged", what, path, st.Uid, st.Mode&0o7777, uid, perm)
	}
}

// noneOf fails when out holds any of the secrets, quoting where.
func noneOf(t *testing.T, what, out string, secrets ...string) {
	t.Helper()
	var shown []string
	for _, s := range secrets {
		if i := strings.Index(out, s); i >= 0 {
			from, to := max(i-80, 0), min(i+len(s)+40, len(out))
			shown = append(shown, fmt.Sprintf("%q in ...%s...", s, out[from:to]))
		}
	}
	if len(shown) > 0 {
		t.Errorf("%s shows what only the owner may see:\n%s", what, strings.Join(shown, "\n"))
	}
}

func TestIsolation(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the isolation test creates users and runs sandboxes: it needs root")
	}
	for _, tool := range []string{"useradd", "userdel"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is missing: the isolation test creates real users", tool)
		}
	}
	base := t.TempDir()
	os.Chmod(base, 0o755)
	os.Chmod(filepath.Dir(base), 0o755)
	pid := os.Getpid()
	alice := addUser(t, base, fmt.Sprintf("shoal-alice-%d", pid))
	bob := addUser(t, base, fmt.Sprintf("shoal-bob-%d", pid))
	project := addGroup(t, fmt.Sprintf("shoal-proj-%d", pid), alice)
	mark := strconv.FormatInt(time.Now().UnixNano(), 36)
	c := newCluster(t, "-bind", "127.0.0.1:0")

	// Bob's private tree: home 0700, in it a directory alice could name.
	bobShared := filepath.Join(bob.home, "private", "shared")
	bob.mkdir(t, filepath.Dir(bobShared), 0o700)
	bob.mkdir(t, bobShared, 0o755)
	bobSecret := "BOB-SECRET-" + mark
	bob.write(t, filepath.Join(bobShared, "secret.txt"), bobSecret+"\n", 0o644)

	// A world-writable sticky directory, as /tmp or a shared project area.
	shared := filepath.Join(base, "shared")
	if err := os.Mkdir(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(shared, 0o1777)

	t.Run("symlink-workdir", func(t *testing.T) {
		link := filepath.Join(alice.home, "link")
		if err := os.Symlink(bobShared, link); err != nil {
			t.Fatal(err)
		}
		os.Lchown(link, int(alice.uid), int(alice.gid))
		words := []string{"directory", "permission", "denied", "chdir"}

		r := c.runAs(alice, "", nil, "submit", "--chdir", link, "--", "cat", "secret.txt")
		var id uint64
		if r.code == 0 {
			id = mustID(t, r.stdout)
		}
		c.wantRefused(t, "submit --chdir LINK-INTO-BOB'S-0700-TREE", id, r, words...)
		noneOf(t, "submit --chdir's output", r.stdout+r.stderr, bobSecret)
		if id != 0 {
			l := c.runAs(alice, "", nil, "logs", api.FormatID(id))
			noneOf(t, "shoal logs of the --chdir job", l.stdout+l.stderr, bobSecret)
		}

		out := filepath.Join(alice.home, "chdir-sbatch.out")
		id, r = c.sbatch(alice, "", "-D", link, "-o", out, "--wrap", "cat secret.txt")
		c.wantRefused(t, "sbatch -D LINK-INTO-BOB'S-0700-TREE", id, r, words...)
		data, _ := os.ReadFile(out)
		noneOf(t, "sbatch -D's output file", string(data)+r.stdout+r.stderr, bobSecret)

		// Legitimate: alice's own 0700 directory.
		own := filepath.Join(alice.home, "private")
		alice.mkdir(t, own, 0o700)
		alice.write(t, filepath.Join(own, "mine.txt"), "ALICE-OK\n", 0o600)
		r = c.runAs(alice, "", nil, "submit", "--chdir", own, "--", "cat", "mine.txt")
		if r.code != 0 {
			t.Fatalf("submit --chdir into alice's own 0700 dir: exit %d: %s", r.code, r.stderr)
		}
		id = mustID(t, r.stdout)
		if j, _ := c.waitEnd(id, 30*time.Second); j.State != api.StateSucceeded {
			t.Errorf("alice's job in her own 0700 dir is %s %q; want SUCCEEDED", j.State, j.StatusReason)
		}
		if l := c.runAs(alice, "", nil, "logs", api.FormatID(id)); l.stdout != "ALICE-OK\n" {
			t.Errorf("shoal logs of alice's own job printed %q (stderr %q); want ALICE-OK", l.stdout, l.stderr)
		}
	})

	t.Run("supplementary-groups", func(t *testing.T) {
		// A file only alice's project group may read: her jobs run with
		// the groups the controller finds for her uid; bob's do not.
		dir := filepath.Join(base, "project")
		if err := os.Mkdir(dir, 0o750); err != nil {
			t.Fatal(err)
		}
		data := filepath.Join(dir, "data.txt")
		if err := os.WriteFile(data, []byte("PROJECT-OK\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{dir, data} {
			if err := os.Chown(p, 0, int(project)); err != nil {
				t.Fatal(err)
			}
		}
		for _, u := range []*testUser{alice, bob} {
			r := c.runAs(u, "", nil, "submit", "--", "sh", "-c", "id -G; cat "+data)
			if r.code != 0 {
				t.Fatalf("submit as %s: exit %d: %s", u.name, r.code, r.stderr)
			}
			id := mustID(t, r.stdout)
			j, _ := c.waitEnd(id, 30*time.Second)
			out := c.runAs(u, "", nil, "logs", api.FormatID(id)).stdout
			member := slices.Contains(strings.Fields(strings.SplitN(out, "\n", 2)[0]), strconv.Itoa(int(project)))
			switch {
			case u == alice && (j.State != api.StateSucceeded || !member || !strings.Contains(out, "PROJECT-OK")):
				t.Errorf("alice's job is %s %q and printed %q; want SUCCEEDED, her project group %d among its groups, and PROJECT-OK", j.State, j.StatusReason, out, project)
			case u == bob && (j.State == api.StateSucceeded || member || strings.Contains(out, "PROJECT-OK")):
				t.Errorf("bob's job is %s and printed %q; want it FAILED without the project group %d", j.State, out, project)
			}
		}
	})

	t.Run("output-takeover", func(t *testing.T) {
		bobFile := filepath.Join(shared, "bobfile")
		bob.write(t, bobFile, "bob's data\n", 0o666)
		id, r := c.sbatch(alice, "", "-o", bobFile, "--wrap", "echo from alice")
		if id != 0 {
			c.waitEnd(id, 30*time.Second)
		}
		wantOwner(t, "sbatch -o BOB'S-0666-FILE", bobFile, bob.uid, 0o666)

		// A character device (as /dev/zero), mode 0666, owned by root.
		devDir := filepath.Join(base, "dev")
		os.Mkdir(devDir, 0o755)
		dev := filepath.Join(devDir, "zero")
		if err := unix.Mknod(dev, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 5))); err != nil {
			t.Logf("mknod %s: %v: the device case is skipped", dev, err)
		} else {
			os.Chmod(dev, 0o666)
			id, r = c.sbatch(alice, "", "-o", dev, "--wrap", "echo from alice")
			c.wantRefused(t, "sbatch -o A-DEVICE-NODE", id, r, "regular", "device", "not a", "refuse")
			var st unix.Stat_t
			if err := unix.Stat(dev, &st); err != nil || st.Uid != 0 || st.Mode&0o7777 != 0o666 || st.Mode&unix.S_IFMT != unix.S_IFCHR {
				t.Errorf("sbatch -o A-DEVICE-NODE: the device is now uid %d mode %#o (%v); want root's 0666 char device unchanged", st.Uid, st.Mode&0o7777, err)
			}
		}

		// A symlink as the output, even to a file the job could write.
		victim := filepath.Join(shared, "bobfile2")
		bob.write(t, victim, "bob's other data\n", 0o666)
		link := filepath.Join(alice.home, "out-link")
		os.Symlink(victim, link)
		os.Lchown(link, int(alice.uid), int(alice.gid))
		id, r = c.sbatch(alice, "", "-o", link, "--wrap", "echo through the link")
		c.wantRefused(t, "sbatch -o A-SYMLINK", id, r, "symlink", "symbolic link", "link", "too many levels")
		wantOwner(t, "sbatch -o A-SYMLINK", victim, bob.uid, 0o666)
		if data, _ := os.ReadFile(victim); string(data) != "bob's other data\n" {
			t.Errorf("sbatch -o A-SYMLINK wrote %q through the link; want bob's file untouched", data)
		}

		// Legitimate: alice's own output file, new and existing.
		own := filepath.Join(alice.home, "own.out")
		id, r = c.sbatch(alice, "", "-o", own, "--wrap", "echo mine")
		if id == 0 {
			t.Fatalf("sbatch -o alice's own file: exit %d: %s", r.code, r.stderr)
		}
		if j, _ := c.waitEnd(id, 30*time.Second); j.State != api.StateSucceeded {
			t.Errorf("sbatch -o alice's own file: job %s %q; want SUCCEEDED", j.State, j.StatusReason)
		}
		if data, _ := os.ReadFile(own); string(data) != "mine\n" {
			t.Errorf("alice's own output holds %q; want mine", data)
		}
		var st unix.Stat_t
		if err := unix.Stat(own, &st); err != nil || st.Uid != alice.uid {
			t.Errorf("alice's own output is owned by uid %d (%v); want alice %d", st.Uid, err, alice.uid)
		}
	})

	// Bob's job: held (it waits, using nothing), with a secret in its
	// environment, a marker in its script, a working directory and an
	// output path that name him.
	bobWork := filepath.Join(bob.home, "work-"+mark)
	bob.mkdir(t, bobWork, 0o700)
	bobToken := "tok-" + mark
	bobScript := "#!/bin/sh\n# BOB-SCRIPT-" + mark + "\nsleep 1\n"
	bobID, r := c.sbatch(bob, bobScript, "--hold", "-J", "bobjob", "-D", bobWork, "-o", filepath.Join(bobWork, "out"),
		"--export=ALL,BOB_TOKEN="+bobToken)
	if bobID == 0 {
		t.Fatalf("bob's sbatch: exit %d: %s", r.code, r.stderr)
	}
	bobSecrets := []string{bobToken, "BOB-SCRIPT-" + mark, bobWork}
	bobIDText := api.FormatID(bobID)

	t.Run("others-jobs-private", func(t *testing.T) {
		r := c.runAs(alice, "", nil, "describe", bobIDText)
		noneOf(t, "shoal describe BOB'S-JOB as alice", r.stdout+r.stderr, bobSecrets...)
		r = c.runAs(alice, "", nil, "queue", "--output", "json")
		noneOf(t, "shoal queue --output json as alice", r.stdout+r.stderr, bobSecrets...)
		if !strings.Contains(r.stdout, "bobjob") && r.code == 0 {
			t.Errorf("shoal queue as alice does not list bob's job at all (%q); want its public fields", r.stdout)
		}
		r = c.runAs(alice, "", nil, "slurm", "squeue", "-o", "%i %j %u %T %Z %o")
		noneOf(t, "squeue -o '%Z %o' as alice", r.stdout+r.stderr, bobSecrets...)
		r = c.runAs(alice, "", nil, "slurm", "squeue", "--json")
		noneOf(t, "squeue --json as alice", r.stdout+r.stderr, bobSecrets...)
		r = c.runAs(alice, "", nil, "slurm", "scontrol", "show", "job", bobIDText)
		noneOf(t, "scontrol show job BOB'S-JOB as alice", r.stdout+r.stderr, bobSecrets...)
		if r.code == 0 && !strings.Contains(r.stdout, "JobName=bobjob") {
			t.Errorf("scontrol show job as alice: %q; want bob's public fields (JobName=bobjob)", r.stdout)
		}
		if curl, err := exec.LookPath("curl"); err != nil {
			t.Log("curl is missing: the raw HTTP case is skipped")
		} else {
			for _, path := range []string{api.PathListJobs, api.PathWait} {
				body := `{"full":true}`
				if path == api.PathWait {
					body = fmt.Sprintf(`{"jobId":%d,"waitMillis":1}`, bobID)
				}
				cmd := exec.Command(curl, "-sS", "-m", "10", "--unix-socket", c.socket, "-X", "POST",
					"-H", "Content-Type: application/json", "-d", body, "http://localhost"+path)
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: alice.cred()}
				cmd.Dir = alice.home
				out, _ := cmd.CombinedOutput()
				noneOf(t, "POST "+path+" as alice over the socket", string(out), bobSecrets...)
			}
		}

		// Legitimate: bob sees his own job whole.
		r = c.runAs(bob, "", nil, "describe", bobIDText)
		if r.code != 0 || !strings.Contains(r.stdout, bobToken) || !strings.Contains(r.stdout, "BOB-SCRIPT-"+mark) {
			t.Errorf("shoal describe as bob of his own job: exit %d %q; want his environment and script", r.code, tail(r.stdout, 2000))
		}
	})

	t.Run("unauthenticated-tcp", func(t *testing.T) {
		if c.tcpAddr == "" {
			t.Fatal("the agent started with -bind printed no TCP address")
		}
		for _, tc := range []struct{ path, body string }{
			{api.PathListJobs, `{"full":true}`},
			{api.PathWait, fmt.Sprintf(`{"jobId":%d,"waitMillis":1}`, bobID)},
			{"/v1/describejobs", fmt.Sprintf(`{"jobs":["%d"]}`, bobID)},
			{"/v1/listjobs", `{"jobQueue":"default","jobStatus":"RUNNABLE"}`},
		} {
			code, body, err := postTCP(c.tcpAddr, tc.path, tc.body)
			if err != nil {
				t.Errorf("POST %s over TCP: %v", tc.path, err)
				continue
			}
			if code != http.StatusUnauthorized && code != http.StatusForbidden {
				t.Errorf("POST %s over TCP with no credentials: %d; want 401 or 403 (body %.300s)", tc.path, code, body)
			}
			noneOf(t, "POST "+tc.path+" over TCP with no credentials", body, bobSecrets...)
		}
	})

	t.Run("bounds", func(t *testing.T) {
		// 100 MB of JSON whitespace before "{}": any body limit stops it.
		const size = 100 << 20
		hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", c.socket)
			}}}
		body := io.MultiReader(io.LimitReader(spaces{}, size), strings.NewReader("{}"))
		start := time.Now()
		resp, err := hc.Post("http://shoal"+api.PathListJobs, "application/json", body)
		took := time.Since(start)
		switch {
		case err != nil && !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET):
			t.Errorf("POST a 100 MB body to %s: %v", api.PathListJobs, err)
		case err != nil:
			t.Errorf("POST a 100 MB body: the connection was cut (%v) with no answer; want 413 with a message", err)
		default:
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("POST a 100 MB body to %s: %d after %v; want 413 (body %.300s)", api.PathListJobs, resp.StatusCode, took, msg)
			} else if took > 10*time.Second {
				t.Errorf("POST a 100 MB body: 413 only after %v; want it refused before the body is read", took)
			}
		}

		// Names with a control character or NUL are refused at submit.
		r := c.runAs(alice, "", nil, "submit", "--name", "x\nFAKE bob RUNNING", "--", "true")
		if r.code == 0 {
			id := mustID(t, r.stdout)
			c.waitEnd(id, 30*time.Second)
			t.Errorf("submit --name with a newline: accepted as job %d; want it refused", id)
		} else if !strings.Contains(strings.ToLower(r.stderr), "name") {
			t.Errorf("submit --name with a newline: refused with %q; want a reason naming the name", r.stderr)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if resp, err := c.client.Submit(ctx, api.SubmitJobRequest{JobSpec: api.JobSpec{Name: "x\x00y", Command: []string{"true"}}}); err == nil {
			c.waitEnd(resp.ID, 30*time.Second)
			t.Errorf("submit a name with NUL: accepted as job %d; want it refused", resp.ID)
		}

		// A 5 MB batch script (Slurm's limit is 4 MB).
		big := "#!/bin/sh\n" + strings.Repeat("# padding to five megabytes, line after line\n", (5<<20)/46+1) + "true\n"
		id, r := c.sbatch(alice, big, "-o", "/dev/null")
		if id != 0 {
			c.waitEnd(id, 30*time.Second)
			t.Errorf("sbatch of a %d-byte script: accepted as job %d; want it refused", len(big), id)
		} else if !strings.Contains(strings.ToLower(r.stderr), "script") && !strings.Contains(strings.ToLower(r.stderr), "large") {
			t.Errorf("sbatch of a 5 MB script: refused with %q; want a reason naming the script's size", r.stderr)
		}
	})

	t.Run("logs-as-owner", func(t *testing.T) {
		// A root-only stand-in for /etc/shadow: a branch without the
		// defence would open (and chown) the real one.
		rootDir := filepath.Join(base, "rootonly")
		if err := os.Mkdir(rootDir, 0o700); err != nil {
			t.Fatal(err)
		}
		shadow := filepath.Join(rootDir, "shadow")
		content := "root:SHADOW-" + mark + ":19000:0:99999:7:::\n"
		if err := os.WriteFile(shadow, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		id, r := c.sbatch(alice, "", "-o", shadow, "--open-mode=append", "--wrap", "true")
		if id != 0 {
			c.waitEnd(id, 30*time.Second)
			l := c.runAs(alice, "", nil, "logs", api.FormatID(id))
			noneOf(t, "shoal logs as alice of her job with -o ROOT-ONLY-FILE", l.stdout+l.stderr, "SHADOW-"+mark)
		} else {
			t.Logf("sbatch -o ROOT-ONLY-FILE refused at submit: %s", strings.TrimSpace(r.stderr))
		}
		wantOwner(t, "sbatch -o ROOT-ONLY-FILE", shadow, 0, 0o600)
	})

	t.Run("jobdef-hijack", func(t *testing.T) {
		// NAME means the newest revision: a revision alice adds to bob's
		// definition would choose what bob's next submit runs, as bob.
		name := "etl-" + bob.name
		if r := c.shoalAs(bob.cred(), "jobdef", "register", "--name", name, "--type", "script"); r.code != 0 {
			t.Fatalf("bob registers %s: %s", name, r.stderr)
		}
		r := c.shoalAs(alice.cred(), "jobdef", "register", "--name", name, "--type", "script")
		if r.code == 0 || !strings.Contains(r.stderr, "belongs to "+bob.name) {
			t.Errorf("alice registers a revision of bob's %s: exit %d, %q; want refused, naming its owner", name, r.code, r.stderr)
		}
		if r := c.shoalAs(bob.cred(), "jobdef", "register", "--name", name, "--type", "script"); r.code != 0 {
			t.Errorf("bob registers revision 2 of his own %s: %s", name, r.stderr)
		}
	})

	t.Run("hostile-name", func(t *testing.T) {
		for _, name := range []string{"x\nFAKE bob RUNNING", "\x1b]0;owned\x07\x1b[2J"} {
			id, r := c.sbatch(alice, "", "--hold", "-J", name, "-o", "/dev/null", "--wrap", "true")
			if id == 0 {
				t.Logf("sbatch -J %q refused at submit: %s", name, strings.TrimSpace(r.stderr))
				continue
			}
			for _, args := range [][]string{
				{"slurm", "squeue"},
				{"slurm", "squeue", "-o", "%i %j %u %T"},
				{"slurm", "sacct", "-a", "-X", "-P", "--format", "JobID,JobName,User,State"},
				{"slurm", "scontrol", "show", "job", api.FormatID(id)},
				{"queue"},
			} {
				r := c.runAs(bob, "", nil, args...)
				out := r.stdout + r.stderr
				if strings.Contains(out, "\x1b") {
					t.Errorf("%v as bob printed an escape sequence from a job name: %q", args, out)
				}
				for _, line := range strings.Split(out, "\n") {
					if strings.HasPrefix(strings.TrimLeft(line, " "), "FAKE") {
						t.Errorf("%v as bob: a job name forged the line %q:\n%s", args, line, out)
					}
				}
			}
			c.shoal("cancel", api.FormatID(id))
		}
	})

	t.Run("fifo-output", func(t *testing.T) {
		fifo := filepath.Join(alice.home, "fifo")
		if err := unix.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		alice.own(t, fifo, 0o600)
		id, r := c.sbatch(alice, "", "-o", fifo, "--wrap", "echo into the fifo")
		if id == 0 {
			c.wantRefused(t, "sbatch -o A-FIFO", id, r)
			return
		}
		j, ok := c.waitEnd(id, 10*time.Second)
		if !ok {
			t.Errorf("sbatch -o A-FIFO: job %d still %s after 10s; want it FAILED with a reason", id, j.State)
			if r := c.runAs(alice, "", nil, "terminate", api.FormatID(id)); r.code != 0 {
				t.Errorf("shoal terminate of the FIFO job: exit %d: %s", r.code, r.stderr)
			}
			if j, ok = c.waitEnd(id, 10*time.Second); !ok {
				t.Errorf("shoal terminate did not end job %d (still %s after 10s); want terminate to end a STARTING job", id, j.State)
				// Unwedge the node for the rest of the test: a reader lets
				// the blocked open return.
				if f, err := os.OpenFile(fifo, os.O_RDONLY|unix.O_NONBLOCK, 0); err == nil {
					defer f.Close()
					c.waitEnd(id, 15*time.Second)
				}
			}
			return
		}
		if j.State == api.StateSucceeded || j.StatusReason == "" {
			t.Errorf("sbatch -o A-FIFO: job ended %s %q; want FAILED with a reason", j.State, j.StatusReason)
		}
	})

	t.Run("data-dir-private", func(t *testing.T) {
		var open []string
		filepath.WalkDir(c.dataDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink != 0 {
				return nil
			}
			// Only the node's spool dirs (and the dirs above them) may be
			// passed through by others, to reach a job's own default log or
			// script by name; nothing may be read or listed by them.
			allowed := fs.FileMode(0)
			if rel, _ := filepath.Rel(c.dataDir, path); d.IsDir() && (rel == "." || rel == "node" || rel == "node/logs" || rel == "node/scripts") {
				allowed = 0o011
			}
			if fi, err := d.Info(); err == nil && fi.Mode().Perm()&0o077&^allowed != 0 {
				rel, _ := filepath.Rel(c.dataDir, path)
				open = append(open, fmt.Sprintf("%s (%#o)", rel, fi.Mode().Perm()))
			}
			return nil
		})
		if len(open) > 0 {
			if len(open) > 20 {
				open = append(open[:20], fmt.Sprintf("and %d more", len(open)-20))
			}
			t.Errorf("under the data dir, %d entries have group or other permission bits; want 0600/0700 (0711 for the node's spool dirs):\n%s",
				len(open), strings.Join(open, "\n"))
		}
	})

	c.shoal("cancel", bobIDText)
	c.stop()
	if left := c.leftovers(); len(left) > 0 {
		t.Errorf("the agent left behind: %v", left)
	}
}

// spaces is an endless reader of JSON whitespace.
type spaces struct{}

func (spaces) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// postTCP posts body to the controller's TCP API with no credentials:
// over TLS when the port serves it (its certificate is not checked: the
// question is what an anonymous caller gets), else plain HTTP.
func postTCP(addr, path, body string) (int, string, error) {
	try := func(scheme string, tr *http.Transport) (int, string, error) {
		hc := &http.Client{Timeout: 10 * time.Second, Transport: tr}
		resp, err := hc.Post(scheme+"://"+addr+path, "application/json", strings.NewReader(body))
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, string(data), nil
	}
	code, data, err := try("https", &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}})
	if err == nil {
		return code, data, nil
	}
	code, data, herr := try("http", &http.Transport{})
	if herr != nil {
		return 0, "", fmt.Errorf("https: %v; http: %v", err, herr)
	}
	return code, data, nil
}
