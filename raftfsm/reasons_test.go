package raftfsm_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
	"github.com/shoal-batch/shoal/sched"
)

// TestJobReasons: the scheduler's reasons, recorded through the FSM, land
// in the waiting jobs only; a job that no longer waits keeps its record;
// replicas replaying the log agree.
func TestJobReasons(t *testing.T) {
	h := newHarness(t)
	h.register(1, api.Node{Name: "n1", Boot: "b", Capacity: api.Resources{CPUs: 2, MemoryMB: 4096}})
	ids := h.submit(2,
		withRes(newJob("fits"), api.Resources{CPUs: 2, MemoryMB: 1024}),
		withRes(newJob("waits"), api.Resources{CPUs: 2, MemoryMB: 1024}),
		withRes(newJob("never"), api.Resources{CPUs: 64, MemoryMB: 1024}))
	dep := h.submit(3, newJob("after", ids[0]))[0]

	plan := sched.Schedule(h.fsm.State(), 10)
	reasons := map[uint64]string{}
	cmd := raftfsm.JobReasonsCmd{}
	for _, w := range plan.Waits {
		reasons[w.JobID] = w.Reason
		cmd.Groups = append(cmd.Groups, raftfsm.ReasonGroup{Reason: w.Reason, StartAt: w.StartAt, IDs: []uint64{w.JobID}})
	}
	want := map[uint64]string{ids[1]: sched.ReasonResources, ids[2]: sched.ReasonReqNodeNotAvail, dep: sched.ReasonDependency}
	for id, r := range want {
		if reasons[id] != r {
			t.Errorf("plan: job %d reason %q, want %q", id, reasons[id], r)
		}
	}
	// The placement commits before the reasons: a reason for the placed
	// job (as from an older plan) is not recorded.
	if got := h.place(11, raftfsm.Placement{JobID: ids[0], Node: "n1", CE: api.DefaultQueue}); got != 1 {
		t.Fatalf("placed %d, want 1", got)
	}
	cmd.Groups = append(cmd.Groups, raftfsm.ReasonGroup{Reason: "Priority", IDs: []uint64{ids[0], 999}})
	h.mustOK("reasons", h.apply(raftfsm.OpJobReasons, cmd))
	for id, r := range want {
		if got := h.job(id).WaitReason; got != r {
			t.Errorf("job %d: recorded %q, want %q", id, got, r)
		}
	}
	if got := h.job(ids[0]).WaitReason; got != "" {
		t.Errorf("placed job: recorded %q, want nothing (it no longer waits)", got)
	}
	// The reserved job's estimate: when the placed job (no limit: a
	// year) ends, outside the window, so unreserved but estimated.
	if got := h.job(ids[1]).EstimatedStartAt; got == 0 {
		t.Errorf("waiting job: no estimated start recorded")
	}

	replica := raftfsm.New()
	for i, e := range h.log {
		replica.Apply(uint64(i+1), e)
	}
	a, _ := json.Marshal(allJobs(h.fsm))
	b, _ := json.Marshal(allJobs(replica))
	if string(a) != string(b) {
		t.Errorf("replica differs:\n%s\n%s", a, b)
	}
}

// TestHeldByAdmin: root holding another's job is an admin hold, also
// when its owner held it first; the owner's own hold is not; the owner
// may not release an admin hold (Slurm's JobHeldAdmin); root's release
// clears it.
func TestHeldByAdmin(t *testing.T) {
	h := newHarness(t)
	ids := h.submit(1, newJob("a"), newJob("b"))
	h.mustOK("root holds a", h.apply(raftfsm.OpHold, raftfsm.HoldCmd{IDs: ids[:1], Hold: true, CallerUID: 0, Now: 2}))
	h.mustOK("owner holds b", h.apply(raftfsm.OpHold, raftfsm.HoldCmd{IDs: ids[1:], Hold: true, CallerUID: h.job(ids[1]).UID, Now: 2}))
	if !h.job(ids[0]).HeldByAdmin || h.job(ids[1]).HeldByAdmin {
		t.Errorf("HeldByAdmin: got %v %v, want true false", h.job(ids[0]).HeldByAdmin, h.job(ids[1]).HeldByAdmin)
	}
	plan := sched.Schedule(h.fsm.State(), 3)
	got := map[uint64]string{}
	for _, w := range plan.Waits {
		got[w.JobID] = w.Reason
	}
	if got[ids[0]] != sched.ReasonHeldAdmin || got[ids[1]] != sched.ReasonHeldUser {
		t.Errorf("reasons %v, want JobHeldAdmin and JobHeldUser", got)
	}
	owner := h.job(ids[0]).UID
	res := h.apply(raftfsm.OpHold, raftfsm.HoldCmd{IDs: ids, Hold: false, CallerUID: owner, Now: 3})
	if res.Err == nil || !api.IsCode(res.Err, api.CodeForbidden) || !strings.Contains(res.Err.Error(), "JobHeldAdmin") {
		t.Errorf("the owner's release of an admin hold: %v, want Forbidden naming JobHeldAdmin", res.Err)
	}
	if j := h.job(ids[1]); !j.Held {
		t.Errorf("a refused release let go of the other job: %+v", j)
	}
	h.mustOK("root holds b too", h.apply(raftfsm.OpHold, raftfsm.HoldCmd{IDs: ids[1:], Hold: true, CallerUID: 0, Now: 3}))
	if !h.job(ids[1]).HeldByAdmin {
		t.Errorf("root's hold of a job its owner held is not an admin hold")
	}
	if res := h.apply(raftfsm.OpHold, raftfsm.HoldCmd{IDs: ids[1:], Hold: false, CallerUID: owner, Now: 3}); res.Err == nil {
		t.Errorf("the owner released the job root held after it")
	}
	h.mustOK("release", h.apply(raftfsm.OpHold, raftfsm.HoldCmd{IDs: ids, Hold: false, CallerUID: 0, Now: 4}))
	if h.job(ids[0]).HeldByAdmin || h.job(ids[1]).HeldByAdmin || h.job(ids[0]).Held {
		t.Errorf("released jobs still held")
	}
}
