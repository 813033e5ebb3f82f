package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// shoal dev-cluster starts three controllers and a node daemon as
// processes; a job submitted through all three runs; Ctrl-C stops every
// process and leaves no sandbox behind.
func TestDevCluster(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("end-to-end tests run jobs in sandboxes and need root")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	// Controller i serves on base+i and raft on base+100+i.
	base := loopbackPortBase(t, 1, 2, 3, 101, 102, 103)
	cmd := exec.Command(os.Args[0], "dev-cluster", "-controllers", "3", "-nodes", "1", "-node-cpus", "2",
		"-dir", filepath.Join(dir, "cluster"), "-port-base", strconv.Itoa(base))
	cmd.Env = append(os.Environ(), "SHOAL_TEST_MAIN=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGINT)
			cmd.Wait()
		}
	})
	addrs := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if _, a, ok := strings.Cut(sc.Text(), "export SHOAL_ADDR="); ok {
				addrs <- strings.TrimSpace(a)
			}
		}
		close(addrs) // dev-cluster has exited
	}()
	var addr string
	select {
	case addr = <-addrs:
	case <-time.After(90 * time.Second):
	}
	if addr == "" {
		logs, _ := filepath.Glob(filepath.Join(dir, "cluster", "*.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			t.Logf("%s:\n%s", l, b)
		}
		t.Fatal("dev-cluster did not start within 90 s")
	}
	c := &cluster{t: t, socket: addr, dataDir: filepath.Join(dir, "cluster", "x")}
	r := c.shoal("operator", "raft", "list-peers")
	if strings.Count(r.stdout, "Voter") != 3 || strings.Count(r.stdout, "leader") != 1 {
		t.Fatalf("list-peers: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	id := c.submit("--", "true")
	if r := c.shoal("wait", api.FormatID(id)); r.code != 0 || !strings.Contains(r.stdout, "SUCCEEDED") {
		t.Fatalf("wait %d: exit %d %s %s", id, r.code, r.stdout, r.stderr)
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("dev-cluster after Ctrl-C: %v", err)
	}
	if _, err := os.Stat(devSandboxRoot); !os.IsNotExist(err) {
		t.Fatalf("%s left behind (%v)", devSandboxRoot, err)
	}
}
