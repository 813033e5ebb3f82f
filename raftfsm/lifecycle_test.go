package raftfsm_test

import (
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// Short names keep the 7x7 table readable.
const (
	sub = api.StateSubmitted
	pen = api.StatePending
	rbl = api.StateRunnable
	sta = api.StateStarting
	run = api.StateRunning
	suc = api.StateSucceeded
	fai = api.StateFailed
)

// TestCanMove checks every (from, to) pair over api.AllStates against the
// lifecycle written down in DESIGN.md:
//
//	SUBMITTED -> PENDING | RUNNABLE | FAILED
//	PENDING   -> RUNNABLE | FAILED
//	RUNNABLE  -> STARTING | PENDING (hold) | FAILED
//	STARTING  -> RUNNING | RUNNABLE (requeue) | FAILED
//	RUNNING   -> SUCCEEDED | RUNNABLE (requeue) | FAILED
//	SUCCEEDED, FAILED -> nothing
func TestCanMove(t *testing.T) {
	// allowed[from][to], every cell spelled out (false included) so that a
	// missing entry is a table error, not a silent "not allowed".
	allowed := map[api.JobState]map[api.JobState]bool{
		sub: {sub: false, pen: true, rbl: true, sta: false, run: false, suc: false, fai: true},
		pen: {sub: false, pen: false, rbl: true, sta: false, run: false, suc: false, fai: true},
		rbl: {sub: false, pen: true, rbl: false, sta: true, run: false, suc: false, fai: true},
		sta: {sub: false, pen: false, rbl: true, sta: false, run: true, suc: false, fai: true},
		run: {sub: false, pen: false, rbl: true, sta: false, run: false, suc: true, fai: true},
		suc: {sub: false, pen: false, rbl: false, sta: false, run: false, suc: false, fai: false},
		fai: {sub: false, pen: false, rbl: false, sta: false, run: false, suc: false, fai: false},
	}
	if got, want := len(api.AllStates), 7; got != want {
		t.Fatalf("len(api.AllStates) = %d, want %d: the table below must cover every state", got, want)
	}
	checked := 0
	for _, from := range api.AllStates {
		row, ok := allowed[from]
		if !ok {
			t.Fatalf("expected table has no row for %s", from)
		}
		for _, to := range api.AllStates {
			want, ok := row[to]
			if !ok {
				t.Fatalf("expected table has no entry for %s -> %s", from, to)
			}
			if got := raftfsm.CanMove(from, to); got != want {
				t.Errorf("CanMove(%s, %s) = %v, want %v", from, to, got, want)
			}
			checked++
		}
	}
	if checked != 49 {
		t.Fatalf("checked %d pairs, want 49", checked)
	}
}

// TestCanMoveUnknownState: a state outside the lifecycle goes nowhere and
// nothing goes to it.
func TestCanMoveUnknownState(t *testing.T) {
	bogus := api.JobState("SUSPENDED")
	for _, s := range api.AllStates {
		if raftfsm.CanMove(bogus, s) {
			t.Errorf("CanMove(%s, %s) = true, want false", bogus, s)
		}
		if raftfsm.CanMove(s, bogus) {
			t.Errorf("CanMove(%s, %s) = true, want false", s, bogus)
		}
	}
}

// TestStatePredicates checks which operations each state admits: cancel
// applies before placement, terminate once placed, and only SUCCEEDED and
// FAILED are terminal.
func TestStatePredicates(t *testing.T) {
	type want struct{ cancellable, terminable, terminal bool }
	tests := map[api.JobState]want{
		sub: {cancellable: true},
		pen: {cancellable: true},
		rbl: {cancellable: true},
		sta: {terminable: true},
		run: {terminable: true},
		suc: {terminal: true},
		fai: {terminal: true},
	}
	for _, s := range api.AllStates {
		w, ok := tests[s]
		if !ok {
			t.Fatalf("expected table has no row for %s", s)
		}
		if got := s.Cancellable(); got != w.cancellable {
			t.Errorf("%s.Cancellable() = %v, want %v", s, got, w.cancellable)
		}
		if got := s.Terminable(); got != w.terminable {
			t.Errorf("%s.Terminable() = %v, want %v", s, got, w.terminable)
		}
		if got := s.Terminal(); got != w.terminal {
			t.Errorf("%s.Terminal() = %v, want %v", s, got, w.terminal)
		}
	}
}

// TestTerminalMatchesCanMove: Terminal means exactly "no transition leaves".
func TestTerminalMatchesCanMove(t *testing.T) {
	for _, from := range api.AllStates {
		leaves := false
		for _, to := range api.AllStates {
			leaves = leaves || raftfsm.CanMove(from, to)
		}
		if got, want := from.Terminal(), !leaves; got != want {
			t.Errorf("%s.Terminal() = %v, want %v (some transition leaves it: %v)", from, got, want, leaves)
		}
	}
}
