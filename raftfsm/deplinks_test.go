package raftfsm_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// wantDependents checks the sets of dependents against the jobs' links:
// for each job, and for all of them at once (as a cancel of many releases
// them), the unfinished jobs that name it, in id order, each once; and
// that a long scancel finds exactly the jobs others wait on.
func wantDependents(t *testing.T, what string, f *raftfsm.FSM) {
	t.Helper()
	of := map[uint64][]uint64{}
	var all []uint64
	f.State().AllJobs(func(j *api.Job) bool {
		all = append(all, j.ID)
		if j.State.Terminal() {
			return true
		}
		for _, d := range j.DependsOn {
			if deps := of[d.JobID]; len(deps) == 0 || deps[len(deps)-1] != j.ID {
				of[d.JobID] = append(deps, j.ID)
			}
		}
		return true
	})
	var many []uint64
	seen := map[uint64]bool{}
	for _, id := range all {
		if got := raftfsm.Dependents(f, id); fmt.Sprint(got) != fmt.Sprint(of[id]) {
			t.Errorf("%s: dependents of job %d: got %v, want %v", what, id, got, of[id])
		}
		if got := raftfsm.DependedOn(f, id); got != (len(of[id]) > 0) {
			t.Errorf("%s: job %d depended on: %v, want %v", what, id, got, !got)
		}
		for _, d := range of[id] {
			if !seen[d] {
				seen[d] = true
				many = append(many, d)
			}
		}
	}
	if got := raftfsm.Dependents(f, all...); fmt.Sprint(got) != fmt.Sprint(many) {
		t.Errorf("%s: dependents of all jobs: got %v, want %v", what, got, many)
	}
}

// TestDependentSetsFollowLinks: the sets of dependents, one per bucket of
// jobs depended on with a mask of which, give each job's dependents
// exactly, where jobs of one bucket have different dependents (aftercorr
// pairs tasks; a job waits on one task of an array), across buckets (an
// array of 600 tasks), through ends, cancels, expiry and a restore.
func TestDependentSetsFollowLinks(t *testing.T) {
	h := newHarness(t)
	h.register(1, api.Node{Name: "n", Boot: "n", Capacity: api.Resources{CPUs: 1000, MemoryMB: 1 << 20}})
	a := h.mustOK("array A", h.apply(raftfsm.OpSubmit, arraySubmit(newJob("a"), 600))).IDs
	corr := h.mustOK("aftercorr B", h.apply(raftfsm.OpSubmit, arraySubmit(depJob("b", api.AfterCorr, a[0]), 600, 100))).IDs
	whole := h.mustOK("afterany on A", h.apply(raftfsm.OpSubmit, arraySubmit(depJob("c", api.AfterAny, a[0]), 3))).IDs
	one := h.submit(2, newJob("d", a[5]), newJob("e", a[300], a[7], a[7]), depJob("f", api.Singleton, 0))
	h.submit(3, depJob("f", api.Singleton, 0), newJob("g", one[0], corr[0]))
	wantDependents(t, "submitted", h.fsm)

	// A's task 5 succeeds: d runs, B's task of index 5 (no counterpart
	// below 100) waits on; A's task 150 fails, and B's task of index 150
	// with it. Cancel B's first 100 tasks (they wait on the whole of A).
	h.place(4, raftfsm.Placement{JobID: a[5], Node: "n"}, raftfsm.Placement{JobID: a[150], Node: "n"})
	h.events(5, api.JobEvent{ID: a[5], Node: "n", State: api.StateSucceeded, ExitCode: intp(0)},
		api.JobEvent{ID: a[150], Node: "n", State: api.StateFailed, ExitCode: intp(1)})
	h.wantJob(one[0], api.StateRunnable, "")
	h.wantJob(corr[50], api.StateFailed, api.ReasonDependencyFailed)
	cancel := slices.Concat(corr[:50], corr[51:100])
	if res := h.apply(raftfsm.OpStopMany, raftfsm.StopManyCmd{IDs: cancel, Reason: "x", Now: 6}); len(res.Errs) != 0 {
		t.Fatalf("cancel: %v", res.Errs)
	}
	wantDependents(t, "ended and cancelled", h.fsm)

	// Cancel A: its dependents fail or run (afterany), and expiry may take
	// the jobs no unfinished job waits on.
	cancel = slices.DeleteFunc(slices.Clone(a), func(id uint64) bool { return id == a[5] || id == a[150] })
	if res := h.apply(raftfsm.OpStopMany, raftfsm.StopManyCmd{IDs: cancel, Reason: "x", Now: 7}); len(res.Errs) != 0 {
		t.Fatalf("cancel A: %v", res.Errs)
	}
	h.wantJob(whole[0], api.StateRunnable, "")
	h.wantJob(corr[599], api.StateFailed, api.ReasonDependencyFailed)
	wantDependents(t, "A cancelled", h.fsm)
	h.expireEnded()
	wantDependents(t, "expired", h.fsm)

	wantDependents(t, "restored", h.restored())
}

