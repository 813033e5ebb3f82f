package daemon

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// submitRefused submits spec as who (an array of tasks tasks, when
// tasks > 0) and wants it refused with Slurm's reason (field policy),
// the message holding each of words.
func (mc *memController) submitRefused(what string, who peer, spec api.JobSpec, tasks int, reason string, words ...string) {
	mc.t.Helper()
	req := api.SubmitJobRequest{JobSpec: spec}
	for i := range tasks {
		req.ArrayIndexes = append(req.ArrayIndexes, i)
	}
	status, e := mc.call(who, api.PathSubmit, req, nil)
	if status != http.StatusBadRequest || e.Field != "policy" || !strings.HasPrefix(e.Message, reason+": ") {
		mc.t.Errorf("%s: HTTP %d %+v, want 400 %s (field policy)", what, status, e, reason)
		return
	}
	for _, w := range words {
		if !strings.Contains(e.Message, w) {
			mc.t.Errorf("%s: %q, want it to say %q", what, e.Message, w)
		}
	}
}

// heldOfQOS is heldJob of QOS q (the account's default when "").
func heldOfQOS(q string) api.JobSpec {
	s := heldJob
	s.QOS = q
	return s
}

// TestMemQOSMaxTRES: a QOS's MaxTRES per job refuses a job that asks
// more, with Slurm's reasons, and before the association's MaxTRES does;
// a job of another QOS is not bound by it.
func TestMemQOSMaxTRES(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1")
	mc.mustCall(rootUser, api.PathAccountsAdd, api.AccountsChange{QOS: []api.QOS{{Name: "small", Limits: api.Limits{MaxTRES: "cpu=2,mem=1G,gres/gpu=1"}}}}, nil)
	mc.addAccount(api.Association{Account: "chem", Shares: 1, QOS: []string{"normal", "small"}, Limits: api.Limits{MaxTRES: "cpu=3"}}, api.Association{User: "4201", Shares: 1})
	ask := func(cpus int, memMB int64, gpus int) api.JobSpec {
		s := heldOfQOS("small")
		s.Resources = api.Resources{CPUs: cpus, MemoryMB: memMB, GPUs: gpus}
		return s
	}
	mc.submitRefused("3 CPUs over the QOS's cpu=2", alice, ask(3, 64, 0), 0, "QOSMaxCpuPerJobLimit", "qos small's MaxTRES cpu=2", "at most 2")
	mc.submitRefused("2 GiB over the QOS's mem=1G", alice, ask(1, 2048, 0), 0, "QOSMaxMemoryPerJob", "MaxTRES mem=1024M")
	mc.submitRefused("2 GPUs over the QOS's gres/gpu=1", alice, ask(1, 64, 2), 0, "QOSMaxGRESPerJob", "MaxTRES gres/gpu=1")
	mc.submitRefused("4 CPUs over both MaxTRES", alice, ask(4, 64, 0), 0, "QOSMaxCpuPerJobLimit")
	mc.submit(alice, ask(2, 1024, 0))
	normal := ask(3, 2048, 0)
	normal.QOS = "normal"
	mc.submit(alice, normal)
	normal.Resources.CPUs = 4
	mc.submitRefused("4 CPUs of qos normal over the association's cpu=3", alice, normal, 0, "AssocMaxCpuPerJobLimit")
}

// TestMemQOSMaxSubmitJobs: a QOS's MaxSubmitJobs bounds each user's
// unfinished jobs of it, as MaxSubmitJobsPerUser does, the smaller of
// the two holding; each array task counts.
func TestMemQOSMaxSubmitJobs(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1")
	one, two, three := int64(1), int64(2), int64(3)
	mc.mustCall(rootUser, api.PathAccountsAdd, api.AccountsChange{QOS: []api.QOS{
		{Name: "short", Limits: api.Limits{MaxSubmitJobs: &two}},
		{Name: "both", Limits: api.Limits{MaxSubmitJobs: &three}, MaxSubmitPU: &one}}}, nil)
	mc.addAccount(api.Association{Account: "chem", Shares: 1, QOS: []string{"normal", "short", "both"}}, api.Association{User: "4201", Shares: 1}, api.Association{User: "4202", Shares: 1})
	mc.submitRefused("an array of 3 over MaxSubmitJobs 2", alice, heldOfQOS("short"), 3, "QOSMaxSubmitJobPerUserLimit", "MaxSubmitJobs of 2")
	mc.submit(alice, heldOfQOS("short"))
	mc.submit(alice, heldOfQOS("short"))
	mc.submitRefused("a third job of qos short", alice, heldOfQOS("short"), 0, "QOSMaxSubmitJobPerUserLimit", "user 4201 has 2 unfinished jobs of qos short")
	mc.submit(bob, heldOfQOS("short")) // per user: bob has none
	mc.submit(alice, heldOfQOS("both"))
	mc.submitRefused("a second job of qos both", alice, heldOfQOS("both"), 0, "QOSMaxSubmitJobPerUserLimit", "MaxSubmitJobsPerUser of 1")
}

