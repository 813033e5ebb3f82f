package sched_test

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
	"github.com/shoal-batch/shoal/sched"
)

// fakeSnap is a sched.Snapshot over plain values. It keeps the
// interface's ordering promises (jobs by id, nodes by name) whatever order
// the test lists them in.
type fakeSnap struct {
	jobs  []*api.Job
	nodes []*api.Node
}

var _ sched.Snapshot = (*fakeSnap)(nil)

func (s *fakeSnap) JobViews(st api.JobState, fn func(*sched.Job) bool) {
	jobs := append([]*api.Job(nil), s.jobs...)
	sort.Slice(jobs, func(a, b int) bool { return jobs[a].ID < jobs[b].ID })
	for _, j := range jobs {
		if v := raftfsm.ViewOf(j); j.State == st && !fn(&v) {
			return
		}
	}
}

// Queue gives every queue one compute environment of the same name.
func (s *fakeSnap) Queue(name string) *api.JobQueue {
	return &api.JobQueue{Name: name, State: api.Enabled,
		ComputeEnvironmentOrder: []api.ComputeEnvironmentOrder{{Order: 1, ComputeEnvironment: name}}}
}

// ComputeEnvironment holds the nodes whose "queues" label names it (nodes
// without the label: the default one).
func (s *fakeSnap) ComputeEnvironment(name string) *api.ComputeEnvironment {
	ce := &api.ComputeEnvironment{Name: name, State: api.Enabled, Nodes: []string{"-none-"}}
	for _, n := range s.nodes {
		if testServes(n, name) {
			ce.Nodes = append(ce.Nodes, n.Name)
		}
	}
	return ce
}

// testServes reports whether the fake puts node n in queue q's environment.
func testServes(n *api.Node, q string) bool {
	qs := n.Labels["queues"]
	if qs == "" {
		return q == api.DefaultQueue
	}
	for _, x := range strings.Split(qs, ",") {
		if x == q {
			return true
		}
	}
	return false
}

func (s *fakeSnap) Nodes() []*api.Node {
	nodes := append([]*api.Node(nil), s.nodes...)
	sort.Slice(nodes, func(a, b int) bool { return nodes[a].Name < nodes[b].Name })
	return nodes
}

// apply records a plan in the fake as the FSM would: placed jobs become
// STARTING and their nodes' allocation grows.
func (s *fakeSnap) apply(t *testing.T, p sched.Plan) {
	t.Helper()
	jobs := map[uint64]*api.Job{}
	for _, j := range s.jobs {
		jobs[j.ID] = j
	}
	nodes := map[string]*api.Node{}
	for _, n := range s.nodes {
		nodes[n.Name] = n
	}
	for _, pl := range p.Placements {
		j, n := jobs[pl.JobID], nodes[pl.Node]
		if j == nil || n == nil {
			t.Fatalf("placement %+v: names an unknown job or node", pl)
		}
		if j.State != api.StateRunnable {
			t.Fatalf("placement %+v: job is %s, want RUNNABLE", pl, j.State)
		}
		j.State, j.Node = api.StateStarting, n.Name
		n.Allocated = n.Allocated.Add(j.Resources)
	}
}

// schedule is the one call of sched.Schedule in this file.
func schedule(snap sched.Snapshot) sched.Plan { return sched.Schedule(snap, 0) }

// job is a RUNNABLE job in the default queue.
func job(id uint64, prio int64, cpus int, memMB int64, gpus int) *api.Job {
	return &api.Job{
		ID: id,
		JobSpec: api.JobSpec{
			Name: fmt.Sprintf("job%d", id), Queue: api.DefaultQueue, Priority: prio,
			Resources: api.Resources{CPUs: cpus, MemoryMB: memMB, GPUs: gpus},
		},
		User:  "alice",
		UID:   1000,
		State: api.StateRunnable,
	}
}

// node is an UP node serving the default queue.
func node(name string, cpus int, memMB int64, gpus int) *api.Node {
	return &api.Node{Name: name, State: api.NodeUp, Boot: name + "-boot",
		Capacity: api.Resources{CPUs: cpus, MemoryMB: memMB, GPUs: gpus}}
}

