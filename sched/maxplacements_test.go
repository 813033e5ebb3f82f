package sched_test

import (
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/sched"
)

// TestOptionsMaxPlacements: Options.MaxPlacements bounds one plan in place
// of sched.MaxPlacements, in priority order, and the jobs past the bound
// wait without a reason (the next pass places or explains them); zero
// keeps sched.MaxPlacements.
func TestOptionsMaxPlacements(t *testing.T) {
	nodes := bigCluster()
	capacity := 0
	for _, n := range nodes {
		if n.State == api.NodeUp && testServes(n, api.DefaultQueue) {
			capacity += n.Capacity.CPUs
		}
	}
	const numJobs = 10000
	snap := &fakeSnap{nodes: nodes}
	for id := 1; id <= numJobs; id++ {
		snap.jobs = append(snap.jobs, job(uint64(id), int64(id%3), 1, 1024, 0))
	}
	if capacity <= sched.MaxPlacements || capacity >= numJobs {
		t.Fatalf("cluster of %d usable CPUs: want between MaxPlacements %d and %d jobs", capacity, sched.MaxPlacements, numJobs)
	}
	for _, tc := range []struct {
		name  string
		bound int
		want  int
	}{
		{"default", 0, sched.MaxPlacements},
		{"lower", 100, 100},
		{"higher than the room", 2 * numJobs, capacity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := sched.ScheduleWith(snap, 0, sched.Options{MaxPlacements: tc.bound})
			if len(plan.Placements) != tc.want || plan.Waiting != numJobs-tc.want {
				t.Fatalf("placed %d, waiting %d; want %d placed, %d waiting", len(plan.Placements), plan.Waiting, tc.want, numJobs-tc.want)
			}
			// Higher priorities first: no placed job is outranked by one left waiting.
			placed := map[uint64]bool{}
			minPlaced := int64(1 << 62)
			for _, p := range plan.Placements {
				placed[p.JobID] = true
			}
			maxWaiting := int64(-1)
			for _, j := range snap.jobs {
				if placed[j.ID] {
					minPlaced = min(minPlaced, j.Priority)
				} else {
					maxWaiting = max(maxWaiting, j.Priority)
				}
			}
			if maxWaiting > minPlaced {
				t.Errorf("a job of priority %d waits while one of %d is placed", maxWaiting, minPlaced)
			}
		})
	}
}
