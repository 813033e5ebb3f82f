package slurm_test

import "testing"

// TestSacctmgrLimitsAndAssocs runs what TestSacctmgrAgent does not against
// a real controller: a QOS's per-user and shared limits set, an
// association's shares and usage reset, a user's association to one
// account deleted (the user kept), an account's association with one user
// deleted, a where clause naming another cluster, which matches nothing,
// and the entity words a write and a listing take.
func TestSacctmgrLimitsAndAssocs(t *testing.T) {
	sock, _ := startAgent(t)
	for _, args := range [][]string{
		{"add", "account", "physics"},
		{"add", "account", "chem"},
		{"add", "user", "alice", "account=physics"},
		{"add", "user", "alice", "account=chem"},
		{"add", "user", "bob", "account=chem"},
		{"add", "user", "bob", "account=physics"},
		{"add", "qos", "high"},
	} {
		if rc, out, errs := run(t, sock, "", "sacctmgr", append([]string{"-i"}, args...)...); rc != 0 {
			t.Fatalf("sacctmgr %v: exit %d: %s%s", args, rc, out, errs)
		}
	}
	want(t, sock, "", 0, " Modified qos...\n  high\n", "",
		"sacctmgr", "-i", "modify", "qos", "high", "set", "maxjobspu=2", "maxsubmitpu=3", "maxjobs=5", "grptres=cpu=4", "maxtres=mem=8G")
	want(t, sock, "", 0, "high|2|3|5|cpu=4|mem=8g\nnormal|||||\n", "",
		"sacctmgr", "-n", "-P", "show", "qos", "format=name,maxjobspu,maxsubmitpu,maxjobs,grptres,maxtres")
	want(t, sock, "", 1, " Nothing modified\n", "",
		"sacctmgr", "-i", "modify", "account", "physics", "where", "cluster=elsewhere", "set", "fairshare=3")
	want(t, sock, "", 0, " Modified account associations...\n  C = shoal      A = physics of root\n", "",
		"sacctmgr", "-i", "modify", "account", "physics", "set", "fairshare=3", "rawusage=0")
	want(t, sock, "", 0, " Modified user associations...\n  C = shoal      A = chem                 U = alice    \n", "",
		"sacctmgr", "-i", "modify", "user", "alice", "where", "account=chem", "set", "grpjobs=7")
	want(t, sock, "", 0, " Deleting user associations...\n  C = shoal      A = chem       U = alice    \n", "",
		"sacctmgr", "-i", "delete", "user", "alice", "where", "account=chem")
	want(t, sock, "", 1, " Nothing deleted\n", "",
		"sacctmgr", "-i", "delete", "account", "physics", "where", "cluster=elsewhere")
	want(t, sock, "", 1, " Nothing deleted\n", "",
		"sacctmgr", "-i", "delete", "account", "chem", "where", "user=nobody")
	want(t, sock, "", 0, " Deleting account associations...\n  C = shoal      A = physics    U = bob      \n", "",
		"sacctmgr", "-i", "delete", "account", "physics", "where", "user=bob")
	want(t, sock, "", 0, "root||1|\nroot|root|1|\nchem||1|\nchem|bob|1|\nphysics||3|\nphysics|alice|1|\n", "",
		"sacctmgr", "-n", "-P", "list", "assoc", "format=account,user,share,grpjobs")

	// Entities as sacctmgr abbreviates them: a write takes user, account
	// or qos; a listing association too; configuration is slurmdbd's.
	want(t, sock, "", 1, "", "sacctmgr: error: add assoc is not supported by shoal: it changes accounts, users and qos\n",
		"sacctmgr", "add", "assoc", "x")
	want(t, sock, "", 1, "", "sacctmgr: error: modify a is not supported by shoal: it changes accounts, users and qos\n",
		"sacctmgr", "modify", "a", "x")
	want(t, sock, "", 1, "", "sacctmgr: error: listing a is not supported by shoal: only user, account, association and qos\n",
		"sacctmgr", "list", "a")
	want(t, sock, "", 0, "high|2\n", "", "sacctmgr", "-n", "-P", "list", "q", "where", "name=high", "format=name,maxjobspu")
	want(t, sock, "", 1, "", "You are not running a supported accounting_storage plugin\nOnly 'accounting_storage/slurmdbd' is supported.\n",
		"sacctmgr", "show", "CONF")
}
