package raftfsm_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// variedNows are the Now values buildVariedState stamps into its commands.
var variedNows = []int64{1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000}

// buildVariedState applies a log that leaves nodes of several shapes and
// jobs in every state a job can rest in (SUBMITTED never outlives its
// command), with dependencies, every failure reason and a pending stop:
//
//	1 SUCCEEDED   2 STARTING (dep 1)   3 PENDING (dep 2)   4 RUNNING, stop requested
//	5 RUNNABLE    6 FAILED exit 3      7 FAILED OOM        8 FAILED node lost
//	9 FAILED dep  10 PENDING (dep 2)   11 FAILED cancel    12 RUNNABLE
func buildVariedState(h *harness) {
	h.t.Helper()
	now := func(i int) int64 { return variedNows[i] }
	h.register(now(0), api.Node{Name: "n1", Boot: "n1-a", Capacity: api.Resources{CPUs: 8, MemoryMB: 16384, GPUs: 2}})
	h.register(now(0), api.Node{Name: "n2", Boot: "n2-a", Capacity: api.Resources{CPUs: 4, MemoryMB: 8192},
		Labels: queues(api.DefaultQueue, "short"), LogAddr: "unix:/run/shoal/n2.sock"})
	h.register(now(0), api.Node{Name: "n3", Boot: "n3-a", Capacity: api.Resources{CPUs: 2, MemoryMB: 4096, GPUs: 1},
		Labels: queues("gpu")})

	prep := newJob("prep")
	prep.Env = map[string]string{"B": "2", "A": "1", "PATH": "/usr/bin"}
	prep.Groups = []uint32{20, 10}
	prep.Dir, prep.Stdout, prep.Stderr = "/home/alice", "/home/alice/out", "/home/alice/err"
	train := withRes(newJob("train", 1), api.Resources{CPUs: 2, MemoryMB: 4096, GPUs: 1})
	short := newJob("short")
	short.Queue, short.Priority = "short", 5
	short.User, short.UID = "bob", 1001
	lonely := withRes(newJob("lonely"), api.Resources{CPUs: 100, MemoryMB: 1})
	lost := newJob("lost")
	lost.Queue = "gpu"
	h.submit(now(1), prep, train, newJob("eval", 2), short, lonely, newJob("doomed"), newJob("oom"), lost)

	if got := h.place(now(2),
		raftfsm.Placement{JobID: 1, Node: "n1"}, raftfsm.Placement{JobID: 4, Node: "n2"},
		raftfsm.Placement{JobID: 6, Node: "n1"}, raftfsm.Placement{JobID: 7, Node: "n1"},
		raftfsm.Placement{JobID: 8, Node: "n3"}); got != 5 {
		h.t.Fatalf("varied state: placed %d, want 5", got)
	}
	var running []api.JobEvent
	for _, p := range []struct {
		id   uint64
		node string
	}{{1, "n1"}, {4, "n2"}, {6, "n1"}, {7, "n1"}, {8, "n3"}} {
		running = append(running, api.JobEvent{ID: p.id, Node: p.node, State: api.StateRunning})
	}
	h.events(now(3), running...)
	h.events(now(4),
		api.JobEvent{ID: 1, Node: "n1", State: api.StateSucceeded, ExitCode: intp(0),
			Usage: &api.JobUsage{MaxRSSBytes: 52 << 20, CPUSeconds: 1.25}},
		api.JobEvent{ID: 6, Node: "n1", State: api.StateFailed, ExitCode: intp(3)},
		api.JobEvent{ID: 7, Node: "n1", State: api.StateFailed, ExitCode: intp(137), Signal: 9, OOMKilled: true,
			Usage: &api.JobUsage{MaxRSSBytes: 64 << 20, CPUSeconds: 0.5, GPUs: []api.UsedGPU{{Index: 1, UUID: "GPU-b"}},
				GPUSeconds: 12.5, GPUSamples: 3, GPUUtilMeanPercent: 33.3, GPUUtilMaxPercent: 90, GPUMemMaxBytes: 1 << 30}})
	h.submit(now(5), newJob("after-doomed", 6), newJob("after-train", 2), newJob("after-lonely", 5))
	if got := h.place(now(6), raftfsm.Placement{JobID: 2, Node: "n1"}); got != 1 {
		h.t.Fatalf("varied state: placed job 2 %d times, want 1", got)
	}
	h.mustOK("terminate 4", h.stop(raftfsm.StopCmd{ID: 4, Reason: "bob changed his mind", Terminate: true, CallerUID: 1001, Now: now(7)}))
	res := h.batch(
		encode(h.t, raftfsm.OpStop, raftfsm.StopCmd{ID: 11, Reason: "no longer needed", CallerUID: 0, Now: now(8)}),
		encode(h.t, raftfsm.OpRegisterNode, raftfsm.RegisterNodeCmd{Now: now(8),
			Node: api.Node{Name: "n3", Boot: "n3-b", Capacity: api.Resources{CPUs: 2, MemoryMB: 4096, GPUs: 1}, Labels: queues("gpu")}}),
		encode(h.t, raftfsm.OpSubmit, raftfsm.SubmitCmd{Now: now(8), Jobs: []api.Job{newJob("late")}}),
	)
	for _, r := range res {
		h.mustOK("varied state batch", r)
	}
	h.register(now(9), api.Node{Name: "n1", Boot: "n1-a", Capacity: api.Resources{CPUs: 8, MemoryMB: 16384, GPUs: 2}})

	want := []struct {
		state  api.JobState
		reason string
	}{
		{suc, ""}, {sta, ""}, {pen, ""}, {run, ""},
		{rbl, ""}, {fai, api.ReasonNonZeroExit}, {fai, api.ReasonOutOfMemory}, {fai, api.ReasonNodeLost},
		{fai, api.ReasonDependencyFailed}, {pen, ""}, {fai, "no longer needed"}, {rbl, ""},
	}
	for i, w := range want {
		h.wantJob(uint64(i+1), w.state, w.reason)
	}
	if got := jobCount(h.fsm); got != len(want) {
		h.t.Fatalf("varied state: %d jobs, want %d", got, len(want))
	}
}

