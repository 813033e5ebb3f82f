package sched_test

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/sched"
)

// queueSnap is fakeSnap with queues and compute environments that tests
// may disable or leave out.
type queueSnap struct {
	fakeSnap
	queues map[string]*api.JobQueue // nil entry: no such queue
	ces    map[string]*api.ComputeEnvironment
}

func (s *queueSnap) Queue(name string) *api.JobQueue {
	if q, ok := s.queues[name]; ok {
		return q
	}
	return s.fakeSnap.Queue(name)
}

func (s *queueSnap) ComputeEnvironment(name string) *api.ComputeEnvironment {
	if ce, ok := s.ces[name]; ok {
		return ce
	}
	return s.fakeSnap.ComputeEnvironment(name)
}

const (
	t0     = int64(1_000_000_000_000) // now, epoch ms
	minute = int64(60_000)
	hour   = 60 * minute
)

// limited gives j a time limit of secs.
func limited(j *api.Job, secs int64) *api.Job { j.TimeLimit = secs; return j }

// runningOn is a job running on n since start (epoch ms).
func runningOn(id uint64, n string, start int64, cpus int, memMB int64, limitSecs int64) *api.Job {
	j := limited(job(id, 0, cpus, memMB, 0), limitSecs)
	j.State, j.Node, j.StartedAt = api.StateRunning, n, start
	return j
}

// nodeRunning is node n with the running jobs' resources allocated.
func nodeRunning(n *api.Node, jobs ...*api.Job) *api.Node {
	for _, j := range jobs {
		if j.Node == n.Name {
			n.Allocated = n.Allocated.Add(j.Resources)
		}
	}
	return n
}

func waitOf(p sched.Plan, id uint64) (sched.Wait, bool) {
	for _, w := range p.Waits {
		if w.JobID == id {
			return w, true
		}
	}
	return sched.Wait{}, false
}

