package raftfsm

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// OpNodeStatus records that a node stopped answering or answers again.
// Never renumber.
const OpNodeStatus Op = 17 // NodeStatusCmd

// NodeStatusCmd is the leader's finding about a node's liveness; heartbeats
// themselves never reach the log, only these changes do.
type NodeStatusCmd struct {
	Name string `json:"name"`
	// Responding false: the node missed its heartbeat deadline; true: it
	// answers again and runs nothing it was not given.
	Responding bool `json:"responding"`
	// Boot, if set, must be the node's current boot (the daemon that
	// answered); a node registered again since is left alone.
	Boot string `json:"boot,omitempty"`
	// LastSeen is when the leader last heard from the node (epoch ms).
	LastSeen int64 `json:"lastSeen,omitempty"`
	Now      int64 `json:"now"`
	// By and ByUID are the controller's user, recorded with the reason
	// (as Slurm records SlurmUser).
	By    string `json:"by,omitempty"`
	ByUID uint32 `json:"byUid,omitempty"`
}

// MaxNodeFailRequeues bounds the automatic requeues of a Slurm-style job
// after node failures (Slurm's MaxBatchRequeue default): a job that keeps
// taking its nodes down ends NODE_FAIL instead.
const MaxNodeFailRequeues = 5

// NodeFailReason is the statusReason of a job whose node stopped
// responding (AWS Batch's "Host EC2 ... terminated" in shoal's words).
func NodeFailReason(node string, lastSeen int64) string {
	return fmt.Sprintf("Host %s stopped responding at %s", node, time.UnixMilli(lastSeen).UTC().Format(time.RFC3339))
}

// nodeStatus applies a liveness finding. Not responding: the node is set
// DOWN ("Not responding") if it was UP, flagged NOT_RESPONDING whatever
// its state, and every job it was running ends NODE_FAIL or is requeued
// (retries), releasing its resources. Responding again:
// the flag clears, and a node the controller itself set DOWN is UP again
// (an admin's DRAIN or DOWN stays).
func (w writer) nodeStatus(c NodeStatusCmd) Result {
	n := w.node(c.Name)
	switch {
	case n == nil:
		return Result{Err: api.Errorf(api.CodeNotFound, "node %s does not exist", c.Name)}
	case c.Boot != "" && n.Boot != c.Boot:
		return Result{Err: api.Errorf(api.CodeConflict, "node %s has registered again (boot %s, not %s)", c.Name, n.Boot, c.Boot)}
	case c.Responding == !n.NotResponding:
		return Result{} // already so
	}
	if c.Responding {
		n.NotResponding = false
		if n.State == api.NodeDown && n.Reason == api.ReasonNotResponding {
			n.State, n.Reason, n.ReasonBy, n.ReasonUID, n.ReasonAt = api.NodeUp, "", "", 0, 0
		}
		w.put(tableNodes, n)
		return Result{}
	}
	n.NotResponding = true
	if n.State == api.NodeUp {
		n.State, n.Reason, n.ReasonBy, n.ReasonUID, n.ReasonAt = api.NodeDown, api.ReasonNotResponding, c.By, c.ByUID, c.Now
	}
	w.put(tableNodes, n)
	w.nodeFailed(n.Name, NodeFailReason(n.Name, c.LastSeen), c.Now)
	return Result{}
}

// nodeFailed ends every STARTING or RUNNING job of a node that stopped
// responding: requeued where the job allows it (retries; the
// attempt is recorded),
// else FAILED with cause node_lost (Slurm's NODE_FAIL). A stop that was
// asked for ends the job as asked.
func (w writer) nodeFailed(node, reason string, now int64) {
	var lost []*api.Job
	(&State{txn: w.txn}).JobsOnNode(node, func(j *api.Job) bool {
		c := *j
		lost = append(lost, &c)
		return true
	})
	for _, j := range lost {
		w.finish(j, api.JobEvent{ID: j.ID, Node: node, State: api.StateFailed, Reason: reason, Cause: api.CauseNodeLost}, now, true)
	}
}

// plan applies a scheduler plan, re-checking each placement against the
// current state (optimistic concurrency): a job that is no longer RUNNABLE
// or a node that no longer has room is skipped.
func (w writer) plan(c PlanCmd) Result {
	placed := 0
	st := &State{txn: w.txn}
	var licenses *licenseLedger                    // built by the first placement that asks for a license
	envs := map[string][]*api.ComputeEnvironment{} // of each queue, read once per plan
	var each api.Job
	for _, p := range c.Placements {
		j := w.jobInto(p.JobID, &each)
		n := w.node(p.Node)
		if j == nil || n == nil || j.State != api.StateRunnable || n.State != api.NodeUp || n.NotResponding || !n.Fits(j.Resources) {
			continue
		}
		q := j.Queue
		if p.Queue != "" && p.Queue != q {
			if !slices.Contains(j.Queues, p.Queue) {
				continue // not one the job may run in
			}
			q = p.Queue
		}
		ce := inQueue(st, envs, q, p.CE, n)
		if ce == "" || !w.takeLicenses(&licenses, j) {
			continue
		}
		mustMove(j, api.StateStarting, c.Now)
		j.Node, j.ComputeEnvironment, j.Queue = n.Name, ce, q
		j.Attempt++
		limitToDeadline(j, c.Now)
		n.Allocated = n.Allocated.Add(j.Resources)
		w.put(tableJobs, j)
		w.put(tableNodes, n)
		placed++
	}
	return Result{Placed: placed}
}

