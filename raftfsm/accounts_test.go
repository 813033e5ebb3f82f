package raftfsm_test

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// acctBase is a registry: root (with user root), account physics under
// root and theory under physics, user alice in physics (default) and
// theory, bob in theory, and QOS normal and high.
func acctBase(h *harness) {
	h.t.Helper()
	h.mustOK("add registry", h.apply(raftfsm.OpAcctAdd, raftfsm.AcctChangeCmd{Change: api.AccountsChange{
		Accounts: []api.Account{{Name: "root"}, {Name: "physics", Parent: "root"}, {Name: "theory", Parent: "physics"}},
		Users: []api.AcctUser{{Name: "root", DefaultAccount: "root", AdminLevel: api.AdminAdmin},
			{Name: "alice", DefaultAccount: "physics"}, {Name: "bob", DefaultAccount: "theory"}},
		Associations: []api.Association{{Account: "root", Shares: 1}, {Account: "root", User: "root", Shares: 1},
			{Account: "physics", Shares: 2}, {Account: "theory", Shares: 1},
			{Account: "physics", User: "alice", Shares: 1}, {Account: "theory", User: "alice", Shares: 1},
			{Account: "theory", User: "bob", Shares: 3}},
		QOS: []api.QOS{{Name: "normal"}, {Name: "high", Priority: 100}},
	}}))
}

func acctChange(h *harness, op raftfsm.Op, ch api.AccountsChange) raftfsm.Result {
	h.t.Helper()
	return h.apply(op, raftfsm.AcctChangeCmd{Change: ch})
}

func wantRefused(t *testing.T, what string, res raftfsm.Result, code, words string) {
	t.Helper()
	if res.Err == nil || res.Err.Code != code || !strings.Contains(res.Err.Message, words) {
		t.Errorf("%s: got %+v, want %s error saying %q", what, res.Err, code, words)
	}
}

