package raftfsm_test

import (
	"math"
	"reflect"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// assocUsage is the stored usage of one association of f (zero if none).
func assocUsage(f *raftfsm.FSM, account, user string) api.AssocUsage {
	for _, u := range f.State().Accounts().Usage {
		if u.Account == account && u.User == user {
			return u
		}
	}
	return api.AssocUsage{}
}

// startJob submits a job of user with cpus in queue and runs it from at.
func startJob(h *harness, user, queue, share string, cpus int, at int64) uint64 {
	h.t.Helper()
	j := withRes(newJob("j"), api.Resources{CPUs: cpus, MemoryMB: 1})
	j.User, j.Queue, j.ShareIdentifier = user, queue, share
	id := h.submit(at, j)[0]
	if h.place(at, raftfsm.Placement{JobID: id, Node: "n1", CE: api.DefaultQueue}) != 1 {
		h.t.Fatalf("job %d not placed", id)
	}
	h.events(at, api.JobEvent{ID: id, Node: "n1", State: api.StateRunning, Attempt: 1})
	return id
}

func charge(h *harness, now int64) {
	h.t.Helper()
	h.mustOK("charge running usage", h.apply(raftfsm.OpChargeUsage, raftfsm.ChargeUsageCmd{Now: now}))
}

// TestUsageChargedWhileRunning: the periodic charge gives running jobs'
// associations and fair-share shares the time since they were last
// charged; the end charges only the rest, so the total is what charging
// at the end alone gives. A restored snapshot (a restart, a new leader)
// and a clock behind the last charge neither lose nor count a second
// twice; a retried attempt starts afresh.
func TestUsageChargedWhileRunning(t *testing.T) {
	h := newHarness(t)
	acctBase(h)
	h.mustOK("settings", h.apply(raftfsm.OpPrioritySettings, raftfsm.PrioritySettingsCmd{Settings: raftfsm.PrioritySettings{CPU: 1}})) // no decay
	h.mustOK("policy", putPolicy(h, true, "pol", &api.FairsharePolicy{}, 1))
	h.mustOK("queue", putQueue(h, true, "fs", raftfsm.SchedulingPolicyARN("pol")))
	h.register(0, api.Node{Name: "n1", Capacity: api.Resources{CPUs: 16, MemoryMB: 8192}})

	if h.fsm.State().RunningCharged() {
		t.Fatalf("RunningCharged with nothing running: want false")
	}
	carol := startJob(h, "carol", api.DefaultQueue, "", 1, 1_000_000) // in no association
	if h.fsm.State().RunningCharged() {
		t.Fatalf("RunningCharged with only a job outside the registry running: want false (nothing to charge, nothing to write)")
	}
	alice := startJob(h, "alice", api.DefaultQueue, "", 2, 1_000_000)
	etl := startJob(h, "bob", "fs", "etl", 4, 1_000_000) // bob in theory, and share etl of fs
	if !h.fsm.State().RunningCharged() {
		t.Fatalf("RunningCharged with alice's and bob's jobs running: want true")
	}

	charge(h, 1_060_000) // 60 s
	if u := assocUsage(h.fsm, "physics", "alice"); u.Raw != 120 || u.At != 1_060_000 {
		t.Fatalf("alice after a charge at 60 s: %+v, want 120 at 1060000", u)
	}
	if u := assocUsage(h.fsm, "theory", "bob"); u.Raw != 240 {
		t.Fatalf("bob after a charge at 60 s: %+v, want 240", u)
	}
	if u := h.fsm.State().ShareUsage("fs"); len(u) != 1 || u[0].Raw != 240 {
		t.Fatalf("share etl after a charge at 60 s: %+v, want 240", u)
	}

	// A new leader (or a restart) from a snapshot taken now carries on.
	back := &harness{t: t, fsm: restored(t, snapshotBytes(t, h.fsm), h.idx), idx: h.idx, log: append([][]byte(nil), h.log...)}
	for _, x := range []*harness{h, back} {
		charge(x, 1_050_000) // a clock behind the last charge: nothing
		charge(x, 1_090_000) // 30 s more
		zero := 0
		x.events(1_100_000, api.JobEvent{ID: alice, Node: "n1", State: api.StateSucceeded, ExitCode: &zero, Attempt: 1},
			api.JobEvent{ID: etl, Node: "n1", State: api.StateSucceeded, ExitCode: &zero, Attempt: 1})
	}
	for name, f := range map[string]*raftfsm.FSM{"the leader": h.fsm, "a restored replica": back.fsm, "a replay of the log": replayed(h)} {
		// Exactly what charging at the end alone gives: 2 CPUs × 100 s, 4 × 100.
		if u := assocUsage(f, "physics", "alice"); u.Raw != 200 {
			t.Errorf("%s: alice after her job ended at 100 s: %v, want 200", name, u.Raw)
		}
		if u := assocUsage(f, "theory", "bob"); u.Raw != 400 {
			t.Errorf("%s: bob after his job ended at 100 s: %v, want 400", name, u.Raw)
		}
		// The share decays with the policy's half-life (AWS's default).
		hl := int64(api.DefaultShareDecaySeconds)
		want := raftfsm.DecayShare(raftfsm.DecayShare(240, 1_060_000, 1_090_000, hl)+120, 1_090_000, 1_100_000, hl) + 40
		if u := f.State().ShareUsage("fs"); len(u) != 1 || math.Abs(u[0].Raw-want) > 1e-9 {
			t.Errorf("%s: share etl after the job ended: %+v, want %v", name, u, want)
		}
		if got, want := f.State().Accounts(), h.fsm.State().Accounts(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: registry differs from the leader's:\n%+v\nwant\n%+v", name, got, want)
		}
	}
	if !reflect.DeepEqual(snapshotBytes(t, back.fsm), snapshotBytes(t, h.fsm)) {
		t.Errorf("the restored replica's snapshot differs from the leader's")
	}
	if h.fsm.State().RunningCharged() {
		t.Errorf("RunningCharged with only carol's job running: want false")
	}
	_ = carol

	// A retried attempt: charged while running, it fails and runs again;
	// the second attempt is charged from its own start.
	j := withRes(newJob("retry"), api.Resources{CPUs: 1, MemoryMB: 1})
	j.User, j.RetryAttempts = "alice", 2
	id := h.submit(2_000_000, j)[0]
	h.place(2_000_000, raftfsm.Placement{JobID: id, Node: "n1", CE: api.DefaultQueue})
	h.events(2_000_000, api.JobEvent{ID: id, Node: "n1", State: api.StateRunning, Attempt: 1})
	charge(h, 2_010_000)
	h.events(2_020_000, api.JobEvent{ID: id, Node: "n1", State: api.StateFailed, ExitCode: intp(1), Attempt: 1}) // 20 s in all
	h.place(2_100_000, raftfsm.Placement{JobID: id, Node: "n1", CE: api.DefaultQueue})
	h.events(2_100_000, api.JobEvent{ID: id, Node: "n1", State: api.StateRunning, Attempt: 2})
	charge(h, 2_105_000)
	h.events(2_110_000, api.JobEvent{ID: id, Node: "n1", State: api.StateSucceeded, ExitCode: intp(0), Attempt: 2}) // 10 s
	if u := assocUsage(h.fsm, "physics", "alice"); math.Abs(u.Raw-230) > 1e-9 {
		t.Errorf("alice after a retried job of 20 s + 10 s: %v, want 230", u.Raw)
	}
}

// TestUsageChargeDecays: with a half-life, usage charged while running
// decays like usage charged at the end: what was charged at the first
// period has decayed by the end.
func TestUsageChargeDecays(t *testing.T) {
	h := newHarness(t)
	acctBase(h)
	h.mustOK("settings", h.apply(raftfsm.OpPrioritySettings, raftfsm.PrioritySettingsCmd{Settings: raftfsm.PrioritySettings{HalfLife: 100, CPU: 1}}))
	h.register(0, api.Node{Name: "n1", Capacity: api.Resources{CPUs: 16, MemoryMB: 8192}})
	id := startJob(h, "alice", api.DefaultQueue, "", 1, 1_000_000)
	charge(h, 1_100_000) // 100 s at 1_100_000
	h.events(1_200_000, api.JobEvent{ID: id, Node: "n1", State: api.StateSucceeded, ExitCode: intp(0), Attempt: 1})
	// 100 charged at 1_100_000, halved by 1_200_000, plus the last 100 s.
	if u := assocUsage(h.fsm, "physics", "alice"); math.Abs(u.Raw-150) > 1e-9 || u.At != 1_200_000 {
		t.Errorf("alice: %+v, want 150 at 1200000", u)
	}
}