func TestReasons(t *testing.T) {
	r6 := runningOn(100, "a", t0-10*minute, 6, 1024, 3600)
	held := inState(job(7, 0, 1, 1, 0), api.StatePending)
	held.Held = true
	admin := inState(job(8, 0, 1, 1, 0), api.StatePending)
	admin.Held, admin.HeldByAdmin = true, true
	begin := job(9, 0, 1, 1, 0)
	begin.BeginAt = t0 + hour
	task := func(id uint64, idx int) *api.Job {
		j := job(id, 0, 1, 1, 0)
		j.Array = &api.ArrayTask{JobID: 20, Index: idx, Min: 0, Max: 2, Count: 3, MaxRunning: 1}
		return j
	}
	runningTask := task(20, 0)
	runningTask.State, runningTask.Node = api.StateRunning, "b"
	tests := []struct {
		name   string
		jobs   []*api.Job
		nodes  []*api.Node
		queues map[string]*api.JobQueue
		ces    map[string]*api.ComputeEnvironment
		want   map[uint64]sched.Reason
		short  map[uint64]sched.Shortfall
	}{
		{
			name:  "dependency, holds, begin time",
			jobs:  []*api.Job{inState(job(6, 0, 1, 1, 0), api.StatePending), held, admin, begin},
			nodes: []*api.Node{node("a", 8, 8192, 0)},
			want: map[uint64]sched.Reason{6: sched.ReasonDependency, 7: sched.ReasonHeldUser,
				8: sched.ReasonHeldAdmin, 9: sched.ReasonBeginTime},
		},
		{
			name:  "resources: cpus short, quantified",
			jobs:  []*api.Job{r6, job(1, 0, 4, 1024, 0)},
			nodes: []*api.Node{nodeRunning(node("a", 8, 8192, 0), r6)},
			want:  map[uint64]sched.Reason{1: sched.ReasonResources},
			short: map[uint64]sched.Shortfall{1: {Resource: "cpus", Asked: 4, FreeNow: 2, AtMost: 8, BestNode: "a", UpNodes: 1}},
		},
		{
			name: "resources: every part free somewhere, never all at once",
			jobs: []*api.Job{job(1, 0, 2, 2048, 0)},
			nodes: []*api.Node{allocated(node("a", 4, 4096, 0), api.Resources{MemoryMB: 3072}),
				allocated(node("b", 4, 4096, 0), api.Resources{CPUs: 3})},
			want:  map[uint64]sched.Reason{1: sched.ReasonResources},
			short: map[uint64]sched.Shortfall{1: {Resource: "", Asked: 2, FreeNow: 4, AtMost: 4, BestNode: "a", UpNodes: 2}},
		},
		{
			name:  "impossible: bigger than any node",
			jobs:  []*api.Job{job(1, 0, 64, 1024, 0)},
			nodes: []*api.Node{node("a", 8, 8192, 0), node("b", 16, 8192, 0)},
			want:  map[uint64]sched.Reason{1: sched.ReasonReqNodeNotAvail},
			short: map[uint64]sched.Shortfall{1: {Resource: "cpus", Asked: 64, FreeNow: 16, AtMost: 16, BestNode: "b", UpNodes: 2}},
		},
		{
			name:  "impossible now: the nodes that could are down",
			jobs:  []*api.Job{job(1, 0, 1, 1, 1)},
			nodes: []*api.Node{node("a", 8, 8192, 0), down(node("g", 8, 8192, 2))},
			want:  map[uint64]sched.Reason{1: sched.ReasonReqNodeNotAvail},
			short: map[uint64]sched.Shortfall{1: {Resource: "gpus", Asked: 1, FreeNow: 0, AtMost: 0, BestNode: "a", UpNodes: 1, Unavailable: []string{"g"}}},
		},
		{
			name:   "queue disabled or missing",
			jobs:   []*api.Job{inQueue(job(1, 0, 1, 1, 0), "off"), inQueue(job(2, 0, 1, 1, 0), "gone")},
			nodes:  []*api.Node{serving(node("a", 8, 8192, 0), "off", "gone")},
			queues: map[string]*api.JobQueue{"off": {Name: "off", State: api.Disabled}, "gone": nil},
			want:   map[uint64]sched.Reason{1: sched.ReasonPartitionInactive, 2: sched.ReasonPartitionInactive},
		},
		{
			name:  "queue without an enabled compute environment",
			jobs:  []*api.Job{inQueue(job(1, 0, 1, 1, 0), "q")},
			nodes: []*api.Node{serving(node("a", 8, 8192, 0), "q")},
			ces:   map[string]*api.ComputeEnvironment{"q": {Name: "q", State: api.Disabled}},
			want:  map[uint64]sched.Reason{1: sched.ReasonPartitionDown},
		},
		{
			name:  "array throttle",
			jobs:  []*api.Job{runningTask, task(21, 1), task(22, 2)},
			nodes: []*api.Node{node("a", 8, 8192, 0), node("b", 8, 8192, 0)},
			want:  map[uint64]sched.Reason{21: sched.ReasonArrayTaskLimit, 22: sched.ReasonArrayTaskLimit},
		},
		{
			name:  "priority: fits now but would delay the reservation",
			jobs:  []*api.Job{r6, limited(job(1, 10, 8, 1024, 0), 3600), limited(job(2, 0, 2, 1024, 0), 7200)},
			nodes: []*api.Node{nodeRunning(node("a", 8, 8192, 0), r6)},
			want:  map[uint64]sched.Reason{1: sched.ReasonResources, 2: sched.ReasonPriority},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := &queueSnap{fakeSnap: fakeSnap{jobs: tt.jobs, nodes: tt.nodes}, queues: tt.queues, ces: tt.ces}
			plan := sched.Schedule(snap, t0)
			if len(plan.Placements) != 0 {
				t.Errorf("placed %v, want nothing placed", plan.Placements)
			}
			if len(plan.Waits) != len(tt.want) {
				t.Errorf("%d waits, want %d: %+v", len(plan.Waits), len(tt.want), plan.Waits)
			}
			for id, reason := range tt.want {
				w, ok := waitOf(plan, id)
				if !ok || w.Reason != reason {
					t.Errorf("job %d: reason %q, want %q", id, w.Reason, reason)
					continue
				}
				if want, ok := tt.short[id]; ok {
					if w.Short == nil {
						t.Errorf("job %d: no shortfall, want %+v", id, want)
					} else if fmt.Sprint(*w.Short) != fmt.Sprint(want) {
						t.Errorf("job %d: shortfall %+v, want %+v", id, *w.Short, want)
					}
				}
				if text := w.Describe(w.Job.Resources, t0); text == "" || text == "it has not been planned yet" {
					t.Errorf("job %d: no description", id)
				}
			}
		})
	}
}

