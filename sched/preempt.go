package sched

import (
	"cmp"
	"slices"

	"github.com/shoal-batch/shoal/api"
)

// Preemption is a running job the plan stops to make room for a waiting
// job of a higher-priority queue (Slurm's preempt/partition_prio: the
// queue's Priority is its PriorityTier; the victim's queue's PreemptMode
// says whether it is cancelled or requeued).
type Preemption struct {
	JobID uint64
	Node  string
	// For is the waiting job the room is for.
	For uint64
	// Requeue: the victim's queue's PreemptMode is REQUEUE (run it again
	// later); else CANCEL (it ends PREEMPTED).
	Requeue bool
	// GraceSeconds is the victim's queue's GraceTime: SIGTERM, then
	// SIGKILL that much later (0: the node's own grace).
	GraceSeconds int
}

// MaxPreemptors bounds the waiting jobs one pass preempts for: the next
// pass, once their victims are stopping, goes on.
const MaxPreemptors = 64

// preemptor state: what the pass knows of the running jobs, built once.
type preemptState struct {
	// onNode lists the STARTING and RUNNING jobs of each node index.
	onNode map[int][]*api.Job
	// freeing is what jobs already being stopped (or chosen as victims
	// this pass) will give back on each node; claimed is what preemptors
	// of this pass will take of it.
	freeing, claimed map[int]api.Resources
	victim           map[uint64]bool
}

// preempt looks, for each job that waits for Resources (in the order the
// pass considered them), for a node of its queue where stopping running
// jobs of lower-priority, preemptable queues would make room, and puts
// the fewest such jobs (lowest priority first, then the most recently
// started) in the plan. Room that stopping jobs will give back is counted
// once: a job waiting for earlier victims to end asks for no more.
func (p *pass) preempt() {
	var ps *preemptState
	preemptors := 0
	for _, w := range p.plan.Waits {
		if w.Reason != ReasonResources || w.Job == nil || w.Job.State != api.StateRunnable {
			continue
		}
		t := p.targets[w.Queue]
		if t == nil || !t.enabled || !p.canPreempt(t.priority) {
			continue
		}
		if ps == nil {
			ps = p.runningByNode()
		}
		if p.preemptFor(ps, t, w.Job) {
			if preemptors++; preemptors == MaxPreemptors {
				return
			}
		}
	}
}

// canPreempt reports whether some queue below priority may be preempted
// (cached per pass).
func (p *pass) canPreempt(priority int) bool {
	if p.lowest == nil {
		low := int(^uint(0) >> 1)
		for name := range p.queuesOfRunning() {
			if q := p.snap.Queue(name); q != nil && q.Preemptable() && q.Priority < low {
				low = q.Priority
			}
		}
		p.lowest = &low
	}
	return *p.lowest < priority
}

// queuesOfRunning names the queues of STARTING and RUNNING jobs.
func (p *pass) queuesOfRunning() map[string]bool {
	qs := map[string]bool{}
	for _, st := range []api.JobState{api.StateStarting, api.StateRunning} {
		p.snap.JobsInState(st, func(j *api.Job) bool {
			qs[j.Queue] = true
			return true
		})
	}
	return qs
}

func (p *pass) runningByNode() *preemptState {
	ps := &preemptState{onNode: map[int][]*api.Job{}, freeing: map[int]api.Resources{}, claimed: map[int]api.Resources{}, victim: map[uint64]bool{}}
	index := map[string]int{}
	for i, n := range p.nodes {
		index[n.Name] = i
	}
	for _, st := range []api.JobState{api.StateStarting, api.StateRunning} {
		p.snap.JobsInState(st, func(j *api.Job) bool {
			i, ok := index[j.Node]
			if !ok {
				return true
			}
			if j.StopRequested {
				ps.freeing[i] = ps.freeing[i].Add(j.Resources)
			} else {
				ps.onNode[i] = append(ps.onNode[i], j)
			}
			return true
		})
	}
	return ps
}

// preemptFor finds room for j (of queue t) and records the victims; it
// reports whether it did (with no new victim when jobs already stopping
// make the room).
func (p *pass) preemptFor(ps *preemptState, t *target, j *api.Job) bool {
	type choice struct {
		node    int
		victims []*api.Job
	}
	var best *choice
	seen := map[int]bool{}
	for k := 0; k < t.size; k++ {
		_, i := t.at(k)
		n := p.nodes[i]
		if seen[i] || n.State != api.NodeUp || !j.Resources.FitsOn(n.Capacity, api.Resources{}) {
			continue
		}
		seen[i] = true
		// What stays allocated once the jobs being stopped end, with
		// what earlier preemptors of this pass claimed.
		alloc := p.alloc[i].Sub(ps.freeing[i]).Add(ps.claimed[i])
		if j.Resources.FitsOn(n.Capacity, alloc) {
			best = &choice{node: i}
			break
		}
		var cands []*api.Job
		for _, r := range ps.onNode[i] {
			if ps.victim[r.ID] {
				continue
			}
			if q := p.snap.Queue(r.Queue); q != nil && q.Preemptable() && q.Priority < t.priority {
				cands = append(cands, r)
			}
		}
		slices.SortFunc(cands, func(a, b *api.Job) int {
			if c := cmp.Compare(p.queuePriority(a.Queue), p.queuePriority(b.Queue)); c != 0 {
				return c
			}
			if c := cmp.Compare(b.StartedAt, a.StartedAt); c != 0 {
				return c // the most recently started first: it loses least
			}
			return cmp.Compare(b.ID, a.ID)
		})
		var victims []*api.Job
		for _, v := range cands {
			victims = append(victims, v)
			alloc = alloc.Sub(v.Resources)
			if j.Resources.FitsOn(n.Capacity, alloc) {
				if best == nil || len(victims) < len(best.victims) {
					best = &choice{node: i, victims: victims}
				}
				break
			}
		}
	}
	if best == nil {
		return false
	}
	for _, v := range best.victims {
		ps.victim[v.ID] = true
		ps.freeing[best.node] = ps.freeing[best.node].Add(v.Resources)
		q := p.snap.Queue(v.Queue)
		pre := Preemption{JobID: v.ID, Node: p.nodes[best.node].Name, For: j.ID}
		if q != nil {
			pre.Requeue, pre.GraceSeconds = q.PreemptMode == api.PreemptRequeue, q.GraceTimeSeconds
		}
		p.plan.Preemptions = append(p.plan.Preemptions, pre)
	}
	ps.claimed[best.node] = ps.claimed[best.node].Add(j.Resources)
	return true
}

// queuePriority is a queue's priority (0 if it is gone).
func (p *pass) queuePriority(name string) int {
	if q := p.snap.Queue(name); q != nil {
		return q.Priority
	}
	return 0
}
