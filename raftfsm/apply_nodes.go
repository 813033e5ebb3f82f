package raftfsm

import (
	"fmt"

	"github.com/shoal-batch/shoal/api"
)

// plan applies a scheduler plan, re-checking each placement against the
// current state (optimistic concurrency): a job that is no longer RUNNABLE
// or a node that no longer has room is skipped.
func (w writer) plan(c PlanCmd) Result {
	placed := 0
	st := &State{txn: w.txn}
	for _, p := range c.Placements {
		j := w.job(p.JobID)
		n := w.node(p.Node)
		if j == nil || n == nil || j.State != api.StateRunnable || n.State != api.NodeUp || !n.Fits(j.Resources) {
			continue
		}
		ce := inQueue(st, j.Queue, p.CE, n)
		if ce == "" {
			continue
		}
		mustMove(j, api.StateStarting, c.Now)
		j.Node, j.ComputeEnvironment = n.Name, ce
		j.Attempt++
		n.Allocated = n.Allocated.Add(j.Resources)
		w.put(tableJobs, j)
		w.put(tableNodes, n)
		placed++
	}
	return Result{Placed: placed}
}

// inQueue returns the enabled compute environment of queue q that holds
// node n: ce if it does, or with ce empty the first that does; "" if none.
func inQueue(st *State, q, ce string, n *api.Node) string {
	queue := st.Queue(q)
	if queue == nil {
		return ""
	}
	for _, c := range api.QueueEnvironments(queue, st.ComputeEnvironment) {
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
func (w writer) registerNode(c RegisterNodeCmd) Result {
	n := c.Node
	n.State = api.NodeUp
	n.LastHeartbeat = c.Now
	n.Allocated = api.Resources{}
	old := w.node(n.Name)
	if old == nil {
		n.RegisteredAt = c.Now
		w.put(tableNodes, &n)
		return Result{}
	}
	// What the controller and admins decided outlives the daemon's restarts.
	n.RegisteredAt, n.Allocated, n.State, n.Reason = old.RegisteredAt, old.Allocated, old.State, old.Reason
	w.put(tableNodes, &n)
	if old.Boot != n.Boot {
		w.failNodeJobs(n.Name, api.ReasonNodeLost, c.Now)
	}
	return Result{}
}

// failNodeJobs ends every placed job on a node with reason.
func (w writer) failNodeJobs(node, reason string, now int64) {
	it, err := w.txn.Get(tableJobs, "node", node)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: read jobs of node %s: %v", node, err))
	}
	var lost []*api.Job
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if j := raw.(*api.Job); j.State.Terminable() {
			c := *j
			lost = append(lost, &c)
		}
	}
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