// snapshotBytes writes f's snapshot and checks WriteTo's count.
func snapshotBytes(t *testing.T, f *raftfsm.FSM) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := f.Snapshot().WriteTo(&buf)
	if err != nil {
		t.Fatalf("Snapshot().WriteTo: %v", err)
	}
	if n != int64(buf.Len()) {
		t.Errorf("WriteTo returned %d bytes, want %d (what it wrote)", n, buf.Len())
	}
	return buf.Bytes()
}

// restored returns a fresh FSM restored from snap at index.
func restored(t *testing.T, snap []byte, index uint64) *raftfsm.FSM {
	t.Helper()
	f := raftfsm.New()
	if err := f.Restore(bytes.NewReader(snap), index); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	return f
}

// wantSameState compares every job and node of two FSMs.
func wantSameState(t *testing.T, got, want *raftfsm.FSM) {
	t.Helper()
	gj, wj := allJobs(got), allJobs(want)
	if len(gj) != len(wj) {
		t.Fatalf("jobs: got %d, want %d", len(gj), len(wj))
	}
	for i := range wj {
		if !reflect.DeepEqual(gj[i], wj[i]) {
			t.Errorf("job %d:\ngot  %+v\nwant %+v", wj[i].ID, *gj[i], *wj[i])
		}
	}
	gn, wn := got.State().Nodes(), want.State().Nodes()
	if !reflect.DeepEqual(gn, wn) {
		t.Errorf("nodes:\ngot  %s\nwant %s", dumpNodes(gn), dumpNodes(wn))
	}
}

// dumpNodes renders nodes for a failure message.
func dumpNodes(nodes []*api.Node) string {
	var b bytes.Buffer
	for _, n := range nodes {
		data, err := json.Marshal(n)
		if err != nil {
			data = []byte(err.Error())
		}
		b.WriteString("\n  ")
		b.Write(data)
	}
	return b.String()
}

// TestSnapshotRestore: a restored FSM holds the same jobs and nodes, the
// same index, and continues the job ids.
func TestSnapshotRestore(t *testing.T) {
	h := newHarness(t)
	buildVariedState(h)
	snap := snapshotBytes(t, h.fsm)

	r := &harness{t: t, fsm: restored(t, snap, h.idx), idx: h.idx}
	wantSameState(t, r.fsm, h.fsm)
	if got := r.fsm.State().Index(); got != h.idx {
		t.Errorf("restored index: got %d, want %d", got, h.idx)
	}
	if got, want := r.submit(20000, newJob("next"))[0], h.submit(20000, newJob("next"))[0]; got != want || got != 13 {
		t.Errorf("next id after restore: got %d, want %d (and 13)", got, want)
	}
	wantSameState(t, r.fsm, h.fsm)
}

