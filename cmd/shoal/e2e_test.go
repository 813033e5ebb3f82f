package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/node/sandbox"
)

// The test binary doubles as the shoal binary: as libcontainer's init when
// a sandbox re-executes it, and as the CLI or agent when a test runs it
// with SHOAL_TEST_MAIN=1. So the end-to-end tests run the real program.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		sandbox.Init()
	}
	if os.Getenv("SHOAL_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(runTests(m))
}

// shoalBin is a copy of the test binary that every user may execute (go
// test's build dir is private to root), used to run the CLI as others.
var shoalBin string

func runTests(m *testing.M) int {
	// Jobs get a private /tmp, so what they must see (their directories,
	// the controller's socket, the command links) lives outside /tmp, as
	// on a real cluster: t.TempDir() and the copy below go under /var/tmp.
	base, err := os.MkdirTemp("/var/tmp", "shoal-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(base)
	os.Chmod(base, 0o755)
	os.Setenv("TMPDIR", base)
	dir, err := os.MkdirTemp("", "shoal-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	shoalBin = filepath.Join(dir, "shoal")
	if err := copyFile(os.Args[0], shoalBin, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Jobs' supervisors start from shoal-sandbox next to the agent's
	// binary, linked statically as after `make build` (node/sandbox tests
	// cover the agent without it). No VCS stamp: the test binary has none.
	build := []string{"build", "-buildvcs=false", "-tags=urfave_cli_no_docs,netgo,osusergo",
		"-ldflags=-linkmode=external -extldflags=-static", "-o", filepath.Join(dir, sandbox.SupervisorName), "../shoal-sandbox"}
	if out, err := exec.Command("go", build...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build %s: %v\n%s", sandbox.SupervisorName, err, out)
		return 1
	}
	// Agents' default -scratch-dir parent: removed if the tests emptied it.
	defer os.Remove("/var/tmp/shoal-scratch")
	return m.Run()
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// cluster is a dev agent (controller + node in one process) started from
// the real binary, with its own data dir, socket, sandbox root and cgroup.
type cluster struct {
	t        *testing.T
	dataDir  string
	socket   string
	sbRoot   string
	cgParent string
	extra    []string // more agent flags
	tcpAddr  string   // the API's TCP address, when -bind was given
	cmd      *exec.Cmd
	client   *client.Client
}

// newCluster starts a dev agent; extra are more `shoal agent` flags
// (e.g. "-bind", "127.0.0.1:0" for the TCP API).
func newCluster(t *testing.T, extra ...string) *cluster {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("end-to-end tests run jobs in sandboxes and need root")
	}
	dir := t.TempDir()
	// Other users reach the socket under it.
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	c := &cluster{
		t: t, dataDir: filepath.Join(dir, "data"), socket: filepath.Join(dir, "shoal.sock"),
		sbRoot:   fmt.Sprintf("/run/shoal-e2e-%d-%s", os.Getpid(), t.Name()),
		cgParent: fmt.Sprintf("shoal-e2e-%d-%s", os.Getpid(), t.Name()),
		extra:    extra,
	}
	c.client = client.New(c.socket, "")
	t.Cleanup(c.cleanup)
	c.start()
	return c
}

// start runs `shoal agent -dev` and returns once its node daemon runs
// (read from its log, no polling).
func (c *cluster) start() {
	c.t.Helper()
	args := append([]string{"agent", "-dev", "-data-dir", c.dataDir, "-socket", c.socket,
		"-sandbox-root", c.sbRoot, "-cgroup-parent", c.cgParent, "-grace", "300ms", "-name", "node1"}, c.extra...)
	c.cmd, c.tcpAddr = startAgent(c.t, args, "node daemon running")
}

// agentWarningsKept is how many of an agent's last warnings and errors a
// failed test shows.
const agentWarningsKept = 40

// startAgent runs `shoal AGENT-ARGS` and returns once its log shows ready,
// with the TCP address its controller serves, if any.
func startAgent(t *testing.T, args []string, ready string) (*exec.Cmd, string) {
	t.Helper()
	// SHOAL_E2E_KEEP=DIR keeps each agent's whole log, at debug level, in
	// DIR (and runClient the real clients' output): a flaky test run in
	// a loop leaves what its failure needs studied.
	if os.Getenv("SHOAL_E2E_KEEP") != "" && len(args) > 0 && args[0] == "agent" {
		args = append(slices.Clone(args), "-log-level", "debug")
	}
	cmd := exec.Command(shoalBin, args...)
	cmd.Env = append(os.Environ(), "SHOAL_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start agent: %v", err)
	}
	type result struct {
		tcpAddr string
		err     error
	}
	// A test that fails shows what went wrong in the agent: its last
	// warnings and errors (CI keeps nothing else of a run).
	var (
		logMu    sync.Mutex
		warnings []string
	)
	t.Cleanup(func() {
		logMu.Lock()
		defer logMu.Unlock()
		if t.Failed() && len(warnings) > 0 {
			t.Logf("the last warnings and errors of agent %s:\n%s", strings.Join(args, " "), strings.Join(warnings, "\n"))
		}
	})
	done := make(chan result, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var keep io.Writer = io.Discard
		if dir := os.Getenv("SHOAL_E2E_KEEP"); dir != "" {
			if f, err := os.CreateTemp(dir, "agent-*.log"); err == nil {
				defer f.Close()
				keep = f
			}
		}
		var log strings.Builder
		var tcpAddr string
		signalled := false
		for sc.Scan() {
			fmt.Fprintln(keep, sc.Text())
			if line := sc.Text(); strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
				logMu.Lock()
				warnings = append(warnings[max(0, len(warnings)-(agentWarningsKept-1)):], line)
				logMu.Unlock()
			}
			if !signalled {
				log.WriteString(sc.Text() + "\n")
			}
			if _, addrs, ok := strings.Cut(sc.Text(), " addrs="); ok {
				if f := strings.Fields(strings.Trim(addrs, `"`)); len(f) > 1 {
					tcpAddr = f[1]
				}
			}
			if !signalled && strings.Contains(sc.Text(), ready) {
				done <- result{tcpAddr: tcpAddr}
				signalled = true
			}
		}
		if !signalled {
			done <- result{err: fmt.Errorf("agent %v exited before it was ready:\n%s", args, log.String())}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case r := <-done:
		if r.err != nil {
			cmd.Wait()
			t.Fatal(r.err)
		}
		return cmd, r.tcpAddr
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("agent %v not ready after 30s", args)
	}
	return nil, ""
}

// stop ends the agent with SIGTERM, as an admin would, and waits for it.
func (c *cluster) stop() {
	c.t.Helper()
	if c.cmd == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			c.t.Errorf("agent exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		<-done
		c.t.Errorf("agent did not stop within 30s of SIGTERM")
	}
	c.cmd = nil
}

func (c *cluster) cleanup() {
	if c.cmd != nil {
		c.cmd.Process.Kill()
		c.cmd.Wait()
	}
	// Jobs outlive their node daemon: kill what a test left running, as
	// a fresh node daemon's Cleanup would.
	r := &sandbox.Runner{Root: c.sbRoot, CgroupParent: c.cgParent, TmpRoot: filepath.Join("/var/tmp/shoal-scratch", c.cgParent)}
	if err := r.Remove(); err != nil {
		c.t.Errorf("remove the sandboxes the test left: %v", err)
	}
	for _, h := range cgroupHierarchies() {
		os.Remove(filepath.Join(h, c.cgParent))
	}
	os.RemoveAll(c.sbRoot)
	os.Remove(filepath.Join("/var/tmp/shoal-scratch", c.cgParent)) // the agent's default -scratch-dir, empty by now
}

// cgroupHierarchies lists the mounted cgroup hierarchies (v1 controllers,
// the named systemd one and, in hybrid mode, the unified one).
func cgroupHierarchies() []string {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*")
	var out []string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "cgroup.procs")); err == nil {
			out = append(out, d)
		}
	}
	return out
}

