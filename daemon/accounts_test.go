package daemon

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/sched"
)

// TestMemAccounts drives the registry through the API of a real
// controller: writes are for operators only; an empty registry enforces
// nothing; the first account brings root, user root and QOS normal; then
// a job takes its user's default account and an account the user is not
// in is refused in Slurm's words; a finished job's CPU-seconds are
// charged to its association and lower its user's fair share, which
// sshare's and sprio's answers show.
func TestMemAccounts(t *testing.T) {
	mc := startMemController(t, Config{NodeTTL: 24 * time.Hour, Sched: sched.Options{Priority: sched.PriorityConfig{
		WeightAge: 1000, WeightFairShare: 10000, WeightQOS: 100, MaxAge: 3600}}})
	spec := api.JobSpec{Name: "j", Command: []string{"true"}, Dir: "/", Resources: api.Resources{CPUs: 2, MemoryMB: 64}}
	mc.registerNode("n1")
	// No registry: any label goes.
	free := spec
	free.Held = true
	free.Account = "anything"
	mc.submit(alice, free)

	add := api.AccountsChange{Accounts: []api.Account{{Name: "physics", Parent: "root", Description: "physics", Organization: "sci"}},
		Associations: []api.Association{{Account: "physics", Shares: 1}}}
	if status, e := mc.call(alice, api.PathAccountsAdd, add, nil); status != http.StatusForbidden || e.Code != api.CodeForbidden {
		t.Fatalf("alice adds an account: HTTP %d %s %q, want 403 PermissionDenied", status, e.Code, e.Message)
	}
	mc.mustCall(rootUser, api.PathAccountsAdd, add, nil)
	var reg api.AccountsState
	mc.mustCall(alice, api.PathAccounts, api.AccountsRequest{}, &reg)
	if len(reg.Accounts) != 2 || reg.Accounts[1].Name != "root" || len(reg.Users) != 1 || reg.Users[0].Name != "root" || len(reg.QOS) != 1 {
		t.Fatalf("registry after the first add: %+v, want root and physics, user root, qos normal", reg)
	}
	aliceName, bobName := "4201", "4202" // no passwd entries: their uids name them
	mc.mustCall(rootUser, api.PathAccountsAdd, api.AccountsChange{
		Users:        []api.AcctUser{{Name: aliceName, DefaultAccount: "physics"}, {Name: bobName, DefaultAccount: "physics"}},
		Associations: []api.Association{{Account: "physics", User: aliceName, Shares: 1}, {Account: "physics", User: bobName, Shares: 1}},
	}, nil)

	held := spec
	held.Held = true
	id := mc.submit(alice, held)
	if j := mc.c.fsm.State().Job(id); j.Account != "physics" {
		t.Errorf("alice's job without -A: account %q, want her default physics", j.Account)
	}
	bad := spec
	bad.Account = "chemistry"
	status, e := mc.call(alice, api.PathSubmit, api.SubmitJobRequest{JobSpec: bad}, nil)
	if status != http.StatusBadRequest || e.Field != "account" || !strings.HasPrefix(e.Message, api.ErrInvalidAccount) {
		t.Errorf("alice submits to chemistry: HTTP %d %+v, want 400 %q (field account)", status, e, api.ErrInvalidAccount)
	}

	// Run alice's job for 100 s on a node: 2 CPUs × 100 s charged.
	mc.mustCall(alice, api.PathHold, api.HoldJobsRequest{IDs: []uint64{id}, Hold: false}, nil)
	var j api.Job
	mc.mustCall(alice, api.PathWait, api.WaitJobRequest{ID: id, States: []api.JobState{api.StateStarting}, WaitMillis: 5000}, &j)
	mc.mustCall(rootUser, api.PathNodeEvents, api.JobEventsRequest{Events: []api.JobEvent{{ID: id, Node: j.Node, State: api.StateRunning, Attempt: j.Attempt}}}, nil)
	mc.clock.Advance(100 * time.Second)
	zero := 0
	mc.mustCall(rootUser, api.PathNodeEvents, api.JobEventsRequest{Events: []api.JobEvent{{ID: id, Node: j.Node, State: api.StateSucceeded, ExitCode: &zero, Attempt: j.Attempt}}}, nil)
	mc.waitJob(id, func(j *api.Job) bool { return j.State == api.StateSucceeded })

	var shares api.SharesResponse
	mc.mustCall(bob, api.PathShares, api.SharesRequest{}, &shares)
	row := func(user string) api.ShareRow {
		for _, r := range shares.Rows {
			if r.User == user {
				return r
			}
		}
		t.Fatalf("sshare: no row of user %s in %+v", user, shares.Rows)
		return api.ShareRow{}
	}
	a, b := row(aliceName), row(bobName)
	// Classic fair share: physics has half of root's shares and all of
	// its usage; each user a quarter. alice's effective usage is 1:
	// 2^(-1/0.25); bob's is half his account's: 2^(-0.5/0.25).
	if a.RawUsage < 199 || a.RawUsage > 200 || b.RawUsage != 0 || a.NormShares != 0.25 || a.FairShare != 0.0625 || b.FairShare != 0.25 {
		t.Errorf("shares: alice %+v, bob %+v; want alice ~200 CPU-seconds, fair shares 0.0625 and 0.25", a, b)
	}

	// sprio: bob's waiting job outranks alice's on fair share.
	ja, jb := mc.submit(alice, held), mc.submit(bob, held)
	var prio api.PriorityResponse
	mc.mustCall(alice, api.PathPriority, api.PriorityRequest{}, &prio)
	if !prio.Multifactor || prio.Weights.FairShare != 10000 {
		t.Fatalf("sprio weights: %+v, want multifactor with FairShare 10000", prio)
	}
	got := map[uint64]api.JobPriority{}
	for _, p := range prio.Jobs {
		got[p.JobID] = p
	}
	if got[ja].FairShare != 625 || got[jb].FairShare != 2500 || got[ja].Priority != 625 || got[jb].Priority != 2500 {
		t.Errorf("sprio: alice's job %+v, bob's %+v; want fair shares 625 and 2500 of weight 10000, and those priorities", got[ja], got[jb])
	}
	// squeue's priority of a waiting job is the one the scheduler uses.
	full := spec
	full.Resources.CPUs = 4
	blocker := mc.submit(alice, full)
	mc.waitJob(blocker, func(j *api.Job) bool { return j.State == api.StateStarting })
	mc.mustCall(bob, api.PathHold, api.HoldJobsRequest{IDs: []uint64{jb}, Hold: false}, nil)
	mc.waitJob(jb, func(j *api.Job) bool { return j.State == api.StateRunnable })
	if l := mc.jobs(bob, api.ListJobsRequest{IDs: []uint64{jb}}); len(l) != 1 || l[0].Priority != 2500 {
		t.Errorf("list of bob's waiting job: %+v, want priority 2500 (multifactor)", l)
	}
}

