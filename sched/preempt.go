package sched

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// Preemption is a running job the plan stops to make room for a waiting
// job, under one of Slurm's PreemptTypes (Options.PreemptType):
//
//   - preempt/partition_prio (the default): a job of a higher-priority
//     queue (its PriorityTier) preempts the jobs of lower, preemptable
//     queues; the victim's queue's PreemptMode and GraceTime apply.
//   - preempt/qos: a job preempts the jobs whose QOS is in its QOS's
//     Preempt list (never its own QOS); the victim's QOS's PreemptMode
//     applies, else its queue's, else the cluster's (Options.PreemptMode),
//     and its QOS's GraceTime, else its queue's.
//   - preempt/none: no job is preempted.
//
// Under either type a job that has run less than its QOS's
// PreemptExemptTime is not preempted.
type Preemption struct {
	JobID uint64
	Node  string
	// For is the waiting job the room is for.
	For uint64
	// Requeue: the victim's PreemptMode is REQUEUE (run it again later);
	// else CANCEL (it ends PREEMPTED).
	Requeue bool
	// GraceSeconds is the victim's GraceTime: SIGTERM, then SIGKILL that
	// much later (0: the node's own grace).
	GraceSeconds int
}

// PreemptTypes, as Slurm's PreemptType names them after "preempt/".
const (
	PreemptPartitionPrio = "partition_prio"
	PreemptQOS           = "qos"
	PreemptNone          = "none"
)

// ParsePreemptType reads a PreemptType (with or without "preempt/").
func ParsePreemptType(s string) (string, error) {
	switch v := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "preempt/"); v {
	case PreemptPartitionPrio, PreemptQOS, PreemptNone:
		return v, nil
	case "":
		return PreemptPartitionPrio, nil
	}
	return "", fmt.Errorf("preempt type %q: give partition_prio, qos or none (Slurm's preempt/partition_prio, preempt/qos, preempt/none)", s)
}

// ParsePreemptMode reads the cluster's PreemptMode for a PreemptType:
// CANCEL or REQUEUE ("" is CANCEL; OFF with PreemptNone); SUSPEND and
// GANG are refused, as is OFF with a PreemptType that preempts, or a mode
// with PreemptNone (Slurm's "PreemptType and PreemptMode values
// incompatible").
func ParsePreemptMode(mode, preemptType string) (string, error) {
	m := strings.ToUpper(strings.TrimSpace(mode))
	switch m {
	case "":
		if preemptType == PreemptNone {
			return api.PreemptOff, nil
		}
		return api.PreemptCancel, nil
	case api.PreemptCancel, api.PreemptRequeue:
		if preemptType == PreemptNone {
			return "", fmt.Errorf("PreemptType and PreemptMode values incompatible: preempt mode %s with preempt type none: give preempt mode OFF, or preempt type qos or partition_prio", m)
		}
		return m, nil
	case api.PreemptOff:
		if preemptType != PreemptNone {
			return "", fmt.Errorf("PreemptType and PreemptMode values incompatible: preempt mode OFF with preempt type %s: give CANCEL or REQUEUE, or preempt type none", preemptType)
		}
		return m, nil
	case "SUSPEND", "GANG", "SUSPEND,GANG", "GANG,SUSPEND":
		return "", fmt.Errorf("preempt mode %s: shoal does not suspend or gang-schedule jobs: give CANCEL or REQUEUE (or OFF with preempt type none)", m)
	}
	return "", fmt.Errorf("preempt mode %q: give CANCEL or REQUEUE (or OFF with preempt type none)", mode)
}

// MaxPreemptors bounds the waiting jobs one pass preempts for: the next
// pass, once their victims are stopping, goes on.
const MaxPreemptors = 64

