package raftfsm_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

var (
	hashA = strings.Repeat("a", 64)
	hashB = strings.Repeat("b", 64)
)

func credNode(name, boot, hash string) api.Node {
	return api.Node{Name: name, Boot: boot, Capacity: api.Resources{CPUs: 4, MemoryMB: 4096},
		Labels: queues(api.DefaultQueue), SecretHash: hash}
}

// TestRegisterNodeCredential: a node's first registration stores the
// credential hash it brings; another registration bringing one is refused
// (whatever its boot), one proving another hash is refused, and the node
// keeps its hash through registrations by its credential or without one.
func TestRegisterNodeCredential(t *testing.T) {
	h := newHarness(t)
	h.mustOK("register with a credential", h.apply(raftfsm.OpRegisterNode, raftfsm.RegisterNodeCmd{Node: credNode("n1", "b1", hashA), Now: 1}))
	wantErr(t, "a second credential, same boot", h.apply(raftfsm.OpRegisterNode, raftfsm.RegisterNodeCmd{Node: credNode("n1", "b1", hashB), Now: 2}),
		api.CodeConflict, "credential", "delete nodename=n1")
	wantErr(t, "a second credential, new boot", h.apply(raftfsm.OpRegisterNode, raftfsm.RegisterNodeCmd{Node: credNode("n1", "b2", hashB), Now: 2}),
		api.CodeConflict, "credential")
	wantErr(t, "proving another credential", h.apply(raftfsm.OpRegisterNode, raftfsm.RegisterNodeCmd{Node: credNode("n1", "b2", ""), Proven: hashB, Now: 2}),
		api.CodeUnauthenticated, "join token")
	wantErr(t, "proving a credential of a node that is not recorded", h.apply(raftfsm.OpRegisterNode, raftfsm.RegisterNodeCmd{Node: credNode("n9", "b9", ""), Proven: hashA, Now: 2}),
		api.CodeUnauthenticated)
	if n := h.node("n1"); n.Boot != "b1" || n.SecretHash != hashA {
		t.Fatalf("n1 after refused registrations: boot %s hash %s, want b1 and its first hash", n.Boot, n.SecretHash)
	}
	h.mustOK("by its credential", h.apply(raftfsm.OpRegisterNode, raftfsm.RegisterNodeCmd{Node: credNode("n1", "b1", ""), Proven: hashA, Now: 3}))
	h.mustOK("by an operator", h.apply(raftfsm.OpRegisterNode, raftfsm.RegisterNodeCmd{Node: credNode("n1", "b1", ""), Now: 4}))
	if n := h.node("n1"); n.SecretHash != hashA {
		t.Fatalf("n1's hash after its registrations: %q, want the first", n.SecretHash)
	}
	// A node recorded without one (an older state) gets one.
	h.register(5, credNode("old", "bo", ""))
	h.mustOK("a credential for an older node", h.apply(raftfsm.OpRegisterNode, raftfsm.RegisterNodeCmd{Node: credNode("old", "bo", hashB), Now: 6}))
	if n := h.node("old"); n.SecretHash != hashB {
		t.Fatalf("the older node's hash: %q, want the one it was given", n.SecretHash)
	}
}

// TestDeleteNode: a node with a job STARTING or RUNNING is kept; once the
// job ended it is removed, and its name registers anew with a new
// credential.
func TestDeleteNode(t *testing.T) {
	h := newHarness(t)
	h.mustOK("register", h.apply(raftfsm.OpRegisterNode, raftfsm.RegisterNodeCmd{Node: credNode("n1", "b1", hashA), Now: 1}))
	id := h.submit(2, newJob("j"))[0]
	if h.place(3, raftfsm.Placement{JobID: id, Node: "n1"}) != 1 {
		t.Fatal("job not placed")
	}
	wantErr(t, "delete with a job STARTING", h.apply(raftfsm.OpDeleteNode, raftfsm.DeleteNodeCmd{Name: "n1"}), api.CodeConflict, "STARTING or RUNNING")
	h.events(4, api.JobEvent{ID: id, Node: "n1", State: api.StateRunning})
	wantErr(t, "delete with a job RUNNING", h.apply(raftfsm.OpDeleteNode, raftfsm.DeleteNodeCmd{Name: "n1"}), api.CodeConflict, api.FormatID(id))
	zero := 0
	h.events(5, api.JobEvent{ID: id, Node: "n1", State: api.StateSucceeded, ExitCode: &zero})
	h.mustOK("delete", h.apply(raftfsm.OpDeleteNode, raftfsm.DeleteNodeCmd{Name: "n1"}))
	if h.fsm.State().Node("n1") != nil {
		t.Fatal("n1 still recorded after its delete")
	}
	wantErr(t, "delete again", h.apply(raftfsm.OpDeleteNode, raftfsm.DeleteNodeCmd{Name: "n1"}), api.CodeNotFound)
	h.mustOK("register anew", h.apply(raftfsm.OpRegisterNode, raftfsm.RegisterNodeCmd{Node: credNode("n1", "b1", hashB), Now: 6}))
	if n := h.node("n1"); n.SecretHash != hashB || n.RegisteredAt != 6 {
		t.Fatalf("n1 registered anew: hash %q registered at %d, want the new hash at 6", n.SecretHash, n.RegisteredAt)
	}
}