// TestMemAccountLimits: limits on what may be submitted, checked at
// submit: MaxSubmitJobs (inherited from the account), MaxWall (a job
// without a time limit gets it; one over it is refused), MaxTRES per
// job, QOS MaxSubmitJobsPerUser; each refusal names Slurm's reason.
func TestMemAccountLimits(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1")
	two, sixty, one := int64(2), int64(60), int64(1)
	mc.mustCall(rootUser, api.PathAccountsAdd, api.AccountsChange{
		Accounts:     []api.Account{{Name: "physics", Parent: "root"}},
		Associations: []api.Association{{Account: "physics", Shares: 1, QOS: []string{"normal", "debug"}, Limits: api.Limits{MaxSubmitJobs: &two, MaxWall: &sixty, MaxTRES: "cpu=2"}}},
		QOS:          []api.QOS{{Name: "debug", MaxSubmitPU: &one}},
	}, nil)
	mc.mustCall(rootUser, api.PathAccountsAdd, api.AccountsChange{
		Users:        []api.AcctUser{{Name: "4201", DefaultAccount: "physics"}},
		Associations: []api.Association{{Account: "physics", User: "4201", Shares: 1}},
	}, nil)
	spec := api.JobSpec{Name: "j", Command: []string{"true"}, Dir: "/", Held: true, Resources: api.Resources{CPUs: 1, MemoryMB: 64}}
	refused := func(what string, s api.JobSpec, reason string) {
		t.Helper()
		status, e := mc.call(alice, api.PathSubmit, api.SubmitJobRequest{JobSpec: s}, nil)
		if status != http.StatusBadRequest || e.Field != "policy" || !strings.HasPrefix(e.Message, reason+": ") {
			t.Errorf("%s: HTTP %d %+v, want 400 %s (field policy)", what, status, e, reason)
		}
	}
	big := spec
	big.Resources.CPUs = 3
	refused("3 CPUs over MaxTRES cpu=2", big, "AssocMaxCpuPerJobLimit")
	long := spec
	long.TimeLimit = 2 * 3600
	refused("2 hours over MaxWall 60", long, "AssocMaxWallDurationPerJobLimit")
	debug := spec
	debug.QOS = "debug"
	id := mc.submit(alice, debug)
	if j := mc.c.fsm.State().Job(id); j.TimeLimit != 3600 {
		t.Errorf("a job without a time limit: %d s, want the MaxWall, 3600", j.TimeLimit)
	}
	refused("a second job of qos debug", debug, "QOSMaxSubmitJobPerUserLimit")
	mc.submit(alice, spec)
	refused("a third job in physics", spec, "AssocMaxSubmitJobLimit")
	// A batch counts its own jobs too: nothing of it is stored.
	before := len(mc.jobs(rootUser, api.ListJobsRequest{}))
	if status, _ := mc.call(alice, api.PathSubmitBatch, api.SubmitBatchRequest{Jobs: []api.SubmitJobRequest{{JobSpec: spec}}}, nil); status != http.StatusBadRequest {
		t.Errorf("a batch over MaxSubmitJobs: HTTP %d, want 400", status)
	}
	if after := len(mc.jobs(rootUser, api.ListJobsRequest{})); after != before {
		t.Errorf("the refused batch stored %d jobs", after-before)
	}
	// A job ended and queued again (scontrol requeue) is submitted again:
	// at the limit it is refused as a new job would be.
	mc.mustCall(alice, api.PathCancel, api.StopJobRequest{ID: id}, nil)
	mc.submit(alice, spec)
	status, e := mc.call(alice, api.PathTerminate, api.StopJobRequest{ID: id, Requeue: true}, nil)
	if status != http.StatusBadRequest || !strings.HasPrefix(e.Message, "AssocMaxSubmitJobLimit: ") {
		t.Errorf("requeue of an ended job at MaxSubmitJobs: HTTP %d %+v, want AssocMaxSubmitJobLimit", status, e)
	}
}