func inQueue(j *api.Job, q string) *api.Job        { j.Queue = q; return j }
func inState(j *api.Job, st api.JobState) *api.Job { j.State = st; return j }
func serving(n *api.Node, qs ...string) *api.Node {
	n.Labels = map[string]string{"queues": strings.Join(qs, ",")}
	return n
}
func down(n *api.Node) *api.Node  { n.State = api.NodeDown; return n }
func drain(n *api.Node) *api.Node { n.State = api.NodeDrain; return n }
func allocated(n *api.Node, r api.Resources) *api.Node {
	n.Allocated = r
	return n
}

// expect is what a plan should hold. place, when not nil, is the exact
// placements in order.
type expect struct {
	placed  int
	waiting int
	place   []sched.Placement
}

func TestSchedule(t *testing.T) {
	tests := []struct {
		name  string
		jobs  []*api.Job
		nodes []*api.Node
		want  expect
	}{
		{
			name:  "nothing to do",
			nodes: []*api.Node{node("a", 4, 4096, 0)},
			want:  expect{placed: 0, waiting: 0},
		},
		{
			name: "no nodes",
			jobs: []*api.Job{job(1, 0, 1, 1, 0), job(2, 0, 1, 1, 0)},
			want: expect{placed: 0, waiting: 2},
		},
		{
			name:  "priority first",
			jobs:  []*api.Job{job(1, 0, 1, 1, 0), job(2, 5, 1, 1, 0), job(3, 5, 1, 1, 0), job(4, 10, 1, 1, 0)},
			nodes: []*api.Node{node("a", 2, 4096, 0)},
			want: expect{placed: 2, waiting: 2,
				place: []sched.Placement{{JobID: 4, Node: "a"}, {JobID: 2, Node: "a"}}},
		},
		{
			name:  "negative priority last",
			jobs:  []*api.Job{job(1, -1, 1, 1, 0), job(2, 0, 1, 1, 0)},
			nodes: []*api.Node{node("a", 1, 4096, 0)},
			want:  expect{placed: 1, waiting: 1, place: []sched.Placement{{JobID: 2, Node: "a"}}},
		},
		{
			name:  "id order within a priority",
			jobs:  []*api.Job{job(30, 1, 1, 1, 0), job(10, 1, 1, 1, 0), job(20, 1, 1, 1, 0)},
			nodes: []*api.Node{node("a", 2, 4096, 0)},
			want: expect{placed: 2, waiting: 1,
				place: []sched.Placement{{JobID: 10, Node: "a"}, {JobID: 20, Node: "a"}}},
		},
		{
			name:  "first fit by node name",
			jobs:  []*api.Job{job(1, 0, 2, 1, 0)},
			nodes: []*api.Node{node("c", 4, 4096, 0), node("b", 4, 4096, 0), node("a", 1, 4096, 0)},
			want:  expect{placed: 1, place: []sched.Placement{{JobID: 1, Node: "b"}}},
		},
		{
			name:  "fills a node before the next",
			jobs:  []*api.Job{job(1, 0, 1, 1, 0), job(2, 0, 1, 1, 0), job(3, 0, 1, 1, 0)},
			nodes: []*api.Node{node("b", 4, 4096, 0), node("a", 2, 4096, 0)},
			want: expect{placed: 3, place: []sched.Placement{
				{JobID: 1, Node: "a"}, {JobID: 2, Node: "a"}, {JobID: 3, Node: "b"}}},
		},
		{
			name:  "cpus accumulate within a plan: second job to next node",
			jobs:  []*api.Job{job(1, 0, 3, 1, 0), job(2, 0, 3, 1, 0)},
			nodes: []*api.Node{node("a", 4, 4096, 0), node("b", 4, 4096, 0)},
			want:  expect{placed: 2, place: []sched.Placement{{JobID: 1, Node: "a"}, {JobID: 2, Node: "b"}}},
		},
		{
			name:  "cpus accumulate within a plan: second job waits",
			jobs:  []*api.Job{job(1, 0, 3, 1, 0), job(2, 0, 3, 1, 0)},
			nodes: []*api.Node{node("a", 4, 4096, 0)},
			want:  expect{placed: 1, waiting: 1, place: []sched.Placement{{JobID: 1, Node: "a"}}},
		},
		{
			name:  "memory accumulates within a plan",
			jobs:  []*api.Job{job(1, 0, 1, 3000, 0), job(2, 0, 1, 3000, 0), job(3, 0, 1, 1096, 0)},
			nodes: []*api.Node{node("a", 8, 4096, 0), node("b", 8, 4096, 0)},
			want: expect{placed: 3, place: []sched.Placement{
				{JobID: 1, Node: "a"}, {JobID: 2, Node: "b"}, {JobID: 3, Node: "a"}}},
		},
		{
			name:  "memory exactly full",
			jobs:  []*api.Job{job(1, 0, 1, 2048, 0), job(2, 0, 1, 2048, 0), job(3, 0, 1, 1, 0)},
			nodes: []*api.Node{node("a", 8, 4096, 0)},
			want:  expect{placed: 2, waiting: 1},
		},
		{
			name:  "gpus accumulate within a plan",
			jobs:  []*api.Job{job(1, 0, 1, 1, 2), job(2, 0, 1, 1, 1), job(3, 0, 1, 1, 1)},
			nodes: []*api.Node{node("a", 8, 4096, 2), node("b", 8, 4096, 1)},
			want: expect{placed: 2, waiting: 1, place: []sched.Placement{
				{JobID: 1, Node: "a"}, {JobID: 2, Node: "b"}}},
		},
		{
			name:  "gpu job skips nodes without gpus",
			jobs:  []*api.Job{job(1, 0, 1, 1, 1)},
			nodes: []*api.Node{node("a", 64, 65536, 0), node("z", 1, 1, 1)},
			want:  expect{placed: 1, place: []sched.Placement{{JobID: 1, Node: "z"}}},
		},
		{
			name:  "existing allocation counts",
			jobs:  []*api.Job{job(1, 0, 2, 1, 0)},
			nodes: []*api.Node{allocated(node("a", 4, 4096, 0), api.Resources{CPUs: 3}), node("b", 4, 4096, 0)},
			want:  expect{placed: 1, place: []sched.Placement{{JobID: 1, Node: "b"}}},
		},
		{
			name:  "over-allocated node takes nothing",
			jobs:  []*api.Job{job(1, 0, 1, 1, 0)},
			nodes: []*api.Node{allocated(node("a", 4, 4096, 0), api.Resources{CPUs: 5, MemoryMB: 1, GPUs: 1})},
			want:  expect{placed: 0, waiting: 1},
		},
		{
			name:  "DOWN nodes skipped",
			jobs:  []*api.Job{job(1, 0, 1, 1, 0), job(2, 0, 1, 1, 0)},
			nodes: []*api.Node{down(node("a", 8, 8192, 0)), node("b", 1, 8192, 0)},
			want:  expect{placed: 1, waiting: 1, place: []sched.Placement{{JobID: 1, Node: "b"}}},
		},
		{
			name:  "DRAIN nodes skipped",
			jobs:  []*api.Job{job(1, 0, 1, 1, 0), job(2, 0, 1, 1, 0)},
			nodes: []*api.Node{drain(node("a", 8, 8192, 0)), node("b", 1, 8192, 0)},
			want:  expect{placed: 1, waiting: 1, place: []sched.Placement{{JobID: 1, Node: "b"}}},
		},
		{
			name:  "node state other than UP skipped",
			jobs:  []*api.Job{job(1, 0, 1, 1, 0)},
			nodes: []*api.Node{{Name: "a", State: "", Capacity: api.Resources{CPUs: 8, MemoryMB: 8192}}},
			want:  expect{placed: 0, waiting: 1},
		},
		{
			name:  "queue not served skipped",
			jobs:  []*api.Job{inQueue(job(1, 0, 1, 1, 0), "gpu"), job(2, 0, 1, 1, 0)},
			nodes: []*api.Node{node("a", 8, 8192, 0), serving(node("b", 8, 8192, 0), "gpu"), serving(node("c", 8, 8192, 0), "other")},
			want:  expect{placed: 2, place: []sched.Placement{{JobID: 1, Node: "b"}, {JobID: 2, Node: "a"}}},
		},
		{
			name:  "node naming queues serves default only if listed",
			jobs:  []*api.Job{job(1, 0, 1, 1, 0), inQueue(job(2, 0, 1, 1, 0), "x")},
			nodes: []*api.Node{serving(node("a", 8, 8192, 0), "x"), serving(node("b", 8, 8192, 0), "x", api.DefaultQueue)},
			want:  expect{placed: 2, place: []sched.Placement{{JobID: 1, Node: "b"}, {JobID: 2, Node: "a"}}},
		},
		{
			name:  "queue nobody serves waits",
			jobs:  []*api.Job{inQueue(job(1, 0, 1, 1, 0), "nowhere")},
			nodes: []*api.Node{node("a", 8, 8192, 0)},
			want:  expect{placed: 0, waiting: 1},
		},
		{
			name:  "big job waits, smaller lower-priority jobs still placed",
			jobs:  []*api.Job{job(1, 9, 16, 1, 0), job(2, 0, 2, 1, 0)},
			nodes: []*api.Node{node("a", 8, 8192, 0)},
			want:  expect{placed: 1, waiting: 1, place: []sched.Placement{{JobID: 2, Node: "a"}}},
		},
		{
			name: "only RUNNABLE jobs are placed or waiting",
			jobs: []*api.Job{
				inState(job(1, 0, 1, 1, 0), api.StateSubmitted), inState(job(2, 0, 1, 1, 0), api.StatePending),
				inState(job(3, 0, 1, 1, 0), api.StateStarting), inState(job(4, 0, 1, 1, 0), api.StateRunning),
				inState(job(5, 0, 1, 1, 0), api.StateSucceeded), inState(job(6, 0, 1, 1, 0), api.StateFailed),
				job(7, 0, 1, 1, 0), job(8, 0, 100, 1, 0),
			},
			nodes: []*api.Node{node("a", 8, 8192, 0)},
			want:  expect{placed: 1, waiting: 1, place: []sched.Placement{{JobID: 7, Node: "a"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := &fakeSnap{jobs: tt.jobs, nodes: tt.nodes}
			plan := schedule(snap)
			if got := len(plan.Placements); got != tt.want.placed || plan.Waiting != tt.want.waiting {
				t.Errorf("got placed %d waiting %d, want placed %d waiting %d (placements %v)",
					got, plan.Waiting, tt.want.placed, tt.want.waiting, plan.Placements)
			}
			// The fake's queues each have one environment of their own name.
			got := make([]sched.Placement, len(plan.Placements))
			for i, p := range plan.Placements {
				if j := jobByID(tt.jobs, p.JobID); j != nil && p.CE != j.Queue {
					t.Errorf("placement %v: environment %q, want the queue's %q", p, p.CE, j.Queue)
				}
				got[i] = sched.Placement{JobID: p.JobID, Node: p.Node}
			}
			if tt.want.place != nil && !reflect.DeepEqual(got, tt.want.place) {
				t.Errorf("placements: got %v, want %v", got, tt.want.place)
			}
			checkPlan(t, snap, plan)
		})
	}
}

// checkPlan checks what every plan must satisfy: each job at most once,
// only RUNNABLE jobs, only UP nodes serving the job's queue, no node over
// its capacity (checked by summing), and placed+waiting = RUNNABLE jobs.
func checkPlan(t *testing.T, snap *fakeSnap, plan sched.Plan) {
	t.Helper()
	jobs := map[uint64]*api.Job{}
	runnable := 0
	for _, j := range snap.jobs {
		jobs[j.ID] = j
		if j.State == api.StateRunnable {
			runnable++
		}
	}
	nodes := map[string]*api.Node{}
	planned := map[string]api.Resources{}
	for _, n := range snap.nodes {
		nodes[n.Name] = n
	}
	seen := map[uint64]bool{}
	for _, p := range plan.Placements {
		j, n := jobs[p.JobID], nodes[p.Node]
		switch {
		case j == nil:
			t.Errorf("placement %+v: got unknown job, want a RUNNABLE job of the snapshot", p)
			continue
		case n == nil:
			t.Errorf("placement %+v: got unknown node, want a node of the snapshot", p)
			continue
		case seen[p.JobID]:
			t.Errorf("placement %+v: job placed twice in one plan, want once", p)
		case j.State != api.StateRunnable:
			t.Errorf("placement %+v: job is %s, want RUNNABLE", p, j.State)
		case n.State != api.NodeUp:
			t.Errorf("placement %+v: node is %s, want UP", p, n.State)
		case !testServes(n, j.Queue):
			t.Errorf("placement %+v: node serves %v, want one serving queue %q", p, n.Labels, j.Queue)
		}
		seen[p.JobID] = true
		planned[p.Node] = planned[p.Node].Add(j.Resources)
	}
	for name, p := range planned {
		n := nodes[name]
		if total := n.Allocated.Add(p); !total.Fits(n.Capacity) {
			t.Errorf("node %s: allocated %+v plus planned %+v = %+v, want within capacity %+v",
				name, n.Allocated, p, total, n.Capacity)
		}
	}
	if got := len(plan.Placements) + plan.Waiting; got != runnable {
		t.Errorf("placed %d + waiting %d = %d, want the %d RUNNABLE jobs", len(plan.Placements), plan.Waiting, got, runnable)
	}
	if len(plan.Placements) > sched.MaxPlacements {
		t.Errorf("placements: got %d, want at most MaxPlacements %d", len(plan.Placements), sched.MaxPlacements)
	}
}

// TestMaxPlacements: one plan places at most MaxPlacements jobs, the
// highest-priority ones, and counts the rest as waiting.
func TestMaxPlacements(t *testing.T) {
	const extra = 10
	snap := &fakeSnap{nodes: []*api.Node{node("big", 1<<20, 1<<40, 0)}}
	n := sched.MaxPlacements + extra
	for id := 1; id <= n; id++ {
		prio := int64(0)
		if id > n-sched.MaxPlacements { // the last MaxPlacements ids outrank the first `extra`
			prio = 1
		}
		snap.jobs = append(snap.jobs, job(uint64(id), prio, 1, 1, 0))
	}
	plan := schedule(snap)
	if got, want := (expect{placed: len(plan.Placements), waiting: plan.Waiting}), (expect{placed: sched.MaxPlacements, waiting: extra}); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for _, p := range plan.Placements {
		if p.JobID <= extra {
			t.Errorf("job %d (priority 0) placed, want only priority-1 jobs %d..%d", p.JobID, extra+1, n)
		}
	}
	checkPlan(t, snap, plan)

	snap.apply(t, plan)
	next := schedule(snap)
	if got, want := (expect{placed: len(next.Placements), waiting: next.Waiting}), (expect{placed: extra}); !reflect.DeepEqual(got, want) {
		t.Errorf("second plan: got %+v, want %+v", got, want)
	}
}

// bigCluster is 1000 nodes of 4, 6, 8 or 10 CPUs (2 GiB a CPU, a GPU on
// every other node); every tenth is DOWN and every tenth serves only
// queue "other".
func bigCluster() []*api.Node {
	var nodes []*api.Node
	for i := 0; i < 1000; i++ {
		cpus := 4 + (i%4)*2
		n := node(fmt.Sprintf("node%04d", i), cpus, int64(cpus)*2048, i%2)
		switch i % 10 {
		case 9:
			down(n)
		case 4:
			serving(n, "other")
		}
		nodes = append(nodes, n)
	}
	return nodes
}

// scheduleUntilStable runs Schedule and applies its plans until one places
// nothing, checking every plan; it returns how many jobs it placed.
func scheduleUntilStable(t *testing.T, snap *fakeSnap) (placed int, last sched.Plan) {
	t.Helper()
	for round := 0; ; round++ {
		if round > 100 {
			t.Fatalf("still placing after %d rounds, want a fixed point", round)
		}
		plan := schedule(snap)
		checkPlan(t, snap, plan)
		if t.Failed() {
			t.FailNow()
		}
		if len(plan.Placements) == 0 {
			return placed, plan
		}
		snap.apply(t, plan)
		placed += len(plan.Placements)
	}
}

// wantNoOverAllocation sums the resources of the placed (STARTING) jobs
// on each node and checks that prior allocation plus that sum equals the
// node's allocation and fits its capacity, and that only UP nodes serving
// the jobs' queues got any.
func wantNoOverAllocation(t *testing.T, snap *fakeSnap, prior map[string]api.Resources) {
	t.Helper()
	sum := map[string]api.Resources{}
	for _, j := range snap.jobs {
		if j.State != api.StateStarting {
			continue
		}
		sum[j.Node] = sum[j.Node].Add(j.Resources)
		if n := nodeNamed(snap, j.Node); n.State != api.NodeUp || !testServes(n, j.Queue) {
			t.Errorf("job %d (queue %s) on node %s (%s, queues %v): want an UP node serving its queue",
				j.ID, j.Queue, n.Name, n.State, n.Labels)
		}
	}
	for _, n := range snap.nodes {
		total := prior[n.Name].Add(sum[n.Name])
		if !total.Fits(n.Capacity) || total != n.Allocated {
			t.Errorf("node %s: prior %+v plus placed jobs %+v = %+v (allocation %+v), want within capacity %+v and equal to the allocation",
				n.Name, prior[n.Name], sum[n.Name], total, n.Allocated, n.Capacity)
		}
	}
}

func nodeNamed(snap *fakeSnap, name string) *api.Node {
	for _, n := range snap.nodes {
		if n.Name == name {
			return n
		}
	}
	return &api.Node{Name: name, State: "unknown"}
}

// TestThousandNodes: 10,000 one-CPU jobs on 1000 simulated nodes place
// exactly min(jobs, usable CPUs), over as many plans as MaxPlacements
// needs, without over-allocating any node.
func TestThousandNodes(t *testing.T) {
	nodes := bigCluster()
	capacity := 0
	for _, n := range nodes {
		if n.State == api.NodeUp && testServes(n, api.DefaultQueue) {
			capacity += n.Capacity.CPUs
		}
	}
	const numJobs = 10000
	if capacity >= numJobs || capacity <= sched.MaxPlacements {
		t.Fatalf("cluster of %d usable CPUs: want between MaxPlacements %d and %d jobs, so that jobs wait and plans are bounded",
			capacity, sched.MaxPlacements, numJobs)
	}
	snap := &fakeSnap{nodes: nodes}
	for id := 1; id <= numJobs; id++ {
		snap.jobs = append(snap.jobs, job(uint64(id), int64(id%3), 1, 1024, 0))
	}

	first := schedule(snap)
	if got, want := (expect{placed: len(first.Placements), waiting: first.Waiting}),
		(expect{placed: sched.MaxPlacements, waiting: numJobs - sched.MaxPlacements}); !reflect.DeepEqual(got, want) {
		t.Errorf("first plan: got %+v, want %+v", got, want)
	}

	placed, last := scheduleUntilStable(t, snap)
	want := min(numJobs, capacity)
	if got, want := (expect{placed: placed, waiting: last.Waiting}), (expect{placed: want, waiting: numJobs - want}); !reflect.DeepEqual(got, want) {
		t.Errorf("after all plans: got %+v, want %+v", got, want)
	}
	wantNoOverAllocation(t, snap, nil)

	// Higher priorities went first: no waiting job outranks a placed one.
	minPlaced, maxWaiting := int64(1<<62), int64(-1<<62)
	for _, j := range snap.jobs {
		if j.State == api.StateStarting {
			minPlaced = min(minPlaced, j.Priority)
		} else {
			maxWaiting = max(maxWaiting, j.Priority)
		}
	}
	if maxWaiting > minPlaced {
		t.Errorf("a waiting job has priority %d above a placed job's %d, want placed jobs to outrank waiting ones", maxWaiting, minPlaced)
	}
}

// TestMixedJobsProperties: jobs of random (seeded) shapes over the big
// cluster. Whatever gets placed, no node is over-allocated, every plan
// is valid, and at the fixed point no waiting job fits on any node.
func TestMixedJobsProperties(t *testing.T) {
	for seed := int64(1); seed <= 5; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			r := rand.New(rand.NewSource(seed))
			snap := &fakeSnap{nodes: bigCluster()}
			prior := map[string]api.Resources{}
			for i, n := range snap.nodes {
				if i%7 == 0 { // some nodes already busy
					prior[n.Name] = api.Resources{CPUs: 1, MemoryMB: 1024}
					allocated(n, prior[n.Name])
				}
			}
			queues := []string{api.DefaultQueue, api.DefaultQueue, api.DefaultQueue, "other", "nowhere"}
			for id := 1; id <= 6000; id++ {
				j := job(uint64(id), int64(r.Intn(5)), 1+r.Intn(8), int64(1+r.Intn(16))*512, r.Intn(10)/8)
				j.Queue = queues[r.Intn(len(queues))]
				snap.jobs = append(snap.jobs, j)
			}
			_, last := scheduleUntilStable(t, snap)
			wantNoOverAllocation(t, snap, prior)
			if last.Waiting == 0 {
				t.Fatalf("no job waits: want a cluster too small for the jobs, so that the fixed point is tested")
			}
			for _, j := range snap.jobs {
				if j.State != api.StateRunnable {
					continue
				}
				for _, n := range snap.nodes {
					if n.State == api.NodeUp && testServes(n, j.Queue) && j.Resources.Fits(n.Free()) {
						t.Errorf("job %d (%+v, queue %s) waits, but node %s has %+v free: want it placed",
							j.ID, j.Resources, j.Queue, n.Name, n.Free())
					}
				}
			}
		})
	}
}

