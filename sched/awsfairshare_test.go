package sched_test

import (
	"fmt"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/sched"
)

// fairSnap is fakeSnap with one fair-share queue, "fs", whose policy is
// policy, and the usage of its shares.
type fairSnap struct {
	fakeSnap
	policy *api.FairsharePolicy
	usage  map[string]*api.ShareUsage
}

var _ sched.FairShareSource = (*fairSnap)(nil)

func (s *fairSnap) Queue(name string) *api.JobQueue {
	q := s.fakeSnap.Queue(name)
	if name == "fs" {
		q.SchedulingPolicyArn = "arn:aws:batch:us-east-1:000000000000:scheduling-policy/pol"
	}
	return q
}

func (s *fairSnap) SchedulingPolicy(name string) *api.SchedulingPolicy {
	if name != "pol" {
		return nil
	}
	return &api.SchedulingPolicy{Name: name, FairsharePolicy: s.policy}
}

func (s *fairSnap) ShareUsage(queue string) []*api.ShareUsage {
	var out []*api.ShareUsage
	for _, u := range s.usage {
		if u.Queue == queue {
			out = append(out, u)
		}
	}
	return out
}

func newFairSnap(policy *api.FairsharePolicy, cpus int) *fairSnap {
	n := node("n1", cpus, 1<<20, 0)
	n.Labels = map[string]string{"queues": "fs"}
	return &fairSnap{fakeSnap: fakeSnap{nodes: []*api.Node{n}}, policy: policy, usage: map[string]*api.ShareUsage{}}
}

// submit adds count 1-CPU RUNNABLE jobs of share to queue fs, ids
// following the last.
func (s *fairSnap) submit(share string, count int, prio int64) []*api.Job {
	var out []*api.Job
	for range count {
		j := job(uint64(len(s.jobs)+1), 0, 1, 1, 0)
		j.Queue, j.ShareIdentifier, j.SchedulingPriority = "fs", share, prio
		s.jobs = append(s.jobs, j)
		out = append(out, j)
	}
	return out
}

// endAll ends every STARTING job at now, each having run ranSec seconds,
// charging its share as the FSM does (raftfsm.chargeShareUsage).
func (s *fairSnap) endAll(now, ranSec int64) {
	for _, j := range s.jobs {
		if j.State != api.StateStarting {
			continue
		}
		j.State = api.StateSucceeded
		s.nodes[0].Allocated = s.nodes[0].Allocated.Sub(j.Resources)
		u := s.usage[j.ShareIdentifier]
		if u == nil {
			u = &api.ShareUsage{Queue: "fs", Share: j.ShareIdentifier}
			s.usage[j.ShareIdentifier] = u
		}
		u.Raw = decay(u.Raw, u.At, now, s.policy.HalfLife()) + float64(j.Resources.CPUs*int(ranSec))
		u.At = now
	}
}

func decay(u float64, from, now, half int64) float64 {
	for t := from; t+half*1000 <= now; t += half * 1000 {
		u /= 2
	}
	return u
}

// placedBy counts a plan's placements by share.
func placedBy(s *fairSnap, p sched.Plan) map[string]int {
	byID := map[uint64]*api.Job{}
	for _, j := range s.jobs {
		byID[j.ID] = j
	}
	out := map[string]int{}
	for _, pl := range p.Placements {
		out[byID[pl.JobID].ShareIdentifier]++
	}
	return out
}

// TestFairShareFloodDoesNotHoldTheQueue: share a submits 1,000 jobs
// first, share b 40 after them; of an 8-CPU node, b still gets its half
// from the first pass on, and every pass after (jobs of 60 s, charged as
// they end), until its jobs run out — then a has the node.
func TestFairShareFloodDoesNotHoldTheQueue(t *testing.T) {
	s := newFairSnap(&api.FairsharePolicy{ShareDecaySeconds: 3600}, 8)
	s.submit("a", 1000, 0)
	s.submit("b", 40, 0)
	now := int64(1_000_000)
	started := map[string]int{}
	for pass := 0; pass < 12; pass++ {
		p := sched.Schedule(s, now)
		got := placedBy(s, p)
		want := map[string]int{"a": 4, "b": 4}
		if pass >= 10 {
			want = map[string]int{"a": 8}
		}
		if got["a"] != want["a"] || got["b"] != want["b"] {
			t.Fatalf("pass %d at %d: placed %v, want %v (b started %d so far)", pass, now, got, want, started["b"])
		}
		for k, v := range got {
			started[k] += v
		}
		s.apply(t, p)
		now += 60_000
		s.endAll(now, 60)
	}
	if started["b"] != 40 {
		t.Errorf("b started %d of its 40 jobs, want all", started["b"])
	}
}

