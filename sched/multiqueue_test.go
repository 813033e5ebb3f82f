package sched_test

import (
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/sched"
)

// inQueues makes j a job that may run in any of qs (sbatch
// --partition=a,b): Queue the first of them, as the controller stores it.
func inQueues(j *api.Job, qs ...string) *api.Job {
	j.Queue, j.Queues = qs[0], qs
	return j
}

// TestSlurm17_19_SeveralQueues: a job submitted to several partitions
// starts in whichever of them can start it first, the first listed when
// both can; a placement elsewhere than its Queue names the queue; one
// that can start nowhere waits, with its reservation, in its first queue
// only, and holds nothing back in the others.
func TestSlurm17_19_SeveralQueues(t *testing.T) {
	full := func(n *api.Node) *api.Node { return allocated(n, n.Capacity) }
	t.Run("starts in the second queue when the first is full", func(t *testing.T) {
		snap := &fakeSnap{
			jobs:  []*api.Job{inQueues(job(1, 0, 1, 1, 0), api.DefaultQueue, "p2")},
			nodes: []*api.Node{full(node("a", 1, 4096, 0)), serving(node("b", 4, 4096, 0), "p2")},
		}
		plan := schedule(snap)
		want := sched.Placement{JobID: 1, Node: "b", CE: "p2", Queue: "p2"}
		if len(plan.Placements) != 1 || plan.Placements[0] != want {
			t.Fatalf("placements %+v, want %+v", plan.Placements, want)
		}
	})
	t.Run("the first listed queue when both can", func(t *testing.T) {
		snap := &fakeSnap{
			jobs:  []*api.Job{inQueues(job(1, 0, 1, 1, 0), "p2", api.DefaultQueue)},
			nodes: []*api.Node{node("a", 4, 4096, 0), serving(node("b", 4, 4096, 0), "p2")},
		}
		plan := schedule(snap)
		want := sched.Placement{JobID: 1, Node: "b", CE: "p2"}
		if len(plan.Placements) != 1 || plan.Placements[0] != want {
			t.Fatalf("placements %+v, want %+v (its Queue, p2, first)", plan.Placements, want)
		}
	})
	t.Run("waits in its first queue when none can", func(t *testing.T) {
		snap := &fakeSnap{
			jobs: []*api.Job{
				inQueues(job(1, 10, 2, 1, 0), api.DefaultQueue, "p2"),
				inQueue(job(2, 0, 1, 1, 0), "p2"),
				runningOn(3, "a", 0, 1, 1, 60),
				inQueue(runningOn(4, "b", 0, 1, 1, 600), "p2"),
			},
			nodes: []*api.Node{
				allocated(node("a", 2, 4096, 0), api.Resources{CPUs: 1}),
				serving(allocated(node("b", 2, 4096, 0), api.Resources{CPUs: 1}), "p2"),
			},
		}
		plan := schedule(snap)
		// Job 2 of p2 starts on b: job 1 reserved nothing in p2.
		if want := (sched.Placement{JobID: 2, Node: "b", CE: "p2"}); len(plan.Placements) != 1 || plan.Placements[0] != want {
			t.Fatalf("placements %+v, want %+v", plan.Placements, want)
		}
		if len(plan.Waits) != 1 {
			t.Fatalf("waits %+v, want job 1's alone", plan.Waits)
		}
		if w := plan.Waits[0]; w.JobID != 1 || w.Queue != api.DefaultQueue || w.Reason != sched.ReasonResources || !w.Reserved || w.Node != "a" || w.StartAt != 60_000 {
			t.Fatalf("job 1 waits %+v; want Resources in default, with its reservation on a", w)
		}
	})
}