// leftovers lists what the cluster's jobs left in the cgroup tree and the
// sandbox root; once the agent has stopped, also the cgroup parent and the
// sandbox root themselves.
func (c *cluster) leftovers() []string {
	var left []string
	stopped := c.cmd == nil
	for _, h := range cgroupHierarchies() {
		parent := filepath.Join(h, c.cgParent)
		entries, err := os.ReadDir(parent)
		if err == nil && stopped {
			left = append(left, parent)
		}
		for _, e := range entries {
			if e.IsDir() {
				left = append(left, filepath.Join(parent, e.Name()))
			}
		}
	}
	entries, err := os.ReadDir(c.sbRoot)
	if err == nil && stopped {
		left = append(left, c.sbRoot)
	}
	for _, e := range entries {
		switch e.Name() {
		case ".rootfs": // the runner's shared rootfs skeleton, removed at stop
		case ".shim": // the jobs' supervisors: each one's directory is a leftover
			shims, _ := os.ReadDir(filepath.Join(c.sbRoot, e.Name()))
			for _, s := range shims {
				left = append(left, filepath.Join(c.sbRoot, e.Name(), s.Name()))
			}
		default:
			left = append(left, filepath.Join(c.sbRoot, e.Name()))
		}
	}
	return left
}

// result is one CLI run.
type result struct {
	stdout, stderr string
	code           int
}

