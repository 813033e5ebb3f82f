package raftfsm_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// One StopManyCmd cancels what has not started and terminates what runs,
// in one entry; each job it may not stop is refused on its own, in order,
// and leaves the others stopped.
func TestStopManyIsOneEntryWithEachJobDecided(t *testing.T) {
	h := newHarness(t)
	runnable := h.jobIn(api.StateRunnable, 100)
	pending := h.jobIn(api.StatePending, 100)
	running := h.jobIn(api.StateRunning, 100)
	done := h.jobIn(api.StateSucceeded, 100)
	bobs := newJob("bobs")
	bobs.User, bobs.UID, bobs.GID = "bob", 1001, 1001
	bob := h.submit(100, bobs)[0]

	ids := []uint64{runnable, done, pending, bob, 9999, running}
	cmd := raftfsm.StopManyCmd{IDs: ids, Reason: "Cancelled by scancel", CallerUID: 1000, Now: 200}
	checked := h.fsm.State().StopManyRefusals(cmd)
	before := h.idx
	res := h.apply(raftfsm.OpStopMany, cmd)
	if h.idx != before+1 {
		t.Fatalf("stop of %d jobs took %d entries, want 1", len(ids), h.idx-before)
	}
	if res.Err != nil || len(res.Errs) != len(ids) {
		t.Fatalf("StopMany: err %v, %d per-job errors; want no error and one slot per job (%d)", res.Err, len(res.Errs), len(ids))
	}
	if !reflect.DeepEqual(checked, res.Errs) {
		t.Errorf("StopManyRefusals before the apply: %v; want what the apply refused, %v", checked, res.Errs)
	}
	wantErr := map[uint64]string{done: api.CodeConflict, bob: api.CodeForbidden, 9999: api.CodeNotFound}
	for i, id := range ids {
		got := res.Errs[i]
		if code, refused := wantErr[id]; refused {
			if got == nil || got.Code != code {
				t.Errorf("job %d: error %v, want code %s", id, got, code)
			}
		} else if got != nil {
			t.Errorf("job %d: refused with %v, want stopped", id, got)
		}
	}
	h.wantJob(runnable, api.StateFailed, "Cancelled by scancel")
	h.wantJob(pending, api.StateFailed, "Cancelled by scancel")
	if j := h.job(running); j.State != api.StateRunning || !j.StopRequested {
		t.Errorf("running job %d: %s, stop requested %v; want RUNNING with its stop requested (the node ends it)", running, j.State, j.StopRequested)
	}
	if j := h.job(bob); j.State.Terminal() {
		t.Errorf("bob's job %d is %s after alice's stop, want untouched", bob, j.State)
	}

	// All applied: no per-job slots.
	more := h.jobIn(api.StateRunnable, 300)
	if res := h.apply(raftfsm.OpStopMany, raftfsm.StopManyCmd{IDs: []uint64{more}, Reason: "x", CallerUID: 1000, Now: 300}); res.Err != nil || res.Errs != nil {
		t.Errorf("StopMany of one stoppable job: err %v, errs %v; want neither", res.Err, res.Errs)
	}
}

// TestCancelRecSameAsStop: a StopManyCmd cancels jobs that have not
// started on their records (cancelRec), without making each an api.Job;
// the state it leaves is the one scancel of each job alone (StopCmd,
// through stop) leaves: every job, with its dependents released, and
// every state set. The jobs are of every kind a cancel meets: runnable,
// held, waiting on a dependency, array tasks, a requeued one with a past
// attempt, one with its own environment.
func TestCancelRecSameAsStop(t *testing.T) {
	// Short, and long enough that the dependency targets are read at
	// once (manyStops): the padding's held jobs come first, and a
	// dependent waits on one of them too.
	for _, pad := range []int{0, 70} {
		t.Run(fmt.Sprintf("pad-%d", pad), func(t *testing.T) { cancelRecSameAsStop(t, pad) })
	}
}

