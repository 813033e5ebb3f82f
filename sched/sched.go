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
	// Queue and ComputeEnvironment look objects up by name (nil: none).
	Queue(name string) *api.JobQueue
	ComputeEnvironment(name string) *api.ComputeEnvironment
}

// Placement puts one job on one node of a compute environment.
type Placement struct {
	JobID uint64
	Node  string
	CE    string
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

// Schedule places RUNNABLE jobs, those of higher-priority queues first, then
// by job priority, then in submit order, each on the first node (by name)
// of the first compute environment of its queue (in the queue's order) that
// has the CPUs, memory and GPUs (of the type asked for) free. now (epoch ms) holds back jobs whose begin
// time has not come; an array's throttle holds back its tasks beyond its
// limit of running ones.
func Schedule(snap Snapshot, now int64) Plan {
	var jobs []*api.Job
	snap.JobsInState(api.StateRunnable, func(j *api.Job) bool {
		jobs = append(jobs, j)
		return true
	})
	nodes := snap.Nodes()
	targets := queueTargets(snap, nodes, jobs)
	sort.SliceStable(jobs, func(a, b int) bool {
		qa, qb := targets[jobs[a].Queue].priority, targets[jobs[b].Queue].priority
		if qa != qb {
			return qa > qb
		}
		return jobs[a].Priority > jobs[b].Priority
	})
	alloc := make([]api.Resources, len(nodes))
	for i, n := range nodes {
		alloc[i] = n.Allocated
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
		if p, ok := place(j, targets[j.Queue].envs, nodes, alloc); ok {
			plan.Placements = append(plan.Placements, p)
			if throttled {
				running[j.Array.JobID]++
			}
		} else {
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

// target is where a queue's jobs may go: its priority and, per enabled
// compute environment in order, the indexes of its nodes.
type target struct {
	priority int
	envs     []envNodes
}

type envNodes struct {
	name  string
	nodes []int // indexes into the node list
}

// queueTargets resolves each queue that has runnable jobs once per plan.
func queueTargets(snap Snapshot, nodes []*api.Node, jobs []*api.Job) map[string]target {
	out := map[string]target{}
	for _, j := range jobs {
		if _, done := out[j.Queue]; done {
			continue
		}
		q := snap.Queue(j.Queue)
		if q == nil || q.State != api.Enabled {
			out[j.Queue] = target{}
			continue
		}
		t := target{priority: q.Priority}
		for _, ce := range api.QueueEnvironments(q, snap.ComputeEnvironment) {
			en := envNodes{name: ce.Name}
			for i, n := range nodes {
				if ce.Includes(n) {
					en.nodes = append(en.nodes, i)
				}
			}
			t.envs = append(t.envs, en)
		}
		out[j.Queue] = t
	}
	return out
}

// place finds the first UP node with room for j (api.Resources.FitsOn: GPUs
// of the type asked for among them), in environment order, and adds j to
// what that node has allocated.
func place(j *api.Job, envs []envNodes, nodes []*api.Node, alloc []api.Resources) (Placement, bool) {
	for _, e := range envs {
		for _, i := range e.nodes {
			if nodes[i].State == api.NodeUp && j.Resources.FitsOn(nodes[i].Capacity, alloc[i]) {
				alloc[i] = alloc[i].Add(j.Resources)
				return Placement{JobID: j.ID, Node: nodes[i].Name, CE: e.name}, true
			}
		}
	}
	return Placement{}, false
}
