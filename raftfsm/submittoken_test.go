package raftfsm_test

import (
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// submitOnce applies a tokened submit of jobs by uid at now.
func (h *harness) submitOnce(now int64, uid uint32, token, hash string, jobs ...api.Job) raftfsm.Result {
	h.t.Helper()
	return h.apply(raftfsm.OpSubmitOnce, raftfsm.SubmitOnceCmd{Submit: raftfsm.SubmitCmd{Jobs: jobs, Now: now},
		UID: uid, Token: token, Hash: hash})
}

// A submit sent again with its token is answered with the first one's
// ids and stores nothing; the same token with another request is
// refused; another user's same token is another request; a batch's
// ids come back whole; replicas replaying the log and a restored
// snapshot agree.
func TestSubmitOnceToken(t *testing.T) {
	h := newHarness(t)
	first := h.mustOK("first", h.submitOnce(100, 1000, "tok-1", "h1", newJob("a")))
	if first.Repeated || len(first.IDs) != 1 {
		t.Fatalf("first submit: %+v, want one new job", first)
	}
	again := h.mustOK("again", h.submitOnce(200, 1000, "tok-1", "h1", newJob("a")))
	if !again.Repeated || !equalIDs(again.IDs, first.IDs) {
		t.Fatalf("submit sent again: %+v, want Repeated with ids %v", again, first.IDs)
	}
	if n := jobCount(h.fsm); n != 1 {
		t.Fatalf("%d jobs stored, want 1", n)
	}
	// Both in one entry (a batch, as the applier makes): still one job.
	rs := h.batch(encode(t, raftfsm.OpSubmitOnce, raftfsm.SubmitOnceCmd{Submit: raftfsm.SubmitCmd{Jobs: []api.Job{newJob("b"), newJob("c")}, Now: 300}, UID: 1000, Token: "tok-2", Hash: "h2"}),
		encode(t, raftfsm.OpSubmitOnce, raftfsm.SubmitOnceCmd{Submit: raftfsm.SubmitCmd{Jobs: []api.Job{newJob("b"), newJob("c")}, Now: 300}, UID: 1000, Token: "tok-2", Hash: "h2"}))
	if rs[0].Err != nil || rs[1].Err != nil || !rs[1].Repeated || !equalIDs(rs[0].IDs, rs[1].IDs) || len(rs[0].IDs) != 2 {
		t.Fatalf("one batch, the same token twice: %+v", rs)
	}
	if res := h.submitOnce(400, 1000, "tok-1", "other", newJob("x")); !api.IsCode(res.Error(), api.CodeConflict) {
		t.Fatalf("the token with another request: %+v, want a conflict", res)
	}
	other := h.mustOK("other user", h.submitOnce(500, 1001, "tok-1", "h1", newJob("a")))
	if other.Repeated || equalIDs(other.IDs, first.IDs) {
		t.Fatalf("another user's same token: %+v, want a job of its own", other)
	}
	if res := h.submitOnce(600, 1000, "bad token", "h", newJob("x")); !api.IsCode(res.Error(), api.CodeInvalid) {
		t.Fatalf("a token with a space: %+v, want a refusal", res)
	}
	if n := jobCount(h.fsm); n != 4 {
		t.Fatalf("%d jobs stored, want 4", n)
	}
	ids, ok, err := h.fsm.State().SubmitToken(1000, "tok-2", "h2")
	if err != nil || !ok || !equalIDs(ids, rs[0].IDs) {
		t.Fatalf("State.SubmitToken: %v %v %v, want %v", ids, ok, err, rs[0].IDs)
	}

	// A replica replaying the log, and one restored from a snapshot, answer alike.
	replica := &harness{t: t, fsm: raftfsm.New()}
	for _, e := range h.log {
		replica.applyEntry(e)
	}
	wantSameState(t, replica.fsm, h.fsm)
	r := &harness{t: t, fsm: restored(t, snapshotBytes(t, h.fsm), h.idx), idx: h.idx}
	for _, f := range []*harness{h, replica, r} {
		res := f.mustOK("again after replay", f.submitOnce(700, 1000, "tok-1", "h1", newJob("a")))
		if !res.Repeated || !equalIDs(res.IDs, first.IDs) {
			t.Fatalf("after replay or restore: %+v, want Repeated %v", res, first.IDs)
		}
	}
}

// Tokens are kept for SubmitTokenTTL by the commands' times, and only the
// newest MaxSubmitTokens: an older one stores a new job.
func TestSubmitOnceTokensBounded(t *testing.T) {
	h := newHarness(t)
	old := raftfsm.MaxSubmitTokens
	raftfsm.MaxSubmitTokens = 3
	defer func() { raftfsm.MaxSubmitTokens = old }()

	first := h.mustOK("t0", h.submitOnce(1000, 1000, "t0", "h", newJob("a")))
	later := int64(1000) + raftfsm.SubmitTokenTTL
	if res := h.mustOK("t0 at the TTL", h.submitOnce(later, 1000, "t0", "h", newJob("a"))); !res.Repeated {
		t.Fatalf("at exactly the TTL: %+v, want the first ids", res)
	}
	if res := h.mustOK("t0 past the TTL", h.submitOnce(later+1, 1000, "t0", "h", newJob("a"))); res.Repeated || equalIDs(res.IDs, first.IDs) {
		t.Fatalf("past the TTL: %+v, want a new job", res)
	}
	for _, tok := range []string{"t1", "t2", "t3"} {
		h.mustOK(tok, h.submitOnce(later+2, 1000, tok, "h", newJob(tok)))
	}
	// t0 (again) was the fourth newest: dropped; t1 is kept.
	if res := h.mustOK("t1", h.submitOnce(later+3, 1000, "t1", "h", newJob("t1"))); !res.Repeated {
		t.Fatalf("t1: %+v, want kept", res)
	}
	if _, ok, _ := h.fsm.State().SubmitToken(1000, "t0", "h"); ok {
		t.Fatalf("t0 kept beyond the newest %d tokens", raftfsm.MaxSubmitTokens)
	}
}
