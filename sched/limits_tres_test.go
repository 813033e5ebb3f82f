package sched_test

import (
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
	"github.com/shoal-batch/shoal/sched"
)

// TestGrpTRESReadWhole: a GrpTRES is read by the parser sacctmgr and the
// registry use (mem=1000MB is 1000 MiB, as in Slurm), and one that cannot
// be read holds the jobs under it back rather than letting them run
// without a limit.
func TestGrpTRESReadWhole(t *testing.T) {
	for _, c := range []struct {
		name, tres string
		placed     []uint64
		reason     sched.Reason
	}{
		{"mem=1000MB is 1000 MiB", "cpu=8,mem=1000MB", []uint64{1}, sched.ReasonQOSGrpMem},
		{"an unreadable limit fails closed", "cpu=lots", nil, sched.ReasonQOSGrpCPU},
	} {
		reg := twoUsers()
		for i := range reg.QOS {
			if reg.QOS[i].Name == "normal" {
				reg.QOS[i].GrpTRES = c.tres
			}
		}
		snap := &acctSnap{fakeSnap: &fakeSnap{nodes: []*api.Node{node("n1", 16, 16384, 4)}}, reg: reg,
			settings: raftfsm.DefaultPrioritySettings, queues: map[string]int{api.DefaultQueue: 1}}
		snap.jobs = []*api.Job{userJob(1, "alice", 1), userJob(2, "bob", 1)}
		plan := sched.Schedule(snap, 0)
		var placed []uint64
		for _, p := range plan.Placements {
			placed = append(placed, p.JobID)
		}
		if !equalIDs(placed, c.placed) {
			t.Errorf("%s: placed %v, want %v", c.name, placed, c.placed)
		}
		waits := map[uint64]sched.Reason{}
		for _, w := range plan.Waits {
			waits[w.JobID] = w.Reason
		}
		if waits[2] != c.reason {
			t.Errorf("%s: job 2 waits for %q, want %s", c.name, waits[2], c.reason)
		}
	}
}