// TestSnapshotNodeCredential: a node's credential hash survives a
// snapshot and its restore; a snapshot's node without one (from before
// credentials) restores without one.
func TestSnapshotNodeCredential(t *testing.T) {
	h := newHarness(t)
	h.mustOK("register", h.apply(raftfsm.OpRegisterNode, raftfsm.RegisterNodeCmd{Node: credNode("n1", "b1", hashA), Now: 1}))
	h.register(2, credNode("n2", "b2", ""))
	snap := snapshotBytes(t, h.fsm)
	if !bytes.Contains(snap, []byte(`"secretHash":"`+hashA+`"`)) {
		t.Fatalf("the snapshot does not hold n1's credential hash:\n%s", snap)
	}
	f := restored(t, snap, h.idx)
	wantSameState(t, f, h.fsm)
	if n := f.State().Node("n1"); n == nil || n.SecretHash != hashA {
		t.Fatalf("n1 restored: %+v, want its credential hash", n)
	}
	if n := f.State().Node("n2"); n == nil || n.SecretHash != "" {
		t.Fatalf("n2 restored: %+v, want no credential hash", n)
	}
}

// TestRegisterChangesNothingAgreesWithApply: RegisterChangesNothing says
// a registration changes nothing exactly when applying it succeeds and
// leaves the node's record (but for LastHeartbeat) and its jobs as they
// were: for the same daemon by its credential or an operator, a node set
// DOWN for not responding; not for another boot, capacity, labels, log
// server or token, a new credential or a credential it does not have.
func TestRegisterChangesNothingAgreesWithApply(t *testing.T) {
	same := func(c *raftfsm.RegisterNodeCmd) {}
	for _, tc := range []struct {
		what    string
		down    bool
		edit    func(*raftfsm.RegisterNodeCmd)
		nothing bool
	}{
		{"the same daemon by its credential", false, same, true},
		{"the same daemon, set DOWN for not responding", true, same, true},
		{"the same daemon by an operator", false, func(c *raftfsm.RegisterNodeCmd) { c.Proven = "" }, true},
		{"no labels", false, func(c *raftfsm.RegisterNodeCmd) { c.Node.Labels = nil }, false},
		{"another label", false, func(c *raftfsm.RegisterNodeCmd) { c.Node.Labels = queues("gpu") }, false},
		{"another boot", false, func(c *raftfsm.RegisterNodeCmd) { c.Node.Boot = "b2" }, false},
		{"more CPUs", false, func(c *raftfsm.RegisterNodeCmd) { c.Node.Capacity.CPUs++ }, false},
		{"another log server", false, func(c *raftfsm.RegisterNodeCmd) { c.Node.LogAddr = "127.0.0.1:7" }, false},
		{"another log token", false, func(c *raftfsm.RegisterNodeCmd) { c.Node.LogToken = "t2" }, false},
		{"another log key", false, func(c *raftfsm.RegisterNodeCmd) { c.Node.LogCertHash = "sha256:" + hashB }, false},
		{"a new credential", false, func(c *raftfsm.RegisterNodeCmd) { c.Proven, c.Node.SecretHash = "", hashB }, false},
		{"a credential it does not have", false, func(c *raftfsm.RegisterNodeCmd) { c.Proven = hashB }, false},
		// Labels nil and empty are the same record (the log's JSON omits both).
		{"no labels, as an empty map", false, func(c *raftfsm.RegisterNodeCmd) { c.Node.Labels = map[string]string{} }, true},
	} {
		h := newHarness(t)
		first := credNode("n1", "b1", hashA)
		first.LogToken = "t1"
		bare := strings.HasPrefix(tc.what, "no labels,") // in no queue: its job waits
		if bare {
			first.Labels = nil
		}
		h.mustOK(tc.what+": register", h.apply(raftfsm.OpRegisterNode, raftfsm.RegisterNodeCmd{Node: first, Now: 1}))
		id := h.submit(2, newJob("j"))[0]
		if placed := h.place(3, raftfsm.Placement{JobID: id, Node: "n1"}); placed != 1 && !bare {
			t.Fatalf("%s: the job was not placed", tc.what)
		}
		if tc.down {
			h.mustOK(tc.what+": down", h.apply(raftfsm.OpNodeStatus, raftfsm.NodeStatusCmd{Name: "n1", LastSeen: 3, Now: 4}))
		}
		cmd := raftfsm.RegisterNodeCmd{Node: credNode("n1", "b1", ""), Proven: hashA, Now: 9}
		cmd.Node.LogToken = "t1"
		tc.edit(&cmd)
		before, job := *h.node("n1"), *h.job(id)
		nothing := raftfsm.RegisterChangesNothing(&before, cmd)
		res := h.apply(raftfsm.OpRegisterNode, cmd)
		after := *h.node("n1")
		after.LastHeartbeat = before.LastHeartbeat
		unchanged := res.Err == nil && reflect.DeepEqual(after, before) && reflect.DeepEqual(*h.job(id), job)
		if nothing != tc.nothing || nothing != unchanged {
			t.Errorf("%s: RegisterChangesNothing %v, want %v; applied: err %v, record and job unchanged %v",
				tc.what, nothing, tc.nothing, res.Err, unchanged)
		}
	}
}
