package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/raftfsm"
)

// maxWorkWait bounds a node's blocking query.
const maxWorkWait = 5 * time.Minute

func (c *Controller) listNodes(_ context.Context, who caller, _ empty) (api.NodesResponse, error) {
	nodes := c.fsm.State().Nodes()
	out := make([]api.Node, len(nodes))
	for i, n := range nodes {
		out[i] = *n
		out[i].LogToken = ""   // the key to the node's logs, the controller's alone
		out[i].SecretHash = "" // what the node's credential is checked against
		if !who.operator {
			out[i].Boot = "" // what a node daemon's requests name: operators only
		}
		if seen, ok := c.beats.lastSeen(n.Name); ok && seen.UnixMilli() > n.LastHeartbeat {
			out[i].LastHeartbeat = seen.UnixMilli() // heartbeats live in the leader's memory
		}
		if load, ok := c.beats.load(n.Name); ok {
			out[i].CPULoad = &load
		}
	}
	return api.NodesResponse{Nodes: out}, nil
}

// registerNode records a node daemon's start and answers how often it
// must send heartbeats; the registration counts as its first.
func (c *Controller) registerNode(ctx context.Context, who caller, req api.RegisterNodeRequest) (api.RegisterNodeResponse, error) {
	var none api.RegisterNodeResponse
	if err := requireNode(who); err != nil {
		return none, err
	}
	if err := c.checkNodeBounds(&req); err != nil { // nodebounds.go
		return none, err
	}
	if req.Name == "" || req.Boot == "" {
		return none, api.Errorf(api.CodeInvalid, "register node: name and boot id are required")
	}
	if req.Capacity.CPUs <= 0 || req.Capacity.MemoryMB <= 0 {
		return none, api.Errorf(api.CodeInvalid, "register node %s: capacity cpus=%d memory=%dMiB must be positive",
			req.Name, req.Capacity.CPUs, req.Capacity.MemoryMB)
	}
	if req.LogCertHash != "" {
		if _, err := client.NewWith(req.LogAddr, client.Options{KeyHash: req.LogCertHash}); err != nil {
			return none, api.Errorf(api.CodeInvalid, "register node %s: log server %s: %v", req.Name, req.LogAddr, err).WithField("logCertHash")
		}
	}
	n := api.Node{Name: req.Name, Capacity: req.Capacity, Boot: req.Boot, LogAddr: req.LogAddr, Labels: req.Labels,
		LogCertHash: req.LogCertHash, LogToken: req.LogToken}
	cmd := raftfsm.RegisterNodeCmd{Node: n, Now: c.nowMillis()}
	secret, err := c.nodeCredential(who, &cmd)
	if err != nil {
		return none, err
	}
	if !c.registersNothing(who, cmd) {
		if _, err := c.applier.Apply(ctx, raftfsm.OpRegisterNode, cmd); err != nil {
			return none, err
		}
	}
	if c.beatLeading(ctx, req.Name) && req.Load != nil { // the registration is the first heartbeat
		c.beats.setLoad(req.Name, *req.Load)
	}
	return api.RegisterNodeResponse{HeartbeatMillis: c.beats.interval().Milliseconds(), Credential: secret}, nil
}

// registersNothing reports whether a registration may be answered without
// a raft entry: a node daemon, by its credential, registering again as
// its record already has it (node/agent.go does after a heartbeat or
// work request was refused as not found, conflicting or unauthenticated,
// as a lagging or restarted controller answers), which the FSM would
// apply as a change of the record's LastHeartbeat alone. The
// heartbeat that registration counts as stays in the leader's memory, as
// every other does. Only a leader that has applied its predecessors'
// entries decides so (as boundNodeEvents): its state holds every entry
// it acknowledged, while a follower's may lag one that deleted the node
// or replaced its credential or boot, and its answer would be wrong.
func (c *Controller) registersNothing(who caller, cmd raftfsm.RegisterNodeCmd) bool {
	if who.nodeName == "" {
		return false
	}
	if leading, _ := c.leaderReady(); !leading {
		return false
	}
	return raftfsm.RegisterChangesNothing(c.fsm.State().Node(cmd.Node.Name), cmd)
}

// nodeCredential decides what a registration does with the node's
// credential, in cmd, and returns the new secret to give the daemon ("" if
// none). A node daemon by its credential keeps it (the FSM checks the node
// still has it). The join token registers only a name that has no
// credential, and gets one; an operator (root on the unix socket) may
// register any node, which gets a credential if it has none. The secret
// is made here, not in the FSM, which must be deterministic; the state
// keeps only its hash.
func (c *Controller) nodeCredential(who caller, cmd *raftfsm.RegisterNodeCmd) (string, error) {
	name := cmd.Node.Name
	if err := who.actsFor(name); err != nil && !who.joiner {
		return "", err
	}
	if who.nodeName != "" {
		cmd.Proven = who.nodeHash
		return "", nil
	}
	// A join token rotated away since it was checked registers nothing:
	// the FSM compares the cluster's join secret as it applies this.
	cmd.ByJoinToken, cmd.JoinSealed = who.joiner, who.joinSealed
	if old := c.fsm.State().Node(name); old != nil && old.SecretHash != "" {
		if who.joiner {
			return "", raftfsm.ErrNodeHasCredential(name)
		}
		return "", nil // an operator's registration: the node keeps its credential
	}
	secret, err := newNodeSecret()
	if err != nil {
		return "", err
	}
	cmd.Node.SecretHash = nodeSecretHash(secret)
	return secret, nil
}