// TestRestoreReplacesState: restoring over a non-empty FSM keeps nothing
// of what it held.
func TestRestoreReplacesState(t *testing.T) {
	src := newHarness(t)
	src.register(1, api.Node{Name: "only", Boot: "x", Capacity: api.Resources{CPUs: 1, MemoryMB: 1}})
	src.submit(2, newJob("one"))
	snap := snapshotBytes(t, src.fsm)

	dst := newHarness(t)
	buildVariedState(dst)
	if err := dst.fsm.Restore(bytes.NewReader(snap), src.idx); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	wantSameState(t, dst.fsm, src.fsm)
	if got := dst.submit(3, newJob("two"))[0]; got != 2 {
		t.Errorf("next id after restore: got %d, want 2", got)
	}
}

// TestRestoreEmpty: the snapshot of an empty FSM restores to an empty FSM
// that starts ids at 1.
func TestRestoreEmpty(t *testing.T) {
	snap := snapshotBytes(t, raftfsm.New())
	h := &harness{t: t, fsm: restored(t, snap, 0)}
	if got := jobCount(h.fsm); got != 0 {
		t.Errorf("jobs: got %d, want 0", got)
	}
	if got := len(h.fsm.State().Nodes()); got != 0 {
		t.Errorf("nodes: got %d, want 0", got)
	}
	if got := h.submit(1, newJob("first"))[0]; got != 1 {
		t.Errorf("first id: got %d, want 1", got)
	}
}

// TestRestoreCorrupt: an undecodable snapshot is an error and leaves the
// FSM as it was.
func TestRestoreCorrupt(t *testing.T) {
	h := newHarness(t)
	buildVariedState(h)
	before := snapshotBytes(t, h.fsm)
	corrupt := append(before[:len(before)/2:len(before)/2], []byte("{not json")...)
	if err := h.fsm.Restore(bytes.NewReader(corrupt), 99); err == nil {
		t.Fatalf("Restore of a corrupt snapshot: got nil error, want one")
	}
	if after := snapshotBytes(t, h.fsm); !bytes.Equal(after, before) {
		t.Errorf("failed Restore changed the state:\ngot  %s\nwant %s", after, before)
	}
}

// TestSnapshotDeterministic: replicas fed the same log write byte-identical
// snapshots.
func TestSnapshotDeterministic(t *testing.T) {
	h := newHarness(t)
	buildVariedState(h)
	want := snapshotBytes(t, h.fsm)
	for replica := 1; replica <= 3; replica++ {
		f := raftfsm.New()
		for i, e := range h.log {
			f.Apply(uint64(i+1), e)
		}
		if got := snapshotBytes(t, f); !bytes.Equal(got, want) {
			t.Errorf("replica %d snapshot differs:\ngot  %s\nwant %s", replica, got, want)
		}
	}
}

// TestRestoreThenReplay: for every split of the log, restoring a snapshot
// taken at the split and applying the rest ends where applying the whole
// log ends.
func TestRestoreThenReplay(t *testing.T) {
	full := newHarness(t)
	buildVariedState(full)
	want := snapshotBytes(t, full.fsm)
	for k := 0; k <= len(full.log); k++ {
		prefix := raftfsm.New()
		for i, e := range full.log[:k] {
			prefix.Apply(uint64(i+1), e)
		}
		f := restored(t, snapshotBytes(t, prefix), uint64(k))
		for i, e := range full.log[k:] {
			f.Apply(uint64(k+i+1), e)
		}
		if got := snapshotBytes(t, f); !bytes.Equal(got, want) {
			t.Errorf("snapshot at %d then replay of %d entries differs:\ngot  %s\nwant %s", k, len(full.log)-k, got, want)
			continue
		}
		wantSameState(t, f, full.fsm)
		if got := f.State().Index(); got != full.idx {
			t.Errorf("split %d: index got %d, want %d", k, got, full.idx)
		}
	}
}