// preemptor state: what the pass knows of the running jobs, built once.
type preemptState struct {
	// onNode lists the STARTING and RUNNING jobs of each node index.
	onNode map[int][]*Job
	// freeing is what jobs already being stopped (or chosen as victims
	// this pass) will give back on each node; claimed is what preemptors
	// of this pass will take of it.
	freeing, claimed map[int]api.Resources
	victim           map[uint64]bool
	// nodeOf is each running job's node index; holders are the running
	// jobs (not being stopped) that hold licenses; licFreeing is what of
	// each license stopping jobs will give back, licClaimed what
	// preemptors of this pass will take of it.
	nodeOf                 map[uint64]int
	holders                []*Job
	licFreeing, licClaimed map[string]int64
	// preempted lists, per node index, the jobs being preempted there.
	preempted map[int][]uint64
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
	for k := range p.plan.Waits {
		w := &p.plan.Waits[k]
		// A job waiting for licenses behind another (Blocker) waits its
		// turn: only the first asks for room.
		forLicenses := w.Reason == ReasonLicenses && w.Blocker == 0
		if (w.Reason != ReasonResources && !forLicenses) || w.Job == nil || w.Job.State != api.StateRunnable {
			continue
		}
		t := p.targets[w.Queue]
		if t == nil || !t.enabled || !p.canPreempt(t.priority, w.Job) {
			continue
		}
		if ps == nil {
			ps = p.runningByNode()
		}
		var found bool
		if forLicenses {
			w.Preempting, found = p.preemptForLicenses(ps, t, w.Job)
		} else {
			w.Preempting, found = p.preemptFor(ps, t, w.Job)
		}
		w.PreemptingQOS = len(w.Preempting) > 0 && p.byQOS()
		if found {
			if preemptors++; preemptors == MaxPreemptors {
				return
			}
		}
	}
}

// byQOS reports whether the pass preempts by QOS.
func (p *pass) byQOS() bool { return p.opts.PreemptType == PreemptQOS }

// canPreempt reports whether j, of a queue of that priority, may preempt
// anything: under partition_prio, whether some queue below priority may
// be preempted (cached per pass); under qos, whether j's QOS names QOS
// it may preempt.
func (p *pass) canPreempt(priority int, j *Job) bool {
	switch p.opts.PreemptType {
	case PreemptNone:
		return false
	case PreemptQOS:
		q := p.qosOf(j)
		return q != nil && len(q.Preempt) > 0
	}
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
		p.snap.JobViews(st, func(j *Job) bool {
			qs[j.Queue] = true
			return true
		})
	}
	return qs
}

func (p *pass) runningByNode() *preemptState {
	ps := &preemptState{onNode: map[int][]*Job{}, freeing: map[int]api.Resources{}, claimed: map[int]api.Resources{}, victim: map[uint64]bool{},
		nodeOf: map[uint64]int{}, licFreeing: map[string]int64{}, licClaimed: map[string]int64{}, preempted: map[int][]uint64{}}
	index := map[string]int{}
	for i, n := range p.nodes {
		index[n.Name] = i
	}
	for _, st := range []api.JobState{api.StateStarting, api.StateRunning} {
		p.snap.JobViews(st, func(j *Job) bool {
			i, ok := index[j.Node]
			if !ok {
				return true
			}
			ps.nodeOf[j.ID] = i
			if j.StopRequested {
				if j.StopCause == api.CausePreempted {
					ps.preempted[i] = append(ps.preempted[i], j.ID)
				}
				ps.freeing[i] = ps.freeing[i].Add(j.Resources)
				for _, u := range j.Licenses {
					ps.licFreeing[u.Name] += u.Quantity
				}
			} else {
				ps.onNode[i] = append(ps.onNode[i], j)
				if len(j.Licenses) > 0 {
					ps.holders = append(ps.holders, j)
				}
			}
			return true
		})
	}
	return ps
}

