package slurm_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/cli/slurm"
	"github.com/shoal-batch/shoal/daemon"
	"github.com/shoal-batch/shoal/sched"
)

// startAgent starts a controller (raft on loopback) on a socket with
// multifactor weights and node n1 (8 CPUs, 8 GiB) registered, no node
// daemon behind it.
func startAgent(t *testing.T) (string, *client.Client) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("registering a node through the socket, and sacctmgr's writes, need root")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "shoal.sock")
	ctl, err := daemon.Start(daemon.Config{DataDir: filepath.Join(dir, "data"), Socket: sock,
		Log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Sched: sched.Options{Priority: sched.PriorityConfig{WeightAge: 1000, WeightFairShare: 10000, WeightQOS: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctl.Close() })
	cl := client.New(sock, "")
	if err := cl.Call(context.Background(), api.PathNodeRegister, api.RegisterNodeRequest{Name: "n1", Boot: "b1",
		Capacity: api.Resources{CPUs: 8, MemoryMB: 8192}}, nil); err != nil {
		t.Fatal(err)
	}
	return sock, cl
}

// run runs a Slurm command against sock and returns its exit status and
// what it printed.
func run(t *testing.T, sock, stdin, name string, args ...string) (int, string, string) {
	t.Helper()
	var out, errs bytes.Buffer
	rc := slurm.Main(name, args, strings.NewReader(stdin), &out, &errs, []string{"SHOAL_ADDR=" + sock, "USER=root"})
	return rc, out.String(), errs.String()
}

func want(t *testing.T, sock, stdin string, wantRC int, wantOut, wantErr string, name string, args ...string) {
	t.Helper()
	rc, out, errs := run(t, sock, stdin, name, args...)
	if rc != wantRC || out != wantOut || errs != wantErr {
		t.Errorf("%s %s: exit %d\n--- stdout\n%s--- stderr\n%s--- want exit %d\n--- stdout\n%s--- stderr\n%s",
			name, strings.Join(args, " "), rc, out, errs, wantRC, wantOut, wantErr)
	}
}

// TestSacctmgrAgent runs sacctmgr, sbatch, sshare and sprio from argv to
// output against a real controller: accounts and users added, listed,
// modified and deleted in Slurm 22.05's words; a job refused for an
// account its user is not in; the fair-share tree and the priority
// factors of a waiting job.
func TestSacctmgrAgent(t *testing.T) {
	sock, _ := startAgent(t)
	want(t, sock, "", 0, ` Adding Account(s)
  physics
 Settings
  Description     = Physics
  Organization    = sci
 Associations
  A = physics    C = shoal     
`, "", "sacctmgr", "-i", "add", "account", "physics", "Description=Physics", "Organization=sci")
	want(t, sock, "", 1, " Nothing new added.\n", "", "sacctmgr", "-i", "add", "account", "Physics")
	want(t, sock, "", 0, ` Adding User(s)
  alice
 Associations =
  U = alice     A = physics    C = shoal     
 Non Default Settings
  Fairshare     = 2
`, "", "sacctmgr", "-i", "add", "user", "alice", "account=physics", "fairshare=2")
	want(t, sock, "", 0, "root||1\nroot|root|1\nphysics||1\nphysics|alice|2\n", "",
		"sacctmgr", "-n", "-P", "list", "assoc", "format=account,user,share")
	want(t, sock, "", 0, `      User   Def Acct     Admin 
---------- ---------- --------- 
     alice    physics      None 
      root       root Administ+ 
`, "", "sacctmgr", "list", "user")
	want(t, sock, "", 0, `   Account                Descr                  Org 
---------- -------------------- -------------------- 
   physics              Physics                  sci 
      root default root account                 root 
`, "", "sacctmgr", "show", "account")
	want(t, sock, "", 0, " Modified user associations...\n  C = shoal      A = physics              U = alice    \n", "",
		"sacctmgr", "-i", "modify", "user", "alice", "set", "maxjobs=4", "maxwall=1-0")
	want(t, sock, "", 0, "alice|physics|4|1-00:00:00|normal\n", "",
		"sacctmgr", "-n", "-P", "show", "assoc", "where", "user=alice", "format=user,account,maxjobs,maxwall,qos")
	// Without -i the change waits for a yes.
	want(t, sock, "n\n", 0, " Deleting users...\n  alice\nWould you like to commit changes? (You have 30 seconds to decide)\n(N/y): \n Changes Discarded\n", "",
		"sacctmgr", "delete", "user", "alice")
	want(t, sock, "", 0, "alice\nroot\n", "", "sacctmgr", "-n", "-P", "list", "user", "format=user")

	// A job's account must be one of its user's.
	want(t, sock, "", 1, "", "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified\n",
		"sbatch", "-A", "physics", "-H", "--wrap", "true")
	rc, out, errs := run(t, sock, "", "sbatch", "--parsable", "-H", "--wrap", "true")
	if rc != 0 {
		t.Fatalf("sbatch as root with its default account: exit %d: %s%s", rc, out, errs)
	}
	id := strings.TrimSpace(out)
	want(t, sock, "", 0, id+"|root\n", "", "squeue", "-h", "-o", "%i|%a")

	want(t, sock, "", 0, `Account                    User  RawShares  NormShares    RawUsage  EffectvUsage  FairShare 
-------------------- ---------- ---------- ----------- ----------- ------------- ---------- 
root                                          1.000000           0      0.000000   1.000000 
 root                      root          1    0.500000           0      0.000000   1.000000 
 physics                                 1    0.500000           0      0.000000   1.000000 
`, "", "sshare")
	// The tree's indentation stays in parsable output, as Slurm's does.
	want(t, sock, "", 0, "  physics|alice|2|0.500000|0|0.000000|1.000000\n", "", "sshare", "-n", "-P", "-U", "-u", "alice")
	want(t, sock, "", 0, `          JOBID PARTITION   PRIORITY       SITE        AGE  FAIRSHARE        QOS
`+padLeft(id, 15)+` default        10000          0          0      10000          0
`, "", "sprio")
	want(t, sock, "", 0, `          JOBID PARTITION   PRIORITY       SITE        AGE  FAIRSHARE        QOS
        Weights                               1       1000      10000        100
`, "", "sprio", "-w")
	want(t, sock, "", 0, `          JOBID PARTITION     USER   PRIORITY       SITE        AGE      ASSOC  FAIRSHARE    JOBSIZE  PARTITION        QOS        NICE                 TRES
`+padLeft(id, 15)+` default       root      10000          0          0          0      10000          0          0          0           0                     
`, "", "sprio", "-l")

	// Limits on what may be submitted.
	want(t, sock, "", 0, " Modified user associations...\n  C = shoal      A = root                 U = root     \n", "",
		"sacctmgr", "-i", "modify", "user", "root", "set", "maxsubmitjobs=1")
	want(t, sock, "", 1, "", "sbatch: error: AssocMaxSubmitJobLimit\n"+
		"sbatch: error: Batch job submission failed: Job violates accounting/QOS policy (job submit limit, user's size and/or time limits)\n",
		"sbatch", "-H", "--wrap", "true")
}

func padLeft(s string, n int) string {
	return strings.Repeat(" ", max(0, n-len(s))) + s
}
