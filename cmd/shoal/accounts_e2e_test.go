package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// TestAccountsFairShareE2E runs a dev agent with fair share weighted:
// root adds an account and user nobody to it with sacctmgr; nobody may
// not change the registry (Slurm's words); a job of an account its user
// is not in is refused; a job that ran is charged to its association,
// which sshare shows, also after the agent restarts, ranked by fair
// tree (the default); sprio shows a
// waiting job's factors.
func TestAccountsFairShareE2E(t *testing.T) {
	c := newCluster(t, "-priority-weight-fairshare", "10000", "-priority-weight-age", "100")
	c.slurmCmd(t, "sacctmgr", "-i", "add", "account", "physics")
	c.slurmCmd(t, "sacctmgr", "-i", "add", "user", "nobody", "account=physics")
	if out := c.slurmCmd(t, "sacctmgr", "-n", "-P", "show", "assoc", "format=account,user"); out != "root|\nroot|root\nphysics|\nphysics|nobody\n" {
		t.Errorf("sacctmgr show assoc:\n%s", out)
	}

	// nobody: reads, but no writes.
	link := filepath.Join(filepath.Dir(c.dataDir), "bin", "sacctmgr") // made by slurmCmd
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, link, "-i", "add", "account", "chem")
	cmd.Env, cmd.Dir = []string{"SHOAL_TEST_MAIN=1", "SHOAL_ADDR=" + c.socket, "USER=nobody"}, "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	if err := cmd.Run(); err == nil || errs.String() != " Problem adding accounts: Access/permission denied\n" {
		t.Errorf("sacctmgr add account as nobody: %v\n%s%s", err, out.String(), errs.String())
	}

	r := c.slurmTry(t, "sbatch", "-A", "physics", "--wrap", "true")
	if r.code != 1 || !strings.Contains(r.stderr, "Batch job submission failed: Invalid account or account/partition combination specified") {
		t.Errorf("sbatch -A physics as root: exit %d: %s", r.code, r.stderr)
	}
	id, err := strconv.ParseUint(strings.TrimSpace(c.slurmCmd(t, "sbatch", "--parsable", "-c", "2", "--wrap", "sleep 1")), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	j := c.wait(id)
	wantState(t, j, api.StateSucceeded, "")
	ran := 2 * float64(j.StoppedAt-j.StartedAt) / 1000 // 2 CPUs, as the controller charges it
	usage := func() string {
		return c.slurmCmd(t, "sshare", "-n", "-P", "-U", "-u", "root", "-o", "account,user,rawusage")
	}
	want := " root|root|" + strconv.FormatUint(uint64(ran), 10) + "\n"
	if got := usage(); got != want {
		t.Errorf("sshare after a 2-CPU job of %.1f s: %q, want %q", ran/2, got, want)
	}
	c.stop()
	c.start()
	if got := usage(); got != want {
		t.Errorf("sshare after a restart: %q, want %q (the usage is in raft)", got, want)
	}
	// Fair tree, the agent's default: physics (no usage) ranks above
	// user root (all the usage at its level), so nobody's factor is 1
	// and root's 1/2.
	tree := c.slurmCmd(t, "sshare", "-n", "-P", "-a", "-o", "account,user,fairshare,levelfs")
	if want := "root|||\n root|root|0.500000|0.500000\n physics|||inf\n  physics|nobody|1.000000|inf\n"; tree != want {
		t.Errorf("sshare under fair tree:\n%s\nwant\n%s", tree, want)
	}
	held, err := strconv.ParseUint(strings.TrimSpace(c.slurmCmd(t, "sbatch", "--parsable", "-H", "--wrap", "true")), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	prio := c.slurmCmd(t, "sprio", "-h", "-o", "%i %u %F")
	if f := strings.Fields(prio); len(f) != 3 || f[0] != strconv.FormatUint(held, 10) || f[1] != "root" {
		t.Errorf("sprio: %q, want job %d of root and its fair-share factor", prio, held)
	}
}
