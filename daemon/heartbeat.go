package daemon

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/accounts"
	"github.com/shoal-batch/shoal/internal/clock"
	"github.com/shoal-batch/shoal/raftfsm"
)

// DefaultNodeTTL is how long a node daemon may stay silent before the
// leader sets it DOWN (Config.NodeTTL, shoal agent -node-ttl).
const DefaultNodeTTL = 30 * time.Second

// heartbeatsPerTTL is how many heartbeats a node sends per TTL: one or two
// may be lost or late before it is declared down.
const heartbeatsPerTTL = 3

// heartbeats keeps node liveness in the leader's memory, as Nomad's
// nomad/heartbeat.go does: one timer per node, reset by each heartbeat;
// a timer that fires means the node missed its deadline. Nothing here is
// replicated: a heartbeat costs a timer reset, and raft sees only the
// changes of a node's status. The timers run only while started: the
// leader starts them when it takes office (for every node it knows, so a
// node that died while no leader watched still goes down) and stops them
// when it steps down or shuts down.
type heartbeats struct {
	ttl   time.Duration
	clock clock.Clock
	// expire is called (on the timer's goroutine, no lock held) when node
	// missed its deadline; lastSeen is its last heartbeat, or when the
	// timers started if it sent none since.
	expire func(node string, lastSeen time.Time)

	// Per node, a timer, a time and a load: nothing of a heartbeat's list
	// of running jobs is kept. A node that is gone (deleted) is forgotten
	// when its timer fires (nodeExpired), which it keeps while DOWN.
	mu      sync.Mutex
	running bool
	timers  map[string]clock.Timer
	seen    map[string]time.Time
	loads   map[string]float64 // each node's load average, as its last heartbeat said
}

func newHeartbeats(ttl time.Duration, clk clock.Clock, expire func(string, time.Time)) *heartbeats {
	return &heartbeats{ttl: ttl, clock: clk, expire: expire, timers: map[string]clock.Timer{}, seen: map[string]time.Time{}, loads: map[string]float64{}}
}

// interval is how often a node should send heartbeats: well inside the TTL.
func (h *heartbeats) interval() time.Duration { return h.ttl / heartbeatsPerTTL }

// start arms a timer of one TTL for each of nodes, counting from now.
// Starting twice is harmless.
func (h *heartbeats) start(nodes []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.running = true
	now := h.clock.Now()
	for _, n := range nodes {
		if _, ok := h.timers[n]; !ok {
			h.seen[n] = now
			h.arm(n)
		}
	}
}

// stop disarms every timer: this controller no longer leads (or shuts
// down), and whoever leads next watches the nodes.
func (h *heartbeats) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.running = false
	for n, t := range h.timers {
		t.Stop()
		delete(h.timers, n)
	}
	clear(h.seen)
	clear(h.loads) // a follower shows no load (api.Node.CPULoad), not the last it had as leader
}

// beat records a heartbeat of node and gives it another TTL. It reports
// false when the timers are stopped (this controller does not lead).
func (h *heartbeats) beat(node string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.running {
		return false
	}
	h.seen[node] = h.clock.Now()
	if t, ok := h.timers[node]; ok {
		t.Stop()
	}
	h.arm(node)
	return true
}

// forget drops what is kept of node, whose record is gone, unless a
// heartbeat armed its timer again since (the name registered anew).
func (h *heartbeats) forget(node string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, armed := h.timers[node]; !armed {
		delete(h.seen, node)
		delete(h.loads, node)
	}
}

// rearm arms node's timer again unless a heartbeat did meanwhile: a node
// set DOWN for not responding sends none, and would otherwise never be
// looked at again here, nor forgotten once deleted (nodeExpired).
func (h *heartbeats) rearm(node string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, armed := h.timers[node]; h.running && !armed {
		h.arm(node)
	}
}

// setLoad records the load average node's heartbeat reported.
func (h *heartbeats) setLoad(node string, load float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.loads[node] = load
}

// load is the load average node last reported.
func (h *heartbeats) load(node string) (float64, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.loads[node]
	return l, ok
}

// lastSeen returns when node was last heard from, if this leader knows.
func (h *heartbeats) lastSeen(node string) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.seen[node]
	return t, ok
}

// arm sets node's timer. Called with h.mu held.
func (h *heartbeats) arm(node string) {
	var t clock.Timer
	t = h.clock.AfterFunc(h.ttl, func() {
		h.mu.Lock()
		// A heartbeat that came as this timer fired replaced it: the
		// node answered in time after all.
		current := h.running && h.timers[node] == t
		if current {
			delete(h.timers, node)
		}
		seen := h.seen[node]
		h.mu.Unlock()
		if current {
			h.expire(node, seen)
		}
	})
	h.timers[node] = t
}

// startHeartbeats starts watching every node that is not already known to
// be down for not responding. The leader calls it when it takes office
// (the HA work hooks it to raft's leadership changes); nodes that are
// alive reset their timers within one heartbeat interval.
func (c *Controller) startHeartbeats() {
	var watch []string
	for _, n := range c.fsm.State().Nodes() {
		if !n.NotResponding {
			watch = append(watch, n.Name)
		}
	}
	c.beats.start(watch)
}

