package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// slurmTryAs runs the Slurm command name as cred (nil: root) with extra
// environment, and returns its output and exit status.
func (c *cluster) slurmTryAs(t *testing.T, cred *syscall.Credential, env []string, name string, args ...string) (string, int) {
	t.Helper()
	link := filepath.Join(filepath.Dir(c.dataDir), "bin", name)
	if _, err := os.Lstat(link); err != nil {
		os.MkdirAll(filepath.Dir(link), 0o755)
		if err := os.Symlink(shoalBin, link); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, link, args...)
	cmd.Env = append(append(os.Environ(), "SHOAL_TEST_MAIN=1", "SHOAL_ADDR="+c.socket, "USER=root"), env...)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return out.String(), code
}

// TestSlurm4_14_PartitionsForOperators pins what Slurm's test 4.14 (and
// 17.19's setup) does with partitions: root creates two over a node with
// scontrol create, sinfo -p and SINFO_PARTITION list them, SINFO_ALL with
// SINFO_PARTITION and -a with -p are refused as conflicting, and scontrol
// delete removes them. Beyond the test: a job runs in a created
// partition, a partition with an unfinished job is not deleted, another
// user may not create one, and update State= disables it.
func TestSlurm4_14_PartitionsForOperators(t *testing.T) {
	c := newCluster(t)
	for _, p := range []string{"p1", "p2"} {
		if out, rc := c.slurmTryAs(t, nil, nil, "scontrol", "create", "partition="+p, "nodes=node1"); rc != 0 {
			t.Fatalf("scontrol create partition=%s: rc %d: %s", p, rc, out)
		}
	}
	list := func(env []string, args ...string) string {
		out, rc := c.slurmTryAs(t, nil, env, "sinfo", append([]string{"-h", "-o%P"}, args...)...)
		if rc != 0 {
			t.Fatalf("sinfo %v %v: rc %d: %s", env, args, rc, out)
		}
		return strings.Join(strings.Fields(out), " ")
	}
	if got := list(nil, "-pp1,p2"); got != "p1 p2" {
		t.Errorf("sinfo -pp1,p2: %q, want p1 p2", got)
	}
	if got := list([]string{"SINFO_PARTITION=p1,p2"}); got != "p1 p2" {
		t.Errorf("SINFO_PARTITION=p1,p2 sinfo: %q, want p1 p2", got)
	}
	if got := list([]string{"SINFO_PARTITION=p1,p2"}, "-pp2"); got != "p2" {
		t.Errorf("SINFO_PARTITION=p1,p2 sinfo -pp2: %q, want p2 (the option wins)", got)
	}
	if got := list([]string{"SINFO_PARTITION=p1,p2"}, "-a"); !strings.Contains(got, "p1") || !strings.Contains(got, "default") {
		t.Errorf("SINFO_PARTITION=p1,p2 sinfo -a: %q, want every partition", got)
	}
	for _, tc := range []struct {
		env  []string
		args []string
	}{{[]string{"SINFO_PARTITION=p1", "SINFO_ALL=1"}, nil}, {nil, []string{"-pp1", "-a"}}} {
		if out, rc := c.slurmTryAs(t, nil, tc.env, "sinfo", tc.args...); rc != 1 || !strings.Contains(out, "Conflicting options") {
			t.Errorf("sinfo %v %v: rc %d %q, want rc 1 and Conflicting options", tc.env, tc.args, rc, out)
		}
	}

	id := mustID(t, c.slurmCmd(t, "sbatch", "--parsable", "-p", "p1", "-o", "/dev/null", "--wrap", "sleep 30"))
	if j := c.wait(id, api.StateRunning); j.Queue != "p1" {
		t.Fatalf("job %d ran in %q, want p1", id, j.Queue)
	}
	if out, rc := c.slurmTryAs(t, nil, nil, "scontrol", "delete", "PartitionName=p1"); rc != 1 || !strings.Contains(out, "has not finished") {
		t.Errorf("delete of a partition with a running job: rc %d %q, want refused", rc, out)
	}
	c.slurmCmd(t, "scancel", api.FormatID(id))
	c.wait(id, api.StateFailed)
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	if out, rc := c.slurmTryAs(t, nobody, nil, "scontrol", "create", "PartitionName=p3", "Nodes=node1"); rc != 1 || !strings.Contains(out, "root") {
		t.Errorf("a user's create partition: rc %d %q, want refused", rc, out)
	}
	if out, rc := c.slurmTryAs(t, nil, nil, "scontrol", "update", "PartitionName=p2", "State=DOWN", "MaxTime=-1"); rc != 0 {
		t.Fatalf("update PartitionName=p2 State=DOWN: rc %d %s", rc, out)
	}
	if got := list(nil, "-pp2", "-o%a"); got != "drain" {
		t.Errorf("p2 after State=DOWN: %q, want drain (a disabled queue)", got)
	}
	for _, p := range []string{"p1", "p2"} {
		if out, rc := c.slurmTryAs(t, nil, nil, "scontrol", "delete", "partition="+p); rc != 0 {
			t.Fatalf("scontrol delete partition=%s: rc %d: %s", p, rc, out)
		}
	}
	if got := list(nil); got != "default*" {
		t.Errorf("partitions after the deletes: %q, want default* alone", got)
	}
	if out, rc := c.slurmTryAs(t, nil, nil, "scontrol", "update", "PartitionName=p1", "State=UP"); rc != 1 || !strings.Contains(out, "Invalid partition name specified") {
		t.Errorf("update of a deleted partition: rc %d %q, want Invalid partition name specified", rc, out)
	}
	// Slurm's names have dots (test4.14_partition_1); AWS Batch's do not.
	dotted := "test4.14_partition_1"
	if out, rc := c.slurmTryAs(t, nil, nil, "scontrol", "create", "PartitionName="+dotted, "Nodes=ALL"); rc != 0 {
		t.Fatalf("create of %s: rc %d: %s", dotted, rc, out)
	}
	if got := list(nil, "-p"+dotted); got != dotted {
		t.Errorf("sinfo -p%s: %q", dotted, got)
	}
	if out, rc := c.slurmTryAs(t, nil, nil, "scontrol", "delete", "PartitionName", dotted); rc != 0 {
		t.Fatalf("delete of %s: rc %d: %s", dotted, rc, out)
	}
}
