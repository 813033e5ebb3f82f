package raftfsm_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// expireHook records what an FSM hands to OnExpire.
type expireHook struct {
	idx []uint64
	ids []uint64
}

func (e *expireHook) attach(f *raftfsm.FSM) {
	f.OnExpire = func(idx uint64, jobs []raftfsm.JobRef) {
		e.idx = append(e.idx, idx)
		for _, j := range jobs {
			e.ids = append(e.ids, j.ID())
		}
	}
}

func (h *harness) expire(before int64, ids ...uint64) {
	h.t.Helper()
	h.mustOK("expire", h.apply(raftfsm.OpExpire, raftfsm.ExpireCmd{IDs: ids, Before: before}))
}

func sortedIDs(ids []uint64) []uint64 { return slices.Sorted(slices.Values(ids)) }

func TestExpireRemovesOldFinishedJobs(t *testing.T) {
	h := newHarness(t)
	var hook expireHook
	hook.attach(h.fsm)
	oldDone := h.jobIn(api.StateSucceeded, 100)
	oldCancelled := h.jobIn(api.StateFailed, 100)
	running := h.jobIn(api.StateRunning, 100)
	runnable := h.jobIn(api.StateRunnable, 100)
	newDone := h.jobIn(api.StateSucceeded, 500)

	h.expire(200, oldDone, oldCancelled, running, runnable, newDone, 9999)
	for _, id := range []uint64{oldDone, oldCancelled} {
		if j := h.fsm.State().Job(id); j != nil {
			t.Errorf("job %d (%s, ended at 100): still in the state after expire before 200, want gone", id, j.State)
		}
	}
	for _, id := range []uint64{running, runnable, newDone} {
		h.job(id) // fails the test if gone
	}
	if want := []uint64{oldDone, oldCancelled}; !reflect.DeepEqual(sortedIDs(hook.ids), want) {
		t.Errorf("OnExpire got jobs %v, want %v (the jobs removed)", hook.ids, want)
	}
	if len(hook.idx) != 1 || hook.idx[0] != h.idx {
		t.Errorf("OnExpire called at indexes %v, want once at %d (the expire entry's)", hook.idx, h.idx)
	}

	// Deterministic: another replica applying the same log ends in the
	// same state and archives the same jobs; a snapshot restores it.
	replica := raftfsm.New()
	var rhook expireHook
	rhook.attach(replica)
	for i, e := range h.log {
		replica.Apply(uint64(i+1), e)
	}
	wantSameState(t, replica, h.fsm)
	if !reflect.DeepEqual(rhook, hook) {
		t.Errorf("replica's OnExpire got %+v, want %+v (the leader's)", rhook, hook)
	}
	wantSameState(t, restored(t, snapshotBytes(t, h.fsm), h.idx), h.fsm)

	// Expiring again is a no-op, and Check never archives.
	h.expire(1000, oldDone)
	if res := h.fsm.Check(raftfsm.OpExpire, raftfsm.ExpireCmd{IDs: []uint64{newDone}, Before: 1000}); res.Err != nil {
		t.Fatalf("Check(expire): %v", res.Err)
	}
	h.job(newDone)
	if len(hook.ids) != 2 {
		t.Errorf("OnExpire got %v after a repeated expire and a Check, want still only the first two", hook.ids)
	}
}

func TestExpireKeepsJobsOthersWaitOn(t *testing.T) {
	h := newHarness(t)
	done := h.jobIn(api.StateSucceeded, 100)
	other := h.jobIn(api.StateRunning, 100)
	waiting := h.submit(100, newJob("waits", done, other))[0]
	h.wantJob(waiting, api.StatePending, "")
	if h.fsm.State().CanExpire(h.job(done)) {
		t.Errorf("CanExpire(job %d) = true while job %d (PENDING) depends on it, want false", done, waiting)
	}
	h.expire(1000, done)
	h.job(done)

	// The other dependency ends: the waiting job is resolved against the
	// kept one and runs; once it has ended, the dependency may go.
	h.events(200, api.JobEvent{ID: other, Node: h.driveNode, State: api.StateSucceeded, ExitCode: intp(0)})
	h.wantJob(waiting, api.StateRunnable, "")
	h.expire(1000, done)
	h.job(done) // RUNNABLE may be held and released, which resolves again
	h.mustOK("cancel", h.stop(raftfsm.StopCmd{ID: waiting, Reason: "done", CallerUID: 1000, Now: 300}))
	h.expire(1000, done, other, waiting)
	if n := jobCount(h.fsm); n != 0 {
		t.Errorf("after every job ended and was expired: %d jobs in the state, want 0", n)
	}
}

