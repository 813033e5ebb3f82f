package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
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
	base := strings.TrimPrefix(loopbackPort(t), "127.0.0.1:") // a free port; the cluster takes the few above it
	cmd := exec.Command(os.Args[0], "dev-cluster", "-controllers", "3", "-nodes", "1", "-node-cpus", "2",
		"-dir", filepath.Join(dir, "cluster"), "-port-base", base)
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
	}()
	var addr string
	select {
	case addr = <-addrs:
	case <-time.After(60 * time.Second):
		t.Fatal("dev-cluster did not start within 60 s")
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
