package raftfsm_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// depTrace is what the state says of every job: its state, reason and
// links, one line a job in id order.
func depTrace(f *raftfsm.FSM) string {
	var b strings.Builder
	f.State().AllJobs(func(j *api.Job) bool {
		fmt.Fprintf(&b, "%d %s %q held=%v [", j.ID, j.State, j.StatusReason, j.Held)
		for _, d := range j.DependsOn {
			fmt.Fprintf(&b, " %s:%d", d.Type, d.JobID)
		}
		b.WriteString(" ]\n")
		return true
	})
	return b.String()
}

// depWalk drives one FSM through random commands that make, meet, break
// and drop dependencies: submits (single jobs and arrays, some across
// buckets of 256 ids) with every dependency type, starts, ends, cancels
// (one, and many at once), requeues, holds, expiry and restores from a
// snapshot. It returns the trace of the state after each command, if
// traced.
func depWalk(t *testing.T, seed uint64, steps int, traced bool, check func(what string, f *raftfsm.FSM)) []string {
	t.Helper()
	h := newHarness(t)
	r := rand.New(rand.NewPCG(seed, 7))
	h.register(1, api.Node{Name: "n", Boot: "n", Capacity: api.Resources{CPUs: 1 << 20, MemoryMB: 1 << 30}})
	type endedInfo struct {
		state api.JobState
		array bool
	}
	gone := map[uint64]endedInfo{} // expired jobs
	var trace []string
	now := int64(10)
	jobs := func(keep func(*api.Job) bool) []*api.Job {
		var out []*api.Job
		h.fsm.State().AllJobs(func(j *api.Job) bool {
			if keep(j) {
				out = append(out, j)
			}
			return true
		})
		return out
	}
	pick := func(js []*api.Job, n int) []uint64 {
		var ids []uint64
		for range n {
			if len(js) == 0 {
				break
			}
			ids = append(ids, js[r.IntN(len(js))].ID)
		}
		slices.Sort(ids)
		return slices.Compact(ids)
	}
	types := []api.DependencyType{api.AfterOK, api.AfterOK, api.AfterAny, api.AfterNotOK, api.After, api.AfterCorr, api.Singleton, api.NToN, api.Sequential}
	names := []string{"a", "b", "c"}
	// Some commands go in batches of several, one entry, as the
	// controller's applier sends them: one transaction.
	var batch [][]byte
	batchLeft := 0
	flush := func() string {
		if len(batch) == 0 {
			return ""
		}
		var errs []string
		for _, res := range h.batch(batch...) {
			if res.Err != nil {
				errs = append(errs, res.Err.Code)
			}
		}
		batch, batchLeft = nil, 0
		return fmt.Sprintf(" (batch applied, errs %v)", errs)
	}
	apply := func(op raftfsm.Op, body any) any {
		if batchLeft == 0 {
			return h.apply(op, body)
		}
		batch = append(batch, encode(t, op, body))
		if batchLeft--; batchLeft == 0 {
			return flush()
		}
		return " (batched)"
	}
	for step := range steps {
		now++
		var res any
		what := ""
		if batchLeft == 0 && r.IntN(6) == 0 {
			batchLeft = 2 + r.IntN(3)
		}
		switch op := r.IntN(100); {
		case op < 35: // submit
			all := jobs(func(*api.Job) bool { return true })
			j := newJob(names[r.IntN(len(names))])
			if r.IntN(4) == 0 {
				j.User, j.UID = "bob", 1001
			}
			j.DependAny = r.IntN(6) == 0
			j.KeepOnInvalidDep = r.IntN(4) == 0
			size := 0
			switch r.IntN(6) {
			case 0:
				size = 1 + r.IntN(5)
			case 1:
				size = 200 + r.IntN(200)
			}
			var ended []raftfsm.EndedJob
			for range r.IntN(4) {
				typ := types[r.IntN(len(types))]
				var target uint64
				switch {
				case typ == api.Singleton:
				case len(gone) > 0 && r.IntN(8) == 0:
					var ids []uint64
					for id, e := range gone {
						if !e.array {
							ids = append(ids, id)
						}
					}
					if len(ids) > 0 {
						slices.Sort(ids)
						target = ids[r.IntN(len(ids))]
						ended = append(ended, raftfsm.EndedJob{ID: target, State: gone[target].state})
					}
				case len(all) > 0:
					o := all[r.IntN(len(all))]
					target = o.ID
					if o.Array != nil && r.IntN(2) == 0 {
						target = o.Array.JobID
					}
				}
				if target == 0 && typ != api.Singleton {
					continue
				}
				j.DependsOn = append(j.DependsOn, api.Dependency{JobID: target, Type: typ})
			}
			c := raftfsm.SubmitCmd{Jobs: []api.Job{j}, Now: now, Ended: ended}
			if size > 0 {
				idx := make([]int, size)
				from, step := r.IntN(3)*100, 1+r.IntN(3) // in steps: aftercorr's sparse tables
				for k := range idx {
					idx[k] = from + k*step
				}
				c.Arrays = []raftfsm.ArraySpec{{Job: 0, Indexes: idx}}
			}
			if r.IntN(4) == 0 { // a second job in the same submit, on the first
				k := newJob(names[r.IntN(len(names))])
				k.DependsOn = []api.Dependency{{JobID: h.fsm.State().NextJobID(), Type: api.AfterAny}, {Type: api.Singleton}}
				c.Jobs = append(c.Jobs, k)
			}
			what = fmt.Sprintf("submit %+v", c.Jobs[0].DependsOn)
			res = apply(raftfsm.OpSubmit, c)
		case op < 50: // start
			ids := pick(jobs(func(j *api.Job) bool { return j.State == api.StateRunnable }), 1+r.IntN(40))
			var ps []raftfsm.Placement
			for _, id := range ids {
				ps = append(ps, raftfsm.Placement{JobID: id, Node: "n"})
			}
			what = fmt.Sprintf("place %v", ids)
			res = apply(raftfsm.OpPlan, raftfsm.PlanCmd{Placements: ps, Now: now})
		case op < 68: // end or run
			ids := pick(jobs(func(j *api.Job) bool { return j.State == api.StateStarting || j.State == api.StateRunning }), 1+r.IntN(40))
			var evs []api.JobEvent
			for _, id := range ids {
				ev := api.JobEvent{ID: id, Node: "n", State: api.StateRunning}
				switch r.IntN(3) {
				case 0:
					ev.State, ev.ExitCode = api.StateSucceeded, intp(0)
				case 1:
					ev.State, ev.ExitCode = api.StateFailed, intp(1)
				}
				evs = append(evs, ev)
			}
			what = fmt.Sprintf("events %v", ids)
			res = apply(raftfsm.OpJobEvents, raftfsm.JobEventsCmd{Events: evs, Now: now})
		case op < 76: // cancel one, or many
			live := jobs(func(j *api.Job) bool { return !j.State.Terminal() })
			if r.IntN(2) == 0 && len(live) > 0 {
				id := live[r.IntN(len(live))].ID
				what = fmt.Sprintf("cancel %d", id)
				res = apply(raftfsm.OpStop, raftfsm.StopCmd{ID: id, Reason: "x", Now: now})
				break
			}
			ids := pick(live, r.IntN(150))
			what = fmt.Sprintf("cancel many %v", ids)
			res = apply(raftfsm.OpStopMany, raftfsm.StopManyCmd{IDs: ids, Reason: "x", Now: now})
		case op < 82: // requeue
			ids := pick(jobs(func(j *api.Job) bool { return !j.State.Terminal() }), 1+r.IntN(5))
			if r.IntN(2) == 0 && len(ids) > 0 {
				what = fmt.Sprintf("requeue %d", ids[0])
				res = apply(raftfsm.OpStop, raftfsm.StopCmd{ID: ids[0], Reason: "x", Terminate: true, Requeue: true, Hold: r.IntN(3) == 0, Now: now})
				break
			}
			what = fmt.Sprintf("requeue many %v", ids)
			res = apply(raftfsm.OpRequeueMany, raftfsm.RequeueManyCmd{IDs: ids, Reason: "x", Now: now})
		case op < 88: // hold or release
			ids := pick(jobs(func(j *api.Job) bool { return j.State == api.StatePending || j.State == api.StateRunnable }), 1+r.IntN(5))
			what = fmt.Sprintf("hold %v", ids)
			res = apply(raftfsm.OpHold, raftfsm.HoldCmd{IDs: ids, Hold: r.IntN(2) == 0, Now: now})
		case op < 94: // expire
			ended := jobs(func(j *api.Job) bool { return j.State.Terminal() })
			ids := pick(ended, r.IntN(200))
			for _, j := range ended {
				if slices.Contains(ids, j.ID) {
					gone[j.ID] = endedInfo{j.State, j.Array != nil}
				}
			}
			what = fmt.Sprintf("expire %v", ids)
			res = apply(raftfsm.OpExpire, raftfsm.ExpireCmd{IDs: ids, Before: now})
			for id := range gone {
				if h.fsm.State().Job(id) != nil {
					delete(gone, id) // kept: it may not leave yet
				}
			}
		default: // snapshot and restore: the restored state must be the same
			what = flush()
			f := h.restored()
			if a, b := depTrace(h.fsm), depTrace(f); a != b {
				t.Fatalf("seed %d step %d: the restored state differs:\n%s", seed, step, lineDiff(a, b))
			}
			h.fsm = f
			what = "restore" + what
		}
		if rr, ok := res.(raftfsm.Result); ok && rr.Err != nil {
			what += " err " + rr.Err.Code
		} else if note, ok := res.(string); ok {
			what += note
		}
		if traced {
			trace = append(trace, fmt.Sprintf("step %d: %s\n%s", step, what, depTrace(h.fsm)))
		}
		if step == steps-1 {
			what += flush()
		}
		if check != nil && (step%20 == 0 || strings.HasPrefix(what, "restore") || step == steps-1) {
			check(fmt.Sprintf("seed %d step %d (%s)", seed, step, what), h.fsm)
		}
	}
	// The same log replayed from the start comes to the same state.
	f := raftfsm.New()
	for i, e := range h.log {
		f.Apply(uint64(i+1), e)
	}
	if a, b := depTrace(h.fsm), depTrace(f); a != b {
		t.Fatalf("seed %d: the log replayed differs:\n%s", seed, lineDiff(a, b))
	}
	return trace
}