// TestScheduleDoesNotMutate: Schedule reads its snapshot and changes
// nothing in it, and the same snapshot gives the same plan.
func TestScheduleDoesNotMutate(t *testing.T) {
	snap := &fakeSnap{nodes: bigCluster()[:50]}
	for id := 1; id <= 500; id++ {
		j := job(uint64(id), int64(id%4), 1+id%3, 512, id%5/4)
		j.DependsOn = []api.Dependency{{JobID: uint64(id)/2 + 1, Type: api.AfterOK}}
		j.Env = map[string]string{"I": fmt.Sprint(id)}
		if id%9 == 0 {
			j.State = api.StatePending
		}
		snap.jobs = append(snap.jobs, j)
	}
	snap.nodes[3].Allocated = api.Resources{CPUs: 1}
	before := deepCopy(t, snap)
	jobPtrs := append([]*api.Job(nil), snap.jobs...)
	nodePtrs := append([]*api.Node(nil), snap.nodes...)

	plan := schedule(snap)
	if len(plan.Placements) == 0 || plan.Waiting == 0 {
		t.Fatalf("got placed %d waiting %d, want some of each so that the test means something", len(plan.Placements), plan.Waiting)
	}
	if after := deepCopy(t, snap); !reflect.DeepEqual(after, before) {
		t.Errorf("Schedule changed its snapshot:\ngot  %s\nwant %s", after, before)
	}
	if !reflect.DeepEqual(jobPtrs, snap.jobs) || !reflect.DeepEqual(nodePtrs, snap.nodes) {
		t.Errorf("Schedule reordered or replaced the snapshot's slices, want them untouched")
	}
	if again := schedule(snap); !reflect.DeepEqual(again, plan) {
		t.Errorf("second Schedule of the same snapshot: got %+v, want %+v", again, plan)
	}
}