func TestBackfill(t *testing.T) {
	// Node a has 8 CPUs; a job using 6 of them ends (by its limit) at
	// t0+1h. The top job needs all 8: it is reserved a from t0+1h.
	base := func() []*api.Job {
		return []*api.Job{runningOn(100, "a", t0, 6, 1024, 3600), limited(job(1, 10, 8, 1024, 0), 3600)}
	}
	nodesOf := func(jobs []*api.Job) []*api.Node {
		return []*api.Node{nodeRunning(node("a", 8, 8192, 0), jobs...)}
	}
	tests := []struct {
		name    string
		jobs    []*api.Job
		nodes   func([]*api.Job) []*api.Node
		placed  []uint64
		reasons map[uint64]sched.Reason
		start   map[uint64]int64
	}{
		{
			name:    "a short job fills the gap",
			jobs:    append(base(), limited(job(2, 0, 2, 1024, 0), 1800)),
			placed:  []uint64{2},
			reasons: map[uint64]sched.Reason{1: sched.ReasonResources},
			start:   map[uint64]int64{1: t0 + hour},
		},
		{
			name:    "a job ending exactly at the reservation fills it",
			jobs:    append(base(), limited(job(2, 0, 2, 1024, 0), 3600)),
			placed:  []uint64{2},
			reasons: map[uint64]sched.Reason{1: sched.ReasonResources},
		},
		{
			name:    "a long one does not",
			jobs:    append(base(), limited(job(2, 0, 2, 1024, 0), 3601)),
			reasons: map[uint64]sched.Reason{1: sched.ReasonResources, 2: sched.ReasonPriority},
			start:   map[uint64]int64{1: t0 + hour, 2: t0 + 2*hour},
		},
		{
			name:    "nor one without a limit",
			jobs:    append(base(), job(2, 0, 2, 1024, 0)),
			reasons: map[uint64]sched.Reason{1: sched.ReasonResources, 2: sched.ReasonPriority},
		},
		{
			name: "a long job may use what the reservation leaves",
			// The top job needs 6 of the 8 CPUs at t0+1h: 2 are spare.
			jobs: []*api.Job{runningOn(100, "a", t0, 6, 1024, 3600), limited(job(1, 10, 6, 1024, 0), 3600),
				job(2, 0, 2, 1024, 0), job(3, 0, 1, 1024, 0)},
			placed:  []uint64{2},
			reasons: map[uint64]sched.Reason{1: sched.ReasonResources, 3: sched.ReasonResources},
		},
		{
			name: "a long job may use another node",
			jobs: append(base(), limited(job(2, 0, 2, 1024, 0), 7200)),
			nodes: func(jobs []*api.Job) []*api.Node {
				return []*api.Node{nodeRunning(node("a", 8, 8192, 0), jobs...), node("b", 2, 8192, 0)}
			},
			placed:  []uint64{2},
			reasons: map[uint64]sched.Reason{1: sched.ReasonResources},
		},
		{
			name: "reservations beyond the window hold nothing back",
			jobs: []*api.Job{runningOn(100, "a", t0, 6, 1024, 0), limited(job(1, 10, 8, 1024, 0), 3600),
				job(2, 0, 2, 1024, 0)},
			placed:  []uint64{2},
			reasons: map[uint64]sched.Reason{1: sched.ReasonResources},
		},
		{
			name: "estimates follow the reservation in queue order",
			jobs: []*api.Job{runningOn(100, "a", t0, 6, 1024, 3600), limited(job(1, 10, 8, 1024, 0), 3600),
				limited(job(2, 5, 8, 1024, 0), 3600), limited(job(3, 5, 8, 1024, 0), 1800)},
			reasons: map[uint64]sched.Reason{1: sched.ReasonResources, 2: sched.ReasonResources, 3: sched.ReasonResources},
			start:   map[uint64]int64{1: t0 + hour, 2: t0 + 2*hour, 3: t0 + 3*hour},
		},
		{
			name: "a started job that overran its limit ends any moment",
			jobs: []*api.Job{runningOn(100, "a", t0-2*hour, 6, 1024, 3600), limited(job(1, 10, 8, 1024, 0), 3600),
				limited(job(2, 0, 2, 1024, 0), 60)},
			reasons: map[uint64]sched.Reason{1: sched.ReasonResources, 2: sched.ReasonPriority},
			start:   map[uint64]int64{1: t0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes := nodesOf
			if tt.nodes != nil {
				nodes = tt.nodes
			}
			snap := &fakeSnap{jobs: tt.jobs, nodes: nodes(tt.jobs)}
			plan := sched.Schedule(snap, t0)
			var placed []uint64
			for _, p := range plan.Placements {
				placed = append(placed, p.JobID)
			}
			if fmt.Sprint(placed) != fmt.Sprint(tt.placed) {
				t.Errorf("placed %v, want %v", placed, tt.placed)
			}
			for id, reason := range tt.reasons {
				if w, _ := waitOf(plan, id); w.Reason != reason {
					t.Errorf("job %d: reason %q, want %q", id, w.Reason, reason)
				}
			}
			for id, at := range tt.start {
				if w, _ := waitOf(plan, id); w.StartAt != at {
					t.Errorf("job %d: start t0%+dmin, want t0%+dmin", id, (w.StartAt-t0)/minute, (at-t0)/minute)
				}
			}
			checkNotDelayed(t, snap, plan, t0)
		})
	}
}