// TestSingletonOfOneSubmit: singleton waits on the user's unfinished jobs
// of its name in the state and on those stored before it by its own
// submit, tasks stored together as alike ones among them, and not on an
// ended one or one of another user or name.
func TestSingletonOfOneSubmit(t *testing.T) {
	h := newHarness(t)
	old := h.submit(1, newJob("n"), newJob("n"), newJob("other"))
	h.mustOK("cancel", h.stop(raftfsm.StopCmd{ID: old[1], Reason: "x", Now: 2}))
	bob := newJob("n")
	bob.User, bob.UID = "bob", 1001
	res := h.mustOK("submit", h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{Now: 3,
		Jobs:   []api.Job{newJob("n"), bob, depJob("n", api.Singleton, 0), depJob("n", api.Singleton, 0)},
		Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: []int{0, 1, 2, 3, 4}}, {Job: 3, Indexes: []int{0, 1}}}}))
	array, single, last := res.IDs[:5], res.IDs[6], res.IDs[7:]
	want := append([]uint64{old[0]}, array...)
	if got := depIDs(h.job(single)); !slices.Equal(got, want) {
		t.Errorf("singleton job depends on %v, want %v", got, want)
	}
	want = append(want, single)
	for k, id := range last {
		if got := depIDs(h.job(id)); !slices.Equal(got, want) {
			t.Errorf("singleton task %d depends on %v, want %v", k, got, want)
		}
		want = append(want, id)
	}
	wantDependents(t, "singleton", h.fsm)
}

// TestBigArrayOnBigArray: an array of 10,000 tasks each on a whole array
// of 10,000 is 100 million links, refused with the way out: one job
// waits on the array, and the array on that job, which runs its tasks
// once all of the first array's have succeeded.
func TestBigArrayOnBigArray(t *testing.T) {
	h := newHarness(t)
	h.register(1, api.Node{Name: "n", Boot: "n", Capacity: api.Resources{CPUs: 1 << 20, MemoryMB: 1 << 30}})
	a := h.mustOK("array A", h.apply(raftfsm.OpSubmit, arraySubmit(newJob("a"), 10_000))).IDs
	wantErr(t, "array B on A", h.apply(raftfsm.OpSubmit, arraySubmit(newJob("b", a[0]), 10_000)), api.CodeInvalid,
		"100000000 links", "200000", "--dependency=afterok:ARRAY --wrap=true")
	barrier := h.submit(2, newJob("barrier", a[0]))[0]
	b := h.mustOK("array B on the barrier", h.apply(raftfsm.OpSubmit, arraySubmit(newJob("b", barrier), 10_000))).IDs
	h.wantJob(b[9999], api.StatePending, "")

	var ps []raftfsm.Placement
	var evs []api.JobEvent
	for _, id := range a {
		ps = append(ps, raftfsm.Placement{JobID: id, Node: "n"})
		evs = append(evs, api.JobEvent{ID: id, Node: "n", State: api.StateSucceeded, ExitCode: intp(0)})
	}
	h.place(3, ps...)
	h.events(4, evs...)
	h.wantJob(barrier, api.StateRunnable, "")
	h.wantJob(b[0], api.StatePending, "")
	h.place(5, raftfsm.Placement{JobID: barrier, Node: "n"})
	h.events(6, api.JobEvent{ID: barrier, Node: "n", State: api.StateSucceeded, ExitCode: intp(0)})
	h.wantJob(b[0], api.StateRunnable, "")
	h.wantJob(b[9999], api.StateRunnable, "")
}
