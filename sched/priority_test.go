package sched_test

import (
	"math"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
	"github.com/shoal-batch/shoal/sched"
)

// acctSnap is a fakeSnap with an account registry, queue priorities and
// usage settings (sched.AccountsSnapshot, sched.QueuesSnapshot).
type acctSnap struct {
	*fakeSnap
	reg      api.AccountsState
	settings raftfsm.PrioritySettings
	queues   map[string]int // queue priorities
}

func (s *acctSnap) Accounts() api.AccountsState                { return s.reg }
func (s *acctSnap) PrioritySettings() raftfsm.PrioritySettings { return s.settings }
func (s *acctSnap) Queue(name string) *api.JobQueue {
	q := s.fakeSnap.Queue(name)
	q.Priority = s.queues[name]
	return q
}
func (s *acctSnap) Queues() []*api.JobQueue {
	var out []*api.JobQueue
	for name := range s.queues {
		out = append(out, s.Queue(name))
	}
	return out
}

// twoUsers is root with account lab (shares 1) holding alice and bob
// (shares 1 each), and QOS normal (0) and high (100).
func twoUsers() api.AccountsState {
	return api.AccountsState{
		Accounts: []api.Account{{Name: "lab", Parent: "root"}, {Name: "root"}},
		Users:    []api.AcctUser{{Name: "alice", DefaultAccount: "lab"}, {Name: "bob", DefaultAccount: "lab"}},
		Associations: []api.Association{{Account: "lab", Shares: 1}, {Account: "lab", User: "alice", Shares: 1},
			{Account: "lab", User: "bob", Shares: 1}, {Account: "root", Shares: 1}},
		QOS: []api.QOS{{Name: "high", Priority: 100}, {Name: "normal"}},
	}
}

// TestPriorityFactors is a table of jobs and the factors multifactor
// gives them: age against PriorityMaxAge, job size (favouring large
// jobs, or small ones), the queue's priority over the highest, the QOS's
// over the highest, nice subtracted, a priority set by hand kept.
func TestPriorityFactors(t *testing.T) {
	const now = 10_000_000
	snap := &acctSnap{fakeSnap: &fakeSnap{nodes: []*api.Node{node("n1", 8, 8192, 0), node("n2", 8, 8192, 0)}},
		reg: twoUsers(), settings: raftfsm.DefaultPrioritySettings, queues: map[string]int{api.DefaultQueue: 10, "hi": 40}}
	cfg := sched.PriorityConfig{WeightAge: 1000, WeightJobSize: 1000, WeightPartition: 1000, WeightQOS: 1000, MaxAge: 1000}
	mk := func(mod func(j *api.Job)) *api.Job {
		j := job(1, 5, 4, 100, 0)
		j.RunnableAt = now
		mod(j)
		return j
	}
	for _, c := range []struct {
		name  string
		job   *api.Job
		cfg   func(*sched.PriorityConfig)
		want  sched.Factors
		prio  int64
		fixed bool
	}{
		{"fresh", mk(func(*api.Job) {}), nil, sched.Factors{JobSize: 0.375, Partition: 0.25}, 625, false},
		{"waited half of max age", mk(func(j *api.Job) { j.RunnableAt = now - 500_000 }), nil, sched.Factors{Age: 0.5, JobSize: 0.375, Partition: 0.25}, 1125, false},
		{"waited past max age", mk(func(j *api.Job) { j.RunnableAt = now - 5_000_000 }), nil, sched.Factors{Age: 1, JobSize: 0.375, Partition: 0.25}, 1625, false},
		{"age from its begin time", mk(func(j *api.Job) { j.RunnableAt, j.BeginAt = now-900_000, now-100_000 }), nil,
			sched.Factors{Age: 0.1, JobSize: 0.375, Partition: 0.25}, 725, false},
		{"whole cluster", mk(func(j *api.Job) { j.Resources.CPUs = 16 }), nil, sched.Factors{JobSize: 0.75, Partition: 0.25}, 1000, false},
		{"small favoured", mk(func(j *api.Job) { j.Resources.CPUs = 16 }), func(c *sched.PriorityConfig) { c.FavorSmall = true },
			sched.Factors{JobSize: 0.25, Partition: 0.25}, 500, false},
		{"top queue", mk(func(j *api.Job) { j.Queue = "hi" }), nil, sched.Factors{JobSize: 0.375, Partition: 1}, 1375, false},
		{"high qos", mk(func(j *api.Job) { j.QOS = "high" }), nil, sched.Factors{JobSize: 0.375, Partition: 0.25, QOS: 1}, 1625, false},
		{"nice", mk(func(j *api.Job) { j.Nice = 100 }), nil, sched.Factors{JobSize: 0.375, Partition: 0.25, Nice: 100}, 525, false},
		{"nice below 1", mk(func(j *api.Job) { j.Nice = 5000 }), nil, sched.Factors{JobSize: 0.375, Partition: 0.25, Nice: 5000}, 1, false},
		{"fixed", mk(func(j *api.Job) { j.Priority, j.PriorityFixed = 42, true }), nil, sched.Factors{}, 42, true},
	} {
		cf := cfg
		if c.cfg != nil {
			c.cfg(&cf)
		}
		v := raftfsm.ViewOf(c.job)
		f := sched.NewPriorities(snap, now, cf).Of(&v)
		want := c.want
		want.Priority, want.Fixed = c.prio, c.fixed
		if math.Abs(f.Age-want.Age) > 1e-9 || f.JobSize != want.JobSize || f.Partition != want.Partition || f.QOS != want.QOS ||
			f.Nice != want.Nice || f.Priority != want.Priority || f.Fixed != want.Fixed {
			t.Errorf("%s: factors %+v, want %+v", c.name, f, want)
		}
	}
}

