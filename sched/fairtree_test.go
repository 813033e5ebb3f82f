package sched_test

import (
	"math"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
	"github.com/shoal-batch/shoal/sched"
)

// test244Tree is the association tree of Slurm's own fair-tree test
// (testsuite/expect/test24.4 of Slurm 22.05) without its account aD,
// whose Fairshare=parent shoal does not have: shares and raw usage as
// that test sets them. Accounts with users hold the usage; an account's
// is the sum below it.
func test244Tree() api.AccountsState {
	reg := api.AccountsState{}
	acct := func(name, parent string, shares int64) {
		reg.Accounts = append(reg.Accounts, api.Account{Name: name, Parent: parent})
		reg.Associations = append(reg.Associations, api.Association{Account: name, Shares: shares})
	}
	user := func(account, name string, shares int64, usage float64) {
		reg.Associations = append(reg.Associations, api.Association{Account: account, User: name, Shares: shares})
		if usage > 0 {
			reg.Usage = append(reg.Usage, api.AssocUsage{Account: account, User: name, Raw: usage})
		}
	}
	acct("root", "", 1)
	user("root", "u1", 10, 0)
	user("root", "u2", 10, 10)
	acct("aA", "root", 40)
	acct("aAA", "aA", 30)
	user("aAA", "uAA1", 1, 20)
	acct("aAB", "aA", 10)
	user("aAB", "uAB1", 1, 25)
	user("aAB", "uAB2", 1, 0)
	acct("aB", "root", 60)
	acct("aBA", "aB", 25)
	user("aBA", "uBA1", 1, 25)
	acct("aBB", "aB", 35)
	user("aBB", "uBB1", 1, 0)
	acct("aC", "root", 0)
	user("aC", "uC1", 0, 30)
	acct("aE", "root", 10)
	user("aE", "aE1", 10, 0)
	user("aE", "aE2", 10, 0)
	acct("aF", "root", 20)
	user("aF", "uF1", 10, 0)
	user("aF", "uF2", 20, 0)
	acct("aG", "root", 8)
	user("aG", "uG1", 10, 10)
	acct("aGA", "aG", 10)
	user("aGA", "uGA1", 20, 4)
	user("aGA", "uGA2", 20, 6)
	return reg
}