// TestChanged: the channel Changed returns is closed by the next Apply
// (or Restore), and the index advances to the entry's.
func TestChanged(t *testing.T) {
	f := raftfsm.New()
	idx, ch := f.Changed()
	if idx != 0 {
		t.Errorf("fresh FSM index: got %d, want 0", idx)
	}
	if isClosed(ch) {
		t.Fatalf("fresh FSM: Changed channel closed, want open until an Apply")
	}
	old := f.State()

	f.Apply(5, encode(t, raftfsm.OpSubmit, raftfsm.SubmitCmd{Jobs: []api.Job{newJob("a")}, Now: 1}))
	if !isClosed(ch) {
		t.Errorf("after Apply: Changed channel open, want closed")
	}
	idx2, ch2 := f.Changed()
	if idx2 != 5 {
		t.Errorf("after Apply at 5: index got %d, want 5", idx2)
	}
	if isClosed(ch2) {
		t.Errorf("after Apply: new Changed channel closed, want open")
	}
	if got := f.State().Index(); got != 5 {
		t.Errorf("State().Index(): got %d, want 5", got)
	}
	// A view taken before the Apply does not see it.
	if old.Job(1) != nil || old.Index() != 0 {
		t.Errorf("old view: got job 1 %v index %d, want no job and index 0", old.Job(1) != nil, old.Index())
	}

	// A refused command is still an applied entry: waiters wake.
	f.Apply(6, encode(t, raftfsm.OpStop, raftfsm.StopCmd{ID: 42, Now: 2}))
	if !isClosed(ch2) {
		t.Errorf("after refused command: Changed channel open, want closed")
	}
	idx3, ch3 := f.Changed()
	if idx3 != 6 {
		t.Errorf("after Apply at 6: index got %d, want 6", idx3)
	}

	snap := snapshotBytes(t, f)
	if err := f.Restore(bytes.NewReader(snap), 9); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if !isClosed(ch3) {
		t.Errorf("after Restore: Changed channel open, want closed")
	}
	if idx4, _ := f.Changed(); idx4 != 9 {
		t.Errorf("after Restore at 9: index got %d, want 9", idx4)
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestRestoreRefusesUnknownRecords: a snapshot with a record kind this
// binary does not know (a newer shoal's) fails to restore, with an error
// that names the record, its line and both formats, and the state stays
// as it was, as Apply refuses an unknown command.
func TestRestoreRefusesUnknownRecords(t *testing.T) {
	h := newHarness(t)
	buildVariedState(h)
	before := snapshotBytes(t, h.fsm)
	formatLine := fmt.Sprintf(`{"format":%d}`+"\n", raftfsm.SnapshotFormat)
	if !bytes.HasPrefix(before, []byte(formatLine)) {
		t.Fatalf("snapshot starts %.40q, want the format line first", before)
	}
	next := raftfsm.SnapshotFormat + 1
	newer := append([]byte(fmt.Sprintf(`{"format":%d}`+"\n", next)), bytes.TrimPrefix(before, []byte(formatLine))...)
	newer = append(newer, []byte(`{"reservation":{"name":"maint"}}`+"\n")...)
	err := h.fsm.Restore(bytes.NewReader(newer), 99)
	if err == nil {
		t.Fatal("Restore of a snapshot with an unknown record kind: got nil error, want one")
	}
	lines := bytes.Count(newer, []byte("\n"))
	for _, want := range []string{`"reservation"`, fmt.Sprintf("line %d", lines), fmt.Sprintf("format %d", next), fmt.Sprintf("reads format %d", raftfsm.SnapshotFormat)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %s", err, want)
		}
	}
	if after := snapshotBytes(t, h.fsm); !bytes.Equal(after, before) {
		t.Errorf("failed Restore changed the state")
	}
	// Two kinds on one line are as wrong.
	if err := h.fsm.Restore(strings.NewReader(`{"meta":{"key":"meta"},"node":{"name":"x"}}`+"\n"), 99); err == nil ||
		!strings.Contains(err.Error(), "2 records") {
		t.Errorf("Restore of a line with two records: %v, want an error saying so", err)
	}
}

// TestRestoreFormatZero: a snapshot written before the format line (by
// an older binary) still restores.
func TestRestoreFormatZero(t *testing.T) {
	h := newHarness(t)
	buildVariedState(h)
	snap := snapshotBytes(t, h.fsm)
	old := bytes.TrimPrefix(snap, []byte(fmt.Sprintf(`{"format":%d}`+"\n", raftfsm.SnapshotFormat)))
	f := restored(t, old, h.idx)
	if got := snapshotBytes(t, f); !bytes.Equal(got, snap) {
		t.Errorf("a format-0 snapshot restored to a different state:\ngot  %s\nwant %s", got, snap)
	}
}