// checkNotDelayed checks that every reservation holds: at its start, on its
// node, the jobs still running by their limits (those running before and
// those the plan placed) leave room for the reserved job.
func checkNotDelayed(t *testing.T, snap *fakeSnap, plan sched.Plan, now int64) {
	t.Helper()
	placed := map[uint64]string{}
	for _, p := range plan.Placements {
		placed[p.JobID] = p.Node
	}
	for _, w := range plan.Waits {
		if !w.Reserved {
			continue
		}
		n := nodeNamed(snap, w.Node)
		var busy api.Resources
		for _, j := range snap.jobs {
			start, on := j.StartedAt, j.Node
			if pn, ok := placed[j.ID]; ok {
				start, on = now, pn
			}
			if on != n.Name || (j.State != api.StateRunning && j.State != api.StateStarting && placed[j.ID] == "") {
				continue
			}
			if start == 0 {
				start = now
			}
			limit := j.TimeLimit
			if limit == 0 {
				limit = sched.DefaultTimeLimit
			}
			if max(start+limit*1000, now) > w.StartAt {
				busy = busy.Add(j.Resources)
			}
		}
		if !w.Job.Resources.FitsOn(n.Capacity, busy) {
			t.Errorf("job %d reserved on %s at t0%+dmin, but jobs there then hold %+v of %+v",
				w.JobID, n.Name, (w.StartAt-now)/minute, busy, n.Capacity)
		}
	}
}

// TestBackfillNeverDelaysReservation plans random snapshots of running
// jobs with limits and waiting jobs of random sizes and limits, and checks
// every reservation against what the plan placed.
func TestBackfillNeverDelaysReservation(t *testing.T) {
	for seed := int64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewSource(seed))
		var nodes []*api.Node
		var jobs []*api.Job
		id := uint64(1)
		for i := 0; i < 1+rng.Intn(4); i++ {
			n := node(fmt.Sprintf("n%d", i), 4+rng.Intn(13), 16384, 0)
			for k := 0; k < rng.Intn(4); k++ {
				j := runningOn(1000+id, n.Name, t0-int64(rng.Intn(120))*minute, 1+rng.Intn(4), 1024, int64(1+rng.Intn(4))*3600)
				id++
				if j.Resources.FitsOn(n.Capacity, n.Allocated) {
					n.Allocated = n.Allocated.Add(j.Resources)
					jobs = append(jobs, j)
				}
			}
			nodes = append(nodes, n)
		}
		for k := 0; k < 3+rng.Intn(20); k++ {
			j := limited(job(id, int64(rng.Intn(3)), 1+rng.Intn(16), 1024, 0), int64(1+rng.Intn(300))*60)
			id++
			jobs = append(jobs, j)
		}
		snap := &fakeSnap{jobs: jobs, nodes: nodes}
		plan := sched.Schedule(snap, t0)
		reserved := 0
		for _, w := range plan.Waits {
			if w.Reserved {
				reserved++
			}
		}
		if reserved > 1 {
			t.Errorf("seed %d: %d reservations in one queue, want at most 1 (EASY)", seed, reserved)
		}
		checkNotDelayed(t, snap, plan, t0)
		checkPlan(t, snap, plan)
	}
}

// TestNoPending: the option leaves PENDING jobs out of the waits, and
// changes nothing else.
func TestNoPending(t *testing.T) {
	jobs := []*api.Job{inState(job(1, 0, 1, 1, 0), api.StatePending), job(2, 0, 64, 1, 0), job(3, 0, 1, 1, 0)}
	snap := &fakeSnap{jobs: jobs, nodes: []*api.Node{node("a", 8, 8192, 0)}}
	all, some := sched.Schedule(snap, t0), sched.ScheduleWith(snap, t0, sched.Options{NoPending: true})
	if _, ok := waitOf(all, 1); !ok {
		t.Errorf("default: no wait for the PENDING job")
	}
	if _, ok := waitOf(some, 1); ok || len(some.Waits) != len(all.Waits)-1 || fmt.Sprint(some.Placements) != fmt.Sprint(all.Placements) {
		t.Errorf("NoPending: waits %+v placements %v, want those of the default pass less the PENDING job's", some.Waits, some.Placements)
	}
}
