package raftfsm_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// registerDef is a RegisterJobDefCmd of owner's script definition name.
func registerDef(owner, name string, now int64, cmd ...string) raftfsm.RegisterJobDefCmd {
	return raftfsm.RegisterJobDefCmd{Now: now, Def: api.JobDefinition{Name: name, Type: "script", Owner: owner,
		ContainerProperties: &api.ContainerProperties{Command: cmd}}}
}

// ownedDefs is how many revisions owner holds, and their JobDefinitionBytes.
func ownedDefs(f *raftfsm.FSM, owner string) (n, size int) {
	f.State().EachJobDefinition(func(d *api.JobDefinition) bool {
		if d.Owner == owner {
			n, size = n+1, size+raftfsm.JobDefinitionBytes(d)
		}
		return true
	})
	return n, size
}

// defRefs lists the state's job definitions as NAME:REV(STATUS).
func defRefs(f *raftfsm.FSM) []string {
	var out []string
	f.State().EachJobDefinition(func(d *api.JobDefinition) bool {
		out = append(out, fmt.Sprintf("%s:%d(%s)", d.Name, d.Revision, d.Status))
		return true
	})
	return out
}

// TestJobDefinitionBoundRaced: two registers that each passed Check when
// one more revision fitted are applied in turn: the first is stored, the
// second refused, so a user's revisions never pass the bound.
func TestJobDefinitionBoundRaced(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < raftfsm.MaxUserJobDefinitions-1; i++ {
		h.mustOK("fill", h.apply(raftfsm.OpRegisterJobDef, registerDef("alice", fmt.Sprintf("d%d", i), int64(i), "true")))
	}
	a, b := registerDef("alice", "a", 1e6, "true"), registerDef("alice", "b", 1e6, "true")
	h.mustOK("Check a", h.fsm.Check(raftfsm.OpRegisterJobDef, a))
	h.mustOK("Check b", h.fsm.Check(raftfsm.OpRegisterJobDef, b))
	h.mustOK("apply a", h.apply(raftfsm.OpRegisterJobDef, a))
	wantErr(t, "apply b, raced past Check", h.apply(raftfsm.OpRegisterJobDef, b), api.CodeInvalid,
		fmt.Sprintf("has %d job definition revisions", raftfsm.MaxUserJobDefinitions), "would pass the bound", "deregister")
	if n, _ := ownedDefs(h.fsm, "alice"); n != raftfsm.MaxUserJobDefinitions {
		t.Errorf("alice holds %d revisions, want %d", n, raftfsm.MaxUserJobDefinitions)
	}
	h.mustOK("bob is not held back", h.apply(raftfsm.OpRegisterJobDef, registerDef("bob", "b", 1e6, "true")))
}

// TestJobDefinitionBytesBounded: a user's revisions hold at most
// MaxUserJobDefinitionBytes, large ones reaching it before the count.
func TestJobDefinitionBytesBounded(t *testing.T) {
	h := newHarness(t)
	cmd := strings.Repeat("x", 20<<10)
	stored := 0
	for ; stored < raftfsm.MaxUserJobDefinitions; stored++ {
		res := h.apply(raftfsm.OpRegisterJobDef, registerDef("alice", "big", int64(stored), "sh", "-c", cmd))
		if res.Err != nil {
			wantErr(t, "register past the bytes", res, api.CodeInvalid, "16.0 MiB per user", "deregister")
			break
		}
	}
	n, size := ownedDefs(h.fsm, "alice")
	if stored == raftfsm.MaxUserJobDefinitions || size > raftfsm.MaxUserJobDefinitionBytes || n != stored {
		t.Fatalf("alice stored %d revisions of 20 KiB (%d bytes in all) before a refusal; want a refusal at %d bytes",
			stored, size, raftfsm.MaxUserJobDefinitionBytes)
	}
	if size+raftfsm.JobDefinitionBytes(&api.JobDefinition{Name: "big", ContainerProperties: &api.ContainerProperties{Command: []string{cmd}}}) <= raftfsm.MaxUserJobDefinitionBytes {
		t.Errorf("refused at %d bytes with room for one more", size)
	}
	h.mustOK("bob is not held back", h.apply(raftfsm.OpRegisterJobDef, registerDef("bob", "bobs", 1e6, "sh", "-c", cmd)))
}

