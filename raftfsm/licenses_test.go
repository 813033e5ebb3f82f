package raftfsm_test

import (
	"reflect"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

func (h *harness) createLicense(l api.License) {
	h.t.Helper()
	h.mustOK("create license "+l.Name, h.apply(raftfsm.OpLicensePut, raftfsm.LicensePutCmd{License: l, Create: true, Now: 5}))
}

func withLicenses(j api.Job, uses ...api.LicenseUse) api.Job { j.Licenses = uses; return j }

func TestLicenseCreateUpdateDelete(t *testing.T) {
	h := newHarness(t)
	h.createLicense(api.License{Name: "db", Total: 4})
	wantErr(t, "create twice", h.apply(raftfsm.OpLicensePut, raftfsm.LicensePutCmd{License: api.License{Name: "db", Total: 1}, Create: true}), api.CodeConflict, "already exists")
	l := h.fsm.State().License("db")
	if l == nil || l.Total != 4 || l.Type != api.Replenishable || l.CreatedAt != 5 {
		t.Fatalf("license db = %+v, want total 4, REPLENISHABLE, created at 5", l)
	}
	for _, c := range []struct {
		op   string
		q    int64
		want int64
	}{{api.LicenseAdd, 3, 7}, {api.LicenseRemove, 5, 2}, {api.LicenseSet, 9, 9}, {"", 6, 6}} {
		h.mustOK(c.op, h.apply(raftfsm.OpLicensePut, raftfsm.LicensePutCmd{License: api.License{Name: "db"}, Operation: c.op, Quantity: c.q}))
		if got := h.fsm.State().License("db").Total; got != c.want {
			t.Errorf("after %s %d: total %d, want %d", c.op, c.q, got, c.want)
		}
	}
	wantErr(t, "remove below 0", h.apply(raftfsm.OpLicensePut, raftfsm.LicensePutCmd{License: api.License{Name: "db"}, Operation: api.LicenseRemove, Quantity: 7}), api.CodeInvalid, "total")
	wantErr(t, "bad operation", h.apply(raftfsm.OpLicensePut, raftfsm.LicensePutCmd{License: api.License{Name: "db"}, Operation: "MULTIPLY", Quantity: 2}), api.CodeInvalid, "SET, ADD or REMOVE")
	wantErr(t, "update unknown", h.apply(raftfsm.OpLicensePut, raftfsm.LicensePutCmd{License: api.License{Name: "nope"}, Quantity: 2}), api.CodeNotFound, "nope")

	// A license an unfinished job asks for cannot be deleted.
	id := h.submit(10, withLicenses(newJob("a"), api.LicenseUse{Name: "db", Quantity: 1}))[0]
	wantErr(t, "delete in use", h.apply(raftfsm.OpLicenseDelete, raftfsm.LicenseDeleteCmd{Name: "db"}), api.CodeConflict, "job 1")
	h.mustOK("cancel", h.stop(raftfsm.StopCmd{ID: id, Reason: "x", Now: 11}))
	h.mustOK("delete", h.apply(raftfsm.OpLicenseDelete, raftfsm.LicenseDeleteCmd{Name: "db"}))
	if h.fsm.State().License("db") != nil {
		t.Fatal("license db still there after delete")
	}
	wantErr(t, "delete twice", h.apply(raftfsm.OpLicenseDelete, raftfsm.LicenseDeleteCmd{Name: "db"}), api.CodeNotFound, "db")
}

// TestPlanLicenses: the FSM re-checks a plan's licenses against what the
// placed jobs hold, as it re-checks nodes' room: a stale plan cannot
// start more than the total.
func TestPlanLicenses(t *testing.T) {
	h := newHarness(t)
	h.register(1, api.Node{Name: "n1", Capacity: api.Resources{CPUs: 16, MemoryMB: 16 << 10}})
	h.createLicense(api.License{Name: "db", Total: 2})
	ids := h.submit(2,
		withLicenses(newJob("a"), api.LicenseUse{Name: "db", Quantity: 1}),
		withLicenses(newJob("b"), api.LicenseUse{Name: "db", Quantity: 1}),
		withLicenses(newJob("c"), api.LicenseUse{Name: "db", Quantity: 1}))
	if n := h.place(3, raftfsm.Placement{JobID: ids[0], Node: "n1"}); n != 1 {
		t.Fatalf("first plan placed %d, want 1", n)
	}
	// A plan made before job a started, placing b and c: only one fits.
	if n := h.place(4, raftfsm.Placement{JobID: ids[1], Node: "n1"}, raftfsm.Placement{JobID: ids[2], Node: "n1"}); n != 1 {
		t.Fatalf("stale plan placed %d, want 1 (db has 1 left)", n)
	}
	h.wantJob(ids[2], api.StateRunnable, "")
	if use := h.fsm.State().LicensesInUse(); use["db"] != 2 {
		t.Fatalf("in use %v, want db 2", use)
	}
	// Job a ends: its license is free again.
	h.events(5, api.JobEvent{ID: ids[0], Node: "n1", State: api.StateSucceeded, ExitCode: intp(0)})
	if n := h.place(6, raftfsm.Placement{JobID: ids[2], Node: "n1"}); n != 1 {
		t.Fatalf("plan after a ended placed %d, want 1", n)
	}
}

// TestNonReplenishable: a NON_REPLENISHABLE resource is consumed when a
// job starts and not given back when it ends; an update replenishes it.
func TestNonReplenishable(t *testing.T) {
	h := newHarness(t)
	h.register(1, api.Node{Name: "n1", Capacity: api.Resources{CPUs: 16, MemoryMB: 16 << 10}})
	h.createLicense(api.License{Name: "tokens", Total: 3, Type: api.NonReplenishable})
	ids := h.submit(2,
		withLicenses(newJob("a"), api.LicenseUse{Name: "tokens", Quantity: 2}),
		withLicenses(newJob("b"), api.LicenseUse{Name: "tokens", Quantity: 2}))
	if n := h.place(3, raftfsm.Placement{JobID: ids[0], Node: "n1"}); n != 1 {
		t.Fatalf("placed %d, want 1", n)
	}
	if got := h.fsm.State().License("tokens").Total; got != 1 {
		t.Fatalf("total after a started: %d, want 1 (3 less the 2 consumed)", got)
	}
	h.events(4, api.JobEvent{ID: ids[0], Node: "n1", State: api.StateSucceeded, ExitCode: intp(0)})
	if n := h.place(5, raftfsm.Placement{JobID: ids[1], Node: "n1"}); n != 0 {
		t.Fatalf("placed %d with 1 token left, want 0", n)
	}
	h.mustOK("replenish", h.apply(raftfsm.OpLicensePut, raftfsm.LicensePutCmd{License: api.License{Name: "tokens"}, Operation: api.LicenseAdd, Quantity: 5}))
	if n := h.place(6, raftfsm.Placement{JobID: ids[1], Node: "n1"}); n != 1 {
		t.Fatalf("placed %d after replenishing, want 1", n)
	}
	if got := h.fsm.State().License("tokens").Total; got != 4 {
		t.Fatalf("total: %d, want 4 (1+5-2)", got)
	}
}

func TestLicenseSnapshot(t *testing.T) {
	h := newHarness(t)
	h.createLicense(api.License{Name: "db", Total: 4, Tags: map[string]string{"k": "v"}})
	h.createLicense(api.License{Name: "tokens", Total: 9, Type: api.NonReplenishable})
	f := restored(t, snapshotBytes(t, h.fsm), h.idx)
	got, want := f.State().Licenses(), h.fsm.State().Licenses()
	if len(got) != 2 || !reflect.DeepEqual(got, want) {
		t.Fatalf("restored licenses %+v, want %+v", got, want)
	}
	// Replaying the log gives the same licenses.
	r := raftfsm.New()
	for i, e := range h.log {
		r.Apply(uint64(i+1), e)
	}
	if !reflect.DeepEqual(r.State().Licenses(), want) {
		t.Fatalf("replayed licenses %+v, want %+v", r.State().Licenses(), want)
	}
}
