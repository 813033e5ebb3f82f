package raftfsm_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// requeueScene is an array of six tasks of alice's, as scontrol requeue of
// the array meets them: two that ran and ended (exit 0, exit 1), one
// running, one cancelled before it ran, two waiting (stored as one task
// group); and a finished job submitted with --no-requeue, a finished job
// of bob's. It returns the array's task ids, the --no-requeue job and
// bob's.
func requeueScene(h *harness) (tasks []uint64, noRequeue, bobs uint64) {
	h.t.Helper()
	h.register(1, api.Node{Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 8, MemoryMB: 8192}})
	res := h.mustOK("submit array", h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{Now: 10,
		Jobs: []api.Job{newJob("arr")}, Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: []int{0, 1, 2, 3, 4, 5}}}}))
	tasks = res.IDs
	h.runAttempt(tasks[0], 1, 20, exitWith(0))
	h.runAttempt(tasks[1], 1, 30, exitWith(1))
	h.place(40, raftfsm.Placement{JobID: tasks[2], Node: "n1"})
	h.events(41, api.JobEvent{ID: tasks[2], Node: "n1", State: api.StateRunning, Attempt: 1})
	h.mustOK("cancel task 3", h.stop(raftfsm.StopCmd{ID: tasks[3], Reason: "no", CallerUID: 1000, Now: 50}))

	nr := newJob("norequeue")
	nr.NoRequeue = true
	noRequeue = h.submit(60, nr)[0]
	h.runAttempt(noRequeue, 1, 60, exitWith(0))
	b := newJob("bobs")
	b.User, b.UID, b.GID = "bob", 1001, 1001
	bobs = h.submit(70, b)[0]
	h.runAttempt(bobs, 1, 70, exitWith(0))
	return tasks, noRequeue, bobs
}

// TestRequeueManyIsOneEntryWithEachJobDecided: one RequeueManyCmd
// requeues every task of an array that has started or ended (scontrol
// requeue ARRAY), in one entry, each as StopCmd's requeue of it alone
// would; the tasks still waiting are refused as Slurm refuses them (Job
// is pending execution), as are a --no-requeue job, another user's job
// and one that does not exist, each on its own.
func TestRequeueManyIsOneEntryWithEachJobDecided(t *testing.T) {
	for _, hold := range []bool{false, true} {
		h := newHarness(t)
		tasks, noRequeue, bobs := requeueScene(h)
		ids := append(append([]uint64(nil), tasks...), noRequeue, bobs, 9999)
		cmd := raftfsm.RequeueManyCmd{IDs: ids, Reason: "Requeued by scontrol", Hold: hold, CallerUID: 1000, Now: 100}
		checked := h.fsm.State().RequeueManyRefusals(cmd)
		before := h.idx
		res := h.apply(raftfsm.OpRequeueMany, cmd)
		if h.idx != before+1 || res.Err != nil || len(res.Errs) != len(ids) {
			t.Fatalf("hold %v: requeue of %d jobs: %d entries, err %v, %d per-job errors; want 1 entry, no error, one slot a job",
				hold, len(ids), h.idx-before, res.Err, len(res.Errs))
		}
		if !reflect.DeepEqual(checked, res.Errs) {
			t.Errorf("hold %v: RequeueManyRefusals before the apply: %v; want what the apply refused, %v", hold, checked, res.Errs)
		}
		type refusal struct{ code, field string }
		want := map[uint64]refusal{
			tasks[4]:  {api.CodeConflict, api.RequeueFieldWaiting},
			tasks[5]:  {api.CodeConflict, api.RequeueFieldWaiting},
			noRequeue: {api.CodeConflict, api.RequeueFieldNoRequeue},
			bobs:      {api.CodeForbidden, ""},
			9999:      {api.CodeNotFound, ""},
		}
		for i, id := range ids {
			got := res.Errs[i]
			if w, refused := want[id]; refused {
				if got == nil || got.Code != w.code || got.Field != w.field {
					t.Errorf("hold %v: job %d: refusal %+v, want code %s field %q", hold, id, got, w.code, w.field)
				}
			} else if got != nil {
				t.Errorf("hold %v: job %d: refused with %v, want it requeued", hold, id, got)
			}
		}
		waiting := map[bool]api.JobState{false: api.StateRunnable, true: api.StatePending}[hold]
		for _, id := range tasks[:2] {
			if j := h.wantJob(id, waiting, ""); len(j.Attempts) != 1 || j.Attempts[0].Cause != api.CauseRequeued || j.Held != hold {
				t.Errorf("hold %v: finished task %d: attempts %+v held %v; want its run recorded as requeued", hold, id, j.Attempts, j.Held)
			}
		}
		if j := h.job(tasks[2]); j.State != api.StateRunning || !j.RequeueRequested || !j.StopRequested || j.Held != hold {
			t.Errorf("hold %v: running task: %s, requeue requested %v, held %v; want RUNNING with its requeue requested", hold, j.State, j.RequeueRequested, j.Held)
		}
		if j := h.wantJob(tasks[3], waiting, ""); len(j.Attempts) != 0 {
			t.Errorf("hold %v: task cancelled before it ran: attempts %+v, want none", hold, j.Attempts)
		}
		for _, id := range append(tasks[4:], bobs, noRequeue) {
			if j := h.job(id); len(j.Attempts) != 0 || j.Held {
				t.Errorf("hold %v: refused job %d changed: %s, attempts %+v, held %v", hold, id, j.State, j.Attempts, j.Held)
			}
		}

		// The state is the one requeueing each job alone leaves.
		one := newHarness(t)
		requeueScene(one)
		for i, id := range ids {
			if res.Errs[i] == nil {
				one.mustOK("requeue one", one.stop(raftfsm.StopCmd{ID: id, Reason: cmd.Reason, Terminate: true, Requeue: true, Hold: hold, CallerUID: 1000, Now: 100}))
			}
		}
		if got, w := allJobs(h.fsm), allJobs(one.fsm); !reflect.DeepEqual(got, w) {
			for i := range min(len(got), len(w)) {
				if !reflect.DeepEqual(got[i], w[i]) {
					t.Errorf("hold %v: job %d after RequeueMany:\n%+v\nafter requeueing each alone:\n%+v", hold, got[i].ID, got[i], w[i])
				}
			}
		}
	}

	// All requeued: no per-job slots.
	h := newHarness(t)
	tasks, _, _ := requeueScene(h)
	if res := h.apply(raftfsm.OpRequeueMany, raftfsm.RequeueManyCmd{IDs: tasks[:2], CallerUID: 0, Now: 200}); res.Err != nil || res.Errs != nil {
		t.Errorf("root's requeue of two finished tasks: err %v, errs %v; want neither", res.Err, res.Errs)
	}
}

