package raftfsm_test

import (
	"bytes"
	"testing"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// TestJoinSecret: a state holds no join secret until one is set; a new
// one replaces it (and fires a watch on it); an empty one is refused;
// snapshots carry it, and have no record of it while none was set.
func TestJoinSecret(t *testing.T) {
	h := newHarness(t)
	if js := h.fsm.State().JoinSecret(nil); js != nil {
		t.Fatalf("a new state's join secret: %+v, want none", js)
	}
	if snap := snapshotBytes(t, h.fsm); bytes.Contains(snap, []byte(`"joinSecret"`)) {
		t.Fatalf("a snapshot of a state never rotated has a join secret record: %s", snap)
	}
	wantErr(t, "an empty secret", h.apply(raftfsm.OpJoinSecret, raftfsm.JoinSecretCmd{}), api.CodeInvalid, "empty")
	h.mustOK("set", h.apply(raftfsm.OpJoinSecret, raftfsm.JoinSecretCmd{Secret: raftfsm.JoinSecret{Sealed: "s1", RotatedAt: 1, By: "root"}}))
	ws := memdb.NewWatchSet()
	if js := h.fsm.State().JoinSecret(ws); js == nil || js.Sealed != "s1" || js.Key != raftfsm.JoinSecretKey {
		t.Fatalf("the join secret after it was set: %+v", js)
	}
	h.mustOK("rotate", h.apply(raftfsm.OpJoinSecret, raftfsm.JoinSecretCmd{Secret: raftfsm.JoinSecret{Sealed: "s2", RotatedAt: 2}}))
	if !watchFired(ws) {
		t.Fatal("a rotation did not fire the watch on the join secret")
	}
	back := restored(t, snapshotBytes(t, h.fsm), 9)
	if js := back.State().JoinSecret(nil); js == nil || js.Sealed != "s2" || js.RotatedAt != 2 {
		t.Fatalf("the join secret restored from a snapshot: %+v, want s2", js)
	}
}

// TestRegisterByRotatedJoinToken: a registration by the join token
// carries the join secret record the token was checked against; it is
// refused if the cluster was rotated since (the body came after the
// rotation, or a leader checked it before applying the rotation), and
// applied if not. Other registrations do not depend on the join secret.
func TestRegisterByRotatedJoinToken(t *testing.T) {
	h := newHarness(t)
	join := func(name, sealed string) raftfsm.RegisterNodeCmd {
		return raftfsm.RegisterNodeCmd{Node: credNode(name, name+"-boot", hashA), Now: 1, ByJoinToken: true, JoinSealed: sealed}
	}
	h.mustOK("by the join token, never rotated", h.apply(raftfsm.OpRegisterNode, join("n1", "")))
	h.mustOK("rotate", h.apply(raftfsm.OpJoinSecret, raftfsm.JoinSecretCmd{Secret: raftfsm.JoinSecret{Sealed: "s1", RotatedAt: 2}}))
	wantErr(t, "by the token of before the rotation", h.apply(raftfsm.OpRegisterNode, join("n2", "")), api.CodeUnauthenticated, "n2", "rotated")
	h.mustOK("by the token of the rotation", h.apply(raftfsm.OpRegisterNode, join("n3", "s1")))
	h.mustOK("rotate again", h.apply(raftfsm.OpJoinSecret, raftfsm.JoinSecretCmd{Secret: raftfsm.JoinSecret{Sealed: "s2", RotatedAt: 3}}))
	wantErr(t, "by the token of the first rotation", h.apply(raftfsm.OpRegisterNode, join("n4", "s1")), api.CodeUnauthenticated, "rotated")
	for _, name := range []string{"n2", "n4"} {
		if n := h.fsm.State().Node(name); n != nil {
			t.Errorf("%s registered by a rotated join token: %+v", name, n)
		}
	}
	h.mustOK("by an operator", h.apply(raftfsm.OpRegisterNode, raftfsm.RegisterNodeCmd{Node: credNode("n5", "b5", hashA), Now: 4}))
	h.mustOK("by the node's credential", h.apply(raftfsm.OpRegisterNode, raftfsm.RegisterNodeCmd{Node: credNode("n3", "n3-boot", ""), Proven: hashA, Now: 5}))
}