// updateNode lets root drain, down or resume a node.
func (c *Controller) updateNode(ctx context.Context, who caller, req api.UpdateNodeRequest) (empty, error) {
	if !who.operator {
		return empty{}, api.Errorf(api.CodeForbidden, "only root or the controller's own user may change a node's state")
	}
	switch req.State {
	case api.NodeUp:
	case api.NodeDrain, api.NodeDown:
		if req.Reason == "" {
			return empty{}, api.Errorf(api.CodeInvalid, "give a reason when draining or downing node %s", req.Name).WithField("reason")
		}
	default:
		return empty{}, api.Errorf(api.CodeInvalid, "node state %q: use %s, %s or %s", req.State, api.NodeUp, api.NodeDrain, api.NodeDown).WithField("state")
	}
	admin, err := c.lookupOwner(who)
	if err != nil {
		return empty{}, err
	}
	_, err = c.applier.Apply(ctx, raftfsm.OpUpdateNode, raftfsm.UpdateNodeCmd{
		Update: req, Now: c.nowMillis(), By: admin.name, ByUID: admin.uid,
	})
	return empty{}, err
}

// deleteNode removes a node's record (operators only; routeTable): one
// that runs nothing, so that a lost node's name may register anew with
// the join token (which a name with a credential refuses).
func (c *Controller) deleteNode(ctx context.Context, who caller, req api.DeleteNodeRequest) (empty, error) {
	if !who.operator {
		return empty{}, api.Errorf(api.CodeForbidden, "only root or the controller's own user may delete a node")
	}
	if req.Name == "" {
		return empty{}, api.Errorf(api.CodeInvalid, "delete node: give its name").WithField("name")
	}
	if _, err := c.applier.Apply(ctx, raftfsm.OpDeleteNode, raftfsm.DeleteNodeCmd{Name: req.Name}); err != nil {
		return empty{}, err
	}
	c.log.Info("node deleted: its name may register again with the join token", "node", req.Name)
	return empty{}, nil
}

// clusterInfo describes this controller.
func (c *Controller) clusterInfo(_ context.Context, _ caller, _ empty) (api.ClusterInfo, error) {
	info := api.ClusterInfo{Index: c.fsm.State().Index(), StartedAt: c.startedAt, Version: Version,
		PreemptType: c.cfg.Sched.PreemptType, PreemptMode: c.cfg.Sched.PreemptMode}
	addr, id := c.raft.raft.LeaderWithID()
	info.Leader = fmt.Sprintf("%s (%s)", id, addr)
	if f := c.raft.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			info.Members = append(info.Members, fmt.Sprintf("%s (%s)", s.ID, s.Address))
		}
	}
	for _, q := range c.fsm.State().Queues() {
		info.Queues = append(info.Queues, q.Name)
	}
	return info, nil
}

// nodeWork is a node's blocking query: it answers with the node's placed,
// unfinished jobs as soon as they differ from the answer the node last
// had (req.AfterDigest), or the wait ends. It waits on memdb watch
// channels of this node's jobs and record only: other nodes' jobs,
// submissions and heartbeats do not wake it.
func (c *Controller) nodeWork(ctx context.Context, who caller, req api.NodeWorkRequest) (api.NodeWorkResponse, error) {
	if err := who.actsFor(req.Name); err != nil {
		return api.NodeWorkResponse{}, err
	}
	wait := min(time.Duration(req.WaitMillis)*time.Millisecond, maxWorkWait)
	waitCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		state := c.fsm.State()
		ws := memdb.NewWatchSet()
		n, jobs := state.NodeWork(req.Name, ws)
		switch {
		case n == nil:
			return api.NodeWorkResponse{}, api.Errorf(api.CodeNotFound, "node %s is not registered: register it first", req.Name)
		case n.Boot != req.Boot:
			return api.NodeWorkResponse{}, api.Errorf(api.CodeConflict,
				"node %s has registered again with another boot id; this daemon must register again", req.Name)
		}
		resp, err := workResponse(state.Index(), jobs)
		if err != nil {
			return api.NodeWorkResponse{}, err
		}
		// How the node is to enforce each job's memory: its queue's, as
		// the queue is now (not part of the digest: it matters at start).
		for i := range resp.Jobs {
			if q := state.Queue(resp.Jobs[i].Queue); q != nil && q.RAMSpace != (api.RAMSpace{}) {
				rs := q.RAMSpace
				resp.Jobs[i].RAMSpace = &rs
			}
		}
		changed := resp.Digest != req.AfterDigest
		if req.AfterDigest == "" { // a node that sends no digest: any change
			changed = state.Index() > req.AfterIndex
		}
		if changed {
			return resp, nil
		}
		if err := ws.WatchCtx(waitCtx); err != nil {
			if ctx.Err() != nil { // errShuttingDown when the controller stops
				return api.NodeWorkResponse{}, context.Cause(ctx)
			}
			return resp, nil // the wait ended: nothing changed for this node
		}
	}
}