// TestMemQOSGrpSubmitJobs: a QOS's GrpSubmitJobs bounds the unfinished
// jobs of that QOS of all users together; array tasks and a batch's
// jobs count; a job that ends frees its place.
func TestMemQOSGrpSubmitJobs(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1")
	three := int64(3)
	mc.mustCall(rootUser, api.PathAccountsAdd, api.AccountsChange{QOS: []api.QOS{{Name: "shared", Limits: api.Limits{GrpSubmitJobs: &three}}}}, nil)
	mc.addAccount(api.Association{Account: "chem", Shares: 1, QOS: []string{"normal", "shared"}}, api.Association{User: "4201", Shares: 1}, api.Association{User: "4202", Shares: 1})
	first := mc.submit(alice, heldOfQOS("shared"))
	mc.submit(bob, heldOfQOS("shared"))
	mc.submitRefused("an array of 2 with 2 of 3 jobs used", alice, heldOfQOS("shared"), 2, "QOSGrpSubmitJobsLimit",
		"qos shared has 2 unfinished jobs of all users", "GrpSubmitJobs of 3")
	shared := api.SubmitJobRequest{JobSpec: heldOfQOS("shared")}
	if status, e := mc.call(bob, api.PathSubmitBatch, api.SubmitBatchRequest{Jobs: []api.SubmitJobRequest{shared, shared}}, nil); status != http.StatusBadRequest ||
		!strings.HasPrefix(e.Message, "QOSGrpSubmitJobsLimit: ") {
		t.Errorf("a batch of 2 with 2 of 3 jobs used: HTTP %d %+v, want QOSGrpSubmitJobsLimit", status, e)
	}
	mc.submit(bob, heldOfQOS("shared"))
	mc.submitRefused("a fourth job of qos shared", alice, heldOfQOS("shared"), 0, "QOSGrpSubmitJobsLimit")
	mc.submit(alice, heldOfQOS("normal")) // another QOS
	mc.mustCall(alice, api.PathCancel, api.StopJobRequest{ID: first}, nil)
	mc.waitJob(first, func(j *api.Job) bool { return j.State.Terminal() })
	mc.submit(alice, heldOfQOS("shared"))
}

// TestMemAssocGrpSubmitJobs: an account's GrpSubmitJobs bounds the
// unfinished jobs of all users in it and in the accounts below it; a
// user association's, that user's jobs in its account. Array tasks and
// a batch's jobs count.
func TestMemAssocGrpSubmitJobs(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1")
	one, three := int64(1), int64(3)
	mc.addAccount(api.Association{Account: "physics", Shares: 1, Limits: api.Limits{GrpSubmitJobs: &three}}, api.Association{User: "4201", Shares: 1})
	mc.mustCall(rootUser, api.PathAccountsAdd, api.AccountsChange{
		Accounts: []api.Account{{Name: "astro", Parent: "physics"}, {Name: "chem", Parent: "root"}},
		Users:    []api.AcctUser{{Name: "4202", DefaultAccount: "astro"}},
		Associations: []api.Association{{Account: "astro", Shares: 1}, {Account: "astro", User: "4202", Shares: 1}, {Account: "chem", Shares: 1},
			{Account: "chem", User: "4201", Shares: 1, Limits: api.Limits{GrpSubmitJobs: &one}}, {Account: "chem", User: "4202", Shares: 1}},
	}, nil)
	mc.submit(alice, heldJob)
	mc.submit(bob, heldJob) // in astro, below physics
	mc.submitRefused("an array of 2 with 2 of physics's 3 jobs used", alice, heldJob, 2, "AssocGrpSubmitJobsLimit",
		"account physics has 2 unfinished jobs", "GrpSubmitJobs of 3")
	two := api.SubmitBatchRequest{Jobs: []api.SubmitJobRequest{{JobSpec: heldJob}, {JobSpec: heldJob}}}
	if status, e := mc.call(bob, api.PathSubmitBatch, two, nil); status != http.StatusBadRequest || !strings.HasPrefix(e.Message, "AssocGrpSubmitJobsLimit: ") {
		t.Errorf("a batch of 2 in astro with 2 of physics's 3 jobs used: HTTP %d %+v, want AssocGrpSubmitJobsLimit", status, e)
	}
	mc.submit(bob, heldJob)
	mc.submitRefused("bob's third job in astro", bob, heldJob, 0, "AssocGrpSubmitJobsLimit", "account physics has 3")
	inChem := heldJob
	inChem.Account = "chem"
	mc.submit(alice, inChem)
	mc.submitRefused("alice's second job in chem", alice, inChem, 0, "AssocGrpSubmitJobsLimit", "user 4201 has 1 unfinished jobs in account chem")
	mc.submit(bob, inChem) // alice's limit only
}

