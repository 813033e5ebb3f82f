package slurm

import (
	"context"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestSacctmgrGolden runs sacctmgr's golden cases (testdata/sacctmgr/*).
func TestSacctmgrGolden(t *testing.T) { sbGolden(t, "sacctmgr", Sacctmgr) }

// deniedCtl answers the registry (root and account physics) and refuses
// every change, as the controller refuses a caller who is not an
// operator.
type deniedCtl struct{ *ctlFake }

func (deniedCtl) Call(_ context.Context, path string, _, resp any) error {
	if path == api.PathAccounts {
		*resp.(*api.AccountsState) = api.AccountsState{
			Accounts:     []api.Account{{Name: "physics", Parent: "root"}, {Name: "root"}},
			Associations: []api.Association{{Account: "physics", Shares: 1}, {Account: "root", Shares: 1}},
		}
		return nil
	}
	return api.Errorf(api.CodeForbidden, "only root may change accounts (or the controller's own user, on its socket)")
}

// TestSacctmgrPermissionDenied: a user who is not an operator gets
// Slurm's words for each kind of change.
func TestSacctmgrPermissionDenied(t *testing.T) {
	for _, c := range []struct {
		args         []string
		stdout, errs string
	}{
		{[]string{"-i", "add", "account", "chem"}, " Adding Account(s)\n  chem\n Settings\n  Description     = Account Name\n  Organization    = Parent/Account Name\n Associations\n  A = chem       C = shoal     \n",
			" Problem adding accounts: Access/permission denied\n"},
		{[]string{"-i", "add", "qos", "high", "priority=10"}, " Adding QOS(s)\n  high\n Settings\n  Description    = high\n  Priority                 = 10\n",
			" Problem adding QOS: Access/permission denied\n"},
		{[]string{"-i", "modify", "account", "physics", "set", "fairshare=5"}, "", " Error with request: Access/permission denied\n"},
		{[]string{"-i", "delete", "account", "physics"}, "", " Error with request: Access/permission denied\n"},
	} {
		ctx, stdout, stderr := sbTestCtx(newCtlFake(), t.TempDir(), sbEnv, "")
		ctx.Client = deniedCtl{newCtlFake()}
		if rc := Sacctmgr(ctx, c.args); rc != 1 || stdout.String() != c.stdout || stderr.String() != c.errs {
			t.Errorf("sacctmgr %v: exit %d\nstdout %q\nstderr %q\nwant exit 1\nstdout %q\nstderr %q", c.args, rc, stdout, stderr, c.stdout, c.errs)
		}
	}
}
