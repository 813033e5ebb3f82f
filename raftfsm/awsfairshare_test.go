package raftfsm_test

import (
	"math"
	"reflect"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

func putPolicy(h *harness, create bool, name string, fp *api.FairsharePolicy, now int64) raftfsm.Result {
	return h.apply(raftfsm.OpSchedPolicyPut, raftfsm.SchedPolicyPutCmd{Policy: api.SchedulingPolicy{Name: name, FairsharePolicy: fp,
		Tags: map[string]string{"team": "x"}}, Create: create, Now: now})
}

func putQueue(h *harness, create bool, name, policy string) raftfsm.Result {
	return h.apply(raftfsm.OpPutQueue, raftfsm.PutQueueCmd{Create: create, Queue: api.JobQueue{Name: name, State: api.Enabled,
		ComputeEnvironmentOrder: []api.ComputeEnvironmentOrder{{Order: 1, ComputeEnvironment: api.DefaultQueue}},
		SchedulingPolicyArn:     policy}})
}

// TestSchedPolicyCreateUpdateDelete: AWS Batch's scheduling policies as
// the FSM applies them: refusals store nothing; a queue names an existing
// policy, a FIFO queue cannot get one and a fair-share queue cannot lose
// its own; a policy in use cannot be deleted.
func TestSchedPolicyCreateUpdateDelete(t *testing.T) {
	h := newHarness(t)
	fp := &api.FairsharePolicy{ShareDecaySeconds: 3600, ComputeReservation: 10,
		ShareDistribution: []api.ShareAttributes{{ShareIdentifier: "etl", WeightFactor: 0.5}, {ShareIdentifier: "ml*"}}}
	h.mustOK("create", putPolicy(h, true, "pol", fp, 7))
	for _, c := range []struct {
		what string
		fp   *api.FairsharePolicy
		says string
	}{
		{"decay too long", &api.FairsharePolicy{ShareDecaySeconds: 604801}, "shareDecaySeconds"},
		{"reservation 100", &api.FairsharePolicy{ComputeReservation: 100}, "computeReservation"},
		{"weight too small", &api.FairsharePolicy{ShareDistribution: []api.ShareAttributes{{ShareIdentifier: "a", WeightFactor: 0.00001}}}, "weightFactor"},
		{"overlap", &api.FairsharePolicy{ShareDistribution: []api.ShareAttributes{{ShareIdentifier: "user*"}, {ShareIdentifier: "userA1"}}}, "overlap"},
		{"twice", &api.FairsharePolicy{ShareDistribution: []api.ShareAttributes{{ShareIdentifier: "a"}, {ShareIdentifier: "a"}}}, "overlap"},
		{"bad identifier", &api.FairsharePolicy{ShareDistribution: []api.ShareAttributes{{ShareIdentifier: "a b"}}}, "letters, digits"},
	} {
		wantErr(t, c.what, putPolicy(h, true, "bad", c.fp, 8), api.CodeInvalid, c.says)
		wantErr(t, c.what+" (update)", putPolicy(h, false, "pol", c.fp, 8), api.CodeInvalid, c.says)
	}
	wantErr(t, "create twice", putPolicy(h, true, "pol", nil, 8), api.CodeConflict, "already exists")
	wantErr(t, "update unknown", putPolicy(h, false, "nope", nil, 8), api.CodeNotFound, "nope")
	st := h.fsm.State()
	if n := len(st.SchedulingPolicies()); n != 1 {
		t.Fatalf("policies after refusals: %d, want 1", n)
	}
	if p := st.SchedulingPolicy("pol"); p == nil || !reflect.DeepEqual(p.FairsharePolicy, fp) || p.CreatedAt != 7 {
		t.Fatalf("pol after refusals = %+v, want it as created", p)
	}
	// An update replaces the fairsharePolicy and keeps the rest.
	fp2 := &api.FairsharePolicy{ShareDecaySeconds: 60}
	h.mustOK("update", putPolicy(h, false, "pol", fp2, 9))
	if p := h.fsm.State().SchedulingPolicy("pol"); !reflect.DeepEqual(p.FairsharePolicy, fp2) || p.CreatedAt != 7 || p.Tags["team"] != "x" {
		t.Fatalf("pol after update = %+v", p)
	}

	arn := raftfsm.SchedulingPolicyARN("pol")
	wantErr(t, "queue names an unknown policy", putQueue(h, true, "fs", raftfsm.SchedulingPolicyARN("nope")), api.CodeNotFound, "nope")
	if h.fsm.State().Queue("fs") != nil {
		t.Fatal("a refused queue was stored")
	}
	h.mustOK("fair-share queue", putQueue(h, true, "fs", arn))
	if q := h.fsm.State().QueuePolicy("fs"); q == nil || q.Name != "pol" {
		t.Fatalf("QueuePolicy(fs) = %+v, want pol", q)
	}
	wantErr(t, "FIFO queue given a policy", putQueue(h, false, "other", arn), api.CodeInvalid, "FIFO")
	wantErr(t, "fair-share queue loses its policy", putQueue(h, false, "fs", ""), api.CodeInvalid, "not removed")
	h.mustOK("second policy", putPolicy(h, true, "pol2", nil, 10))
	h.mustOK("policy replaced", putQueue(h, false, "fs", raftfsm.SchedulingPolicyARN("pol2")))
	h.mustOK("policy back", putQueue(h, false, "fs", arn))

	wantErr(t, "delete in use", h.apply(raftfsm.OpSchedPolicyDelete, raftfsm.SchedPolicyDeleteCmd{Name: "pol"}), api.CodeConflict, "fs")
	h.mustOK("delete unused", h.apply(raftfsm.OpSchedPolicyDelete, raftfsm.SchedPolicyDeleteCmd{Name: "pol2"}))
	wantErr(t, "delete twice", h.apply(raftfsm.OpSchedPolicyDelete, raftfsm.SchedPolicyDeleteCmd{Name: "pol2"}), api.CodeNotFound, "pol2")
	q := *h.fsm.State().Queue("fs")
	q.State = api.Disabled
	h.mustOK("disable fs", h.apply(raftfsm.OpPutQueue, raftfsm.PutQueueCmd{Queue: q}))
	h.mustOK("delete fs", h.apply(raftfsm.OpDeleteQueue, raftfsm.DeleteQueueCmd{Name: "fs"}))
	h.mustOK("delete pol once fs is gone", h.apply(raftfsm.OpSchedPolicyDelete, raftfsm.SchedPolicyDeleteCmd{Name: "pol"}))
	if n := len(h.fsm.State().SchedulingPolicies()); n != 0 {
		t.Fatalf("policies left: %d", n)
	}
}

// TestShareUsageCharged: an attempt that ends in a fair-share queue is
// charged to its share, vCPUs × seconds, added to the share's usage
// decayed with the policy's shareDecaySeconds; a FIFO queue's job is
// charged nothing; policies and usage survive a snapshot, its restore
// and a replay of the log.
func TestShareUsageCharged(t *testing.T) {
	h := newHarness(t)
	h.mustOK("policy", putPolicy(h, true, "pol", &api.FairsharePolicy{ShareDecaySeconds: 100}, 1))
	h.mustOK("queue", putQueue(h, true, "fs", raftfsm.SchedulingPolicyARN("pol")))
	h.register(0, api.Node{Name: "n1", Capacity: api.Resources{CPUs: 8, MemoryMB: 8192}})
	run := func(queue, share string, cpus int, from, to int64) {
		t.Helper()
		j := withRes(newJob("j"), api.Resources{CPUs: cpus, MemoryMB: 1})
		j.Queue, j.ShareIdentifier = queue, share
		id := h.submit(from, j)[0]
		if h.place(from, raftfsm.Placement{JobID: id, Node: "n1", CE: api.DefaultQueue}) != 1 {
			t.Fatalf("job %d not placed", id)
		}
		zero := 0
		h.events(from, api.JobEvent{ID: id, Node: "n1", State: api.StateRunning, Attempt: 1})
		h.events(to, api.JobEvent{ID: id, Node: "n1", State: api.StateSucceeded, ExitCode: &zero, Attempt: 1})
	}
	usage := func(share string) api.ShareUsage {
		for _, u := range h.fsm.State().ShareUsage("fs") {
			if u.Share == share {
				return *u
			}
		}
		return api.ShareUsage{}
	}
	run("fs", "etl", 2, 1_000_000, 1_060_000) // 2 vCPUs × 60 s
	if u := usage("etl"); u.Raw != 120 || u.At != 1_060_000 {
		t.Fatalf("etl after one job: %+v, want 120 at 1060000", u)
	}
	run("fs", "etl", 1, 1_100_000, 1_160_000) // one half-life later: 120/2 + 60
	if u := usage("etl"); math.Abs(u.Raw-120) > 1e-9 {
		t.Fatalf("etl after a half-life and a second job: %v, want 120", u.Raw)
	}
	run("fs", "ml", 4, 1_000_000, 1_010_000)
	run(api.DefaultQueue, "", 4, 1_000_000, 1_010_000) // FIFO: nothing
	if got := h.fsm.State().ShareUsage("fs"); len(got) != 2 || got[0].Share != "etl" || got[1].Share != "ml" || got[1].Raw != 40 {
		t.Fatalf("usage of fs: %+v, want etl and ml (40)", got)
	}
	if got := h.fsm.State().ShareUsage(api.DefaultQueue); len(got) != 0 {
		t.Fatalf("usage of the FIFO queue: %+v, want none", got)
	}
	back := restored(t, snapshotBytes(t, h.fsm), h.idx)
	for _, f := range []*raftfsm.FSM{back, replayed(h)} {
		if got, want := f.State().ShareUsage("fs"), h.fsm.State().ShareUsage("fs"); !reflect.DeepEqual(got, want) {
			t.Errorf("usage after restore/replay: %+v, want %+v", got, want)
		}
		if got, want := f.State().SchedulingPolicies(), h.fsm.State().SchedulingPolicies(); !reflect.DeepEqual(got, want) {
			t.Errorf("policies after restore/replay: %+v, want %+v", got, want)
		}
		if q := f.State().Queue("fs"); q == nil || q.SchedulingPolicyArn != raftfsm.SchedulingPolicyARN("pol") {
			t.Errorf("queue fs after restore/replay: %+v", q)
		}
	}
}

// replayed applies h's log to a fresh FSM.
func replayed(h *harness) *raftfsm.FSM {
	f := raftfsm.New()
	for i, e := range h.log {
		f.Apply(uint64(i+1), e)
	}
	return f
}
