package sched

import (
	"sort"

	"github.com/shoal-batch/shoal/api"
)

// Snapshot is the read-only state the scheduler plans against.
type Snapshot interface {
	// JobsInState calls fn for each job in state st in id order until fn
	// returns false.
	JobsInState(st api.JobState, fn func(*api.Job) bool)
	// Nodes returns every node, sorted by name.
	Nodes() []*api.Node
}

// Placement puts one job on one node.
type Placement struct {
	JobID uint64
	Node  string
}

// Plan is the scheduler's answer for one snapshot.
type Plan struct {
	Placements []Placement
	// Waiting counts RUNNABLE jobs left unplaced for want of resources.
	Waiting int
}

// MaxPlacements bounds one plan, so that one raft entry stays small and a
// flood of submissions does not delay the first placements.
const MaxPlacements = 4096

// Schedule places RUNNABLE jobs, highest priority first and then in submit
// order, each on the first node (by name) that serves its queue and has the
// CPUs, memory and GPUs free.
func Schedule(snap Snapshot) Plan {
	var jobs []*api.Job
	snap.JobsInState(api.StateRunnable, func(j *api.Job) bool {
		jobs = append(jobs, j)
		return true
	})
	sort.SliceStable(jobs, func(a, b int) bool { return jobs[a].Priority > jobs[b].Priority })

	nodes := snap.Nodes()
	free := make([]api.Resources, len(nodes))
	for i, n := range nodes {
		free[i] = n.Free()
	}
	var plan Plan
	for _, j := range jobs {
		if len(plan.Placements) == MaxPlacements {
			plan.Waiting++
			continue
		}
		placed := false
		for i, n := range nodes {
			if n.State != api.NodeUp || !n.Serves(j.Queue) || !j.Resources.Fits(free[i]) {
				continue
			}
			free[i] = free[i].Sub(j.Resources)
			plan.Placements = append(plan.Placements, Placement{JobID: j.ID, Node: n.Name})
			placed = true
			break
		}
		if !placed {
			plan.Waiting++
		}
	}
	return plan
}