// TestFairShareWeightFactor: a LOWER weightFactor gets MORE: b (0.25)
// gets 4 times a's (1) vCPUs; a share a prefix entry (c*) matches takes
// its weight; one not listed weighs 1.
func TestFairShareWeightFactor(t *testing.T) {
	for _, tc := range []struct {
		name   string
		shares []string
		dist   []api.ShareAttributes
		want   map[string]int
	}{
		{"b gets four times a", []string{"a", "b"}, []api.ShareAttributes{{ShareIdentifier: "b", WeightFactor: 0.25}}, map[string]int{"a": 2, "b": 8}},
		{"prefix weight", []string{"a", "carol"}, []api.ShareAttributes{{ShareIdentifier: "c*", WeightFactor: 0.25}, {ShareIdentifier: "a", WeightFactor: 1}}, map[string]int{"a": 2, "carol": 8}},
		{"a heavier: a gets less", []string{"a", "b"}, []api.ShareAttributes{{ShareIdentifier: "a", WeightFactor: 4}}, map[string]int{"a": 2, "b": 8}},
		{"equal weights: halves", []string{"a", "b"}, nil, map[string]int{"a": 5, "b": 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newFairSnap(&api.FairsharePolicy{ShareDistribution: tc.dist}, 10)
			for _, sh := range tc.shares {
				s.submit(sh, 100, 0)
			}
			if got := placedBy(s, sched.Schedule(s, 0)); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("placed %v, want %v", got, tc.want)
			}
		})
	}
}

// TestFairShareUsage: a share that used much lately waits for one that
// did not, and its usage decays with shareDecaySeconds (a half-life).
func TestFairShareUsage(t *testing.T) {
	s := newFairSnap(&api.FairsharePolicy{ShareDecaySeconds: 600}, 8)
	s.submit("a", 50, 0)
	s.submit("b", 50, 0)
	// a ran 8 vCPUs for an hour, just now: a load of ~40 vCPUs.
	s.usage["a"] = &api.ShareUsage{Queue: "fs", Share: "a", Raw: 8 * 3600, At: 0}
	if got := placedBy(s, sched.Schedule(s, 0)); got["b"] != 8 {
		t.Errorf("a with recent usage: placed %v, want all 8 to b", got)
	}
	// Ten half-lives later a's usage is ~28 vCPU-seconds: a and b halve.
	if got := placedBy(s, sched.Schedule(s, 6000_000)); got["a"] != 4 || got["b"] != 4 {
		t.Errorf("a's usage decayed: placed %v, want 4 and 4", got)
	}
}

// TestFairShareSchedulingPriority: within a share, higher
// schedulingPriority first, then submit order; across shares the share
// decides, not the priority.
func TestFairShareSchedulingPriority(t *testing.T) {
	s := newFairSnap(&api.FairsharePolicy{}, 2)
	lo := s.submit("a", 2, 1)
	hi := s.submit("a", 1, 9)
	mid := s.submit("a", 1, 5)
	b := s.submit("b", 1, 0)
	pol := &api.FairsharePolicy{}
	var runnable []*sched.Job
	s.JobViews(api.StateRunnable, func(j *sched.Job) bool { runnable = append(runnable, j); return true })
	order := sched.FairShareOrder(runnable, pol, nil, nil)
	var ids []uint64
	for _, j := range order {
		ids = append(ids, j.ID)
	}
	want := []uint64{hi[0].ID, b[0].ID, mid[0].ID, lo[0].ID, lo[1].ID}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("order %v, want %v (a's by priority 9, 5, 1, 1; b's one second)", ids, want)
	}
	p := sched.Schedule(s, 0)
	if len(p.Placements) != 2 || p.Placements[0].JobID != hi[0].ID || p.Placements[1].JobID != b[0].ID {
		t.Errorf("placements %+v, want jobs %d (a's highest) and %d (b's)", p.Placements, hi[0].ID, b[0].ID)
	}
}

