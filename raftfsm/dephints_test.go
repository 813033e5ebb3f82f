package raftfsm_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// Jobs waiting on a large array, each of its tasks started and ended by a
// command of its own in no particular order: each dependent moves when,
// and only when, its last link settles, whatever its kind (afterok,
// after, held, DependAny, links out of id order). A snapshot restored
// half-way (a member with no hints) reaches the same state as the log.
func TestDependentsOfLargeArray(t *testing.T) {
	const n = 3000
	h := newHarness(t)
	h.jobIn(api.StateRunning, 1) // the drive node
	idx := make([]int, n)
	for k := range idx {
		idx[k] = k
	}
	res := h.mustOK("submit array", h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{
		Jobs: []api.Job{newJob("sweep")}, Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: idx}}, Now: 1}))
	tasks, first := res.IDs, res.IDs[0]
	other := h.submit(1, newJob("other"))[0]
	dependent := func(name string, edit func(*api.Job), deps ...api.Dependency) uint64 {
		j := newJob(name)
		j.DependsOn = deps
		if edit != nil {
			edit(&j)
		}
		return h.submit(2, j)[0]
	}
	onAll := dependent("afterok", nil, api.Dependency{JobID: first, Type: api.AfterOK})
	onStarts := dependent("after", nil, api.Dependency{JobID: first, Type: api.After})
	held := dependent("held", func(j *api.Job) { j.Held = true }, api.Dependency{JobID: first, Type: api.AfterOK})
	anyFailed := dependent("any-failed", func(j *api.Job) { j.DependAny = true }, api.Dependency{JobID: first, Type: api.AfterNotOK})
	unsorted := dependent("unsorted", nil, api.Dependency{JobID: other, Type: api.AfterOK}, api.Dependency{JobID: first, Type: api.AfterOK})

	for _, id := range append(tasks, other) {
		if got := h.place(3, raftfsm.Placement{JobID: id, Node: h.driveNode}); got != 1 {
			t.Fatalf("place job %d: placed %d", id, got)
		}
	}
	order := func(seed uint64) []uint64 {
		o := append([]uint64(nil), tasks...)
		rand.New(rand.NewPCG(seed, 0)).Shuffle(len(o), func(a, b int) { o[a], o[b] = o[b], o[a] })
		return o
	}
	start := time.Now()
	for k, id := range order(1) {
		if k == n-1 {
			h.wantJob(onStarts, api.StatePending, "")
		}
		h.events(4, api.JobEvent{ID: id, Node: h.driveNode, State: api.StateRunning})
	}
	h.wantJob(onStarts, api.StateRunnable, "")

	var snap []byte
	var snapIndex uint64
	ends := order(2)
	for k, id := range ends {
		if k == n/2 {
			snap, snapIndex = snapshotBytes(t, h.fsm), h.idx
			for _, id := range []uint64{onAll, held, anyFailed, unsorted} {
				h.wantJob(id, api.StatePending, "")
			}
		}
		if k == n-1 {
			h.wantJob(onAll, api.StatePending, "")
			h.wantJob(anyFailed, api.StatePending, "")
		}
		h.events(5, api.JobEvent{ID: id, Node: h.driveNode, State: api.StateSucceeded, ExitCode: intp(0)})
	}
	t.Logf("%d tasks started and ended one command each, 5 jobs waiting on them all: %v", n, time.Since(start))
	h.wantJob(onAll, api.StateRunnable, "")
	h.wantJob(held, api.StatePending, "")
	if j := h.wantJob(anyFailed, api.StateFailed, api.ReasonDependencyFailed); j.Cause != api.CauseDependency {
		t.Errorf("any-failed: cause %q, want %q", j.Cause, api.CauseDependency)
	}
	h.wantJob(unsorted, api.StatePending, "")
	h.events(6, api.JobEvent{ID: other, Node: h.driveNode, State: api.StateRunning},
		api.JobEvent{ID: other, Node: h.driveNode, State: api.StateSucceeded, ExitCode: intp(0)})
	h.wantJob(unsorted, api.StateRunnable, "")
	h.mustOK("release", h.apply(raftfsm.OpHold, raftfsm.HoldCmd{IDs: []uint64{held}, Hold: false, CallerUID: 1000, Now: 7}))
	h.wantJob(held, api.StateRunnable, "")

	// A member restored half-way, with no hints, replays the rest.
	replica := restored(t, snap, snapIndex)
	for i, e := range h.log[snapIndex:] {
		replica.Apply(snapIndex+uint64(i)+1, e)
	}
	wantSameState(t, replica, h.fsm)
}