// TestFairSharesClassic checks the tree's figures against Slurm's classic
// formulas, by hand: root's children are lab (3 shares) and ops (1);
// lab's users alice (1) and bob (3); usage 600 for alice, 200 for bob,
// 200 for carol in ops, half of it decayed away over one half-life.
func TestFairSharesClassic(t *testing.T) {
	reg := api.AccountsState{
		Accounts: []api.Account{{Name: "lab", Parent: "root"}, {Name: "ops", Parent: "root"}, {Name: "root"}},
		Associations: []api.Association{{Account: "lab", Shares: 3}, {Account: "lab", User: "alice", Shares: 1},
			{Account: "lab", User: "bob", Shares: 3}, {Account: "ops", Shares: 1}, {Account: "ops", User: "carol", Shares: 1},
			{Account: "root", Shares: 1}},
		Usage: []api.AssocUsage{{Account: "lab", User: "alice", Raw: 1200, At: 0}, {Account: "lab", User: "bob", Raw: 400, At: 0},
			{Account: "ops", User: "carol", Raw: 400, At: 0}},
	}
	set := raftfsm.PrioritySettings{HalfLife: 100}
	rows := sched.FairShares(reg, set, 100_000) // one half-life later
	got := map[string]api.ShareRow{}
	var order []string
	for _, r := range rows {
		got[r.Account+"/"+r.User] = r
		order = append(order, r.Account+"/"+r.User)
	}
	wantOrder := []string{"root/", "lab/", "lab/alice", "lab/bob", "ops/", "ops/carol"}
	if len(order) != len(wantOrder) {
		t.Fatalf("rows %v, want %v", order, wantOrder)
	}
	for i := range order {
		if order[i] != wantOrder[i] {
			t.Fatalf("rows %v, want %v (an account, its users, its sub-accounts)", order, wantOrder)
		}
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	lab, alice, bob, ops := got["lab/"], got["lab/alice"], got["lab/bob"], got["ops/"]
	// Shares: lab 3/4, alice 3/4×1/4, bob 3/4×3/4; ops 1/4.
	// Usage (decayed by half): alice 600, bob 200, carol 200; total 1000.
	// Effective: lab = 0.8 (child of root); alice = 0.6 + (0.8-0.6)×1/4,
	// bob = 0.2 + (0.8-0.2)×3/4.
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"lab NormShares", lab.NormShares, 0.75}, {"alice NormShares", alice.NormShares, 0.1875}, {"bob NormShares", bob.NormShares, 0.5625},
		{"ops NormShares", ops.NormShares, 0.25}, {"lab RawUsage", lab.RawUsage, 800}, {"root RawUsage", got["root/"].RawUsage, 1000},
		{"lab EffectvUsage", lab.EffectvUsage, 0.8}, {"alice EffectvUsage", alice.EffectvUsage, 0.65}, {"bob EffectvUsage", bob.EffectvUsage, 0.65},
		{"alice FairShare", alice.FairShare, math.Exp2(-0.65 / 0.1875)}, {"bob FairShare", bob.FairShare, math.Exp2(-0.65 / 0.5625)},
		{"lab FairShare", lab.FairShare, math.Exp2(-0.8 / 0.75)},
	} {
		if !near(c.got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestFairnessOverTime: on a 4-CPU node, alice queues 1,000 one-CPU
// jobs of 100 s; a little later bob queues 100. With fair share weighted,
// bob's jobs start as soon as CPUs free up and, while both wait, bob
// gets at least his half of the starts, though every one of alice's
// jobs was queued before his. Without weights (priority/basic), bob
// waits behind all of alice's jobs.
func TestFairnessOverTime(t *testing.T) {
	for _, multifactor := range []bool{true, false} {
		snap := &acctSnap{fakeSnap: &fakeSnap{nodes: []*api.Node{node("n1", 4, 4096, 0)}}, reg: twoUsers(),
			settings: raftfsm.PrioritySettings{HalfLife: 3600, CPU: 1}, queues: map[string]int{api.DefaultQueue: 1}}
		id := uint64(0)
		add := func(user string, n int, at int64) {
			for range n {
				id++
				j := job(id, api.DefaultPriority(id), 1, 100, 0)
				j.User, j.RunnableAt, j.TimeLimit = user, at, 100
				snap.jobs = append(snap.jobs, j)
			}
		}
		add("alice", 1000, 0)
		cfg := sched.PriorityConfig{}
		if multifactor {
			cfg = sched.PriorityConfig{WeightFairShare: 100000, WeightAge: 1000, MaxAge: 7 * 24 * 3600}
		}
		started := map[string]int{}
		running := map[uint64]int64{} // job -> start (ms)
		var bobFirst int64 = -1
		for round := int64(0); round < 40; round++ {
			now := round * 100_000
			if round == 2 {
				add("bob", 100, now)
			}
			// Jobs that ran 100 s end: their usage is charged.
			for _, j := range snap.jobs {
				start, ok := running[j.ID]
				if !ok || now-start < 100_000 {
					continue
				}
				delete(running, j.ID)
				j.State = api.StateSucceeded
				snap.nodes[0].Allocated = snap.nodes[0].Allocated.Sub(j.Resources)
				charge(&snap.reg, snap.settings, "lab", j.User, float64(j.Resources.CPUs)*100, now)
			}
			plan := sched.ScheduleWith(snap, now, sched.Options{Priority: cfg})
			snap.apply(t, plan)
			for _, pl := range plan.Placements {
				for _, j := range snap.jobs {
					if j.ID == pl.JobID {
						running[j.ID] = now
						if round >= 2 && round < 20 {
							started[j.User]++
						}
						if j.User == "bob" && bobFirst < 0 {
							bobFirst = round
						}
					}
				}
			}
		}
		if multifactor {
			if bobFirst != 2 || started["bob"] < started["alice"] {
				t.Errorf("fair share: bob's first start in round %d (want 2, when CPUs first free up after he queued); starts while both wait: %v, want bob at least half",
					bobFirst, started)
			}
			t.Logf("fair share: starts in rounds 2-19 (both waiting): %v", started)
		} else if bobFirst >= 0 {
			t.Errorf("priority/basic: bob started in round %d, before alice's earlier jobs (%v)", bobFirst, started)
		}
	}
}

// charge adds usage to an association as the FSM does when a job ends.
func charge(reg *api.AccountsState, set raftfsm.PrioritySettings, account, user string, amount float64, now int64) {
	for i, u := range reg.Usage {
		if u.Account == account && u.User == user {
			reg.Usage[i] = api.AssocUsage{Account: account, User: user, Raw: set.Decay(u.Raw, u.At, now) + amount, At: now}
			return
		}
	}
	reg.Usage = append(reg.Usage, api.AssocUsage{Account: account, User: user, Raw: amount, At: now})
}

// TestAssocLimits: a table of registries and queues; each row says which
// jobs a pass places and the reason the others wait.
func TestAssocLimits(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	withLimits := func(mod func(reg *api.AccountsState)) api.AccountsState {
		reg := twoUsers()
		mod(&reg)
		return reg
	}
	setAssoc := func(reg *api.AccountsState, account, user string, l api.Limits) {
		for i, a := range reg.Associations {
			if a.Account == account && a.User == user {
				reg.Associations[i].Limits = l
			}
		}
	}
	for _, c := range []struct {
		name    string
		reg     api.AccountsState
		running []*api.Job // already running on n1
		waiting []*api.Job
		placed  []uint64
		reasons map[uint64]sched.Reason
	}{
		{"no limits", twoUsers(), nil, []*api.Job{userJob(1, "alice", 1), userJob(2, "alice", 1)}, []uint64{1, 2}, nil},
		{"MaxJobs on the user", withLimits(func(r *api.AccountsState) { setAssoc(r, "lab", "alice", api.Limits{MaxJobs: n(1)}) }),
			nil, []*api.Job{userJob(1, "alice", 1), userJob(2, "alice", 1), userJob(3, "bob", 1)}, []uint64{1, 3},
			map[uint64]sched.Reason{2: sched.ReasonAssocMaxJobs}},
		{"MaxJobs from the account, counting running jobs", withLimits(func(r *api.AccountsState) { setAssoc(r, "lab", "", api.Limits{MaxJobs: n(1)}) }),
			[]*api.Job{userJob(9, "alice", 1)}, []*api.Job{userJob(1, "alice", 1), userJob(3, "bob", 1)}, []uint64{3},
			map[uint64]sched.Reason{1: sched.ReasonAssocMaxJobs}},
		{"GrpJobs over the account", withLimits(func(r *api.AccountsState) { setAssoc(r, "lab", "", api.Limits{GrpJobs: n(2)}) }),
			[]*api.Job{userJob(9, "alice", 1)}, []*api.Job{userJob(1, "bob", 1), userJob(2, "bob", 1)}, []uint64{1},
			map[uint64]sched.Reason{2: sched.ReasonAssocGrpJobs}},
		{"GrpTRES cpu", withLimits(func(r *api.AccountsState) { setAssoc(r, "lab", "", api.Limits{GrpTRES: "cpu=3"}) }),
			nil, []*api.Job{userJob(1, "alice", 2), userJob(2, "bob", 2), userJob(3, "bob", 1)}, []uint64{1, 3},
			map[uint64]sched.Reason{2: sched.ReasonAssocGrpCPU}},
		{"GrpTRES mem on the root", withLimits(func(r *api.AccountsState) { setAssoc(r, "root", "", api.Limits{GrpTRES: "mem=1000M"}) }),
			nil, []*api.Job{userJob(1, "alice", 1), userJob(2, "bob", 1)}, []uint64{1},
			map[uint64]sched.Reason{2: sched.ReasonAssocGrpMem}},
		{"QOS MaxJobsPerUser", withLimits(func(r *api.AccountsState) { r.QOS[1].MaxJobsPU = n(1) }),
			nil, []*api.Job{userJob(1, "alice", 1), userJob(2, "alice", 1), userJob(3, "bob", 1)}, []uint64{1, 3},
			map[uint64]sched.Reason{2: sched.ReasonQOSMaxJobsPU}},
	} {
		snap := &acctSnap{fakeSnap: &fakeSnap{nodes: []*api.Node{node("n1", 16, 16384, 0)}}, reg: c.reg,
			settings: raftfsm.DefaultPrioritySettings, queues: map[string]int{api.DefaultQueue: 1}}
		for _, j := range c.running {
			j.State, j.Node = api.StateRunning, "n1"
			snap.nodes[0].Allocated = snap.nodes[0].Allocated.Add(j.Resources)
			snap.jobs = append(snap.jobs, j)
		}
		snap.jobs = append(snap.jobs, c.waiting...)
		plan := sched.Schedule(snap, 0)
		var placed []uint64
		for _, p := range plan.Placements {
			placed = append(placed, p.JobID)
		}
		if len(placed) != len(c.placed) || (len(placed) > 0 && !equalIDs(placed, c.placed)) {
			t.Errorf("%s: placed %v, want %v", c.name, placed, c.placed)
		}
		for _, w := range plan.Waits {
			if want, ok := c.reasons[w.JobID]; ok && w.Reason != want {
				t.Errorf("%s: job %d waits for %s, want %s", c.name, w.JobID, w.Reason, want)
			}
			delete(c.reasons, w.JobID)
		}
		if len(c.reasons) > 0 {
			t.Errorf("%s: jobs %v got no wait", c.name, c.reasons)
		}
	}
}

func userJob(id uint64, user string, cpus int) *api.Job {
	j := job(id, api.DefaultPriority(id), cpus, 512, 0)
	j.User = user
	return j
}

func equalIDs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
