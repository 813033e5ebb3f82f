package sched

import (
	"cmp"
	"container/heap"
	"fmt"
	"math"
	"slices"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// The state the controller plans against has the policies.
var _ FairShareSource = (*raftfsm.State)(nil)

// AWS Batch's fair-share scheduling (api/schedpolicy.go). A queue with a
// scheduling policy orders its RUNNABLE jobs by share, then by
// scheduling priority within a share (higher first), then in submit
// order. Which share comes next is decided job by job: the share whose
// weighted load is lowest, where a share's load is
//
//	weightFactor × (decayed usage × ln 2 / shareDecaySeconds   (vCPUs it used of late, on average)
//	                + vCPUs of its STARTING and RUNNING jobs
//	                + vCPUs of its jobs ordered before this one in this pass)
//
// so a share of weight 0.5 gets twice the vCPUs of a share of weight 1,
// a share that used much lately waits for those that did not, and a
// share that submitted 1,000 jobs first does not hold the queue: its
// jobs and another share's interleave. (Usage is vCPU-seconds charged as
// attempts end and halved every shareDecaySeconds, raftfsm/awsfairshare.go;
// at a steady rate r it settles at r × shareDecaySeconds / ln 2, so the
// first term is in vCPUs, as the others are.)
//
// computeReservation (C) keeps (C/100)^active of the queue's vCPUs
// (active: the shares with unfinished jobs in the queue) for shares that
// have not been active: the shares that run or ran lately hold at most
// the rest, and their jobs beyond it wait (FairShareReservation).

// ReasonFairShareReservation: the job's share may not take more of its
// fair-share queue: the rest is held by the policy's computeReservation
// for shares not yet active.
const ReasonFairShareReservation Reason = "FairShareReservation"

// FairShareSource is what a Snapshot also implements when queues may have
// scheduling policies: the policies and each share's usage.
type FairShareSource interface {
	SchedulingPolicy(name string) *api.SchedulingPolicy
	ShareUsage(queue string) []*api.ShareUsage
}

// fairQueue is what a pass knows of one fair-share queue.
type fairQueue struct {
	policy *api.FairsharePolicy
	// usage is each share's usage decayed to now (vCPU-seconds);
	// running the vCPUs of its STARTING and RUNNING jobs.
	usage   map[string]float64
	running map[string]float64
	// limit is the most vCPUs the shares that have been active may hold
	// (computeReservation; negative: no limit), held what they hold,
	// fresh the shares that may use the reserve.
	limit float64
	held  float64
	fresh map[string]bool
}

// fairQueueOf returns the fair-share state of the queue of t (nil: a
// FIFO queue), reading its policy and usage once per pass.
func (p *pass) fairQueueOf(q *api.JobQueue) *fairQueue {
	src, ok := p.snap.(FairShareSource)
	if !ok || q.SchedulingPolicyArn == "" {
		return nil
	}
	pol := src.SchedulingPolicy(api.SchedulingPolicyName(q.SchedulingPolicyArn))
	if pol == nil {
		return nil
	}
	fp := pol.FairsharePolicy
	if fp == nil {
		fp = &api.FairsharePolicy{}
	}
	f := &fairQueue{policy: fp, usage: map[string]float64{}, running: map[string]float64{}, limit: -1}
	for _, u := range src.ShareUsage(q.Name) {
		f.usage[u.Share] = decayShare(u.Raw, u.At, p.now, fp.HalfLife())
	}
	return f
}

// decayShare is raftfsm.DecayShare (kept here so that the pass reads
// only the snapshot).
func decayShare(u float64, from, now, halfLife int64) float64 {
	if halfLife <= 0 || now <= from || u == 0 {
		return u
	}
	return u * math.Exp2(-float64(now-from)/1000/float64(halfLife))
}

// vcpus is what a job counts for in a share: its CPUs, at least 1.
func vcpus(j *Job) float64 { return float64(max(j.Resources.CPUs, 1)) }

// fairInputs reads, for the pass's fair-share queues, what their
// shares run now and, where a policy reserves compute, which shares are
// active and how much the queue may give the shares that have been.
func (p *pass) fairInputs(fair map[string]*target, runnable map[string][]*Job) {
	for _, st := range []api.JobState{api.StateStarting, api.StateRunning} {
		p.snap.JobViews(st, func(j *Job) bool {
			if t := fair[j.Queue]; t != nil {
				t.fair.running[j.ShareIdentifier] += vcpus(j)
			}
			return true
		})
	}
	var reserving []*target
	for _, t := range fair {
		if t.fair.policy.ComputeReservation > 0 {
			reserving = append(reserving, t)
		}
	}
	if len(reserving) == 0 {
		return
	}
	active := map[string]map[string]bool{}
	mark := func(j *Job) bool {
		if t := fair[j.Queue]; t != nil && t.fair.policy.ComputeReservation > 0 {
			if active[j.Queue] == nil {
				active[j.Queue] = map[string]bool{}
			}
			active[j.Queue][j.ShareIdentifier] = true
		}
		return true
	}
	for _, st := range []api.JobState{api.StateSubmitted, api.StatePending, api.StateStarting, api.StateRunning} {
		p.snap.JobViews(st, mark)
	}
	for _, jobs := range runnable {
		for _, j := range jobs {
			mark(j)
		}
	}
	for _, t := range reserving {
		f := t.fair
		total := 0.0
		for _, en := range t.envs {
			for _, i := range en.nodes {
				if n := p.nodes[i]; n.State == api.NodeUp {
					total += float64(n.Capacity.CPUs)
				}
			}
		}
		n := len(active[t.name])
		f.limit = total * (1 - math.Pow(float64(f.policy.ComputeReservation)/100, float64(max(n, 1))))
		f.fresh = map[string]bool{}
		for s := range active[t.name] {
			if f.running[s] == 0 && f.usage[s] < 1e-9 {
				f.fresh[s] = true
			}
		}
		for s, v := range f.running {
			if !f.fresh[s] {
				f.held += v
			}
		}
	}
}

// fairRoom reports whether j's share may take j's vCPUs more of queue
// t under its computeReservation.
func (f *fairQueue) room(j *Job) bool {
	return f.limit < 0 || f.fresh[j.ShareIdentifier] || f.held+vcpus(j) <= f.limit+1e-9
}

// take counts a placement of j against the reservation's limit.
func (f *fairQueue) take(j *Job) {
	if f.limit >= 0 && !f.fresh[j.ShareIdentifier] {
		f.held += vcpus(j)
	}
}

// FairShareOrder orders the RUNNABLE jobs of one fair-share queue (given
// in id order): share by share as the loads decide (see above), within a
// share by scheduling priority, higher first, then by id. usage is each
// share's usage decayed to now (vCPU-seconds), running the vCPUs its
// STARTING and RUNNING jobs hold.
func FairShareOrder(jobs []*Job, pol *api.FairsharePolicy, usage, running map[string]float64) []*Job {
	byShare := map[string][]*Job{}
	for _, j := range jobs {
		byShare[j.ShareIdentifier] = append(byShare[j.ShareIdentifier], j)
	}
	perSecond := math.Ln2 / float64(pol.HalfLife())
	h := make(shareHeap, 0, len(byShare))
	for s, js := range byShare {
		slices.SortStableFunc(js, func(a, b *Job) int {
			if c := cmp.Compare(b.SchedulingPriority, a.SchedulingPriority); c != 0 {
				return c
			}
			return cmp.Compare(a.ID, b.ID)
		})
		w := pol.Weight(s)
		h = append(h, &shareQueue{jobs: js, weight: w, load: w * (usage[s]*perSecond + running[s])})
	}
	heap.Init(&h)
	out := make([]*Job, 0, len(jobs))
	for h.Len() > 0 {
		s := h[0]
		j := s.jobs[0]
		out = append(out, j)
		s.jobs = s.jobs[1:]
		if len(s.jobs) == 0 {
			heap.Pop(&h)
			continue
		}
		s.load += s.weight * vcpus(j)
		heap.Fix(&h, 0)
	}
	return out
}

// shareQueue is one share's waiting jobs, in order, and its load.
type shareQueue struct {
	jobs   []*Job
	weight float64
	load   float64
}

// shareHeap orders shares by load, then by their next job's id.
type shareHeap []*shareQueue

func (h shareHeap) Len() int { return len(h) }
func (h shareHeap) Less(a, b int) bool {
	if h[a].load != h[b].load {
		return h[a].load < h[b].load
	}
	return h[a].jobs[0].ID < h[b].jobs[0].ID
}
func (h shareHeap) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *shareHeap) Push(x any)   { *h = append(*h, x.(*shareQueue)) }
func (h *shareHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// fairWords says why a job waits for FairShareReservation (shoal explain).
func (w Wait) fairWords() string {
	share := ""
	if w.Job != nil {
		share = w.Job.ShareIdentifier
	}
	return fmt.Sprintf("its share %s of fair-share queue %s holds all it may: the scheduling policy's computeReservation keeps the rest for shares not yet active", share, w.Queue)
}

// orderFair puts the jobs of each fair-share queue's bucket (fairOf
// names the queue of a bucket's key, "" for others) in FairShareOrder,
// after reading what the queues' shares run now.
func orderFair[L comparable](p *pass, levels []L, buckets [][]*Job, fairOf func(L) string) {
	fair := map[string]*target{}
	runnable := map[string][]*Job{}
	for k, l := range levels {
		if q := fairOf(l); q != "" {
			fair[q] = p.targets[q]
			runnable[q] = buckets[k]
		}
	}
	if len(fair) == 0 {
		return
	}
	p.fairInputs(fair, runnable)
	for k, l := range levels {
		if q := fairOf(l); q != "" {
			f := fair[q].fair
			buckets[k] = FairShareOrder(buckets[k], f.policy, f.usage, f.running)
		}
	}
}