// A requeued job's link holds again, unseen by the hints of the jobs
// waiting on it: they wait for its new end.
func TestDependencyHintAfterRequeue(t *testing.T) {
	h := newHarness(t)
	a, b := h.jobIn(api.StateRunning, 1), h.jobIn(api.StateRunning, 1)
	c := h.jobIn(api.StateRunning, 1)
	waiter := h.submit(2, newJob("waiter", a, b, c))[0]
	done := func(id uint64, now int64) {
		h.events(now, api.JobEvent{ID: id, Node: h.driveNode, State: api.StateSucceeded, ExitCode: intp(0)})
	}
	done(a, 3) // resolved in full: two links hold it
	h.mustOK("requeue a", h.stop(raftfsm.StopCmd{ID: a, Reason: "again", Terminate: true, Requeue: true, CallerUID: 1000, Now: 4}))
	done(b, 5)
	done(c, 6) // the hint says none holds it now; a does again
	h.wantJob(waiter, api.StatePending, "")
	h.run(a, api.StateSucceeded, 7)
	h.wantJob(waiter, api.StateRunnable, "")
}

// A job requeued after it ended forgets its dependencies, held or not:
// one of them may have left the state (expired) meanwhile, and a later
// release must not look for it.
func TestRequeuedEndedForgetsDependencies(t *testing.T) {
	h := newHarness(t)
	a := h.jobIn(api.StateSucceeded, 1)
	b := h.jobIn(api.StateRunning, 1)
	d := h.submit(2, newJob("d", a, b))[0]
	h.mustOK("cancel d", h.stop(raftfsm.StopCmd{ID: d, Reason: "not now", CallerUID: 1000, Now: 3}))
	h.mustOK("expire a", h.apply(raftfsm.OpExpire, raftfsm.ExpireCmd{IDs: []uint64{a}, Before: 10}))
	h.mustOK("requeuehold d", h.stop(raftfsm.StopCmd{ID: d, Terminate: true, Requeue: true, Hold: true, CallerUID: 1000, Now: 4}))
	if j := h.wantJob(d, api.StatePending, ""); len(j.DependsOn) != 0 {
		t.Errorf("requeued d still depends on %+v", j.DependsOn)
	}
	h.events(5, api.JobEvent{ID: b, Node: h.driveNode, State: api.StateSucceeded, ExitCode: intp(0)})
	h.wantJob(b, api.StateSucceeded, "")
	h.mustOK("release d", h.apply(raftfsm.OpHold, raftfsm.HoldCmd{IDs: []uint64{d}, Hold: false, CallerUID: 1000, Now: 6}))
	h.wantJob(d, api.StateRunnable, "")
}

// Many jobs waiting on one array, their hints sharing rows: each moves
// when the array's last task ends, held ones when released, and the
// hints of those that left PENDING are gone.
func TestManyDependentsOfOneArray(t *testing.T) {
	const tasks, waiting = 20, 300
	h := newHarness(t)
	h.jobIn(api.StateRunning, 1)
	idx := make([]int, tasks)
	for k := range idx {
		idx[k] = k
	}
	res := h.mustOK("submit array", h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{
		Jobs: []api.Job{newJob("sweep")}, Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: idx}}, Now: 1}))
	var deps []api.Job
	for k := range waiting {
		j := newJob("after")
		j.Held = k%3 == 0
		j.DependsOn = []api.Dependency{{JobID: res.IDs[0], Type: api.AfterAny}}
		deps = append(deps, j)
	}
	ids := h.submit(2, deps...)
	for k, id := range res.IDs {
		if k == tasks-1 {
			h.wantJob(ids[1], api.StatePending, "")
		}
		h.run(id, api.StateSucceeded, 3)
	}
	var held []uint64
	for k, id := range ids {
		if k%3 == 0 {
			h.wantJob(id, api.StatePending, "")
			held = append(held, id)
		} else {
			h.wantJob(id, api.StateRunnable, "")
		}
	}
	h.mustOK("release", h.apply(raftfsm.OpHold, raftfsm.HoldCmd{IDs: held, Hold: false, CallerUID: 1000, Now: 4}))
	for _, id := range held {
		h.wantJob(id, api.StateRunnable, "")
	}
	if n := raftfsm.DependencyHints(h.fsm); n != 0 {
		t.Errorf("%d dependency hints left for jobs no longer PENDING, want none", n)
	}
}