// workResponse is a node's work list at index, with its digest.
func workResponse(index uint64, jobs []*api.Job) (api.NodeWorkResponse, error) {
	resp := api.NodeWorkResponse{Index: index, Jobs: make([]api.Job, len(jobs))}
	for i, j := range jobs {
		resp.Jobs[i] = *j
	}
	data, err := json.Marshal(resp.Jobs)
	if err != nil {
		return api.NodeWorkResponse{}, api.Errorf(api.CodeInternal, "encode the work of a node: %v", err)
	}
	sum := sha256.Sum256(data)
	resp.Digest = hex.EncodeToString(sum[:16])
	return resp, nil
}

func (c *Controller) nodeEvents(ctx context.Context, who caller, req api.JobEventsRequest) (empty, error) {
	if err := requireNode(who); err != nil {
		return empty{}, err
	}
	if err := c.boundNodeEvents(&req); err != nil { // nodebounds.go: also drops events of unknown jobs
		return empty{}, err
	}
	if who.joiner {
		return empty{}, errJoinOnly()
	}
	if who.nodeName != "" {
		req.Events = ownEvents(who.nodeName, req.Events)
	}
	if len(req.Events) == 0 {
		return empty{}, nil
	}
	_, err := c.applier.Apply(ctx, raftfsm.OpJobEvents, raftfsm.JobEventsCmd{Events: req.Events, Now: c.nowMillis()})
	return empty{}, err
}

// ownEvents marks each event as node's, whatever node it named: a node
// reports only on what it runs, and the FSM applies an event only to a
// job placed on the event's node (jobEvents). It drops none itself: this
// controller's state may lag the one the node was given its work from (a
// follower, or a leader still applying), where a job's placement on node
// is not yet seen; an event it dropped would be acknowledged and lost.
func ownEvents(node string, events []api.JobEvent) []api.JobEvent {
	for i := range events {
		events[i].Node = node
	}
	return events
}

// maxLogCalls bounds the logs calls the controller has under way at once
// (more wait): each holds a node's answer, up to 16 MiB, decoded.
const maxLogCalls = 2

// jobLogs fetches a job's output from the node that ran it. Only the job's
// owner and operators (root, the controller's user) may read it.
func (c *Controller) jobLogs(ctx context.Context, who caller, req api.LogsRequest) (api.LogsResponse, error) {
	state := c.fsm.State()
	j := c.withHistory(state).Job(req.ID) // an ended job's log outlives it in the state (-log-retention)
	if j == nil || !c.visible(who, j) {
		return api.LogsResponse{}, errNoJob(req.ID)
	}
	if !ownsOrOperates(who, j) {
		return api.LogsResponse{}, api.Errorf(api.CodeForbidden, "job %d belongs to %s; only its owner or root may read its logs", j.ID, j.User)
	}
	if j.Node == "" {
		return api.LogsResponse{}, api.Errorf(api.CodeConflict, "job %d is %s and has not run yet, so it has no logs", j.ID, j.State)
	}
	n := state.Node(j.Node)
	if n == nil || n.LogAddr == "" {
		return api.LogsResponse{}, api.Errorf(api.CodeUnavailable, "node %s that ran job %d does not serve logs", j.Node, j.ID)
	}
	client, err := nodeLogClient(n)
	if err != nil {
		return api.LogsResponse{}, api.Errorf(api.CodeUnavailable, "node %s that ran job %d: log server: %v", n.Name, j.ID, err)
	}
	select {
	case c.logCalls <- struct{}{}:
		defer func() { <-c.logCalls }()
	case <-ctx.Done():
		return api.LogsResponse{}, api.Errorf(api.CodeUnavailable, "read log of job %d: %v", j.ID, ctx.Err())
	}
	var resp api.LogsResponse
	err = client.Call(ctx, api.PathNodeLogs, nodeLogsRequest(j, req.Stream), &resp)
	var answer *api.Error
	if err != nil && !errors.As(err, &answer) {
		// Not the node's answer: it could not be reached, or was not
		// the one pinned.
		return api.LogsResponse{}, api.Errorf(api.CodeUnavailable, "read log of job %d from node %s at %s: %v", j.ID, n.Name, n.LogAddr, err)
	}
	return resp, err
}

// nodeLogClient reaches n's log server as n registered it: over TLS pinned
// to the key whose hash it sent with its join (itself over TLS, with the
// join secret), presenting the log token it sent; never the join secret,
// which goes only from nodes to the controller, whoever answers at
// LogAddr. Without a hash the server is a unix socket (-dev) or plain
// HTTP (a node run with -insecure-http).
func nodeLogClient(n *api.Node) (*client.Client, error) {
	if n.LogCertHash == "" {
		return client.New(n.LogAddr, n.LogToken), nil
	}
	return client.NewWith(n.LogAddr, client.Options{Token: n.LogToken, KeyHash: n.LogCertHash})
}