// TestMemLimitRaised: a job held back by its association's MaxJobs waits
// with Slurm's reason, and starts as soon as an operator raises the
// limit: a registry change wakes the scheduler.
func TestMemLimitRaised(t *testing.T) {
	mc := startMemController(t, Config{NodeTTL: 24 * time.Hour})
	mc.registerNode("n1")
	one, two := int64(1), int64(2)
	mc.mustCall(rootUser, api.PathAccountsAdd, api.AccountsChange{
		Accounts:     []api.Account{{Name: "physics", Parent: "root"}},
		Associations: []api.Association{{Account: "physics", Shares: 1}},
	}, nil)
	user := api.Association{Account: "physics", User: "4201", Shares: 1, Limits: api.Limits{MaxJobs: &one}}
	mc.mustCall(rootUser, api.PathAccountsAdd, api.AccountsChange{
		Users: []api.AcctUser{{Name: "4201", DefaultAccount: "physics"}}, Associations: []api.Association{user}}, nil)
	spec := api.JobSpec{Name: "j", Command: []string{"true"}, Dir: "/", Resources: api.Resources{CPUs: 1, MemoryMB: 64}}
	first := mc.submit(alice, spec)
	mc.waitJob(first, func(j *api.Job) bool { return j.State == api.StateStarting })
	second := mc.submit(alice, spec)
	mc.waitJob(second, func(j *api.Job) bool { return j.WaitReason == "AssocMaxJobsLimit" })
	user.MaxJobs = &two
	mc.mustCall(rootUser, api.PathAccountsModify, api.AccountsChange{Associations: []api.Association{user}}, nil)
	mc.waitJob(second, func(j *api.Job) bool { return j.State == api.StateStarting })
}

// addAccount adds an account under root with its association acct, and
// users (named by their uids) whose default account it is, with their
// associations in it.
func (mc *memController) addAccount(acct api.Association, users ...api.Association) {
	mc.t.Helper()
	mc.mustCall(rootUser, api.PathAccountsAdd, api.AccountsChange{
		Accounts: []api.Account{{Name: acct.Account, Parent: "root"}}, Associations: []api.Association{acct}}, nil)
	change := api.AccountsChange{}
	for _, u := range users {
		u.Account = acct.Account
		change.Users = append(change.Users, api.AcctUser{Name: u.User, DefaultAccount: acct.Account})
		change.Associations = append(change.Associations, u)
	}
	mc.mustCall(rootUser, api.PathAccountsAdd, change, nil)
}