// shoal runs the CLI as root.
func (c *cluster) shoal(args ...string) result { return c.shoalAs(nil, args...) }

// shoalAs runs the CLI as the given user (nil: as this process).
func (c *cluster) shoalAs(cred *syscall.Credential, args ...string) result {
	c.t.Helper()
	return c.run(c.command(cred, args...))
}

// command is the CLI run as cred (nil: as this process), against this
// cluster's socket.
func (c *cluster) command(cred *syscall.Credential, args ...string) *exec.Cmd {
	cmd := exec.Command(shoalBin, args...)
	cmd.Env = append(os.Environ(), "SHOAL_TEST_MAIN=1", "SHOAL_ADDR="+c.socket)
	cmd.Dir = filepath.Dir(c.dataDir)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		cmd.Dir = "/"
	}
	return cmd
}

// run runs cmd and returns what it printed and its exit code.
func (c *cluster) run(cmd *exec.Cmd) result {
	c.t.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("run shoal %v: %v", cmd.Args[1:], err)
	}
	return result{out.String(), errOut.String(), code}
}

// submit runs `shoal submit` and returns the new job's id.
func (c *cluster) submit(args ...string) uint64 {
	c.t.Helper()
	r := c.shoal(append([]string{"submit"}, args...)...)
	if r.code != 0 {
		c.t.Fatalf("shoal submit %v: exit %d: %s", args, r.code, r.stderr)
	}
	return mustID(c.t, r.stdout)
}

// wait blocks (a blocking query, no polling) until the job reaches one of
// states, or any terminal state when none is given.
func (c *cluster) wait(id uint64, states ...api.JobState) api.Job {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	j, err := c.client.WaitJob(ctx, id, states...)
	if err != nil {
		c.t.Fatalf("wait for job %d to reach %v: %v (last seen %s %q)", id, states, err, j.State, j.StatusReason)
	}
	return j
}

// describe runs `shoal describe` and decodes its JSON.
func (c *cluster) describe(id uint64) api.Job {
	c.t.Helper()
	r := c.shoal("describe", api.FormatID(id))
	if r.code != 0 {
		c.t.Fatalf("shoal describe %d: exit %d: %s", id, r.code, r.stderr)
	}
	var j api.Job
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil {
		c.t.Fatalf("shoal describe %d printed %q: %v", id, r.stdout, err)
	}
	return j
}

func wantState(t *testing.T, j api.Job, state api.JobState, reason string) {
	t.Helper()
	if j.State != state || (reason != "" && j.StatusReason != reason) {
		t.Fatalf("job %d (%s) is %s %q, want %s %q", j.ID, j.Name, j.State, j.StatusReason, state, reason)
	}
}

func wantExit(t *testing.T, j api.Job, code int) {
	t.Helper()
	if j.ExitCode == nil || *j.ExitCode != code {
		got := "none"
		if j.ExitCode != nil {
			got = strconv.Itoa(*j.ExitCode)
		}
		t.Fatalf("job %d (%s) exit code %s, want %d", j.ID, j.Name, got, code)
	}
}
