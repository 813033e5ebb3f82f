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
	// Waiting counts RUNNABLE jobs left unplaced (resources, begin time,
	// array throttle).
	Waiting int
	// NextBegin is the earliest begin time (epoch ms) of a job held back by
	// it, 0 if none: plan again then.
	NextBegin int64
}

// MaxPlacements bounds one plan, so that one raft entry stays small and a
// flood of submissions does not delay the first placements.
const MaxPlacements = 4096

// Schedule places RUNNABLE jobs, highest priority first and then in submit
// order, each on the first node (by name) that serves its queue and has the
// CPUs, memory and GPUs free. now (epoch ms) holds back jobs whose begin
// time has not come; an array's throttle holds back its tasks beyond its
// limit of running ones.
func Schedule(snap Snapshot, now int64) Plan {
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
	running := runningTasks(snap, jobs)
	var plan Plan
	for _, j := range jobs {
		if j.BeginAt > now {
			plan.Waiting++
			if plan.NextBegin == 0 || j.BeginAt < plan.NextBegin {
				plan.NextBegin = j.BeginAt
			}
			continue
		}
		throttled := j.Array != nil && j.Array.MaxRunning > 0
		if len(plan.Placements) == MaxPlacements || (throttled && running[j.Array.JobID] >= j.Array.MaxRunning) {
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
			if throttled {
				running[j.Array.JobID]++
			}
			placed = true
			break
		}
		if !placed {
			plan.Waiting++
		}
	}
	return plan
}

// runningTasks counts the placed tasks of each throttled array that has
// RUNNABLE tasks.
func runningTasks(snap Snapshot, runnable []*api.Job) map[uint64]int {
	counts := map[uint64]int{}
	for _, j := range runnable {
		if j.Array != nil && j.Array.MaxRunning > 0 {
			counts[j.Array.JobID] = 0
		}
	}
	if len(counts) == 0 {
		return counts
	}
	for _, st := range []api.JobState{api.StateStarting, api.StateRunning} {
		snap.JobsInState(st, func(j *api.Job) bool {
			if j.Array != nil {
				if _, ok := counts[j.Array.JobID]; ok {
					counts[j.Array.JobID]++
				}
			}
			return true
		})
	}
	return counts
}