func cancelRecSameAsStop(t *testing.T, pad int) {
	build := func(h *harness) []uint64 {
		h.t.Helper()
		var ids []uint64
		for range pad {
			held := newJob("pad")
			held.Held = true
			ids = append(ids, h.submit(9, held)...)
		}
		if pad > 0 {
			h.submit(9, newJob("after-pad", ids[pad/2]))
		}
		ids = append(ids, h.jobIn(api.StateRunnable, 10), h.jobIn(api.StatePending, 10))
		held := newJob("held")
		held.Held = true
		env := newJob("env")
		env.Env = map[string]string{"A": "1", "PATH": "/bin"}
		ids = append(ids, h.submit(10, held, env)...)
		res := h.mustOK("submit an array", h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{Now: 11,
			Jobs: []api.Job{newJob("arr")}, Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: []int{0, 1, 2}, MaxRunning: 2}}}))
		ids = append(ids, res.IDs...)
		// A dependent of the first job, not cancelled: released (it
		// can never run) by either way.
		h.submit(12, newJob("after", ids[pad]))
		// A job that ran, was requeued and waits again, with its past
		// attempt recorded.
		again := h.jobIn(api.StateRunning, 13)
		h.mustOK("requeue", h.stop(raftfsm.StopCmd{ID: again, Requeue: true, Terminate: true, Reason: "again", CallerUID: 1000, Now: 14}))
		h.events(15, api.JobEvent{ID: again, Node: h.driveNode, State: api.StateFailed, Signal: 15})
		if j := h.job(again); j.State != api.StateRunnable || len(j.Attempts) == 0 {
			h.t.Fatalf("requeued job %d: %s with %d attempts, want RUNNABLE with one", again, j.State, len(j.Attempts))
		}
		return append(ids, again)
	}
	many, one := newHarness(t), newHarness(t)
	ids := build(many)
	if got := build(one); !reflect.DeepEqual(got, ids) {
		t.Fatalf("the two states were built with ids %v and %v", ids, got)
	}
	res := many.apply(raftfsm.OpStopMany, raftfsm.StopManyCmd{IDs: ids, Reason: "Cancelled by scancel", CallerUID: 1000, Now: 50})
	if res.Err != nil || res.Errs != nil {
		t.Fatalf("StopMany: %v %v", res.Err, res.Errs)
	}
	for _, id := range ids {
		one.mustOK("cancel", one.stop(raftfsm.StopCmd{ID: id, Reason: "Cancelled by scancel", CallerUID: 1000, Now: 50}))
	}
	got, want := allJobs(many.fsm), allJobs(one.fsm)
	if len(got) != len(want) {
		t.Fatalf("%d jobs after StopMany, %d after each StopCmd", len(got), len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("job %d after StopMany:\n%+v\nafter its StopCmd:\n%+v", want[i].ID, got[i], want[i])
		}
	}
	for _, st := range []api.JobState{api.StateSubmitted, api.StatePending, api.StateRunnable, api.StateStarting, api.StateRunning, api.StateSucceeded, api.StateFailed} {
		inSet := func(h *harness) (out []uint64) {
			h.fsm.State().JobsInState(st, func(j *api.Job) bool { out = append(out, j.ID); return true })
			return out
		}
		if g, w := inSet(many), inSet(one); !reflect.DeepEqual(g, w) {
			t.Errorf("jobs in %s after StopMany %v, after each StopCmd %v", st, g, w)
		}
	}
}

// A cancel of a whole array that another job depends on (afterany on the
// array: one dependency per task) resolves that job once, after every
// task is cancelled, not once per task over all its dependencies (a
// 20,000-task array held the FSM for minutes); it then runs. The tasks of
// a singleton array, each depending on all before it, cancel alike.
func TestStopManyReleasesOnce(t *testing.T) {
	const n = 3000
	h := newHarness(t)
	idx := make([]int, n)
	for k := range idx {
		idx[k] = k
	}
	tmpl := newJob("sweep")
	tmpl.Held = true
	res := h.mustOK("submit array", h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{Jobs: []api.Job{tmpl}, Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: idx}}, Now: 1}))
	after := newJob("after")
	after.DependsOn = []api.Dependency{{JobID: res.IDs[0], Type: api.AfterAny}}
	dep := h.submit(2, after)[0]
	h.wantJob(dep, api.StatePending, "")
	start := time.Now()
	h.mustOK("cancel the array", h.apply(raftfsm.OpStopMany, raftfsm.StopManyCmd{IDs: res.IDs, Reason: "scancel", CallerUID: 0, Now: 3}))
	t.Logf("cancel of %d tasks with a dependent on all of them: %v", n, time.Since(start))
	h.wantJob(dep, api.StateRunnable, "")
	for _, id := range []uint64{res.IDs[0], res.IDs[n-1]} {
		if j := h.job(id); j.State != api.StateFailed || j.Cause != api.CauseCancelled {
			t.Errorf("task %d: %s (%s), want cancelled", id, j.State, j.Cause)
		}
	}
}

// A submit whose dependencies expand past MaxDependencyLinks (a singleton
// array of N tasks makes N(N-1)/2) is refused whole, with the way out
// (a throttle); one just under is stored.
func TestDependencyLinksBounded(t *testing.T) {
	h := newHarness(t)
	array := func(n int) raftfsm.SubmitCmd {
		idx := make([]int, n)
		for k := range idx {
			idx[k] = k
		}
		j := newJob("one-at-a-time")
		j.Held = true
		j.DependsOn = []api.Dependency{{Type: api.Singleton}}
		return raftfsm.SubmitCmd{Jobs: []api.Job{j}, Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: idx}}, Now: 1}
	}
	wantErr(t, "a singleton array of 700", h.apply(raftfsm.OpSubmit, array(700)), api.CodeInvalid, "--array=0-N%1")
	if n := h.fsm.State().CountInState(api.StatePending); n != 0 {
		t.Fatalf("a refused submit stored %d jobs", n)
	}
	h.mustOK("a singleton array of 600", h.apply(raftfsm.OpSubmit, array(600)))
}