// TestAccountsRegistry adds, modifies and deletes records through real
// FSM applies, and holds the registry whole: every refusal leaves the
// state exactly as it was.
func TestAccountsRegistry(t *testing.T) {
	h := newHarness(t)
	if h.fsm.State().HasAccounts() {
		t.Fatal("a new FSM has accounts; want an empty registry")
	}
	acctBase(h)
	st := h.fsm.State()
	if !st.HasAccounts() || st.AcctUser("alice").DefaultAccount != "physics" || st.Association("theory", "bob").Shares != 3 {
		t.Fatalf("registry after add: %+v", st.Accounts())
	}
	before := h.fsm.State().Accounts()
	for _, c := range []struct {
		what  string
		op    raftfsm.Op
		ch    api.AccountsChange
		code  string
		words string
	}{
		{"add existing account", raftfsm.OpAcctAdd, api.AccountsChange{Accounts: []api.Account{{Name: "physics", Parent: "root"}},
			Associations: []api.Association{{Account: "physics", Shares: 1}}}, api.CodeInvalid, "account physics already exists"},
		{"add under a missing parent", raftfsm.OpAcctAdd, api.AccountsChange{Accounts: []api.Account{{Name: "bio", Parent: "nope"}},
			Associations: []api.Association{{Account: "bio", Shares: 1}}}, api.CodeInvalid, `parent account "nope" does not exist`},
		{"add an account without its association", raftfsm.OpAcctAdd, api.AccountsChange{Accounts: []api.Account{{Name: "bio", Parent: "root"}}},
			api.CodeInvalid, "account bio has no association of its own"},
		{"add a user whose default is not theirs", raftfsm.OpAcctAdd, api.AccountsChange{Users: []api.AcctUser{{Name: "carol", DefaultAccount: "physics"}},
			Associations: []api.Association{{Account: "theory", User: "carol", Shares: 1}}}, api.CodeInvalid, `default account "physics" is not one of the user's accounts`},
		{"add a bad name", raftfsm.OpAcctAdd, api.AccountsChange{Accounts: []api.Account{{Name: "a b", Parent: "root"}},
			Associations: []api.Association{{Account: "a b", Shares: 1}}}, api.CodeInvalid, "without spaces"},
		{"an unknown qos", raftfsm.OpAcctModify, api.AccountsChange{Associations: []api.Association{{Account: "physics", Shares: 1, QOS: []string{"gold"}}}},
			api.CodeInvalid, "names qos gold, which does not exist"},
		{"a loop", raftfsm.OpAcctModify, api.AccountsChange{Accounts: []api.Account{{Name: "physics", Parent: "theory"}}},
			api.CodeInvalid, "loop"},
		{"a negative limit", raftfsm.OpAcctModify, api.AccountsChange{Associations: []api.Association{{Account: "physics", Shares: 1, Limits: api.Limits{MaxJobs: ptr(-2)}}}},
			api.CodeInvalid, "MaxJobs=-2 must not be negative"},
		{"modify a missing user", raftfsm.OpAcctModify, api.AccountsChange{Users: []api.AcctUser{{Name: "zed", DefaultAccount: "root"}}},
			api.CodeNotFound, "user zed does not exist"},
		{"delete a parent", raftfsm.OpAcctDelete, api.AccountsChange{Accounts: []api.Account{{Name: "physics"}}},
			api.CodeInvalid, "account physics has sub-account theory"},
		{"delete a default's association", raftfsm.OpAcctDelete, api.AccountsChange{Associations: []api.Association{{Account: "physics", User: "alice"}}},
			api.CodeInvalid, "account physics is user alice's default"},
		{"delete root", raftfsm.OpAcctDelete, api.AccountsChange{Accounts: []api.Account{{Name: "root"}}}, api.CodeInvalid, "top of the tree"},
	} {
		wantRefused(t, c.what, acctChange(h, c.op, c.ch), c.code, c.words)
		if after := h.fsm.State().Accounts(); !reflect.DeepEqual(after, before) {
			t.Fatalf("%s: the refused command changed the registry:\n%+v\nwant\n%+v", c.what, after, before)
		}
	}

	// Modify: bob's default moves to physics once he has it.
	h.mustOK("add bob to physics", acctChange(h, raftfsm.OpAcctAdd, api.AccountsChange{Associations: []api.Association{{Account: "physics", User: "bob", Shares: 1}}}))
	h.mustOK("bob's default", acctChange(h, raftfsm.OpAcctModify, api.AccountsChange{Users: []api.AcctUser{{Name: "bob", DefaultAccount: "physics"}}}))
	// An account with an unfinished job cannot go.
	h.register(1000, api.Node{Name: "n1", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}})
	id := h.submit(1000, api.Job{JobSpec: api.JobSpec{Name: "j", Queue: api.DefaultQueue, Command: []string{"true"}, Account: "theory",
		Resources: api.Resources{CPUs: 1, MemoryMB: 100}}, User: "bob"})[0]
	wantRefused(t, "delete an account in use", acctChange(h, raftfsm.OpAcctDelete, api.AccountsChange{Accounts: []api.Account{{Name: "theory"}}}),
		api.CodeConflict, "Job(s) active, cancel job(s) before remove")
	h.mustOK("cancel", h.stop(raftfsm.StopCmd{ID: id, Reason: "x", Now: 2000}))
	h.mustOK("delete theory", acctChange(h, raftfsm.OpAcctDelete, api.AccountsChange{Accounts: []api.Account{{Name: "theory"}}}))
	st = h.fsm.State()
	if st.Association("theory", "bob") != nil || st.Association("theory", "alice") != nil || st.Association("theory", "") != nil {
		t.Errorf("deleting account theory left its associations: %+v", st.Accounts().Associations)
	}
	h.mustOK("delete user bob", acctChange(h, raftfsm.OpAcctDelete, api.AccountsChange{Users: []api.AcctUser{{Name: "bob"}}}))
	if st := h.fsm.State(); st.AcctUser("bob") != nil || st.Association("physics", "bob") != nil {
		t.Errorf("deleting user bob left him or his associations: %+v", st.Accounts())
	}
	h.mustOK("delete qos high", acctChange(h, raftfsm.OpAcctDelete, api.AccountsChange{QOS: []api.QOS{{Name: "high"}}}))
	if h.fsm.State().QOS("high") != nil {
		t.Error("qos high is still there after its delete")
	}
}

