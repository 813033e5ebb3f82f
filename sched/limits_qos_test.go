package sched_test

import (
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
	"github.com/shoal-batch/shoal/sched"
)

// TestQOSLimits: a table of QOS limits (twoUsers' QOS high and normal);
// each row says which jobs a pass places and the reason the others wait.
// A QOS's GrpJobs and GrpTRES count the running jobs of that QOS of all
// users; its MaxJobs holds per user, as MaxJobsPerUser does, the smaller
// of the two winning.
func TestQOSLimits(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	withQOSLimits := func(name string, mod func(q *api.QOS)) api.AccountsState {
		reg := twoUsers()
		for i := range reg.QOS {
			if reg.QOS[i].Name == name {
				mod(&reg.QOS[i])
			}
		}
		return reg
	}
	gpuJob := func(id uint64, user string, gpus int) *api.Job {
		j := userJob(id, user, 1)
		j.Resources.GPUs = gpus
		return j
	}
	for _, c := range []struct {
		name    string
		reg     api.AccountsState
		running []*api.Job // already running on n1
		waiting []*api.Job
		placed  []uint64
		reasons map[uint64]sched.Reason
	}{
		{"GrpJobs over all users, counting running jobs", withQOSLimits("normal", func(q *api.QOS) { q.GrpJobs = n(2) }),
			[]*api.Job{userJob(9, "alice", 1)}, []*api.Job{userJob(1, "bob", 1), userJob(2, "bob", 1)}, []uint64{1},
			map[uint64]sched.Reason{2: sched.ReasonQOSGrpJobs}},
		{"GrpJobs counts only its QOS's jobs", withQOSLimits("normal", func(q *api.QOS) { q.GrpJobs = n(1) }),
			[]*api.Job{withQOS(userJob(9, "alice", 1), "high")},
			[]*api.Job{userJob(1, "bob", 1), userJob(2, "alice", 1), withQOS(userJob(3, "bob", 1), "high")}, []uint64{1, 3},
			map[uint64]sched.Reason{2: sched.ReasonQOSGrpJobs}},
		{"GrpTRES cpu", withQOSLimits("normal", func(q *api.QOS) { q.GrpTRES = "cpu=3" }),
			nil, []*api.Job{userJob(1, "alice", 2), userJob(2, "bob", 2), userJob(3, "bob", 1)}, []uint64{1, 3},
			map[uint64]sched.Reason{2: sched.ReasonQOSGrpCPU}},
		{"GrpTRES cpu, counting running jobs", withQOSLimits("high", func(q *api.QOS) { q.GrpTRES = "cpu=3" }),
			[]*api.Job{withQOS(userJob(9, "alice", 2), "high")},
			[]*api.Job{withQOS(userJob(1, "bob", 2), "high"), userJob(2, "bob", 2)}, []uint64{2},
			map[uint64]sched.Reason{1: sched.ReasonQOSGrpCPU}},
		{"GrpTRES mem", withQOSLimits("normal", func(q *api.QOS) { q.GrpTRES = "mem=1000M" }),
			nil, []*api.Job{userJob(1, "alice", 1), userJob(2, "bob", 1)}, []uint64{1},
			map[uint64]sched.Reason{2: sched.ReasonQOSGrpMem}},
		{"GrpTRES gres/gpu", withQOSLimits("normal", func(q *api.QOS) { q.GrpTRES = "gres/gpu=2" }),
			nil, []*api.Job{gpuJob(1, "alice", 1), gpuJob(2, "bob", 2), gpuJob(3, "bob", 1)}, []uint64{1, 3},
			map[uint64]sched.Reason{2: sched.ReasonQOSGrpGRES}},
		{"MaxJobs per user", withQOSLimits("normal", func(q *api.QOS) { q.MaxJobs = n(1) }),
			nil, []*api.Job{userJob(1, "alice", 1), userJob(2, "alice", 1), userJob(3, "bob", 1)}, []uint64{1, 3},
			map[uint64]sched.Reason{2: sched.ReasonQOSMaxJobsPU}},
		{"MaxJobs under MaxJobsPerUser", withQOSLimits("normal", func(q *api.QOS) { q.MaxJobs, q.MaxJobsPU = n(1), n(3) }),
			[]*api.Job{userJob(9, "alice", 1)}, []*api.Job{userJob(1, "alice", 1), userJob(2, "bob", 1)}, []uint64{2},
			map[uint64]sched.Reason{1: sched.ReasonQOSMaxJobsPU}},
		{"MaxJobsPerUser under MaxJobs", withQOSLimits("normal", func(q *api.QOS) { q.MaxJobs, q.MaxJobsPU = n(3), n(1) }),
			[]*api.Job{userJob(9, "alice", 1)}, []*api.Job{userJob(1, "alice", 1), userJob(2, "bob", 1)}, []uint64{2},
			map[uint64]sched.Reason{1: sched.ReasonQOSMaxJobsPU}},
		{"the QOS's limit is named before the association's", func() api.AccountsState {
			reg := withQOSLimits("normal", func(q *api.QOS) { q.GrpJobs = n(1) })
			reg.Associations[1].MaxJobs = n(1) // lab/alice's
			return reg
		}(), []*api.Job{userJob(9, "alice", 1)}, []*api.Job{userJob(1, "alice", 1)}, nil,
			map[uint64]sched.Reason{1: sched.ReasonQOSGrpJobs}},
	} {
		snap := &acctSnap{fakeSnap: &fakeSnap{nodes: []*api.Node{node("n1", 16, 16384, 4)}}, reg: c.reg,
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
		if !equalIDs(placed, c.placed) {
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

// TestQOSLimitWords: a job waiting at a QOS limit is told, in words,
// which limit holds it and what frees it.
func TestQOSLimitWords(t *testing.T) {
	for r, want := range map[sched.Reason]string{
		sched.ReasonQOSGrpJobs:   "GrpJobs",
		sched.ReasonQOSGrpCPU:    "GrpTRES cpu=",
		sched.ReasonQOSGrpMem:    "GrpTRES mem=",
		sched.ReasonQOSGrpGRES:   "GrpTRES gres/gpu=",
		sched.ReasonQOSMaxJobsPU: "MaxJobsPerUser (or MaxJobs)",
	} {
		got := sched.Wait{Reason: r}.Describe(api.Resources{CPUs: 1}, 0)
		if !strings.Contains(got, "QOS") || !strings.Contains(got, want) {
			t.Errorf("%s: %q, want words on the QOS's %s", r, got, want)
		}
	}
}
