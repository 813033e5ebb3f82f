package raftfsm_test

import (
	"testing"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// A node that stops responding: every job it was running ends NODE_FAIL
// or goes back to RUNNABLE with the attempt recorded, as the job allows;
// its resources are released; the node is DOWN "Not responding" with the
// time in the command; reports of the attempts given up on are ignored
// even once the job runs again on the same node; and the node is UP again
// only when the leader says it answers.
func TestNodeStopsResponding(t *testing.T) {
	const (
		placedAt  = int64(1_000)
		lastSeen  = int64(1_796_409_600_000) // 2026-12-04T18:40:00Z
		declared  = lastSeen + 30_000
		reasonFor = "Host n1 stopped responding at 2026-12-04T18:40:00Z"
	)
	aws := func(j api.Job, attempts int) api.Job {
		j.JobDefinition, j.RetryAttempts = "def:1", attempts
		return j
	}
	noRequeue := func(j api.Job) api.Job { j.NoRequeue = true; return j }
	for _, tc := range []struct {
		name    string
		job     api.Job
		running bool // reported RUNNING before the node went silent
		// want after the node is declared down
		state   api.JobState
		reason  string
		cause   api.Cause
		retried bool // an Attempt recorded
	}{
		{"slurm batch job requeued", newJob("batch"), true, api.StateRunnable, "", "", true},
		{"slurm job still starting requeued", newJob("starting"), false, api.StateRunnable, "", "", true},
		{"--no-requeue ends NODE_FAIL", noRequeue(newJob("norequeue")), true, api.StateFailed, reasonFor, api.CauseNodeLost, false},
		{"AWS job without retries fails", aws(newJob("aws"), 0), true, api.StateFailed, reasonFor, api.CauseNodeLost, false},
		{"AWS job with attempts left retried", aws(newJob("aws-retry"), 2), true, api.StateRunnable, "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.register(placedAt, api.Node{Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}})
			id := h.submit(placedAt, tc.job)[0]
			if got := h.place(placedAt, raftfsm.Placement{JobID: id, Node: "n1"}); got != 1 {
				t.Fatalf("placed %d, want 1", got)
			}
			if tc.running {
				h.events(placedAt+1, api.JobEvent{ID: id, Node: "n1", State: api.StateRunning, Attempt: 1})
			}
			h.mustOK("node down", h.apply(raftfsm.OpNodeStatus, raftfsm.NodeStatusCmd{
				Name: "n1", LastSeen: lastSeen, Now: declared, By: "shoal", ByUID: 990}))

			n := h.node("n1")
			if n.State != api.NodeDown || !n.NotResponding || n.Reason != api.ReasonNotResponding || n.ReasonAt != declared || n.ReasonBy != "shoal" {
				t.Errorf("node = %s notResponding=%v %q by %q at %d, want DOWN, not responding, %q by shoal at %d",
					n.State, n.NotResponding, n.Reason, n.ReasonBy, n.ReasonAt, api.ReasonNotResponding, declared)
			}
			h.wantAlloc("n1", api.Resources{})
			j := h.wantJob(id, tc.state, tc.reason)
			if j.Cause != tc.cause {
				t.Errorf("job cause %q, want %q", j.Cause, tc.cause)
			}
			if tc.state == api.StateFailed && j.StoppedAt != declared {
				t.Errorf("job stopped at %d, want %d (the command's time)", j.StoppedAt, declared)
			}
			if got := len(j.Attempts); (got == 1) != tc.retried || got > 1 {
				t.Fatalf("job attempts recorded: %+v, want one: %v", j.Attempts, tc.retried)
			}
			if !tc.retried {
				return
			}
			if a := j.Attempts[0]; a.Node != "n1" || a.StatusReason != reasonFor || a.StoppedAt != declared {
				t.Errorf("recorded attempt %+v, want on n1, %q, stopped at %d", a, reasonFor, declared)
			}
			if j.Attempt != 1 {
				t.Errorf("requeued job's attempt %d, want 1 until placed again", j.Attempt)
			}

			// Nothing may be placed on the silent node, and an admin
			// cannot resume it: it comes back by answering.
			if got := h.place(declared, raftfsm.Placement{JobID: id, Node: "n1"}); got != 0 {
				t.Errorf("placed %d jobs on a node not responding, want 0", got)
			}
			wantErr(t, "resume a node not responding", h.apply(raftfsm.OpUpdateNode, raftfsm.UpdateNodeCmd{
				Update: api.UpdateNodeRequest{Name: "n1", State: api.NodeUp}, Now: declared, By: "root"}),
				api.CodeConflict, "not responding")
			wantErr(t, "answer of another boot", h.apply(raftfsm.OpNodeStatus, raftfsm.NodeStatusCmd{
				Name: "n1", Responding: true, Boot: "other", Now: declared + 1}), api.CodeConflict, "registered again")
			h.mustOK("node answers", h.apply(raftfsm.OpNodeStatus, raftfsm.NodeStatusCmd{
				Name: "n1", Responding: true, Boot: "b1", Now: declared + 2}))
			if n := h.node("n1"); n.State != api.NodeUp || n.NotResponding || n.Reason != "" || n.ReasonAt != 0 {
				t.Fatalf("node after it answers: %+v, want UP with no reason", n)
			}

			// Attempt 2 on the same node; the first attempt's late end
			// report (its process was still running there) is ignored.
			if got := h.place(declared+3, raftfsm.Placement{JobID: id, Node: "n1"}); got != 1 {
				t.Fatalf("placed again: %d, want 1", got)
			}
			h.events(declared+4,
				api.JobEvent{ID: id, Node: "n1", State: api.StateFailed, ExitCode: intp(143), Attempt: 1},
				api.JobEvent{ID: id, Node: "n1", State: api.StateRunning, Attempt: 1})
			if j := h.wantJob(id, api.StateStarting, ""); j.Attempt != 2 {
				t.Fatalf("job after the old attempt's reports: attempt %d, want 2 and still STARTING", j.Attempt)
			}
			h.events(declared+5, api.JobEvent{ID: id, Node: "n1", State: api.StateRunning, Attempt: 2})
			h.events(declared+6, api.JobEvent{ID: id, Node: "n1", State: api.StateSucceeded, ExitCode: intp(0), Attempt: 2})
			h.wantJob(id, api.StateSucceeded, "")
			h.wantAlloc("n1", api.Resources{})
		})
	}
}

