package daemon

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/raftfsm"
)

// stateJobs copies every job of c's state, in id order.
func stateJobs(c *Controller) []api.Job {
	var out []api.Job
	c.fsm.State().AllJobs(func(j *api.Job) bool { out = append(out, *j); return true })
	return out
}

// TestSubmitLogReplaysBothEncodings: a raft log holding an earlier
// version's JSON submits (OpSubmit, and an OpBatch of them) and this
// version's compact ones (OpSubmitBin, tokened too, in OpBatchBin when
// they share an entry) replays at a restart to the very jobs it held, and
// the token still answers its first submit's id. (No snapshot is taken
// under 16,384 entries: the restart replays the log.)
func TestSubmitLogReplaysBothEncodings(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ctl")
	c := startControllerIn(t, dir)
	ctx := t.Context()
	old := api.Job{JobSpec: api.JobSpec{Name: "old", Queue: api.DefaultQueue, Command: []string{"true"},
		Env: map[string]string{"A": "1"}, Resources: api.Resources{CPUs: 1, MemoryMB: 64}, Held: true}, User: "root"}
	if _, err := c.applier.Apply(ctx, raftfsm.OpSubmit, raftfsm.SubmitCmd{Jobs: []api.Job{old}, Now: c.nowMillis()}); err != nil {
		t.Fatalf("JSON submit: %v", err)
	}
	var es [][]byte
	for range 2 {
		e, err := raftfsm.Encode(raftfsm.OpSubmit, raftfsm.SubmitCmd{Jobs: []api.Job{old}, Now: c.nowMillis()})
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	batch, err := raftfsm.EncodeBatchJSON(es)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.applier.local.applyEntry(ctx, batch); err != nil {
		t.Fatalf("JSON batch: %v", err)
	}
	cl := client.New(filepath.Join(filepath.Dir(dir), "shoal.sock"), "")
	if err := cl.Call(ctx, api.PathNodeRegister, api.RegisterNodeRequest{Name: "n1",
		Capacity: api.Resources{CPUs: 2, MemoryMB: 1024}, Boot: "b1"}, nil); err != nil {
		t.Fatalf("register a node: %v", err)
	}
	req := api.SubmitJobRequest{JobSpec: api.JobSpec{Name: "new", Script: "#!/bin/sh\ntrue\n", Held: true,
		Env: map[string]string{"HOME": "/root", "PATH": "/bin"}, Resources: api.Resources{MemoryMB: 64}}}
	if _, err := cl.Submit(ctx, req); err != nil {
		t.Fatalf("submit: %v", err)
	}
	var first api.SubmitJobResponse
	if err := cl.CallWithToken(ctx, api.PathSubmit, "tok-1", req, &first); err != nil {
		t.Fatalf("tokened submit: %v", err)
	}
	// Two compact submits in one entry (OpBatchBin), as the applier
	// batches concurrent ones.
	var bin [][]byte
	for range 2 {
		e, err := raftfsm.EncodeSubmit(&raftfsm.SubmitCmd{Jobs: []api.Job{old}, Now: c.nowMillis()}, nil)
		if err != nil || raftfsm.Op(e[0]) != raftfsm.OpSubmitBin {
			t.Fatalf("EncodeSubmit: op %d, %v", e[0], err)
		}
		bin = append(bin, e)
	}
	if batch, err = raftfsm.EncodeBatch(bin); err != nil || raftfsm.Op(batch[0]) != raftfsm.OpBatchBin {
		t.Fatalf("EncodeBatch: op %d, %v", batch[0], err)
	}
	if _, err := c.applier.local.applyEntry(ctx, batch); err != nil {
		t.Fatalf("binary batch: %v", err)
	}
	want := stateJobs(c)
	if len(want) != 7 {
		t.Fatalf("%d jobs stored, want 7", len(want))
	}
	c.Close()

	c = startControllerIn(t, dir)
	defer c.Close()
	if got := stateJobs(c); !reflect.DeepEqual(got, want) {
		t.Fatalf("after a restart (the log replayed):\n got %+v\nwant %+v", got, want)
	}
	cl = client.New(filepath.Join(filepath.Dir(dir), "shoal.sock"), "")
	var again api.SubmitJobResponse
	if err := cl.CallWithToken(ctx, api.PathSubmit, "tok-1", req, &again); err != nil || again.ID != first.ID {
		t.Fatalf("the token sent again after the restart: job %d, %v; want job %d", again.ID, err, first.ID)
	}
	if n := len(stateJobs(c)); n != 7 {
		t.Fatalf("%d jobs after the repeated token, want 7", n)
	}
}