func ptr(v int64) *int64 { return &v }

// TestUsageCharged runs jobs to their end through real applies: each
// attempt's CPU-seconds (by the stored billing weights) go to its user's
// association, decayed with the stored half-life; a job without an
// association charges nothing; the usage survives a snapshot and its
// restore, and a replay gives the same registry.
func TestUsageCharged(t *testing.T) {
	h := newHarness(t)
	acctBase(h)
	h.mustOK("settings", h.apply(raftfsm.OpPrioritySettings, raftfsm.PrioritySettingsCmd{Settings: raftfsm.PrioritySettings{
		HalfLife: 100, CPU: 1, MemGB: 0.5, GPU: 10}}))
	h.register(0, api.Node{Name: "n1", Capacity: api.Resources{CPUs: 8, MemoryMB: 8192}})
	run := func(user, account string, cpus int, memMB int64, from, to int64) {
		t.Helper()
		id := h.submit(from, api.Job{JobSpec: api.JobSpec{Name: "j", Queue: api.DefaultQueue, Command: []string{"true"}, Account: account,
			Resources: api.Resources{CPUs: cpus, MemoryMB: memMB}}, User: user})[0]
		if h.place(from, raftfsm.Placement{JobID: id, Node: "n1", CE: api.DefaultQueue}) != 1 {
			t.Fatalf("job %d not placed", id)
		}
		zero := 0
		h.events(from, api.JobEvent{ID: id, Node: "n1", State: api.StateRunning, Attempt: 1})
		h.events(to, api.JobEvent{ID: id, Node: "n1", State: api.StateSucceeded, ExitCode: &zero, Attempt: 1})
	}
	// alice in physics: 2 CPUs and 2 GiB for 100 s: (2 + 2×0.5) × 100 = 300.
	run("alice", "", 2, 2048, 1_000_000, 1_100_000)
	usage := func(account, user string) api.AssocUsage {
		for _, u := range h.fsm.State().Accounts().Usage {
			if u.Account == account && u.User == user {
				return u
			}
		}
		return api.AssocUsage{}
	}
	if u := usage("physics", "alice"); u.Raw != 300 || u.At != 1_100_000 {
		t.Fatalf("alice's usage after one job: %+v, want 300 at 1100000", u)
	}
	// One half-life later another 100 s of 1 CPU: 300/2 + 100 = 250.
	run("alice", "physics", 1, 0, 1_100_000, 1_200_000)
	if u := usage("physics", "alice"); math.Abs(u.Raw-250) > 1e-9 {
		t.Fatalf("alice's usage after a half-life and a second job: %v, want 250", u.Raw)
	}
	// carol is in no association: nothing charged, nothing stored.
	run("carol", "", 1, 0, 1_000_000, 1_100_000)
	if n := len(h.fsm.State().Accounts().Usage); n != 1 {
		t.Fatalf("usage records: %d, want 1 (alice's)", n)
	}
	snap := snapshotBytes(t, h.fsm)
	back := restored(t, snap, h.idx)
	if got, want := back.State().Accounts(), h.fsm.State().Accounts(); !reflect.DeepEqual(got, want) {
		t.Errorf("registry after restore:\n%+v\nwant\n%+v", got, want)
	}
	if back.State().PrioritySettings() != h.fsm.State().PrioritySettings() {
		t.Errorf("settings after restore: %+v, want %+v", back.State().PrioritySettings(), h.fsm.State().PrioritySettings())
	}
	replay := raftfsm.New()
	for i, e := range h.log {
		replay.Apply(uint64(i+1), e)
	}
	if got, want := replay.State().Accounts(), h.fsm.State().Accounts(); !reflect.DeepEqual(got, want) {
		t.Errorf("registry after a replay of the log:\n%+v\nwant\n%+v", got, want)
	}
	// Reset (sacctmgr modify account physics set RawUsage=0).
	h.mustOK("reset", acctChange(h, raftfsm.OpAcctModify, api.AccountsChange{ResetUsage: []api.Association{{Account: "physics"}}}))
	if n := len(h.fsm.State().Accounts().Usage); n != 0 {
		t.Errorf("usage records after a reset of physics: %d, want 0", n)
	}
}
