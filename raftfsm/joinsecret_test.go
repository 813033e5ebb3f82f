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
	if !fired(ws) {
		t.Fatal("a rotation did not fire the watch on the join secret")
	}
	back := restored(t, snapshotBytes(t, h.fsm), 9)
	if js := back.State().JoinSecret(nil); js == nil || js.Sealed != "s2" || js.RotatedAt != 2 {
		t.Fatalf("the join secret restored from a snapshot: %+v, want s2", js)
	}
}

// fired reports whether a channel of ws is closed, without waiting.
func fired(ws memdb.WatchSet) bool {
	for ch := range ws {
		select {
		case <-ch:
			return true
		default:
		}
	}
	return false
}
