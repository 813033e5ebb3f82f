package daemon

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// wantQOSRefused submits spec as who and wants Slurm's "Invalid qos
// specification" (field qos).
func (mc *memController) wantQOSRefused(what string, who peer, spec api.JobSpec) {
	mc.t.Helper()
	status, e := mc.call(who, api.PathSubmit, api.SubmitJobRequest{JobSpec: spec}, nil)
	if status != http.StatusBadRequest || e.Field != "qos" || !strings.Contains(e.Message, "Invalid qos specification") {
		mc.t.Errorf("%s: HTTP %d %+v, want 400 Invalid qos specification (field qos)", what, status, e)
	}
}

// TestMemQOSGrantedOnly: a user may use only the QOS their association
// is granted; with no list on it or above it, root's: normal, which the
// first add gives root's association, and which a registry made before
// that (root with no list) falls back to, as sacctmgr show assoc prints
// it. QOS names are compared without case; a job asking none gets (and
// shows) normal.
func TestMemQOSGrantedOnly(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1")
	mc.mustCall(rootUser, api.PathAccountsAdd, api.AccountsChange{QOS: []api.QOS{{Name: "urgent", Priority: 100}}}, nil)
	mc.addAccount(api.Association{Account: "chem", Shares: 1}, api.Association{User: "4201", Shares: 1})
	rootAssoc := mc.c.fsm.State().Association(api.RootAccount, "")
	if rootAssoc == nil || !slices.Equal(rootAssoc.QOS, []string{api.NormalQOS}) {
		t.Fatalf("root's association after the first add: %+v, want QOS [normal]", rootAssoc)
	}
	mc.wantQOSRefused("alice asks qos urgent, granted none", alice, heldOfQOS("urgent"))
	id := mc.submit(alice, heldOfQOS("Normal"))
	if j := mc.c.fsm.State().Job(id); j == nil || j.QOS != api.NormalQOS {
		t.Errorf("alice's job asking qos Normal: %+v, want qos normal", j)
	}
	id = mc.submit(alice, heldJob)
	if j := mc.c.fsm.State().Job(id); j == nil || j.QOS != api.NormalQOS {
		t.Errorf("alice's job asking no qos: %+v, want qos normal (as squeue shows it)", j)
	}
	if l := mc.jobs(alice, api.ListJobsRequest{IDs: []uint64{id}}); len(l) != 1 || l[0].QOS != api.NormalQOS {
		t.Errorf("list of alice's job asking no qos: %+v, want qos normal", l)
	}

	// A registry from before root's association had its list.
	mc.mustCall(rootUser, api.PathAccountsModify, api.AccountsChange{Associations: []api.Association{{Account: api.RootAccount, Shares: 1}}}, nil)
	mc.wantQOSRefused("alice asks qos urgent, root listing none", alice, heldOfQOS("urgent"))
	mc.submit(alice, heldOfQOS("normal"))

	// Granted on her account: urgent, in any case.
	mc.mustCall(rootUser, api.PathAccountsModify, api.AccountsChange{Associations: []api.Association{
		{Account: "chem", Shares: 1, QOS: []string{"normal", "urgent"}}}}, nil)
	id = mc.submit(alice, heldOfQOS("URGENT"))
	if j := mc.c.fsm.State().Job(id); j == nil || j.QOS != "urgent" {
		t.Errorf("alice's job asking qos URGENT, granted: %+v, want qos urgent", j)
	}
}