// TestMemAcctCheckCountsUserOnce: a batch whose first job counts its
// user's jobs (for MaxSubmitJobs) and whose second counts every user's
// (for GrpSubmitJobs) counts the user's jobs once.
func TestMemAcctCheckCountsUserOnce(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1")
	four, ten := int64(4), int64(10)
	mc.mustCall(rootUser, api.PathAccountsAdd, api.AccountsChange{QOS: []api.QOS{{Name: "shared", Limits: api.Limits{GrpSubmitJobs: &ten}}}}, nil)
	mc.addAccount(api.Association{Account: "chem", Shares: 1, QOS: []string{"normal", "shared"}}, api.Association{User: "4201", Shares: 1, Limits: api.Limits{MaxSubmitJobs: &four}})
	mc.submit(alice, heldJob)
	mc.submit(alice, heldJob)
	batch := api.SubmitBatchRequest{Jobs: []api.SubmitJobRequest{{JobSpec: heldJob}, {JobSpec: heldOfQOS("shared")}}}
	if status, e := mc.call(alice, api.PathSubmitBatch, batch, nil); status != http.StatusOK {
		t.Errorf("a batch of 2 with 2 of MaxSubmitJobs 4 used: HTTP %d %+v, want it taken", status, e)
	}
	mc.submitRefused("a fifth job", alice, heldOfQOS("shared"), 0, "AssocMaxSubmitJobLimit", "has 4 unfinished jobs")
}

// TestMemParallelGroupSubmitsCounted: many users' submits at once under a
// QOS's GrpSubmitJobs are checked one after another, not together
// against one state: exactly the limit is stored.
func TestMemParallelGroupSubmitsCounted(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1")
	three := int64(3)
	mc.mustCall(rootUser, api.PathAccountsAdd, api.AccountsChange{QOS: []api.QOS{{Name: "shared", Limits: api.Limits{GrpSubmitJobs: &three}}}}, nil)
	var users []peer
	var assocs []api.Association
	for uid := uint32(4301); uid < 4333; uid++ {
		users = append(users, peer{uid, uid})
		mc.addPeer(users[len(users)-1])
		assocs = append(assocs, api.Association{User: strconv.Itoa(int(uid)), Shares: 1})
	}
	mc.addAccount(api.Association{Account: "chem", Shares: 1, QOS: []string{"normal", "shared"}}, assocs...)
	// Each submit waits a moment between its checks and its raft entry,
	// where, without the lock over all users' submits, the others would
	// be checked against the same state and all pass.
	window := func() { time.Sleep(40 * time.Millisecond) }
	mc.c.submitters.testWindow.Store(&window)
	var wg sync.WaitGroup
	var taken atomic.Int32
	start := make(chan struct{})
	for k := range 64 {
		who := users[k%len(users)]
		wg.Go(func() {
			<-start
			if status, e := mc.call(who, api.PathSubmit, api.SubmitJobRequest{JobSpec: heldOfQOS("shared")}, nil); status == http.StatusOK {
				taken.Add(1)
			} else if !strings.Contains(e.Message, "QOSGrpSubmitJobsLimit") {
				t.Errorf("user %d's submit: HTTP %d %s, want taken or refused for QOSGrpSubmitJobsLimit", who.uid, status, e.Message)
			}
		})
	}
	close(start)
	wg.Wait()
	if n, stored := taken.Load(), len(mc.jobs(rootUser, api.ListJobsRequest{})); n != 3 || stored != 3 {
		t.Errorf("64 parallel submits of %d users under GrpSubmitJobs 3: %d taken, %d stored; want 3", len(users), n, stored)
	}
}
