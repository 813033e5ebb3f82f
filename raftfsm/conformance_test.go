package raftfsm_test

import (
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// TestSlurm17_18_UpdateBeginTime pins scontrol update StartTime= (Slurm's
// expect test 17.18 moves a --begin=noon-tomorrow job to now): a pending
// job's begin time moves, a started job's cannot.
func TestSlurm17_18_UpdateBeginTime(t *testing.T) {
	h := newHarness(t)
	h.register(1, api.Node{Name: "n1", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}})
	later := newJob("later")
	later.BeginAt = 90_000_000
	ids := h.submit(1000, later)
	at := int64(2000)
	h.mustOK("update StartTime", h.apply(raftfsm.OpUpdateJob, raftfsm.UpdateJobCmd{
		Update: api.UpdateJobRequest{ID: ids[0], BeginAt: &at}, CallerUID: 1000,
	}))
	if j := h.job(ids[0]); j.BeginAt != 2000 {
		t.Fatalf("begin time after the update = %d, want 2000", j.BeginAt)
	}
	if h.place(3000, raftfsm.Placement{JobID: ids[0], Node: "n1"}) != 1 {
		t.Fatal("the job was not placed")
	}
	res := h.apply(raftfsm.OpUpdateJob, raftfsm.UpdateJobCmd{Update: api.UpdateJobRequest{ID: ids[0], BeginAt: &at}, CallerUID: 1000})
	if !api.IsCode(res.Err, api.CodeConflict) {
		t.Fatalf("moving the begin time of a started job: %v, want a conflict", res.Err)
	}
}
