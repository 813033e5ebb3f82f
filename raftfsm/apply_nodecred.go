package raftfsm

import (
	"github.com/shoal-batch/shoal/api"
)

// OpDeleteNode removes a node's record (an operator's `scontrol delete
// nodename=`). Never renumber.
const OpDeleteNode Op = 74 // DeleteNodeCmd

// DeleteNodeCmd removes node Name, which must run nothing.
type DeleteNodeCmd struct {
	Name string `json:"name"`
}

// ErrNodeHasCredential words the refusal of a new credential for a node
// that has one: its daemon proves itself with the one it has.
func ErrNodeHasCredential(name string) *api.Error {
	return api.Errorf(api.CodeConflict,
		"node %s is already registered with a credential: its daemon proves itself with the node credential saved in its data dir (DATA_DIR/node-credential), not the join token; to replace a lost node, an operator removes it first (scontrol delete nodename=%s), then the new one registers with the join token",
		name, name)
}

// checkNodeCredential decides whether a registration of name may go on
// given the node's record old (nil: none): issue is the hash of a new
// credential it brings, proven the one its caller proved.
func checkNodeCredential(old *api.Node, name, issue, proven string) *api.Error {
	switch {
	case proven != "" && (old == nil || old.SecretHash != proven):
		return api.Errorf(api.CodeUnauthenticated,
			"node %s no longer has the credential this daemon presents (it was deleted, or registered anew): register it again with the join token", name)
	case issue != "" && old != nil && old.SecretHash != "":
		return ErrNodeHasCredential(name)
	}
	return nil
}

// deleteNode removes a node that no job is STARTING or RUNNING on: its
// ended jobs keep its name in their history.
func (w writer) deleteNode(c DeleteNodeCmd) Result {
	n := w.node(c.Name)
	if n == nil {
		return Result{Err: api.Errorf(api.CodeNotFound, "node %s does not exist", c.Name)}
	}
	busy, first := 0, uint64(0)
	(&State{txn: w.txn}).JobsOnNode(n.Name, func(j *api.Job) bool {
		if j.State == api.StateStarting || j.State == api.StateRunning {
			if busy == 0 {
				first = j.ID
			}
			busy++
		}
		return true
	})
	if busy > 0 {
		return Result{Err: api.Errorf(api.CodeConflict,
			"node %s has %d job(s) STARTING or RUNNING (job %s among them): drain it (scontrol update nodename=%s state=drain reason=...) and wait for them to end, or cancel them, then delete it",
			n.Name, busy, api.FormatID(first), n.Name)}
	}
	if err := w.txn.Delete(tableNodes, n); err != nil {
		return Result{Err: api.Errorf(api.CodeInternal, "delete node %s: %v", n.Name, err)}
	}
	return Result{}
}