// TestJobDefinitionRoomMade: at the bound, a register drops the user's
// oldest INACTIVE revision, never a name's first or newest (they keep the
// name its owner's and its numbers unrepeated), nor an ACTIVE one, nor
// another user's; with none to drop it is refused and nothing changes.
// A replica replaying the log ends the same.
func TestJobDefinitionRoomMade(t *testing.T) {
	h := newHarness(t)
	now := int64(0)
	reg := func(owner, name string) raftfsm.Result {
		now++
		return h.apply(raftfsm.OpRegisterJobDef, registerDef(owner, name, now, "true"))
	}
	dereg := func(name string, rev int) {
		h.mustOK(fmt.Sprintf("deregister %s:%d", name, rev), h.apply(raftfsm.OpDeregisterJobDef, raftfsm.DeregisterJobDefCmd{Name: name, Revision: rev}))
	}
	for i := 0; i < 3; i++ {
		h.mustOK("a", reg("alice", "a"))
	}
	h.mustOK("b", reg("alice", "b"))
	fill := raftfsm.MaxUserJobDefinitions - 4
	for i := 0; i < fill; i++ {
		h.mustOK("fill", reg("alice", "fill"))
	}
	h.mustOK("bob's", reg("bob", "bobs"))
	h.mustOK("bob's", reg("bob", "bobs"))
	dereg("bobs", 1)
	for _, r := range []struct {
		name string
		rev  int
	}{{"a", 1}, {"a", 3}, {"b", 1}, {"fill", 1}, {"fill", fill}} {
		dereg(r.name, r.rev)
	}
	before := defRefs(h.fsm)
	wantErr(t, "a new name with only firsts and newests INACTIVE", reg("alice", "c"), api.CodeInvalid, "would pass the bound")
	if after := defRefs(h.fsm); !reflect.DeepEqual(before, after) {
		t.Fatalf("a refused register changed the definitions")
	}
	// A new revision of a: a:3 is no longer the newest, and goes.
	if res := h.mustOK("a:4", reg("alice", "a")); res.Revision != 4 {
		t.Errorf("a's new revision is %d, want 4", res.Revision)
	}
	st := h.fsm.State()
	if st.JobDefinition("a", 3) != nil || st.JobDefinition("a", 1) == nil || st.JobDefinition("b", 1) == nil {
		t.Errorf("after a:4: a:3 dropped %v, a:1 kept %v, b:1 kept %v; want all true",
			st.JobDefinition("a", 3) == nil, st.JobDefinition("a", 1) != nil, st.JobDefinition("b", 1) != nil)
	}
	dereg("fill", 5)
	dereg("fill", 2)
	h.mustOK("c", reg("alice", "c"))
	if st := h.fsm.State(); st.JobDefinition("fill", 2) != nil || st.JobDefinition("fill", 5) == nil {
		t.Errorf("c dropped fill:2 %v and kept fill:5 %v; want the oldest INACTIVE, fill:2, first",
			st.JobDefinition("fill", 2) == nil, st.JobDefinition("fill", 5) != nil)
	}
	h.mustOK("d", reg("alice", "d"))
	if st := h.fsm.State(); st.JobDefinition("fill", 5) != nil || st.JobDefinition("bobs", 1) == nil || st.JobDefinition("fill", fill) == nil {
		t.Errorf("d: fill:5 dropped %v, bob's INACTIVE bobs:1 kept %v, fill's newest kept %v; want all true",
			st.JobDefinition("fill", 5) == nil, st.JobDefinition("bobs", 1) != nil, st.JobDefinition("fill", fill) != nil)
	}
	wantErr(t, "nothing left to drop", reg("alice", "e"), api.CodeInvalid, "would pass the bound")
	if n, _ := ownedDefs(h.fsm, "alice"); n != raftfsm.MaxUserJobDefinitions {
		t.Errorf("alice holds %d revisions, want %d", n, raftfsm.MaxUserJobDefinitions)
	}
	if res := h.mustOK("fill goes on numbering", reg("alice", "fill")); res.Revision != fill+1 {
		t.Errorf("fill's new revision is %d, want %d", res.Revision, fill+1)
	}
	if got, want := defRefs(replayed(h)), defRefs(h.fsm); !reflect.DeepEqual(got, want) {
		t.Errorf("a replica replaying the log holds other definitions")
	}
}