// lineDiff shows the first lines where a and b differ.
func lineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < max(len(x), len(y)) && len(out) < 20; i++ {
		var p, q string
		if i < len(x) {
			p = x[i]
		}
		if i < len(y) {
			q = y[i]
		}
		if p != q {
			out = append(out, "- "+p, "+ "+q)
		}
	}
	return strings.Join(out, "\n")
}

// TestDependencyWalks: random walks through dependencies keep the sets
// of dependents exact and the state the same after a restore and a
// replay. DEPTRACE_SEEDS=N walks N seeds, longer; with DEPTRACE_OUT set,
// the traces are written there, to compare two builds of the FSM (the
// block sets of dependents and the sets per job before them gave the same
// traces for 8 seeds).
func TestDependencyWalks(t *testing.T) {
	seeds, steps := uint64(1), 150
	if testing.Short() {
		seeds, steps = 1, 60
	}
	if n, err := strconv.Atoi(os.Getenv("DEPTRACE_SEEDS")); err == nil && n > 0 { // more walks, longer
		seeds, steps = uint64(n), 200
	}
	out := os.Getenv("DEPTRACE_OUT")
	var all strings.Builder
	for seed := uint64(1); seed <= seeds; seed++ {
		tr := depWalk(t, seed, steps, out != "", func(what string, f *raftfsm.FSM) { wantDependents(t, what, f) })
		if t.Failed() {
			return
		}
		fmt.Fprintf(&all, "seed %d\n%s", seed, strings.Join(tr, ""))
	}
	if out != "" {
		if err := os.WriteFile(out, []byte(all.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
