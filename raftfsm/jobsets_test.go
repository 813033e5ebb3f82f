package raftfsm_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// wantStateViews checks that JobsInState and CountInState list, for every
// state, exactly the stored jobs in that state, in id order (the sets
// that answer them are kept beside the jobs, not read from them).
func wantStateViews(t *testing.T, what string, f *raftfsm.FSM) {
	t.Helper()
	st := f.State()
	want := map[api.JobState][]uint64{}
	st.AllJobs(func(j *api.Job) bool { want[j.State] = append(want[j.State], j.ID); return true })
	for _, s := range []api.JobState{api.StateSubmitted, api.StatePending, api.StateRunnable, api.StateStarting,
		api.StateRunning, api.StateSucceeded, api.StateFailed} {
		var got []uint64
		st.JobsInState(s, func(j *api.Job) bool {
			if j.State != s {
				t.Errorf("%s: JobsInState(%s) gave job %d, which is %s", what, s, j.ID, j.State)
			}
			got = append(got, j.ID)
			return true
		})
		if fmt.Sprint(got) != fmt.Sprint(want[s]) {
			t.Errorf("%s: JobsInState(%s): got %v, want %v", what, s, got, want[s])
		}
		if n := st.CountInState(s); n != len(want[s]) {
			t.Errorf("%s: CountInState(%s) = %d, want %d", what, s, n, len(want[s]))
		}
	}
	// A node's work: its STARTING and RUNNING jobs, as JobsOnNode and
	// NodeWork give them.
	work := map[string][]uint64{}
	st.AllJobs(func(j *api.Job) bool {
		if j.Node != "" && j.State.Terminable() {
			work[j.Node] = append(work[j.Node], j.ID)
		}
		return true
	})
	for _, n := range st.Nodes() {
		var got, fromWork []uint64
		st.JobsOnNode(n.Name, func(j *api.Job) bool { got = append(got, j.ID); return true })
		_, jobs := st.NodeWork(n.Name, nil)
		for _, j := range jobs {
			fromWork = append(fromWork, j.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(work[n.Name]) || fmt.Sprint(fromWork) != fmt.Sprint(work[n.Name]) {
			t.Errorf("%s: work of node %s: JobsOnNode %v, NodeWork %v, want %v", what, n.Name, got, fromWork, work[n.Name])
		}
	}
}

// TestJobSetsFollowJobs: the state and dependency views stay exact through
// many jobs (several sets per state), state changes in one entry and one
// at a time, a cancelled batch, throwaway checks, expiry, and a restore
// (the sets are rebuilt, not read from the snapshot).
func TestJobSetsFollowJobs(t *testing.T) {
	h := newHarness(t)
	h.register(1, api.Node{Name: "n", Boot: "n", Capacity: api.Resources{CPUs: 1000, MemoryMB: 1 << 20}})
	blocker := h.submit(2, newJob("blocker"))[0]
	var jobs []api.Job
	for i := range 700 {
		if i%3 == 0 {
			jobs = append(jobs, newJob(fmt.Sprintf("dep-%d", i), blocker))
		} else {
			jobs = append(jobs, newJob(fmt.Sprintf("free-%d", i)))
		}
	}
	ids := h.submit(3, jobs...)
	wantStateViews(t, "submitted", h.fsm)

	// Place a stretch across two state sets, and the blocker.
	var ps []raftfsm.Placement
	for _, id := range append([]uint64{blocker}, ids[200:320]...) {
		if h.job(id).State == api.StateRunnable {
			ps = append(ps, raftfsm.Placement{JobID: id, Node: "n"})
		}
	}
	h.place(4, ps...)
	wantStateViews(t, "placed", h.fsm)

	// A check writes into a transaction it throws away: nothing moves.
	h.mustOK("check a cancel", h.fsm.Check(raftfsm.OpStopMany, raftfsm.StopManyCmd{IDs: ids[:50], Reason: "x", Now: 5}))
	wantStateViews(t, "after a check", h.fsm)

	// Cancel a batch (some waiting on the blocker), end some placed jobs.
	res := h.apply(raftfsm.OpStopMany, raftfsm.StopManyCmd{IDs: ids[:150], Reason: "Cancelled by user", Now: 6})
	if len(res.Errs) != 0 {
		t.Fatalf("cancel: %v", res.Errs)
	}
	var evs []api.JobEvent
	for _, id := range ids[200:260] {
		if h.job(id).State == api.StateStarting {
			evs = append(evs, api.JobEvent{ID: id, Node: "n", State: api.StateSucceeded, ExitCode: intp(0)})
		}
	}
	h.events(7, evs...)
	wantStateViews(t, "cancelled and ended", h.fsm)

	// The blocker's waiting dependents are released when it ends; before
	// that it may not leave the state.
	if h.fsm.State().CanExpire(h.job(blocker)) {
		t.Fatalf("blocker: CanExpire while it runs")
	}
	h.events(8, api.JobEvent{ID: blocker, Node: "n", State: api.StateSucceeded, ExitCode: intp(0)})
	for _, id := range ids[150:] {
		if j := h.job(id); len(j.DependsOn) > 0 && j.State == api.StatePending {
			t.Fatalf("job %d still PENDING after its dependency succeeded", id)
		}
	}
	wantStateViews(t, "released", h.fsm)
	// Its released dependents are RUNNABLE, not ended: it stays.
	if h.fsm.State().CanExpire(h.job(blocker)) {
		t.Errorf("blocker: CanExpire with unfinished dependents")
	}

	// Expire what ended (all but the blocker).
	ended := h.expireEnded()
	if n := jobCount(h.fsm); n != 701-len(ended)+1 || h.fsm.State().Job(blocker) == nil {
		t.Fatalf("after expiry %d jobs, want %d with the blocker", n, 701-len(ended)+1)
	}
	wantStateViews(t, "expired", h.fsm)

	// A restored FSM answers the same, and keeps its sets as it goes on.
	var buf bytes.Buffer
	if _, err := h.fsm.Snapshot().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	dst := newHarness(t)
	if err := dst.fsm.Restore(bytes.NewReader(buf.Bytes()), h.idx); err != nil {
		t.Fatalf("restore: %v", err)
	}
	dst.idx = h.idx
	wantStateViews(t, "restored", dst.fsm)
	res = dst.apply(raftfsm.OpStopMany, raftfsm.StopManyCmd{IDs: ids[600:], Reason: "Cancelled by user", Now: 9})
	if len(res.Errs) != 0 {
		t.Fatalf("cancel after restore: %v", res.Errs)
	}
	wantStateViews(t, "cancelled after restore", dst.fsm)
}