// TestCronFiringsCounted: schedules of one user due at once fire one
// after another, each checked against the jobs of the ones before it:
// two do not pass MaxSubmitJobs together.
func TestCronFiringsCounted(t *testing.T) {
	clock := newFakeClock(at("2026-12-04T10:00:30Z"))
	c := startCron(t, clock)
	c.mustCron(t, api.CronSpec{Name: "a", Schedule: "* * * * *", Overlap: api.OverlapAllow})
	c.mustCron(t, api.CronSpec{Name: "b", Schedule: "* * * * *", Overlap: api.OverlapAllow})
	ctx := context.Background()
	if _, err := c.addAccounts(ctx, root, api.AccountsChange{Accounts: []api.Account{{Name: "chem", Parent: "root"}},
		Associations: []api.Association{{Account: "chem", Shares: 1}}}); err != nil {
		t.Fatal(err)
	}
	one := int64(1)
	if _, err := c.modifyAccounts(ctx, root, api.AccountsChange{Associations: []api.Association{
		{Account: api.RootAccount, User: "root", Shares: 1, Limits: api.Limits{MaxSubmitJobs: &one}}}}); err != nil {
		t.Fatal(err)
	}
	clock.fireSlots(t, at("2026-12-04T10:01:00Z"))
	clock.waitArmed(t, at("2026-12-04T10:02:00Z"))
	var jobs, refused int
	for _, name := range []string{"a", "b"} {
		for _, f := range c.firings(t, name) {
			switch {
			case f.JobID != 0:
				jobs++
			case strings.Contains(f.Error, "AssocMaxSubmitJobLimit"):
				refused++
			}
		}
	}
	if jobs != 1 || refused != 1 {
		t.Errorf("two schedules due at once under MaxSubmitJobs 1: %d jobs, %d refused; want 1 and 1", jobs, refused)
	}
}

// TestMemParallelRequeuesCounted: ended jobs queued again at once
// (scontrol requeue) are each a submit: together they do not pass
// MaxSubmitJobs.
func TestMemParallelRequeuesCounted(t *testing.T) {
	mc, ids := endedUnderLimit(t, 16, 3)
	var wg sync.WaitGroup
	var taken atomic.Int32
	start := make(chan struct{})
	for _, id := range ids {
		wg.Go(func() {
			<-start
			status, e := mc.call(alice, api.PathTerminate, api.StopJobRequest{ID: id, Requeue: true, Hold: true}, nil)
			switch {
			case status == http.StatusOK:
				taken.Add(1)
			case !strings.HasPrefix(e.Message, "AssocMaxSubmitJobLimit: "):
				t.Errorf("requeue of job %d: HTTP %d %s, want taken or refused for AssocMaxSubmitJobLimit", id, status, e.Message)
			}
		})
	}
	close(start)
	wg.Wait()
	if n, unfinished := taken.Load(), unfinishedOf(mc, alice); n != 3 || unfinished != 3 {
		t.Errorf("16 parallel requeues under MaxSubmitJobs 3: %d taken, %d unfinished; want 3", n, unfinished)
	}
}