// TestFairShareComputeReservation: computeReservation 50 keeps
// (50/100)^active of the queue for shares not yet active: with a alone
// active and running 4 of 8 vCPUs, a may take no more (its jobs wait
// FairShareReservation); once b has a job, 2 shares are active, the
// reserve is 25%: b, new, starts at once, and a may hold 6 (one vCPU
// stays free for a share yet to come).
func TestFairShareComputeReservation(t *testing.T) {
	s := newFairSnap(&api.FairsharePolicy{ComputeReservation: 50}, 8)
	for _, j := range s.submit("a", 4, 0) {
		j.State, j.Node = api.StateRunning, "n1"
		s.nodes[0].Allocated = s.nodes[0].Allocated.Add(j.Resources)
	}
	s.submit("a", 20, 0)
	p := sched.Schedule(s, 0)
	if len(p.Placements) != 0 {
		t.Fatalf("a alone, holding half: placed %+v, want none", p.Placements)
	}
	if len(p.Waits) == 0 || p.Waits[0].Reason != sched.ReasonFairShareReservation {
		t.Fatalf("a's waits: %+v, want %s", p.Waits, sched.ReasonFairShareReservation)
	}
	if d := p.Waits[0].Describe(api.Resources{CPUs: 1}, 0); d == "" || d == "it has not been planned yet" {
		t.Errorf("explain words: %q", d)
	}
	s.submit("b", 1, 0)
	if got := placedBy(s, sched.Schedule(s, 0)); got["a"] != 2 || got["b"] != 1 {
		t.Errorf("b arrives: placed %v, want b 1 and a 2 (up to 6 of 8)", got)
	}
	// Without a reservation a takes the whole node.
	s2 := newFairSnap(&api.FairsharePolicy{}, 8)
	s2.submit("a", 20, 0)
	if got := placedBy(s2, sched.Schedule(s2, 0)); got["a"] != 8 {
		t.Errorf("no reservation: placed %v, want 8 to a", got)
	}
}

// TestFairShareFIFOQueueUnchanged: a queue without a policy orders by
// priority then id, whatever shares its jobs name.
func TestFairShareFIFOQueueUnchanged(t *testing.T) {
	s := newFairSnap(&api.FairsharePolicy{}, 2)
	s.nodes[0].Labels = nil // the default queue, FIFO
	for i := range 4 {
		j := job(uint64(i+1), 0, 1, 1, 0)
		j.ShareIdentifier = []string{"a", "a", "b", "b"}[i]
		s.jobs = append(s.jobs, j)
	}
	p := sched.Schedule(s, 0)
	if len(p.Placements) != 2 || p.Placements[0].JobID != 1 || p.Placements[1].JobID != 2 {
		t.Errorf("FIFO queue: placements %+v, want jobs 1 and 2", p.Placements)
	}
}

// BenchmarkFairShareOrder orders 320,000 waiting jobs of 100 shares (one
// pass's work for a large fair-share queue).
func BenchmarkFairShareOrder(b *testing.B) {
	pol := &api.FairsharePolicy{ShareDistribution: []api.ShareAttributes{{ShareIdentifier: "s1*", WeightFactor: 0.5}}}
	jobs := make([]*sched.Job, 320_000)
	for i := range jobs {
		jobs[i] = &sched.Job{ID: uint64(i + 1), JobSpec: &api.JobSpec{ShareIdentifier: fmt.Sprintf("s%d", i%100), SchedulingPriority: int64(i % 3),
			Resources: api.Resources{CPUs: 1 + i%4}}}
	}
	usage := map[string]float64{"s1": 1e6, "s2": 5e5}
	b.ResetTimer()
	for range b.N {
		if out := sched.FairShareOrder(jobs, pol, usage, nil); len(out) != len(jobs) {
			b.Fatalf("ordered %d of %d", len(out), len(jobs))
		}
	}
}
