package raftfsm_test

import (
	"reflect"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// TestQOSPreemptSettings stores a QOS's preemption settings through real
// applies and refuses, leaving the registry as it was, a QOS that would
// preempt itself (directly or in a loop) or an unknown QOS, a mode shoal
// does not have, and times out of range; deleting a QOS drops it from the
// Preempt lists that named it; the settings survive a snapshot.
func TestQOSPreemptSettings(t *testing.T) {
	h := newHarness(t)
	acctBase(h)
	h.mustOK("add scavenger", acctChange(h, raftfsm.OpAcctAdd, api.AccountsChange{QOS: []api.QOS{
		{Name: "scavenger", PreemptMode: api.PreemptRequeue, GraceTime: 30, PreemptExemptTime: ptr(600)}}}))
	h.mustOK("high preempts normal and scavenger", acctChange(h, raftfsm.OpAcctModify, api.AccountsChange{QOS: []api.QOS{
		{Name: "high", Priority: 100, Preempt: []string{"normal", "scavenger"}}}}))
	st := h.fsm.State()
	if q := st.QOS("high"); !reflect.DeepEqual(q.Preempt, []string{"normal", "scavenger"}) {
		t.Fatalf("high's Preempt %v, want [normal scavenger]", q.Preempt)
	}
	if q := st.QOS("scavenger"); q.PreemptMode != api.PreemptRequeue || q.GraceTime != 30 || q.PreemptExemptTime == nil || *q.PreemptExemptTime != 600 {
		t.Fatalf("scavenger %+v, want REQUEUE, GraceTime 30, PreemptExemptTime 600", q)
	}
	before := h.fsm.State().Accounts()
	for _, c := range []struct {
		what  string
		op    raftfsm.Op
		q     api.QOS
		words string
	}{
		{"preempt itself", raftfsm.OpAcctModify, api.QOS{Name: "high", Preempt: []string{"high"}}, "QOS Preemption loop detected: qos high may not preempt itself"},
		{"a loop of two", raftfsm.OpAcctModify, api.QOS{Name: "scavenger", PreemptMode: api.PreemptRequeue, Preempt: []string{"high"}},
			"QOS Preemption loop detected: qos high preempts scavenger preempts high"},
		{"an unknown qos", raftfsm.OpAcctModify, api.QOS{Name: "high", Preempt: []string{"gold"}}, "qos high: Preempt names qos gold, which does not exist"},
		{"an unknown qos, added", raftfsm.OpAcctAdd, api.QOS{Name: "gold", Preempt: []string{"silver"}}, "qos gold: Preempt names qos silver, which does not exist"},
		{"SUSPEND", raftfsm.OpAcctModify, api.QOS{Name: "normal", PreemptMode: "SUSPEND"}, `PreemptMode "SUSPEND": give CANCEL, REQUEUE, or OFF`},
		{"a grace time over an hour", raftfsm.OpAcctModify, api.QOS{Name: "normal", GraceTime: 3601}, "GraceTime=3601: give 0 to 3600 seconds"},
		{"a negative exempt time", raftfsm.OpAcctModify, api.QOS{Name: "normal", PreemptExemptTime: ptr(-5)}, "PreemptExemptTime=-5 must not be negative"},
	} {
		res := acctChange(h, c.op, api.AccountsChange{QOS: []api.QOS{c.q}})
		wantRefused(t, c.what, res, api.CodeInvalid, c.words)
		if after := h.fsm.State().Accounts(); !reflect.DeepEqual(after, before) {
			t.Fatalf("%s: the refused change altered the registry:\n%+v\nwant\n%+v", c.what, after, before)
		}
	}

	// The settings survive a snapshot and restore.
	r := restored(t, snapshotBytes(t, h.fsm), 1)
	if got, want := r.State().Accounts().QOS, before.QOS; !reflect.DeepEqual(got, want) {
		t.Fatalf("QOS after restore %+v, want %+v", got, want)
	}

	h.mustOK("delete scavenger", acctChange(h, raftfsm.OpAcctDelete, api.AccountsChange{QOS: []api.QOS{{Name: "scavenger"}}}))
	if q := h.fsm.State().QOS("high"); !reflect.DeepEqual(q.Preempt, []string{"normal"}) {
		t.Fatalf("high's Preempt after scavenger's delete %v, want [normal]", q.Preempt)
	}
}