// preemptFor finds room for j (of queue t) and records the victims; it
// reports whether it did (with no new victim when jobs already stopping
// make the room), and the jobs preempted for it (those being preempted on
// its node when no new one is needed).
func (p *pass) preemptFor(ps *preemptState, t *target, j *Job) ([]uint64, bool) {
	type choice struct {
		node    int
		victims []*Job
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
		// what earlier preemptors of this pass claimed (less what is
		// held for j itself).
		alloc := p.alloc[i].Sub(ps.freeing[i]).Add(ps.claimed[i])
		if c, ok := p.claims[j.ID]; ok && c == i {
			alloc = alloc.Sub(j.Resources)
		}
		if j.Resources.FitsOn(n.Capacity, alloc) {
			best = &choice{node: i}
			break
		}
		var cands []*Job
		for _, r := range ps.onNode[i] {
			if ps.victim[r.ID] {
				continue
			}
			if p.mayPreempt(t, j, r) {
				cands = append(cands, r)
			}
		}
		p.victimOrder(cands)
		var victims []*Job
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
		return nil, false
	}
	ids := ps.preempted[best.node]
	if len(best.victims) > 0 {
		ids = nil
	}
	for _, v := range best.victims {
		p.addVictim(ps, v, j)
		ids = append(ids, v.ID)
	}
	ps.claimed[best.node] = ps.claimed[best.node].Add(j.Resources)
	return ids, true
}