// stopHeartbeats stops watching nodes: this controller stepped down or
// shuts down.
func (c *Controller) stopHeartbeats() { c.beats.stop() }

// beatLeading records a heartbeat of node, and reports false when this
// controller does not lead. One that has just won its election (raft's
// leader, its leader work not started yet: a dev agent's first moments)
// waits for that work, up to an election's time, rather than refuse a
// node's first heartbeat or leave a registration unwatched.
func (c *Controller) beatLeading(ctx context.Context, node string) bool {
	if c.beats.beat(node) { // as nearly always: no timer to make
		return true
	}
	deadline := time.NewTimer(electionWait)
	defer deadline.Stop()
	for !c.beats.beat(node) {
		ready, changed := c.leaderReady()
		if ready || c.raft.raft.State() != raft.Leader {
			return false
		}
		select {
		case <-changed:
		case <-deadline.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// nodeExpired sets a node that missed its heartbeat deadline DOWN (not
// responding): the FSM ends or requeues its jobs. The decision is the
// leader's; the time and the reason travel in the command.
func (c *Controller) nodeExpired(name string, lastSeen time.Time) {
	n := c.fsm.State().Node(name)
	if n == nil {
		c.beats.forget(name) // deleted: its entries would outlive it
		return
	}
	// Still watched once DOWN (or if setting it so failed): an operator
	// deletes dead nodes, and the leader keeps their time and load.
	defer c.beats.rearm(name)
	if n.NotResponding {
		return
	}
	c.log.Warn("node stopped responding: setting it DOWN", "node", name,
		"lastHeartbeat", lastSeen.UTC().Format(time.RFC3339Nano), "silentFor", c.clock.Now().Sub(lastSeen).Round(time.Millisecond))
	_, err := c.applier.Apply(c.ctx, raftfsm.OpNodeStatus, raftfsm.NodeStatusCmd{
		Name: name, LastSeen: lastSeen.UnixMilli(), Now: c.clock.Now().UnixMilli(), By: c.selfName, ByUID: c.selfUID,
	})
	if err != nil && c.ctx.Err() == nil {
		c.log.Error("set node DOWN", "node", name, "err", err)
	}
}

// nodeHeartbeat resets a node's timer; nothing is written unless the node
// had been declared not responding, in which case it is UP again once it
// runs nothing the controller gave up on (it is told which to stop).
func (c *Controller) nodeHeartbeat(ctx context.Context, who caller, req api.NodeHeartbeatRequest) (api.NodeHeartbeatResponse, error) {
	if err := who.actsFor(req.Name); err != nil {
		return api.NodeHeartbeatResponse{}, err
	}
	if req.Name == "" || req.Boot == "" {
		return api.NodeHeartbeatResponse{}, api.Errorf(api.CodeInvalid, "heartbeat: name and boot id are required")
	}
	if err := checkHeartbeat(&req); err != nil { // nodebounds.go
		return api.NodeHeartbeatResponse{}, err
	}
	state := c.fsm.State()
	n := state.Node(req.Name)
	switch {
	case n == nil:
		return api.NodeHeartbeatResponse{}, api.Errorf(api.CodeNotFound, "node %s is not registered: register it first", req.Name)
	case n.Boot != req.Boot:
		return api.NodeHeartbeatResponse{}, api.Errorf(api.CodeConflict,
			"node %s has registered again with another boot id; this daemon must register again", req.Name)
	case !c.beatLeading(ctx, req.Name):
		return api.NodeHeartbeatResponse{}, api.Errorf(api.CodeUnavailable, "this controller does not lead: send heartbeats to the leader")
	}
	if req.Load != nil {
		c.beats.setLoad(req.Name, *req.Load)
	}
	resp := api.NodeHeartbeatResponse{HeartbeatMillis: c.beats.interval().Milliseconds(), NotResponding: n.NotResponding,
		Stray: strayJobs(state, req.Name, req.Running)}
	if !n.NotResponding || len(resp.Stray) > 0 {
		return resp, nil
	}
	_, err := c.applier.Apply(ctx, raftfsm.OpNodeStatus, raftfsm.NodeStatusCmd{
		Name: req.Name, Responding: true, Boot: req.Boot, Now: c.nowMillis(),
	})
	if err != nil {
		return api.NodeHeartbeatResponse{}, err
	}
	c.log.Info("node answers again and runs nothing it was not given: it is back", "node", req.Name)
	resp.NotResponding = false
	return resp, nil
}

// strayJobs returns the jobs of running that node may not run: the
// controller does not have them (at that attempt) STARTING or RUNNING there.
func strayJobs(state *raftfsm.State, node string, running []api.RunningJob) []api.RunningJob {
	var stray []api.RunningJob
	for _, r := range running {
		j := state.Job(r.ID)
		if j == nil || j.Node != node || !j.State.Terminable() || (r.Attempt != 0 && r.Attempt != j.Attempt) {
			stray = append(stray, r)
		}
	}
	return stray
}

// selfName is the name of the controller's user, recorded as who set a
// node DOWN for not responding (Slurm records its SlurmUser).
// named is false when the uid has no name (its number stands for it).
func selfName(ctx context.Context, uid uint32) (name string, named bool) {
	if u, err := accounts.LookupID(ctx, uid); err == nil {
		return u.Name, true
	}
	return fmt.Sprint(uid), false
}
