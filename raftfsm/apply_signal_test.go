package raftfsm_test

import (
	"reflect"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// TestSignal: a signal is recorded on a STARTING or RUNNING job only, by
// its owner or root, with a valid number and scope; anything else is
// refused with a reason and leaves the job as it was.
func TestSignal(t *testing.T) {
	type tc struct {
		name    string
		state   api.JobState // the job's state (jobIn), owned by alice (uid 1000)
		cmd     raftfsm.SignalCmd
		code    string   // "" = success
		mention []string // what the error must name
		want    []api.JobSignal
	}
	tests := []tc{
		{name: "running, default scope", state: run, cmd: raftfsm.SignalCmd{Signal: 10, CallerUID: 1000},
			want: []api.JobSignal{{Seq: 1, Signal: 10, Scope: api.SignalSteps}}},
		{name: "starting, batch", state: sta, cmd: raftfsm.SignalCmd{Signal: 15, Scope: api.SignalBatch, CallerUID: 1000},
			want: []api.JobSignal{{Seq: 1, Signal: 15, Scope: api.SignalBatch}}},
		{name: "root, full", state: run, cmd: raftfsm.SignalCmd{Signal: 64, Scope: api.SignalFull, CallerUID: 0},
			want: []api.JobSignal{{Seq: 1, Signal: 64, Scope: api.SignalFull}}},
		{name: "pending", state: pen, cmd: raftfsm.SignalCmd{Signal: 10, CallerUID: 1000},
			code: api.CodeConflict, mention: []string{"cannot signal job", "it is PENDING", "STARTING or RUNNING"}},
		{name: "runnable", state: rbl, cmd: raftfsm.SignalCmd{Signal: 10, CallerUID: 1000},
			code: api.CodeConflict, mention: []string{"it is RUNNABLE"}},
		{name: "succeeded", state: suc, cmd: raftfsm.SignalCmd{Signal: 10, CallerUID: 1000},
			code: api.CodeConflict, mention: []string{"it is SUCCEEDED"}},
		{name: "failed", state: fai, cmd: raftfsm.SignalCmd{Signal: 10, CallerUID: 1000},
			code: api.CodeConflict, mention: []string{"it is FAILED"}},
		{name: "not the owner", state: run, cmd: raftfsm.SignalCmd{Signal: 10, CallerUID: 1001},
			code: api.CodeForbidden, mention: []string{"belongs to alice", "only its owner or root may signal"}},
		{name: "signal 0", state: run, cmd: raftfsm.SignalCmd{Signal: 0, CallerUID: 1000},
			code: api.CodeInvalid, mention: []string{"signal 0", "1 to 64"}},
		{name: "signal 65", state: run, cmd: raftfsm.SignalCmd{Signal: 65, CallerUID: 1000},
			code: api.CodeInvalid, mention: []string{"signal 65", "1 to 64"}},
		{name: "bad scope", state: run, cmd: raftfsm.SignalCmd{Signal: 10, Scope: "all", CallerUID: 1000},
			code: api.CodeInvalid, mention: []string{`"all"`, "steps, batch or full"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			id := h.jobIn(tt.state, 100)
			before := *h.job(id)
			tt.cmd.ID = id
			res := h.apply(raftfsm.OpSignal, tt.cmd)
			if tt.code != "" {
				wantErr(t, tt.name, res, tt.code, tt.mention...)
				if after := *h.job(id); !reflect.DeepEqual(after, before) {
					t.Errorf("refused signal changed the job:\nbefore %+v\nafter  %+v", before, after)
				}
				return
			}
			h.mustOK(tt.name, res)
			if got := h.job(id).SignalRequests; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Signals = %+v, want %+v", got, tt.want)
			}
		})
	}

	t.Run("missing job", func(t *testing.T) {
		h := newHarness(t)
		wantErr(t, "signal job 42", h.apply(raftfsm.OpSignal, raftfsm.SignalCmd{ID: 42, Signal: 10}),
			api.CodeNotFound, "job 42 does not exist")
	})
}

// TestSignalSequence: sequence numbers count up per job, the list keeps
// the last api.MaxJobSignals, and a requeued job starts its next attempt
// with none.
func TestSignalSequence(t *testing.T) {
	h := newHarness(t)
	id := h.jobIn(run, 100)
	other := h.jobIn(run, 100)
	for i := 1; i <= 11; i++ {
		h.mustOK("signal", h.apply(raftfsm.OpSignal, raftfsm.SignalCmd{ID: id, Signal: i, CallerUID: 1000}))
	}
	h.mustOK("signal other", h.apply(raftfsm.OpSignal, raftfsm.SignalCmd{ID: other, Signal: 2, CallerUID: 1000}))
	sigs := h.job(id).SignalRequests
	if len(sigs) != api.MaxJobSignals {
		t.Fatalf("after 11 signals the job keeps %d, want %d: %+v", len(sigs), api.MaxJobSignals, sigs)
	}
	for k, s := range sigs {
		if want := uint64(4 + k); s.Seq != want || s.Signal != int(want) {
			t.Errorf("Signals[%d] = %+v, want seq and signal %d", k, s, want)
		}
	}
	if got := h.job(other).SignalRequests; len(got) != 1 || got[0].Seq != 1 {
		t.Errorf("other job's Signals = %+v, want its own seq 1", got)
	}

	// Requeue: the node reports the stop, the job is RUNNABLE again, and
	// the old attempt's signals are gone.
	h.mustOK("requeue", h.stop(raftfsm.StopCmd{ID: id, Requeue: true, Terminate: true, Reason: "again", CallerUID: 1000, Now: 200}))
	h.events(300, api.JobEvent{ID: id, Node: h.driveNode, State: api.StateFailed, Signal: 15})
	j := h.wantJob(id, rbl, "")
	if len(j.SignalRequests) != 0 {
		t.Errorf("requeued job keeps Signals %+v, want none", j.SignalRequests)
	}
}

// TestSignalSurvivesSnapshot: Signals and the warning signal fields are
// part of the job, in the snapshot and after a restore and replay.
func TestSignalSurvivesSnapshot(t *testing.T) {
	h := newHarness(t)
	warned := newJob("warned")
	warned.TimeLimit, warned.LimitWarnSignal, warned.LimitWarnSeconds, warned.LimitWarnBatch = 120, 10, 30, true
	wid := h.submit(100, warned)[0]
	id := h.jobIn(run, 100)
	h.mustOK("signal", h.apply(raftfsm.OpSignal, raftfsm.SignalCmd{ID: id, Signal: 12, Scope: api.SignalFull, CallerUID: 0}))
	snap := snapshotBytes(t, h.fsm)
	f := restored(t, snap, h.idx)
	wantSameState(t, f, h.fsm)
	if j := f.State().Job(id); j == nil || !reflect.DeepEqual(j.SignalRequests, []api.JobSignal{{Seq: 1, Signal: 12, Scope: api.SignalFull}}) {
		t.Fatalf("restored job %d: %+v, want its signal", id, j)
	}
	if j := f.State().Job(wid); j == nil || j.LimitWarnSignal != 10 || j.LimitWarnSeconds != 30 || !j.LimitWarnBatch {
		t.Fatalf("restored job %d: %+v, want warn signal 10, 30 s, batch", wid, j)
	}
	// Replaying the log on a fresh FSM gives the same state.
	g := raftfsm.New()
	for i, e := range h.log {
		g.Apply(uint64(i+1), e)
	}
	wantSameState(t, g, h.fsm)
}
