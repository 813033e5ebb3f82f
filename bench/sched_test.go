package bench

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
	"github.com/shoal-batch/shoal/sched"
)

// schedCases are the pass-time cases of issue 20: pending jobs × nodes.
// In the case without limits, no job has a time limit: nothing can be
// reserved within the backfill window, and the pass must not try for
// every job.
var schedCases = []struct {
	pending, nodes int
	noLimits       bool
}{
	{10_000, 100, false}, {10_000, 1_000, false}, {100_000, 100, false}, {100_000, 1_000, false},
	{320_000, 1_000, false}, {100_000, 1_000, true},
}

// BenchmarkSchedulePass times one scheduler pass, sched.Schedule (a pure
// function) on the FSM's own state, for each case: a busy cluster of
// simulated nodes (64 CPUs, 256 GiB each, four 16-CPU jobs running on
// each, ending by their limits over the next 1-8 hours; every tenth node
// has one slot free) and a backlog of RUNNABLE jobs of 24 shapes (1-32
// CPUs, limits 10 min to none, three priorities). The state is built by
// applying commands to a raftfsm.FSM, as raft would. The figure is the
// median of five passes over the same state.
func BenchmarkSchedulePass(b *testing.B) {
	for _, c := range schedCases {
		name := fmt.Sprintf("pending=%d/nodes=%d", c.pending, c.nodes)
		if c.noLimits {
			name += "/nolimits"
		}
		b.Run(name, func(b *testing.B) {
			fsm, now := buildSchedState(b, c.pending, c.nodes, c.noLimits)
			st := fsm.State()
			var loop loopPasses
			for range b.N {
				cpu0 := cpuTime(b)
				times, plan := loop.five(st, now, sched.Options{})
				cpu := (cpuTime(b) - cpu0) / 5
				if plan.Waiting+len(plan.Placements) != c.pending {
					b.Fatalf("plan: %d placed + %d waiting, want %d jobs", len(plan.Placements), plan.Waiting, c.pending)
				}
				b.ReportMetric(ms(times[2]), "ms/pass")
				b.ReportMetric(ms(cpu), "cpu-ms/pass")
				figure(b, "sched pass %s: %.1f ms (median of 5; min %.1f, max %.1f; placed %d); CPU %.1f ms a pass (mean of 5, GC included)",
					name, ms(times[2]), ms(times[0]), ms(times[4]), len(plan.Placements), ms(cpu))
			}
		})
	}
}

// loopPasses plans over one state as the scheduling loop does: its job
// arena and planner kept from pass to pass, the arena reset before each
// (the last plan is done with).
type loopPasses struct {
	arena   raftfsm.JobArena
	planner sched.Planner
}

// five runs five passes and returns their times, sorted, and the last
// plan.
func (l *loopPasses) five(st *raftfsm.State, now int64, opts sched.Options) ([]time.Duration, sched.Plan) {
	var times []time.Duration
	var plan sched.Plan
	for range 5 {
		start := time.Now()
		l.arena.Reset()
		plan = l.planner.Schedule(st.WithArena(&l.arena), now, opts)
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	return times, plan
}

// buildSchedState builds the state of a BenchmarkSchedulePass case and
// returns it with the time to plan at.
func buildSchedState(b *testing.B, pending, nodes int, noLimits bool) (*raftfsm.FSM, int64) {
	b.Helper()
	fsm := raftfsm.New()
	idx := uint64(0)
	apply := func(op raftfsm.Op, body any) raftfsm.Result {
		e, err := raftfsm.Encode(op, body)
		if err != nil {
			b.Fatal(err)
		}
		idx++
		res, _ := fsm.Apply(idx, e).(raftfsm.Result)
		if res.Err != nil {
			b.Fatalf("apply op %d: %v", op, res.Err)
		}
		return res
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).UnixMilli()
	start := now - int64(time.Hour/time.Millisecond)
	for i := range nodes {
		apply(raftfsm.OpRegisterNode, raftfsm.RegisterNodeCmd{Now: start, Node: api.Node{
			Name: fmt.Sprintf("sim%04d", i), Boot: "sim", Capacity: api.Resources{CPUs: 64, MemoryMB: 262144}}})
	}
	// The running jobs: four of 16 CPUs a node, three on every tenth.
	var fillers []api.Job
	var where []string
	for i := range nodes {
		slots := 4
		if i%10 == 0 {
			slots = 3
		}
		for k := range slots {
			limit := int64(2+(i+k)%8) * 3600
			if noLimits {
				limit = 0
			}
			fillers = append(fillers, benchJob("running", 16, 65536, limit, 0))
			where = append(where, fmt.Sprintf("sim%04d", i))
		}
	}
	ids := apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{Jobs: fillers, Now: start}).IDs
	plan := raftfsm.PlanCmd{Now: start}
	var events []api.JobEvent
	for k, id := range ids {
		plan.Placements = append(plan.Placements, raftfsm.Placement{JobID: id, Node: where[k], CE: api.DefaultQueue})
		events = append(events, api.JobEvent{ID: id, Node: where[k], State: api.StateRunning, Attempt: 1})
	}
	if res := apply(raftfsm.OpPlan, plan); res.Placed != len(ids) {
		b.Fatalf("placed %d running jobs, want %d", res.Placed, len(ids))
	}
	apply(raftfsm.OpJobEvents, raftfsm.JobEventsCmd{Events: events, Now: start})
	// The backlog, in batches as submit-batch would send them.
	cpus := []int{1, 2, 4, 8, 16, 32}
	limits := []int64{600, 3600, 4 * 3600, 0}
	const batch = 10_000
	for i := 0; i < pending; i += batch {
		var jobs []api.Job
		for k := i; k < min(i+batch, pending); k++ {
			c := cpus[k%len(cpus)]
			limit := limits[k/len(cpus)%len(limits)]
			if noLimits {
				limit = 0
			}
			jobs = append(jobs, benchJob("queued", c, int64(c)*2048, limit, int64(k%3)))
		}
		apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{Jobs: jobs, Now: now - 1000})
	}
	if got := fsm.State().CountInState(api.StateRunnable); got != pending {
		b.Fatalf("%d RUNNABLE jobs, want %d", got, pending)
	}
	return fsm, now
}

func benchJob(name string, cpus int, memMB, limit, prio int64) api.Job {
	return api.Job{User: "bench", UID: 1000, GID: 1000, JobSpec: api.JobSpec{
		Name: name, Queue: api.DefaultQueue, Command: []string{"true"}, Priority: prio, TimeLimit: limit,
		Resources: api.Resources{CPUs: cpus, MemoryMB: memMB}}}
}