// What an admin decided survives a node's silence: a drained node stays
// DRAIN (flagged not responding, its jobs ended) and stays DRAIN when it
// answers; a job whose stop was asked ends as asked; going silent twice
// changes nothing the second time; re-registering keeps the flag.
func TestNodeStopsRespondingKeepsAdminState(t *testing.T) {
	h := newHarness(t)
	h.register(1, api.Node{Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}})
	id := h.submit(1, newJob("cancelled"))[0]
	h.place(1, raftfsm.Placement{JobID: id, Node: "n1"})
	h.mustOK("terminate", h.stop(raftfsm.StopCmd{ID: id, Reason: "not needed", Terminate: true, CallerUID: 1000, Now: 2}))
	h.mustOK("drain", h.apply(raftfsm.OpUpdateNode, raftfsm.UpdateNodeCmd{
		Update: api.UpdateNodeRequest{Name: "n1", State: api.NodeDrain, Reason: "bad disk"}, Now: 3, By: "root"}))
	down := raftfsm.NodeStatusCmd{Name: "n1", LastSeen: 4, Now: 5}
	h.mustOK("node down", h.apply(raftfsm.OpNodeStatus, down))
	if n := h.node("n1"); n.State != api.NodeDrain || !n.NotResponding || n.Reason != "bad disk" {
		t.Fatalf("drained node gone silent: %+v, want DRAIN, bad disk, not responding", n)
	}
	if j := h.wantJob(id, api.StateFailed, "not needed"); j.Cause != api.CauseTerminated {
		t.Errorf("terminated job's cause %q, want %q", j.Cause, api.CauseTerminated)
	}
	before := h.fsm.State().Node("n1")
	down.Now = 9
	h.mustOK("node down again", h.apply(raftfsm.OpNodeStatus, down))
	if n := h.node("n1"); n.ReasonAt != before.ReasonAt || n.State != before.State {
		t.Errorf("second finding changed the node: %+v, want %+v", n, before)
	}
	h.register(10, api.Node{Name: "n1", Boot: "b2", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}})
	if n := h.node("n1"); !n.NotResponding || n.State != api.NodeDrain || n.Reason != "bad disk" || n.ReasonBy != "root" {
		t.Fatalf("re-registered silent node: %+v, want still not responding, DRAIN bad disk by root", n)
	}
	h.mustOK("node answers", h.apply(raftfsm.OpNodeStatus, raftfsm.NodeStatusCmd{Name: "n1", Responding: true, Boot: "b2", Now: 11}))
	if n := h.node("n1"); n.NotResponding || n.State != api.NodeDrain || n.Reason != "bad disk" {
		t.Fatalf("drained node answering again: %+v, want DRAIN, bad disk, responding", n)
	}
	wantErr(t, "unknown node", h.apply(raftfsm.OpNodeStatus, raftfsm.NodeStatusCmd{Name: "nope", Now: 12}), api.CodeNotFound, "nope")
}