func TestExpireArrays(t *testing.T) {
	h := newHarness(t)
	var hook expireHook
	hook.attach(h.fsm)
	arr := h.mustOK("submit array", h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{
		Jobs: []api.Job{newJob("arr")}, Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: []int{0, 1, 2}}}, Now: 100})).IDs
	h.register(100, api.Node{Name: "n1", Boot: "b", Capacity: api.Resources{CPUs: 8, MemoryMB: 8192}})
	for _, id := range arr {
		h.place(100, raftfsm.Placement{JobID: id, Node: "n1"})
	}
	for _, id := range []uint64{arr[0], arr[2]} {
		h.events(100, api.JobEvent{ID: id, Node: "n1", State: api.StateSucceeded, ExitCode: intp(0)})
	}
	// Task 1 still runs: the first task (the array's id) stays with it.
	h.expire(1000, arr...)
	h.job(arr[0])
	h.job(arr[1])
	if h.fsm.State().Job(arr[2]) != nil {
		t.Errorf("finished task %d: still in the state, want expired", arr[2])
	}
	h.events(200, api.JobEvent{ID: arr[1], Node: "n1", State: api.StateSucceeded, ExitCode: intp(0)})
	// All ended: one command takes the tasks and then the first.
	h.expire(1000, arr...)
	if n := jobCount(h.fsm); n != 0 {
		t.Errorf("after the whole array ended and was expired: %d jobs in the state, want 0", n)
	}
	if want := arr; !reflect.DeepEqual(sortedIDs(hook.ids), want) {
		t.Errorf("OnExpire got %v, want every task once: %v", hook.ids, want)
	}
}

// TestDependOnExpiredJobs: a new job may depend on jobs that have left
// the state; the leader passes their final states in the command, and the
// dependency is settled at once.
func TestDependOnExpiredJobs(t *testing.T) {
	h := newHarness(t)
	done := h.jobIn(api.StateSucceeded, 100)
	failed := h.jobIn(api.StateFailed, 100)
	arr := h.mustOK("submit array", h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{
		Jobs: []api.Job{newJob("arr")}, Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: []int{0, 1}}}, Now: 100})).IDs
	for _, id := range arr {
		h.mustOK("cancel task", h.stop(raftfsm.StopCmd{ID: id, Reason: "x", CallerUID: 1000, Now: 100}))
	}
	running := h.jobIn(api.StateRunning, 100)
	h.expire(1000, done, failed, arr[0], arr[1])
	if n := jobCount(h.fsm); n != 1 {
		t.Fatalf("after expiring 4 jobs: %d jobs in the state, want 1 (the running one)", n)
	}
	ended := []raftfsm.EndedJob{{ID: done, State: api.StateSucceeded}, {ID: failed, State: api.StateFailed},
		{ID: arr[0], State: api.StateFailed, ArrayCount: 2}, {ID: arr[1], State: api.StateFailed}}
	submit := func(j api.Job) *api.Job {
		t.Helper()
		id := h.mustOK("submit", h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{Jobs: []api.Job{j}, Now: 200, Ended: ended})).IDs[0]
		return h.job(id)
	}
	withType := func(j api.Job, typ api.DependencyType) api.Job {
		for i := range j.DependsOn {
			j.DependsOn[i].Type = typ
		}
		return j
	}
	for _, tc := range []struct {
		name   string
		job    api.Job
		state  api.JobState
		reason string
		deps   int
	}{
		{"afterok on a succeeded job", newJob("a", done), api.StateRunnable, "", 0},
		{"afterok on a failed job", newJob("b", failed), api.StateFailed, api.ReasonDependencyFailed, 0},
		{"afternotok on a failed job", withType(newJob("c", failed), api.AfterNotOK), api.StateRunnable, "", 0},
		{"afterany on a whole failed array", withType(newJob("d", arr[0]), api.AfterAny), api.StateRunnable, "", 0},
		{"afterok on a whole failed array", newJob("e", arr[0]), api.StateFailed, api.ReasonDependencyFailed, 0},
		{"afterok on a succeeded job and a running one", newJob("f", done, running), api.StatePending, "", 1},
		{"any of: a failed job, a running one", func() api.Job { j := newJob("g", failed, running); j.DependAny = true; return j }(), api.StatePending, "", 1},
		{"any of: a succeeded job, a running one", func() api.Job { j := newJob("h", done, running); j.DependAny = true; return j }(), api.StateRunnable, "", 0},
	} {
		j := submit(tc.job)
		if j.State != tc.state || j.StatusReason != tc.reason || len(j.DependsOn) != tc.deps {
			t.Errorf("%s: got %s %q waiting on %v, want %s %q waiting on %d", tc.name, j.State, j.StatusReason, j.DependsOn, tc.state, tc.reason, tc.deps)
		}
	}
	// Without the leader's word, a job that left the state is unknown.
	res := h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{Jobs: []api.Job{newJob("x", done)}, Now: 200})
	wantErr(t, "depend on an expired job without its final state", res, api.CodeNotFound, "does not exist")
}
