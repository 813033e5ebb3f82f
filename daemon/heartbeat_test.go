package daemon

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
)

// startTTLController is a controller whose nodes must send heartbeats
// within ttl; no node is registered.
func startTTLController(t *testing.T, ttl time.Duration) *testController {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("connecting as other users needs root")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	c, err := Start(Config{DataDir: filepath.Join(dir, "data"), Socket: filepath.Join(dir, "shoal.sock"),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), NodeTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &testController{t: t, c: c, sock: c.Addrs()[0]}
}

// waitNode blocks (on the node's watch channels, no polling) until ok
// holds for node name, and returns when it did.
func (tc *testController) waitNode(name string, timeout time.Duration, ok func(*api.Node) bool) time.Time {
	tc.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		ws := memdb.NewWatchSet()
		if n, _ := tc.c.fsm.State().NodeWork(name, ws); n != nil && ok(n) {
			return time.Now()
		}
		if err := ws.WatchCtx(ctx); err != nil {
			n := tc.c.fsm.State().Node(name)
			tc.t.Fatalf("node %s after %s: %+v, not as wanted", name, timeout, n)
		}
	}
}

// A node that stops sending heartbeats is set DOWN (not responding) one
// TTL after its last, not before; its running job is requeued. One that
// keeps sending them stays UP, and its heartbeats write nothing to raft.
// The silent node, once it answers, is UP again only when it runs nothing
// the controller gave up on.
func TestHeartbeatTTLExpiry(t *testing.T) {
	const ttl = 2 * time.Second
	tc := startTTLController(t, ttl)
	var reg api.RegisterNodeResponse
	for _, n := range []string{"silent", "alive"} {
		tc.mustCall(rootUser, api.PathNodeRegister, api.RegisterNodeRequest{
			Name: n, Boot: n + "-boot", Capacity: api.Resources{CPUs: 1, MemoryMB: 1024}}, &reg)
	}
	if want := (ttl / heartbeatsPerTTL).Milliseconds(); reg.HeartbeatMillis != want {
		t.Fatalf("registration answered heartbeat every %d ms, want %d (a third of the TTL)", reg.HeartbeatMillis, want)
	}
	beat := func(name string, running ...api.RunningJob) api.NodeHeartbeatResponse {
		t.Helper()
		var resp api.NodeHeartbeatResponse
		tc.mustCall(rootUser, api.PathNodeBeat, api.NodeHeartbeatRequest{Name: name, Boot: name + "-boot", Running: running}, &resp)
		return resp
	}
	// Both nodes are full with one job each.
	spec := api.JobSpec{Command: []string{"true"}, Dir: "/", Resources: api.Resources{CPUs: 1, MemoryMB: 64}}
	ids := []uint64{tc.submit(alice, spec), tc.submit(alice, spec)}
	placed := map[string]uint64{}
	for _, id := range ids {
		var j api.Job // a blocking wait for its placement
		tc.mustCall(alice, api.PathWait, api.WaitJobRequest{ID: id, States: []api.JobState{api.StateStarting}, WaitMillis: 5000}, &j)
		if j.State != api.StateStarting {
			t.Fatalf("job %d not placed: %s", id, j.State)
		}
		placed[j.Node] = id
		tc.mustCall(rootUser, api.PathNodeEvents, api.JobEventsRequest{Events: []api.JobEvent{
			{ID: id, Node: j.Node, State: api.StateRunning, Attempt: j.Attempt}}}, nil)
	}
	silentJob := api.RunningJob{ID: placed["silent"], Attempt: 1}
	if r := beat("silent", silentJob); r.NotResponding || len(r.Stray) > 0 {
		t.Fatalf("heartbeat of a healthy node: %+v, want nothing to do", r)
	}
	last := time.Now()

	// alive keeps beating at the interval it was given while silent's
	// TTL runs out; none of its heartbeats reaches raft.
	stop := make(chan struct{})
	done := make(chan struct{})
	before := tc.c.fsm.State().Index()
	go func() {
		defer close(done)
		// Twice as often as asked: the test must not fail on a loaded
		// machine for a late heartbeat.
		tick := time.NewTicker(time.Duration(reg.HeartbeatMillis) * time.Millisecond / 2)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				var resp api.NodeHeartbeatResponse
				if status, e := tc.call(rootUser, api.PathNodeBeat, api.NodeHeartbeatRequest{Name: "alive", Boot: "alive-boot",
					Running: []api.RunningJob{{ID: placed["alive"], Attempt: 1}}}, &resp); status != http.StatusOK {
					t.Errorf("heartbeat of alive: HTTP %d %s", status, e.Message)
					return
				}
			}
		}
	}()
	down := tc.waitNode("silent", 5*ttl, func(n *api.Node) bool { return n.NotResponding })
	detected := down.Sub(last)
	t.Logf("node set DOWN %s after its last heartbeat (TTL %s)", detected.Round(time.Millisecond), ttl)
	if detected < ttl || detected > ttl+time.Second {
		t.Errorf("node set DOWN %s after its last heartbeat, want within [%s, %s]", detected, ttl, ttl+time.Second)
	}
	// One TTL more: alive has outlived two of its TTLs by beating.
	time.Sleep(ttl)
	close(stop)
	<-done
	if n := tc.c.fsm.State().Node("alive"); n.State != api.NodeUp || n.NotResponding {
		t.Fatalf("node that kept beating: %s not responding=%v, want UP", n.State, n.NotResponding)
	}
	// The only raft entries since: silent going DOWN and its job's requeue
	// (one command), then the scheduler finding no room (nothing).
	if after := tc.c.fsm.State().Index(); after-before > 2 {
		t.Errorf("raft index moved %d -> %d while a node sent heartbeats, want only the node-down entry", before, after)
	}
	n := tc.c.fsm.State().Node("silent")
	if n.State != api.NodeDown || n.Reason != api.ReasonNotResponding || n.Allocated != (api.Resources{}) {
		t.Errorf("silent node: %s %q allocated %+v, want DOWN %q with nothing allocated", n.State, n.Reason, n.Allocated, api.ReasonNotResponding)
	}
	j := tc.c.fsm.State().Job(placed["silent"])
	if j.State != api.StateRunnable || len(j.Attempts) != 1 || j.Attempts[0].Node != "silent" {
		t.Errorf("job of the silent node: %s attempts %+v, want RUNNABLE with the attempt on silent recorded", j.State, j.Attempts)
	}
	var nodes api.NodesResponse
	tc.mustCall(alice, api.PathNodes, struct{}{}, &nodes)
	for _, n := range nodes.Nodes {
		if n.Name == "alive" && time.Since(time.UnixMilli(n.LastHeartbeat)) > ttl {
			t.Errorf("alive's last heartbeat as listed: %s ago, want the leader's memory of it", time.Since(time.UnixMilli(n.LastHeartbeat)))
		}
	}

	// silent answers again, still running the job it was given: it must
	// stop it first.
	if r := beat("silent", silentJob); !r.NotResponding || len(r.Stray) != 1 || r.Stray[0] != silentJob {
		t.Fatalf("heartbeat of the silent node still running its job: %+v, want not responding with the job to stop", r)
	}
	if n := tc.c.fsm.State().Node("silent"); !n.NotResponding {
		t.Fatalf("silent node UP while it runs a job it was not given")
	}
	if r := beat("silent"); r.NotResponding || len(r.Stray) > 0 {
		t.Fatalf("heartbeat of the silent node once it stopped its job: %+v, want it back", r)
	}
	if n := tc.c.fsm.State().Node("silent"); n.State != api.NodeUp || n.NotResponding || n.Reason != "" {
		t.Fatalf("silent node after it answers: %+v, want UP", n)
	}
	// Its heartbeats of another boot are refused: that daemon must register.
	var resp api.NodeHeartbeatResponse
	if status, e := tc.call(rootUser, api.PathNodeBeat, api.NodeHeartbeatRequest{Name: "silent", Boot: "old"}, &resp); status == http.StatusOK || e.Code != api.CodeConflict {
		t.Fatalf("heartbeat of another boot: HTTP %d %s, want %s", status, e.Code, api.CodeConflict)
	}
	if status, e := tc.call(rootUser, api.PathNodeBeat, api.NodeHeartbeatRequest{Name: "ghost", Boot: "b"}, &resp); status == http.StatusOK || e.Code != api.CodeNotFound {
		t.Fatalf("heartbeat of an unknown node: HTTP %d %s, want %s", status, e.Code, api.CodeNotFound)
	}
	if status, e := tc.call(alice, api.PathNodeBeat, api.NodeHeartbeatRequest{Name: "alive", Boot: "alive-boot"}, &resp); status == http.StatusOK {
		t.Fatalf("heartbeat from a user: HTTP %d %s, want refused", status, e.Code)
	}
}

// A controller that starts watches every node it knows: one that died
// while no controller ran goes DOWN one TTL later.
func TestHeartbeatTimersStartWithController(t *testing.T) {
	tc := startTTLController(t, 500*time.Millisecond)
	tc.mustCall(rootUser, api.PathNodeRegister, api.RegisterNodeRequest{
		Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 1, MemoryMB: 1024}}, nil)
	tc.c.stopHeartbeats() // as if the controller had stopped
	start := time.Now()
	tc.c.startHeartbeats()
	down := tc.waitNode("n1", 5*time.Second, func(n *api.Node) bool { return n.NotResponding })
	if d := down.Sub(start); d < 500*time.Millisecond {
		t.Fatalf("node set DOWN %s after the timers started, want at least the TTL", d)
	}
}