// A Slurm-style job is requeued after node failures at most
// MaxNodeFailRequeues times, then ends NODE_FAIL.
func TestNodeFailRequeueBound(t *testing.T) {
	h := newHarness(t)
	h.register(1, api.Node{Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}})
	id := h.submit(1, newJob("unlucky"))[0]
	now := int64(10)
	for attempt := 1; attempt <= raftfsm.MaxNodeFailRequeues+1; attempt++ {
		if got := h.place(now, raftfsm.Placement{JobID: id, Node: "n1"}); got != 1 {
			t.Fatalf("attempt %d: placed %d, want 1", attempt, got)
		}
		h.mustOK("down", h.apply(raftfsm.OpNodeStatus, raftfsm.NodeStatusCmd{Name: "n1", LastSeen: now, Now: now + 1}))
		h.mustOK("back", h.apply(raftfsm.OpNodeStatus, raftfsm.NodeStatusCmd{Name: "n1", Responding: true, Now: now + 2}))
		now += 10
	}
	j := h.job(id)
	if j.State != api.StateFailed || j.Cause != api.CauseNodeLost || len(j.Attempts) != raftfsm.MaxNodeFailRequeues {
		t.Fatalf("job after %d node failures: %s %s, %d attempts recorded, want FAILED node_lost after %d requeues",
			raftfsm.MaxNodeFailRequeues+1, j.State, j.Cause, len(j.Attempts), raftfsm.MaxNodeFailRequeues)
	}
}

// A node's work watch fires for a change to its own jobs, and not for
// another node's jobs or a job that is not placed.
func TestNodeWorkWatchIsScoped(t *testing.T) {
	h := newHarness(t)
	for _, n := range []string{"a", "b"} {
		h.register(1, api.Node{Name: n, Boot: n, Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}})
	}
	ids := h.submit(1, newJob("on-a"), newJob("on-b"))
	h.place(2, raftfsm.Placement{JobID: ids[0], Node: "a"})

	ws := memdb.NewWatchSet()
	node, work := h.fsm.State().NodeWork("a", ws)
	if node == nil || len(work) != 1 || work[0].ID != ids[0] {
		t.Fatalf("work of a: %v %v, want job %d", node, work, ids[0])
	}
	fired := func() bool { return watchFired(ws) }
	h.place(3, raftfsm.Placement{JobID: ids[1], Node: "b"})
	h.events(4, api.JobEvent{ID: ids[1], Node: "b", State: api.StateRunning})
	h.submit(5, newJob("queued"))
	if fired() {
		t.Fatalf("a's watch fired for another node's job and a submission")
	}
	h.events(6, api.JobEvent{ID: ids[0], Node: "a", State: api.StateRunning})
	if !fired() {
		t.Fatalf("a's watch did not fire when its job started running")
	}
	// Plan inputs: a RUNNING report changes nothing a plan reads; a
	// submission does.
	ws = memdb.NewWatchSet()
	h.fsm.State().WatchPlanInputs(ws)
	h.events(7, api.JobEvent{ID: ids[0], Node: "a", State: api.StateRunning})
	h.apply(raftfsm.OpSignal, raftfsm.SignalCmd{ID: ids[0], Signal: 10})
	if fired() {
		t.Fatalf("plan watch fired for a report and a signal")
	}
	h.submit(8, newJob("more"))
	if !fired() {
		t.Fatalf("plan watch did not fire for a new RUNNABLE job")
	}
}

// watchFired reports whether a channel of ws has fired (closed).
func watchFired(ws memdb.WatchSet) bool {
	for ch := range ws {
		select {
		case <-ch:
			return true
		default:
		}
	}
	return false
}