// TestMemAssociationQOS: an association's QOS list (its own, else the
// nearest account's above) bounds the QOS its user may ask for, as
// Slurm's does; its DefaultQOS is what a job asking none gets. An array
// counts each task against MaxSubmitJobs.
func TestMemAssociationQOS(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1")
	three := int64(3)
	mc.mustCall(rootUser, api.PathAccountsAdd, api.AccountsChange{QOS: []api.QOS{{Name: "low"}, {Name: "urgent"}}}, nil)
	mc.addAccount(api.Association{Account: "chem", Shares: 1, QOS: []string{"normal", "low"}, DefaultQOS: "low"},
		api.Association{User: "4201", Shares: 1, Limits: api.Limits{MaxSubmitJobs: &three}},
		api.Association{User: "4202", Shares: 1, QOS: []string{"urgent"}})
	spec := func(qos string) api.JobSpec {
		return api.JobSpec{Name: "j", Command: []string{"true"}, Dir: "/", Held: true, QOS: qos, Resources: api.Resources{CPUs: 1, MemoryMB: 64}}
	}
	refused := func(who peer, qos string) {
		t.Helper()
		status, e := mc.call(who, api.PathSubmit, api.SubmitJobRequest{JobSpec: spec(qos)}, nil)
		if status != http.StatusBadRequest || e.Field != "qos" || !strings.Contains(e.Message, "Invalid qos specification") {
			t.Errorf("uid %d asking qos %s: HTTP %d %+v, want it refused", who.uid, qos, status, e)
		}
	}
	refused(alice, "urgent") // chem's list: normal, low
	id := mc.submit(alice, spec(""))
	if j := mc.c.fsm.State().Job(id); j == nil || j.QOS != "low" {
		t.Fatalf("alice's job %d asking no qos: %+v, want chem's DefaultQOS low", id, j)
	}
	mc.submit(alice, spec("normal"))
	mc.submit(bob, spec("urgent")) // bob's own list
	refused(bob, "low")
	// alice has 2 unfinished jobs of MaxSubmitJobs 3: an array of 2 tasks
	// would pass it.
	status, e := mc.call(alice, api.PathSubmit, api.SubmitJobRequest{JobSpec: spec(""), ArrayIndexes: []int{0, 1}}, nil)
	if status != http.StatusBadRequest || !strings.HasPrefix(e.Message, "AssocMaxSubmitJobLimit: ") {
		t.Errorf("an array of 2 with 2 of 3 jobs used: HTTP %d %+v, want AssocMaxSubmitJobLimit", status, e)
	}
	if status, e := mc.call(alice, api.PathSubmit, api.SubmitJobRequest{JobSpec: spec(""), ArrayIndexes: []int{0}}, nil); status != http.StatusOK {
		t.Errorf("an array of 1 with 2 of 3 jobs used: HTTP %d %+v, want it taken", status, e)
	}
}

// Parallel submits of one user do not pass MaxSubmitJobs together: each
// is checked against the jobs the ones before it stored.
func TestMemParallelSubmitsCounted(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1")
	three := int64(3)
	mc.addAccount(api.Association{Account: "bio", Shares: 1}, api.Association{User: "4201", Shares: 1, Limits: api.Limits{MaxSubmitJobs: &three}})
	spec := api.JobSpec{Name: "j", Command: []string{"true"}, Dir: "/", Held: true, Resources: api.Resources{CPUs: 1, MemoryMB: 64}}
	var wg sync.WaitGroup
	var taken atomic.Int32
	start := make(chan struct{})
	for range 64 {
		wg.Go(func() {
			<-start
			if status, _ := mc.call(alice, api.PathSubmit, api.SubmitJobRequest{JobSpec: spec}, nil); status == http.StatusOK {
				taken.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if n, held := taken.Load(), len(mc.jobs(alice, api.ListJobsRequest{})); n != 3 || held != 3 {
		t.Errorf("64 parallel submits under MaxSubmitJobs 3: %d taken, %d stored; want 3", n, held)
	}
}