// TestFairTreeSlurm244 checks FairTreeShares on the tree of Slurm's
// test24.4 (less aD): the figures that do not depend on aD are that
// test's expected output (NormShares, EffectvUsage and LevelFS inside
// aA, aB and aG: 0.750000, 0.444444, 1.687500 for aAA and so on); the
// rest follow the same formulas over root's 158 shares and 130 of usage,
// and the ranks over 15 users instead of 21: the users of accounts with
// no usage (aE, aF) and u1 tie at the top with 1.0, uG1 and uGA1 tie
// (a user and the first user below a sibling account of the same Level
// FS), uC1 (no shares) is last.
func TestFairTreeSlurm244(t *testing.T) {
	rows := sched.FairTreeShares(test244Tree(), raftfsm.PrioritySettings{}, 0)
	inf := sched.LevelFSInfinite
	type fig struct {
		normShares, rawUsage, normUsage, effectv, levelFS, fairShare float64
	}
	want := []struct {
		key string
		fig
	}{
		{"root/", fig{0, 130, 0, 1, -1, 0}},
		{"root/u1", fig{10.0 / 158, 0, 0, 0, inf, 15.0 / 15}},
		{"root/u2", fig{10.0 / 158, 10, 10.0 / 130, 10.0 / 130, 130.0 / 158, 8.0 / 15}},
		{"aA/", fig{40.0 / 158, 45, 45.0 / 130, 45.0 / 130, (40.0 / 158) / (45.0 / 130), 0}},
		{"aAA/", fig{0.75, 20, 20.0 / 130, 0.444444, 1.6875, 0}},
		{"aAA/uAA1", fig{1, 20, 20.0 / 130, 1, 1, 7.0 / 15}},
		{"aAB/", fig{0.25, 25, 25.0 / 130, 0.555556, 0.45, 0}},
		{"aAB/uAB1", fig{0.5, 25, 25.0 / 130, 1, 0.5, 5.0 / 15}},
		{"aAB/uAB2", fig{0.5, 0, 0, 0, inf, 6.0 / 15}},
		{"aB/", fig{60.0 / 158, 25, 25.0 / 130, 25.0 / 130, (60.0 / 158) / (25.0 / 130), 0}},
		{"aBA/", fig{25.0 / 60, 25, 25.0 / 130, 1, 0.416667, 0}},
		{"aBA/uBA1", fig{1, 25, 25.0 / 130, 1, 1, 9.0 / 15}},
		{"aBB/", fig{35.0 / 60, 0, 0, 0, inf, 0}},
		{"aBB/uBB1", fig{1, 0, 0, 0, inf, 10.0 / 15}},
		{"aC/", fig{0, 30, 30.0 / 130, 30.0 / 130, 0, 0}},
		{"aC/uC1", fig{0, 30, 30.0 / 130, 1, 0, 1.0 / 15}},
		{"aE/", fig{10.0 / 158, 0, 0, 0, inf, 0}},
		{"aE/aE1", fig{0.5, 0, 0, 0, inf, 1}},
		{"aE/aE2", fig{0.5, 0, 0, 0, inf, 1}},
		{"aF/", fig{20.0 / 158, 0, 0, 0, inf, 0}},
		{"aF/uF1", fig{1.0 / 3, 0, 0, 0, inf, 1}},
		{"aF/uF2", fig{2.0 / 3, 0, 0, 0, inf, 1}},
		{"aG/", fig{8.0 / 158, 20, 20.0 / 130, 20.0 / 130, (8.0 / 158) / (20.0 / 130), 0}},
		{"aG/uG1", fig{0.5, 10, 10.0 / 130, 0.5, 1, 4.0 / 15}},
		{"aGA/", fig{0.5, 10, 10.0 / 130, 0.5, 1, 0}},
		{"aGA/uGA1", fig{0.5, 4, 4.0 / 130, 0.4, 1.25, 4.0 / 15}},
		{"aGA/uGA2", fig{0.5, 6, 6.0 / 130, 0.6, 0.833333, 2.0 / 15}},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	// sshare prints 6 decimals: the figures from Slurm's output are
	// rounded to that.
	near := func(a, b float64) bool { return a == b || math.Abs(a-b) < 5e-7 }
	for i, w := range want {
		r := rows[i]
		if key := r.Account + "/" + r.User; key != w.key {
			t.Fatalf("row %d is %s, want %s (tree order)", i, key, w.key)
		}
		lf := -1.0
		if r.LevelFS != nil {
			lf = *r.LevelFS
		}
		got := fig{r.NormShares, r.RawUsage, r.NormUsage, r.EffectvUsage, lf, r.FairShare}
		if !near(got.normShares, w.normShares) || !near(got.rawUsage, w.rawUsage) || !near(got.normUsage, w.normUsage) ||
			!near(got.effectv, w.effectv) || !near(got.levelFS, w.levelFS) || !near(got.fairShare, w.fairShare) {
			t.Errorf("%s: got %+v,\nwant %+v (NormShares, RawUsage, NormUsage, EffectvUsage, LevelFS, FairShare)", w.key, got, w.fig)
		}
	}
}

// TestFairTreeOrdersAccounts: every user of an account with a higher
// Level FS ranks above every user of a sibling with a lower one, however
// little those users used themselves: lab used more than its share, so
// bob, who used nothing, ranks below carol of ops, who used some; and
// the priority factor is the fair-tree one when PriorityConfig.FairTree
// is set, the classic one otherwise.
func TestFairTreeOrdersAccounts(t *testing.T) {
	reg := api.AccountsState{
		Accounts: []api.Account{{Name: "root"}, {Name: "lab", Parent: "root"}, {Name: "ops", Parent: "root"}},
		Associations: []api.Association{{Account: "root", Shares: 1}, {Account: "lab", Shares: 1}, {Account: "ops", Shares: 1},
			{Account: "lab", User: "alice", Shares: 1}, {Account: "lab", User: "bob", Shares: 1}, {Account: "ops", User: "carol", Shares: 1}},
		Usage: []api.AssocUsage{{Account: "lab", User: "alice", Raw: 900}, {Account: "ops", User: "carol", Raw: 100}},
	}
	fs := map[string]float64{}
	for _, r := range sched.FairTreeShares(reg, raftfsm.PrioritySettings{}, 0) {
		if r.User != "" {
			fs[r.User] = r.FairShare
		}
	}
	if fs["carol"] != 1 || fs["bob"] != 2.0/3 || fs["alice"] != 1.0/3 {
		t.Errorf("fair-tree factors %v, want carol 1, bob 2/3, alice 1/3", fs)
	}
	classic := map[string]float64{}
	for _, r := range sched.FairShares(reg, raftfsm.PrioritySettings{}, 0) {
		if r.User != "" {
			classic[r.User] = r.FairShare
		}
	}

	snap := &acctSnap{fakeSnap: &fakeSnap{}, reg: reg}
	for _, tree := range []bool{true, false} {
		p := sched.NewPriorities(snap, 0, sched.PriorityConfig{WeightFairShare: 1000, FairTree: tree})
		got := p.Of(&sched.Job{JobSpec: &api.JobSpec{Account: "lab"}, User: "bob"}).FairShare
		want := classic["bob"]
		if tree {
			want = fs["bob"]
		}
		if got != want {
			t.Errorf("FairTree=%v: bob's fair-share factor %v, want %v", tree, got, want)
		}
	}
}