// inQueue returns the enabled compute environment of queue q that holds
// node n: ce if it does, or with ce empty the first that does; "" if none.
// envs caches each queue's environments.
func inQueue(st *State, envs map[string][]*api.ComputeEnvironment, q, ce string, n *api.Node) string {
	list, ok := envs[q]
	if !ok {
		if queue := st.Queue(q); queue != nil {
			list = api.QueueEnvironments(queue, st.ComputeEnvironment)
		}
		envs[q] = list
	}
	for _, c := range list {
		if (ce == "" || c.Name == ce) && c.Includes(n) {
			return c.Name
		}
	}
	return ""
}

// release returns a finished job's resources to its node.
func (w writer) release(j *api.Job) {
	n := w.node(j.Node)
	if n == nil {
		return
	}
	n.Allocated = n.Allocated.Sub(j.Resources)
	w.put(tableNodes, n)
}

// registerNode adds a node or updates it. A new boot of a known node means
// its daemon restarted and lost the jobs it ran: they fail with a reason.
//
// Credentials: a registration that brings a new credential (Node.SecretHash)
// is refused for a node that already has one; one by a node's credential
// (Proven) is refused unless the node still has that credential (it was
// deleted, or registered anew, meanwhile). Otherwise the node keeps the
// credential it has.
func (w writer) registerNode(c RegisterNodeCmd) Result {
	if err := w.checkJoinSecret(c); err != nil {
		return Result{Err: err}
	}
	old := w.node(c.Node.Name)
	if err := checkNodeCredential(old, c.Node.Name, c.Node.SecretHash, c.Proven); err != nil {
		return Result{Err: err}
	}
	n := registered(old, c)
	w.put(tableNodes, &n)
	if old != nil && old.Boot != n.Boot {
		w.failNodeJobs(n.Name, api.ReasonNodeLost, c.Now)
	}
	return Result{}
}

// registered is the record registration c leaves for a node whose record
// is old (nil: a new node), once checkNodeCredential let it through.
func registered(old *api.Node, c RegisterNodeCmd) api.Node {
	n := c.Node
	n.State = api.NodeUp
	n.LastHeartbeat = c.Now
	n.Allocated = api.Resources{}
	if old == nil {
		n.RegisteredAt = c.Now
		return n
	}
	if old.SecretHash != "" {
		n.SecretHash = old.SecretHash
	}
	// What the controller and admins decided outlives the daemon's restarts.
	n.RegisteredAt, n.Allocated, n.State, n.Reason = old.RegisteredAt, old.Allocated, old.State, old.Reason
	// A node set DOWN for not responding stays so until its heartbeat
	// shows it runs nothing it was not given (NodeStatusCmd).
	n.ReasonBy, n.ReasonUID, n.ReasonAt, n.NotResponding = old.ReasonBy, old.ReasonUID, old.ReasonAt, old.NotResponding
	return n
}

// RegisterChangesNothing reports whether applying c to a state whose
// record of the node is old would change nothing but the record's
// LastHeartbeat: the same daemon (boot) registering again as the record
// already has it, with no new credential, and one the FSM would accept.
// A node daemon does that after a heartbeat or work request was refused
// (a new leader, a lagging follower); the controller answers it without
// a raft entry. It reads the same merge registerNode applies, so the two
// cannot disagree.
func RegisterChangesNothing(old *api.Node, c RegisterNodeCmd) bool {
	if old == nil || old.Boot != c.Node.Boot || c.Node.SecretHash != "" ||
		checkNodeCredential(old, c.Node.Name, c.Node.SecretHash, c.Proven) != nil {
		return false
	}
	n := registered(old, c)
	n.LastHeartbeat = old.LastHeartbeat // heartbeats live in the leader's memory: no entry for them
	if !maps.Equal(n.Labels, old.Labels) {
		return false
	}
	n.Labels = old.Labels // nil and empty alike: the JSON in the log is the same
	return reflect.DeepEqual(&n, old)
}

// failNodeJobs ends every placed job on a node with reason.
func (w writer) failNodeJobs(node, reason string, now int64) {
	var lost []*api.Job
	(&State{txn: w.txn}).JobsOnNode(node, func(j *api.Job) bool {
		c := *j
		lost = append(lost, &c)
		return true
	})
	for _, j := range lost {
		w.complete(j, api.JobEvent{ID: j.ID, Node: node, State: api.StateFailed, Reason: reason, Cause: api.CauseNodeLost}, now)
	}
}

// updateNode applies an admin's drain, down or resume. Jobs on a node set
// DOWN are stopped (their node reports them, ending NODE_FAIL).
func (w writer) updateNode(c UpdateNodeCmd) Result {
	u := c.Update
	n := w.node(u.Name)
	if n == nil {
		return Result{Err: api.Errorf(api.CodeNotFound, "node %s does not exist", u.Name)}
	}
	if u.State == api.NodeUp && n.NotResponding {
		return Result{Err: api.Errorf(api.CodeConflict,
			"node %s is not responding: it becomes UP by itself once its daemon answers again; start or fix its daemon", n.Name)}
	}
	n.State, n.Reason, n.ReasonBy, n.ReasonUID, n.ReasonAt = u.State, u.Reason, c.By, c.ByUID, c.Now
	if u.State == api.NodeUp {
		n.Reason, n.ReasonBy, n.ReasonUID, n.ReasonAt = "", "", 0, 0
	}
	w.put(tableNodes, n)
	if u.State != api.NodeDown {
		return Result{}
	}
	var stop []*api.Job
	(&State{txn: w.txn}).JobsOnNode(n.Name, func(j *api.Job) bool {
		if j.State.Terminable() && !j.StopRequested {
			c := *j
			stop = append(stop, &c)
		}
		return true
	})
	for _, j := range stop {
		j.StopRequested, j.StopCause = true, api.CauseNodeLost
		j.StopReason = fmt.Sprintf("Host terminated: node %s was set DOWN (%s)", n.Name, u.Reason)
		w.put(tableJobs, j)
	}
	return Result{}
}