// TestMemPriorityFilters: sprio's and sshare's filters are bounded
// (refused past the bound, naming it), still filter, and a request whose
// caller has gone stops.
func TestMemPriorityFilters(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1")
	a, b := mc.submit(alice, heldJob), mc.submit(bob, heldJob)
	var prio api.PriorityResponse
	mc.mustCall(alice, api.PathPriority, api.PriorityRequest{Jobs: []uint64{b, 999_999}}, &prio)
	if len(prio.Jobs) != 1 || prio.Jobs[0].JobID != b {
		t.Errorf("sprio -j %d: %+v, want that job alone", b, prio.Jobs)
	}
	mc.mustCall(alice, api.PathPriority, api.PriorityRequest{Users: []string{"4201", "nobody"}}, &prio)
	if len(prio.Jobs) != 1 || prio.Jobs[0].JobID != a {
		t.Errorf("sprio -u 4201: %+v, want job %d alone", prio.Jobs, a)
	}
	many := make([]uint64, MaxPriorityJobs+1)
	for i := range many {
		many[i] = uint64(i + 1)
	}
	status, e := mc.call(alice, api.PathPriority, api.PriorityRequest{Jobs: many}, nil)
	if status != http.StatusBadRequest || e.Field != "jobs" || !strings.Contains(e.Message, "at most") {
		t.Errorf("sprio with %d job ids: HTTP %d %+v, want 400 naming the bound", len(many), status, e)
	}
	names := make([]string, MaxFilterNames+1)
	for i := range names {
		names[i] = "u"
	}
	for _, c := range []struct {
		path string
		req  any
	}{
		{api.PathPriority, api.PriorityRequest{Users: names}},
		{api.PathPriority, api.PriorityRequest{Queues: names}},
		{api.PathShares, api.SharesRequest{Users: names}},
	} {
		if status, e := mc.call(alice, c.path, c.req, nil); status != http.StatusBadRequest || !strings.Contains(e.Message, "at most") {
			t.Errorf("%s with %d names: HTTP %d %+v, want 400 naming the bound", c.path, len(names), status, e)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := mc.c.priorityFactors(ctx, caller{uid: alice.uid, gid: alice.gid, known: true}, api.PriorityRequest{}); err == nil {
		t.Errorf("sprio for a caller gone: answered, want the request's end")
	}
}

// TestMemDeleteActive: an association (a user in an account) or a QOS
// with unfinished jobs is not removed, in Slurm's words, whether the
// association goes alone or with its user; a job with no QOS is of
// normal. Once they end, it is.
func TestMemDeleteActive(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1")
	before := mc.submit(alice, heldJob) // no registry: no QOS
	mc.mustCall(rootUser, api.PathAccountsAdd, api.AccountsChange{QOS: []api.QOS{{Name: "urgent"}}}, nil)
	mc.addAccount(api.Association{Account: "bio", Shares: 1, QOS: []string{"normal", "urgent"}}, api.Association{User: "4201", Shares: 1})
	mc.mustCall(rootUser, api.PathAccountsAdd, api.AccountsChange{Accounts: []api.Account{{Name: "chem", Parent: "root"}},
		Associations: []api.Association{{Account: "chem", Shares: 1, QOS: []string{"normal", "urgent"}}, {Account: "chem", User: "4201", Shares: 1}}}, nil)
	inChem := heldOfQOS("urgent")
	inChem.Account = "chem"
	id := mc.submit(alice, inChem)
	refused := func(what string, ch api.AccountsChange, words string) {
		t.Helper()
		status, e := mc.call(rootUser, api.PathAccountsDelete, ch, nil)
		if status != http.StatusBadRequest || e.Code != api.CodeConflict || !strings.HasPrefix(e.Message, "Job(s) active, cancel job(s) before remove") || !strings.Contains(e.Message, words) {
			t.Errorf("%s: HTTP %d %+v, want 400 InvalidState Job(s) active ... %s", what, status, e, words)
		}
	}
	refused("delete alice's association in chem", api.AccountsChange{Associations: []api.Association{{Account: "chem", User: "4201"}}}, "user 4201 in account chem")
	// Her job from before the registry is in her default account, bio.
	refused("delete user alice", api.AccountsChange{Users: []api.AcctUser{{Name: "4201"}}}, "user 4201 in account bio")
	refused("delete qos urgent", api.AccountsChange{QOS: []api.QOS{{Name: "urgent"}}}, "qos urgent")
	mc.mustCall(alice, api.PathCancel, api.StopJobRequest{ID: id}, nil)
	mc.waitJob(id, func(j *api.Job) bool { return j.State.Terminal() })
	mc.mustCall(rootUser, api.PathAccountsDelete, api.AccountsChange{Associations: []api.Association{{Account: "chem", User: "4201"}}}, nil)
	mc.mustCall(rootUser, api.PathAccountsDelete, api.AccountsChange{QOS: []api.QOS{{Name: "urgent"}}}, nil)
	// The job from before the registry has no QOS: it is of normal.
	refused("delete qos normal", api.AccountsChange{QOS: []api.QOS{{Name: api.NormalQOS}}}, "qos normal")
	mc.mustCall(alice, api.PathCancel, api.StopJobRequest{ID: before}, nil)
	mc.waitJob(before, func(j *api.Job) bool { return j.State.Terminal() })
	mc.mustCall(rootUser, api.PathAccountsDelete, api.AccountsChange{QOS: []api.QOS{{Name: api.NormalQOS}}}, nil)
}

// TestMemTRESOneParser: a TRES limit is read as sacctmgr reads it
// (mem=1024MB is 1024 MiB, as in Slurm) and enforced whole; one the
// parser cannot read is refused where it is written, naming it.
func TestMemTRESOneParser(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1")
	mc.addAccount(api.Association{Account: "chem", Shares: 1}, api.Association{User: "4201", Shares: 1})
	mc.mustCall(rootUser, api.PathAccountsModify, api.AccountsChange{Associations: []api.Association{
		{Account: "chem", User: "4201", Shares: 1, Limits: api.Limits{MaxTRES: "cpu=1,mem=1024MB"}}}}, nil)
	ask := func(cpus int, mem int64) api.JobSpec {
		s := heldJob
		s.Resources = api.Resources{CPUs: cpus, MemoryMB: mem}
		return s
	}
	mc.submitRefused("2 CPUs over cpu=1", alice, ask(2, 64), 0, "AssocMaxCpuPerJobLimit")
	mc.submitRefused("2048 MiB over mem=1024MB", alice, ask(1, 2048), 0, "AssocMaxMemPerJobLimit", "mem=1024M")
	mc.submit(alice, ask(1, 1024))
	for _, c := range []struct {
		what string
		ch   api.AccountsChange
	}{
		{"an association's MaxTRES", api.AccountsChange{Associations: []api.Association{{Account: "chem", User: "4201", Shares: 1, Limits: api.Limits{MaxTRES: "cpu=1,mem=1.5G"}}}}},
		{"an account's GrpTRES", api.AccountsChange{Associations: []api.Association{{Account: "chem", Shares: 1, Limits: api.Limits{GrpTRES: "cpu=lots"}}}}},
		{"a QOS's MaxTRES", api.AccountsChange{QOS: []api.QOS{{Name: api.NormalQOS, Limits: api.Limits{MaxTRES: "gres/gpu=x"}}}}},
	} {
		status, e := mc.call(rootUser, api.PathAccountsModify, c.ch, nil)
		if status != http.StatusBadRequest || !strings.Contains(e.Message, "cannot be read") {
			t.Errorf("%s that cannot be read: HTTP %d %+v, want it refused", c.what, status, e)
		}
	}
}

// TestAcctCheckUnreadableLimit: a TRES limit stored before the registry
// refused unreadable ones is not "no limit": a job under it is refused,
// told which limit to set again.
func TestAcctCheckUnreadableLimit(t *testing.T) {
	for _, c := range []struct {
		name, key, record, words string
	}{
		{"an association's MaxTRES", "alice", `{"association":{"account":"chem","user":"alice","shares":1,"maxTRES":"cpu=1,mem=lots"}}`,
			`MaxTRES of user alice in account chem, "cpu=1,mem=lots"`},
		{"an account's GrpTRES", "chem", `{"association":{"account":"chem","shares":1,"grpTRES":"cpu=x"}}`, "GrpTRES of account chem"},
		{"a QOS's MaxTRES", "normal", `{"qos":{"name":"normal","priority":0,"maxTRES":"cpu=1.5"}}`, "MaxTRES of qos normal"},
	} {
		records := map[string]string{
			"root": `{"association":{"account":"root","shares":1,"qos":["normal"]}}`,
			"chem": `{"association":{"account":"chem","shares":1}}`, "alice": `{"association":{"account":"chem","user":"alice","shares":1}}`,
			"normal": `{"qos":{"name":"normal","priority":0}}`,
		}
		records[c.key] = c.record
		snap := `{"account":{"name":"root"}}` + "\n" + `{"account":{"name":"chem","parent":"root"}}` + "\n" +
			`{"acctUser":{"name":"alice","defaultAccount":"chem"}}` + "\n" +
			records["root"] + "\n" + records["chem"] + "\n" + records["alice"] + "\n" + records["normal"] + "\n"
		f := raftfsm.New()
		if err := f.Restore(strings.NewReader(snap), 1); err != nil {
			t.Fatal(err)
		}
		j := api.Job{User: "alice", JobSpec: api.JobSpec{Resources: api.Resources{CPUs: 1, MemoryMB: 64}}}
		err := newAcctCheck(f.State()).check(&j, 1)
		if err == nil || !strings.Contains(err.Error(), "cannot be read") || !strings.Contains(err.Error(), c.words) {
			t.Errorf("%s that cannot be read: %v, want the job refused naming %s", c.name, err, c.words)
		}
	}
}
