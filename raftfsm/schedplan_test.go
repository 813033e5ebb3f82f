package raftfsm_test

import (
	"fmt"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
	"github.com/shoal-batch/shoal/sched"
)

// The FSM's state is what the daemon hands the scheduler.
var _ sched.Snapshot = (*raftfsm.State)(nil)

// TestSchedulePlanApplies: a plan the scheduler makes from the FSM's own
// state applies in full when no other command came between, round after
// round, until the cluster is full.
func TestSchedulePlanApplies(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 40; i++ {
		n := api.Node{Name: fmt.Sprintf("node%02d", i), Boot: "b",
			Capacity: api.Resources{CPUs: 4 + i%4*2, MemoryMB: 16384, GPUs: i % 2}}
		if i%10 == 4 {
			n.Labels = queues("other")
		}
		h.register(1, n)
	}
	var jobs []api.Job
	for id := 1; id <= 400; id++ {
		j := withRes(newJob(fmt.Sprint("j", id)), api.Resources{CPUs: 1 + id%4, MemoryMB: 1024, GPUs: id % 6 / 5})
		j.Priority = int64(id % 3)
		if id%11 == 0 {
			j.Queue = "other"
		}
		jobs = append(jobs, j)
	}
	h.submit(2, jobs...)

	for round := 0; ; round++ {
		if round > 50 {
			t.Fatalf("still placing after %d rounds, want a full cluster", round)
		}
		plan := sched.Schedule(h.fsm.State(), 0)
		if len(plan.Placements) == 0 {
			if plan.Waiting == 0 {
				t.Errorf("final plan: got no waiting jobs, want some (the cluster is too small for all)")
			}
			if got := h.fsm.State().CountInState(api.StateRunnable); got != plan.Waiting {
				t.Errorf("RUNNABLE jobs: got %d, want %d (the final plan's waiting count)", got, plan.Waiting)
			}
			break
		}
		cmd := raftfsm.PlanCmd{Now: int64(3 + round)}
		for _, p := range plan.Placements {
			cmd.Placements = append(cmd.Placements, raftfsm.Placement{JobID: p.JobID, Node: p.Node})
		}
		if got := h.place(cmd.Now, cmd.Placements...); got != len(plan.Placements) {
			t.Fatalf("round %d: FSM applied %d of the plan's %d placements, want all", round, got, len(plan.Placements))
		}
	}
	sum := map[string]api.Resources{}
	h.fsm.State().JobsInState(api.StateStarting, func(j *api.Job) bool {
		sum[j.Node] = sum[j.Node].Add(j.Resources)
		return true
	})
	for _, n := range h.fsm.State().Nodes() {
		if sum[n.Name] != n.Allocated || !n.Allocated.Fits(n.Capacity) {
			t.Errorf("node %s: jobs on it sum to %+v, allocation %+v, want equal and within capacity %+v",
				n.Name, sum[n.Name], n.Allocated, n.Capacity)
		}
	}
}