// victimOrder sorts candidates: the lowest rank first (queue priority,
// or QOS priority under qos), then the most recently started (it loses
// least), then the highest id.
func (p *pass) victimOrder(cands []*Job) {
	slices.SortFunc(cands, func(a, b *Job) int {
		if c := cmp.Compare(p.victimRank(a), p.victimRank(b)); c != 0 {
			return c
		}
		if c := cmp.Compare(b.StartedAt, a.StartedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
}

// addVictim puts v in the plan as stopped for j, and counts what it will
// give back: its node's room and its licenses.
func (p *pass) addVictim(ps *preemptState, v, j *Job) {
	i := ps.nodeOf[v.ID]
	ps.victim[v.ID] = true
	ps.freeing[i] = ps.freeing[i].Add(v.Resources)
	for _, u := range v.Licenses {
		ps.licFreeing[u.Name] += u.Quantity
	}
	pre := Preemption{JobID: v.ID, Node: p.nodes[i].Name, For: j.ID}
	pre.Requeue, pre.GraceSeconds = p.stopMode(v)
	p.plan.Preemptions = append(p.plan.Preemptions, pre)
}

// preemptForLicenses finds, for j (of queue t) waiting for licenses, the
// running jobs of lower-priority preemptable queues whose licenses would
// make up what j lacks (what jobs already being stopped give back counted
// once), and records them; it reports whether it could (with no new
// victim when stopping jobs suffice). Only REPLENISHABLE licenses come
// back when a job stops. Room on a node is the next pass's concern: if j
// then waits for Resources, it may preempt for that.
func (p *pass) preemptForLicenses(ps *preemptState, t *target, j *Job) ([]uint64, bool) {
	l := p.licenseState()
	var victims []*Job
	chosen := map[uint64]bool{}
	gained := map[string]int64{}
	for _, u := range j.Licenses {
		lic := l.byName[u.Name]
		if lic == nil {
			return nil, false
		}
		have := l.free[u.Name] + ps.licFreeing[u.Name] - ps.licClaimed[u.Name] + gained[u.Name]
		if have >= u.Quantity {
			continue
		}
		if !lic.Replenishable() {
			return nil, false // consumed: stopping a job gives nothing back
		}
		var cands []*Job
		for _, h := range ps.holders {
			if ps.victim[h.ID] || chosen[h.ID] || holds(h, u.Name) == 0 {
				continue
			}
			if p.mayPreempt(t, j, h) {
				cands = append(cands, h)
			}
		}
		p.victimOrder(cands)
		for _, v := range cands {
			if have >= u.Quantity {
				break
			}
			victims = append(victims, v)
			chosen[v.ID] = true
			for _, x := range v.Licenses {
				gained[x.Name] += x.Quantity
			}
			have += holds(v, u.Name)
		}
		if have < u.Quantity {
			return nil, false
		}
	}
	var ids []uint64
	for _, v := range victims {
		p.addVictim(ps, v, j)
		ids = append(ids, v.ID)
	}
	for _, u := range j.Licenses {
		ps.licClaimed[u.Name] += u.Quantity
	}
	return ids, true
}

// holds is how much of license name j holds.
func holds(j *Job, name string) int64 {
	n := int64(0)
	for _, u := range j.Licenses {
		if u.Name == name {
			n += u.Quantity
		}
	}
	return n
}

// queuePriority is a queue's priority (0 if it is gone).
func (p *pass) queuePriority(name string) int {
	if q := p.snap.Queue(name); q != nil {
		return q.Priority
	}
	return 0
}

// preemptingWords adds to a reason's words the jobs being preempted for
// the job ("" for none); byQOS: they are preempted by QOS.
func preemptingWords(ids []uint64, byQOS bool) string {
	if len(ids) == 0 {
		return ""
	}
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatUint(id, 10)
	}
	switch {
	case len(ids) == 1 && byQOS:
		return "; job " + parts[0] + ", of a QOS its QOS may preempt, is being preempted to make room for it"
	case len(ids) == 1:
		return "; job " + parts[0] + ", of a lower-priority queue, is being preempted to make room for it"
	case byQOS:
		return "; jobs " + strings.Join(parts, ", ") + ", of QOS its QOS may preempt, are being preempted to make room for it"
	}
	return "; jobs " + strings.Join(parts, ", ") + ", of lower-priority queues, are being preempted to make room for it"
}

// preemptorsFirst moves to the front of jobs (keeping their order) the
// RUNNABLE jobs that running jobs are being stopped for, or that requeued
// victims were stopped for: the room their victims give back is theirs.
// Without it a job earlier in the order, or the requeued victim itself,
// could take that room, and the preemptor preempt again (a requeued
// victim and its preemptor of one priority would take turns for ever).
func (p *pass) preemptorsFirst(jobs []*Job) []*Job {
	if p.opts.PreemptType == PreemptNone || len(jobs) < 2 {
		return jobs
	}
	var waiting map[uint64]bool
	stopping := map[uint64]string{} // preemptor -> a node its victims are stopping on
	mark := func(reason string) (uint64, bool) {
		id, ok := raftfsm.PreemptedFor(reason)
		if ok {
			if waiting == nil {
				waiting = map[uint64]bool{}
			}
			waiting[id] = true
		}
		return id, ok
	}
	for _, j := range jobs {
		if len(j.Attempts) > 0 {
			if a := j.Attempts[len(j.Attempts)-1]; a.Cause == api.CauseRequeued {
				mark(a.StatusReason)
			}
		}
	}
	for _, st := range []api.JobState{api.StateStarting, api.StateRunning} {
		p.snap.JobViews(st, func(j *Job) bool {
			if j.StopRequested && j.StopCause == api.CausePreempted {
				if id, ok := mark(j.StopReason); ok {
					stopping[id] = j.Node
				}
			}
			return true
		})
	}
	if len(waiting) == 0 {
		return jobs
	}
	out := make([]*Job, 0, len(jobs))
	for _, j := range jobs {
		if waiting[j.ID] {
			out = append(out, j)
			if n, ok := stopping[j.ID]; ok {
				p.claim(j, n)
			}
		}
	}
	if len(out) == 0 {
		return jobs
	}
	for _, j := range jobs {
		if !waiting[j.ID] {
			out = append(out, j)
		}
	}
	return out
}

// claim holds, on the node where victims are being stopped for j, the
// room j needs, when it does not fit there now: what they give back, and
// what is free beside them, is j's, not a job's that comes later in the
// pass (which would make j preempt again). preemptFor does not count the
// hold against j itself.
func (p *pass) claim(j *Job, node string) {
	for i, n := range p.nodes {
		if n.Name != node {
			continue
		}
		if n.State != api.NodeUp || j.Resources.FitsOn(n.Capacity, p.alloc[i]) || !j.Resources.FitsOn(n.Capacity, api.Resources{}) {
			return // it is placed now, or never there
		}
		p.take(i, j.Resources, p.now+p.opts.limitMillis(j))
		if p.claims == nil {
			p.claims = map[uint64]int{}
		}
		p.claims[j.ID] = i
		return
	}
}