// TestRequeueManyBigArray: a 20,000-task array that ended (cancelled
// whole, one task group) is requeued whole in one entry, every task
// waiting again.
func TestRequeueManyBigArray(t *testing.T) {
	const n = 20_000
	h := newHarness(t)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	tasks := h.mustOK("submit array", h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{Now: 10,
		Jobs: []api.Job{newJob("big")}, Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: idx}}})).IDs
	if res := h.apply(raftfsm.OpStopMany, raftfsm.StopManyCmd{IDs: tasks, Reason: "x", CallerUID: 1000, Now: 20}); res.Err != nil || res.Errs != nil {
		t.Fatalf("cancel the array: %v %v", res.Err, res.Errs)
	}
	before := h.idx
	start := time.Now()
	res := h.apply(raftfsm.OpRequeueMany, raftfsm.RequeueManyCmd{IDs: tasks, Reason: "Requeued by scontrol", CallerUID: 1000, Now: 30})
	t.Logf("RequeueMany of %d ended tasks: applied in %v", n, time.Since(start))
	if res.Err != nil || res.Errs != nil || h.idx != before+1 {
		t.Fatalf("requeue of the array: err %v, %d refusals, %d entries; want none, none, 1", res.Err, len(res.Errs), h.idx-before)
	}
	runnable := 0
	h.fsm.State().JobRefsInState(api.StateRunnable, func(raftfsm.JobRef) bool { runnable++; return true })
	if runnable != n {
		t.Fatalf("%d tasks RUNNABLE after the requeue, want %d", runnable, n)
	}
	if j := h.job(tasks[n-1]); j.Array == nil || j.Array.Index != n-1 || j.RunnableAt != 30 || j.Cause != "" {
		t.Fatalf("last task after the requeue: %+v, want index %d, runnable at 30, no cause", j, n-1)
	}
}
