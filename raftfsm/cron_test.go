package raftfsm_test

import (
	"reflect"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// cronSchedule is alice's schedule "nightly" with overlap o.
func cronSchedule(o api.CronOverlap) api.CronSchedule {
	return api.CronSchedule{
		CronSpec: api.CronSpec{Name: "nightly", Schedule: "0 3 * * *", Overlap: o, Missed: api.MissedRunOnce},
		User:     "alice", UID: 1000, GID: 1000,
	}
}

func (h *harness) fire(slot, now int64) raftfsm.Result {
	h.t.Helper()
	j := newJob("nightly")
	return h.apply(raftfsm.OpCronFire, raftfsm.CronFireCmd{UID: 1000, Name: "nightly", Slot: slot, Now: now, Job: &j})
}

func (h *harness) schedule() *api.CronSchedule {
	h.t.Helper()
	s := h.fsm.State().CronSchedule(1000, "nightly")
	if s == nil {
		h.t.Fatal("schedule nightly is gone")
	}
	return s
}

// run drives a fired job to st (RUNNING or SUCCEEDED) on the drive node.
func (h *harness) run(id uint64, st api.JobState, now int64) {
	h.t.Helper()
	if h.driveNode == "" {
		h.jobIn(api.StateRunning, now) // registers the drive node
	}
	if got := h.place(now, raftfsm.Placement{JobID: id, Node: h.driveNode}); got != 1 {
		h.t.Fatalf("place job %d: placed %d, want 1", id, got)
	}
	h.events(now, api.JobEvent{ID: id, Node: h.driveNode, State: api.StateRunning})
	if st == api.StateSucceeded {
		h.events(now, api.JobEvent{ID: id, Node: h.driveNode, State: api.StateSucceeded, ExitCode: intp(0)})
	}
}

// TestCronFireOncePerSlot: a slot fires once, records its job, and is
// refused again (a retried proposal, a new leader), as is any slot at or
// before it; the job is an ordinary job of the schedule's owner.
func TestCronFireOncePerSlot(t *testing.T) {
	h := newHarness(t)
	h.mustOK("create", h.apply(raftfsm.OpCronPut, raftfsm.CronPutCmd{Schedule: cronSchedule(api.OverlapAllow), Create: true, CallerUID: 1000, Now: 100}))
	wantErr(t, "create again", h.apply(raftfsm.OpCronPut, raftfsm.CronPutCmd{Schedule: cronSchedule(api.OverlapAllow), Create: true, CallerUID: 1000, Now: 101}),
		api.CodeConflict, "already exists")
	wantErr(t, "slot before the start", h.fire(100, 150), api.CodeConflict, "not after the schedule's start")

	res := h.mustOK("fire 1000", h.fire(1000, 1001))
	if len(res.IDs) != 1 {
		t.Fatalf("fire: ids %v, want one job", res.IDs)
	}
	j := h.wantJob(res.IDs[0], api.StateRunnable, "")
	if j.User != "alice" || j.UID != 1000 || j.CreatedAt != 1001 {
		t.Errorf("fired job: user %s uid %d created %d, want alice 1000 1001", j.User, j.UID, j.CreatedAt)
	}
	before := jobCount(h.fsm)
	wantErr(t, "the same slot again", h.fire(1000, 1002), api.CodeConflict, "has fired already")
	wantErr(t, "an earlier slot", h.fire(900, 1003), api.CodeConflict, "has fired already")
	if n := jobCount(h.fsm); n != before {
		t.Errorf("refused firings stored jobs: %d jobs, want %d", n, before)
	}
	h.mustOK("fire 2000", h.fire(2000, 2001))
	s := h.schedule()
	if s.LastSlot != 2000 || len(s.Firings) != 2 || s.Firings[0].JobID != res.IDs[0] || s.Firings[1].Slot != 2000 {
		t.Errorf("schedule after two slots: last %d firings %+v", s.LastSlot, s.Firings)
	}
	// The record keeps the latest MaxCronFirings.
	for i := range api.MaxCronFirings + 3 {
		h.mustOK("fire", h.fire(int64(3000+i), int64(3000+i)))
	}
	if s := h.schedule(); len(s.Firings) != api.MaxCronFirings || s.Firings[len(s.Firings)-1].Slot != int64(3000+api.MaxCronFirings+2) {
		t.Errorf("after %d more slots: %d firings kept, last slot %d", api.MaxCronFirings+3, len(s.Firings), s.Firings[len(s.Firings)-1].Slot)
	}
	// Check (what the leader runs before it proposes) agrees.
	j2 := newJob("nightly")
	if r := h.fsm.Check(raftfsm.OpCronFire, raftfsm.CronFireCmd{UID: 1000, Name: "nightly", Slot: 2000, Now: 1, Job: &j2}); r.Err == nil {
		t.Error("Check of an old slot: success, want refused")
	}
}

// TestCronOverlap: skip, allow and replace, while the previous run is
// active and once it has ended.
func TestCronOverlap(t *testing.T) {
	for _, tc := range []struct {
		overlap     api.CronOverlap
		prevRunning bool
		wantNew     bool
		wantPrev    api.JobState
	}{
		{api.OverlapSkip, true, false, api.StateRunning},
		{api.OverlapSkip, false, true, api.StateSucceeded},
		{"", true, false, api.StateRunning}, // skip is the default
		{api.OverlapAllow, true, true, api.StateRunning},
		{api.OverlapReplace, true, true, api.StateRunning}, // stop requested; its node ends it
		{api.OverlapReplace, false, true, api.StateSucceeded},
	} {
		h := newHarness(t)
		h.mustOK("create", h.apply(raftfsm.OpCronPut, raftfsm.CronPutCmd{Schedule: cronSchedule(tc.overlap), Create: true, CallerUID: 1000, Now: 100}))
		first := h.mustOK("fire", h.fire(1000, 1000)).IDs[0]
		if tc.prevRunning {
			h.run(first, api.StateRunning, 1100)
		} else {
			h.run(first, api.StateSucceeded, 1100)
		}
		res := h.mustOK("fire again", h.fire(2000, 2000))
		s := h.schedule()
		last := s.Firings[len(s.Firings)-1]
		if got := len(res.IDs) == 1; got != tc.wantNew {
			t.Errorf("%q, previous running %v: new job %v (ids %v, firing %+v), want %v", tc.overlap, tc.prevRunning, got, res.IDs, last, tc.wantNew)
		}
		if s.LastSlot != 2000 {
			t.Errorf("%q: last slot %d, want 2000 (a skipped slot counts as fired)", tc.overlap, s.LastSlot)
		}
		if !tc.wantNew && (last.Skipped == "" || last.JobID != 0) {
			t.Errorf("%q: firing %+v, want skipped with a reason", tc.overlap, last)
		}
		prev := h.job(first)
		if prev.State != tc.wantPrev {
			t.Errorf("%q: previous job %s, want %s", tc.overlap, prev.State, tc.wantPrev)
		}
		replaced := tc.overlap == api.OverlapReplace && tc.prevRunning
		if prev.StopRequested != replaced || (replaced && !reflect.DeepEqual(last.Replaced, []uint64{first})) {
			t.Errorf("%q: previous job stop requested %v (%q), firing replaced %v; want replaced %v", tc.overlap, prev.StopRequested, prev.StopReason, last.Replaced, replaced)
		}
	}
}

// TestCronReplaceCancelsQueued: replace cancels a previous run that has
// not started yet.
func TestCronReplaceCancelsQueued(t *testing.T) {
	h := newHarness(t)
	h.mustOK("create", h.apply(raftfsm.OpCronPut, raftfsm.CronPutCmd{Schedule: cronSchedule(api.OverlapReplace), Create: true, CallerUID: 1000, Now: 100}))
	first := h.mustOK("fire", h.fire(1000, 1000)).IDs[0]
	h.mustOK("fire again", h.fire(2000, 2000))
	if j := h.job(first); j.State != api.StateFailed || j.Cause != api.CauseCancelled || j.StatusReason != "Replaced by the next run of cron schedule nightly" {
		t.Errorf("replaced queued job: %s %s %q, want FAILED cancelled with the reason", j.State, j.Cause, j.StatusReason)
	}
}

// TestCronMissedAndErrors: a missed slot recorded as skipped (missed skip)
// or run once with the count, and an error the leader reports, all
// advance the last slot.
func TestCronMissedAndErrors(t *testing.T) {
	h := newHarness(t)
	h.mustOK("create", h.apply(raftfsm.OpCronPut, raftfsm.CronPutCmd{Schedule: cronSchedule(api.OverlapAllow), Create: true, CallerUID: 1000, Now: 100}))
	// Missed skip: the slot is recorded, no job.
	before := jobCount(h.fsm)
	h.mustOK("skip", h.apply(raftfsm.OpCronFire, raftfsm.CronFireCmd{UID: 1000, Name: "nightly", Slot: 1000, Now: 5000, Skip: "missed", Missed: 3}))
	// Missed run-once: one job for the latest slot.
	j := newJob("nightly")
	res := h.mustOK("run once", h.apply(raftfsm.OpCronFire, raftfsm.CronFireCmd{UID: 1000, Name: "nightly", Slot: 2000, Now: 5000, Job: &j, Missed: 2}))
	h.mustOK("error", h.apply(raftfsm.OpCronFire, raftfsm.CronFireCmd{UID: 1000, Name: "nightly", Slot: 3000, Now: 5000, Error: "job definition gone"}))
	s := h.schedule()
	if jobCount(h.fsm) != before+1 || len(res.IDs) != 1 {
		t.Errorf("jobs stored: %d new, want 1 (the run-once)", jobCount(h.fsm)-before)
	}
	want := []api.CronFiring{
		{Slot: 1000, At: 5000, Skipped: "missed", Missed: 3},
		{Slot: 2000, At: 5000, JobID: res.IDs[0], Missed: 2},
		{Slot: 3000, At: 5000, Error: "job definition gone"},
	}
	if !reflect.DeepEqual(s.Firings, want) || s.LastSlot != 3000 || s.Error != "job definition gone" {
		t.Errorf("firings %+v last %d error %q,\nwant %+v last 3000 with the error", s.Firings, s.LastSlot, s.Error, want)
	}
	h.mustOK("fire", h.fire(4000, 5000))
	if s := h.schedule(); s.Error != "" {
		t.Errorf("error after a good firing: %q, want cleared", s.Error)
	}
}

// TestCronOwnership: other users cannot touch a schedule; root can; pause
// stops firing and resume fires only later slots.
func TestCronOwnership(t *testing.T) {
	h := newHarness(t)
	mallory := cronSchedule(api.OverlapAllow)
	wantErr(t, "create for another user", h.apply(raftfsm.OpCronPut, raftfsm.CronPutCmd{Schedule: mallory, Create: true, CallerUID: 1001, Now: 1}),
		api.CodeForbidden, "only its owner or root")
	h.mustOK("create", h.apply(raftfsm.OpCronPut, raftfsm.CronPutCmd{Schedule: cronSchedule(api.OverlapAllow), Create: true, CallerUID: 1000, Now: 100}))
	wantErr(t, "pause by another", h.apply(raftfsm.OpCronPause, raftfsm.CronPauseCmd{UID: 1000, Name: "nightly", Paused: true, CallerUID: 1001, Now: 200}),
		api.CodeForbidden, "belongs to alice")
	wantErr(t, "delete by another", h.apply(raftfsm.OpCronDelete, raftfsm.CronDeleteCmd{UID: 1000, Name: "nightly", CallerUID: 1001}), api.CodeForbidden)
	h.mustOK("pause by root", h.apply(raftfsm.OpCronPause, raftfsm.CronPauseCmd{UID: 1000, Name: "nightly", Paused: true, CallerUID: 0, Now: 200}))
	wantErr(t, "fire paused", h.fire(1000, 1000), api.CodeConflict, "paused")
	h.mustOK("resume", h.apply(raftfsm.OpCronPause, raftfsm.CronPauseCmd{UID: 1000, Name: "nightly", Paused: false, CallerUID: 1000, Now: 3000}))
	wantErr(t, "a slot of the pause", h.fire(2000, 3001), api.CodeConflict, "start")
	h.mustOK("fire after resume", h.fire(4000, 4000))
	h.mustOK("delete", h.apply(raftfsm.OpCronDelete, raftfsm.CronDeleteCmd{UID: 1000, Name: "nightly", CallerUID: 1000}))
	wantErr(t, "fire deleted", h.fire(5000, 5000), api.CodeNotFound)
}

// TestCrontab: installing replaces the previous crontab's schedules,
// removing drops them; schedules and the text survive a snapshot.
func TestCrontab(t *testing.T) {
	h := newHarness(t)
	line := func(n int, name string) api.CronSchedule {
		return api.CronSchedule{CronSpec: api.CronSpec{Name: name, Schedule: "@daily"}, User: "alice", UID: 1000, Crontab: true, Line: n}
	}
	h.mustOK("install", h.apply(raftfsm.OpCrontab, raftfsm.CrontabCmd{UID: 1000, User: "alice", Text: "@daily a\n@daily b\n",
		Schedules: []api.CronSchedule{line(1, "crontab-1"), line(2, "crontab-2")}, CallerUID: 1000, Now: 10}))
	wantErr(t, "install by another", h.apply(raftfsm.OpCrontab, raftfsm.CrontabCmd{UID: 1000, User: "alice", Text: "", CallerUID: 1001, Now: 11}), api.CodeForbidden)
	wantErr(t, "delete a crontab line", h.apply(raftfsm.OpCronDelete, raftfsm.CronDeleteCmd{UID: 1000, Name: "crontab-1", CallerUID: 1000}), api.CodeConflict, "scrontab -e")
	h.mustOK("own schedule", h.apply(raftfsm.OpCronPut, raftfsm.CronPutCmd{Schedule: cronSchedule(""), Create: true, CallerUID: 1000, Now: 12}))
	h.mustOK("reinstall", h.apply(raftfsm.OpCrontab, raftfsm.CrontabCmd{UID: 1000, User: "alice", Text: "@daily c\n",
		Schedules: []api.CronSchedule{line(1, "crontab-1")}, CallerUID: 1000, Now: 20}))
	st := h.fsm.State()
	if got := len(st.CronSchedules(1000, false)); got != 2 || st.Crontab(1000).Text != "@daily c\n" || st.CronSchedule(1000, "crontab-2") != nil {
		t.Errorf("after reinstall: %d schedules, text %q; want crontab-1 and nightly, and the new text", got, st.Crontab(1000).Text)
	}

	// A snapshot carries schedules and crontabs.
	rs := h.restored().State()
	if !reflect.DeepEqual(rs.CronSchedules(0, true), st.CronSchedules(0, true)) || !reflect.DeepEqual(rs.Crontab(1000), st.Crontab(1000)) {
		t.Errorf("restored cron state differs:\n got  %+v %+v\n want %+v %+v", rs.CronSchedules(0, true), rs.Crontab(1000), st.CronSchedules(0, true), st.Crontab(1000))
	}

	h.mustOK("remove", h.apply(raftfsm.OpCrontab, raftfsm.CrontabCmd{UID: 1000, User: "alice", CallerUID: 0, Now: 30}))
	st = h.fsm.State()
	if st.Crontab(1000) != nil || len(st.CronSchedules(1000, false)) != 1 {
		t.Errorf("after remove: crontab %+v, %d schedules; want none and nightly alone", st.Crontab(1000), len(st.CronSchedules(1000, false)))
	}
}