// deepCopy renders a snapshot's values (not its pointers) as JSON.
func deepCopy(t *testing.T, s *fakeSnap) string {
	t.Helper()
	data, err := json.Marshal(struct {
		Jobs  []*api.Job
		Nodes []*api.Node
	}{s.jobs, s.nodes})
	if err != nil {
		t.Fatalf("marshal snapshot: %v", err)
	}
	return string(data)
}

// TestScheduleOrder: with room for every job, the plan lists jobs by
// priority (highest first) and then by id, for many equal priorities (a
// non-stable sort would mix ids up).
func TestScheduleOrder(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	snap := &fakeSnap{nodes: []*api.Node{node("a", 1<<20, 1<<40, 0)}}
	for id := 1; id <= 2000; id++ {
		snap.jobs = append(snap.jobs, job(uint64(id), int64(r.Intn(4)), 1, 1, 0))
	}
	r.Shuffle(len(snap.jobs), func(a, b int) { snap.jobs[a], snap.jobs[b] = snap.jobs[b], snap.jobs[a] })

	want := append([]*api.Job(nil), snap.jobs...)
	sort.Slice(want, func(a, b int) bool {
		if want[a].Priority != want[b].Priority {
			return want[a].Priority > want[b].Priority
		}
		return want[a].ID < want[b].ID
	})
	plan := schedule(snap)
	if len(plan.Placements) != len(want) {
		t.Fatalf("got %d placements, want %d", len(plan.Placements), len(want))
	}
	for i, p := range plan.Placements {
		if p.JobID != want[i].ID {
			t.Fatalf("placement %d: got job %d, want job %d (priority %d)", i, p.JobID, want[i].ID, want[i].Priority)
		}
	}
}

func jobByID(jobs []*api.Job, id uint64) *api.Job {
	for _, j := range jobs {
		if j.ID == id {
			return j
		}
	}
	return nil
}
