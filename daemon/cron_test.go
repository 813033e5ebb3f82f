package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// fakeClock is a Clock that moves only when the test says. armed gets the
// deadline of every timer made: the loop makes one each time it has done
// what was due and goes to sleep, so a test waits on it, not on time.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	armed  chan time.Time
}

type fakeTimer struct {
	c     chan time.Time
	at    time.Time
	clock *fakeClock
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, armed: make(chan time.Time, 1024)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{c: make(chan time.Time, 1), at: f.now.Add(d), clock: f}
	if d <= 0 {
		t.c <- f.now
	} else {
		f.timers = append(f.timers, t)
	}
	f.armed <- t.at
	return t
}

// Advance moves the clock to to and fires the timers that are due.
func (f *fakeClock) Advance(to time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = to
	kept := f.timers[:0]
	for _, t := range f.timers {
		if t.at.After(to) {
			kept = append(kept, t)
			continue
		}
		t.c <- to
	}
	f.timers = kept
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	f := t.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, o := range f.timers {
		if o == t {
			f.timers = slices.Delete(f.timers, i, i+1)
			return true
		}
	}
	return false
}

// waitArmed waits until the cron loop sleeps until at: it has fired
// everything due before.
func (f *fakeClock) waitArmed(t *testing.T, at time.Time) {
	t.Helper()
	deadline := time.NewTimer(60 * time.Second) // a loaded CI machine
	defer deadline.Stop()
	var seen []string
	for {
		select {
		case got := <-f.armed:
			if got.Equal(at) {
				return
			}
			seen = append(seen, got.UTC().Format(time.RFC3339))
		case <-deadline.C:
			t.Fatalf("the cron loop did not go to sleep until %s within 60s (it slept until %v)", at.UTC().Format(time.RFC3339), seen)
		}
	}
}

// fireSlots lets the loop reach each slot in turn: it waits until the
// loop sleeps until the slot, then moves the clock there.
func (f *fakeClock) fireSlots(t *testing.T, slots ...time.Time) {
	t.Helper()
	for _, slot := range slots {
		f.waitArmed(t, slot)
		f.Advance(slot)
	}
}

func startCron(t *testing.T, clock CronClock) *Controller {
	t.Helper()
	return startCronWith(t, Config{CronClock: clock})
}

// startCronWith starts a controller with cfg's options (paths and log
// filled in) and a registered node.
func startCronWith(t *testing.T, cfg Config) *Controller {
	t.Helper()
	dir := t.TempDir()
	cfg.DataDir, cfg.Socket = filepath.Join(dir, "data"), filepath.Join(dir, "shoal.sock")
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.mustRegisterTestNode(t)
	return c
}

var root = caller{known: true, operator: true, node: true}

func (c *Controller) mustCron(t *testing.T, spec api.CronSpec) {
	t.Helper()
	if spec.Job.Command == nil {
		spec.Job.Command = []string{"/bin/true"}
	}
	if _, err := c.cronPut(context.Background(), root, api.CronPutRequest{Spec: spec}); err != nil {
		t.Fatalf("create cron schedule %s: %v", spec.Name, err)
	}
}

func (c *Controller) firings(t *testing.T, name string) []api.CronFiring {
	t.Helper()
	resp, err := c.cronList(context.Background(), root, api.CronListRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Schedules[0].Firings
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestCronLoopFiresOncePerSlot: with an injected clock, the leader fires
// each slot once, at its time and not before, and sleeps between slots.
func TestCronLoopFiresOncePerSlot(t *testing.T) {
	clock := newFakeClock(at("2026-12-04T10:00:30Z"))
	c := startCron(t, clock)
	c.mustCron(t, api.CronSpec{Name: "five", Schedule: "*/5 * * * *", Overlap: api.OverlapAllow})
	clock.waitArmed(t, at("2026-12-04T10:05:00Z"))
	if f := c.firings(t, "five"); len(f) != 0 {
		t.Fatalf("before the first slot: firings %+v, want none", f)
	}
	clock.Advance(at("2026-12-04T10:04:59Z")) // not yet
	clock.Advance(at("2026-12-04T10:05:00Z"))
	clock.waitArmed(t, at("2026-12-04T10:10:00Z"))
	f := c.firings(t, "five")
	if len(f) != 1 || f[0].Slot != at("2026-12-04T10:05:00Z").UnixMilli() || f[0].JobID == 0 || f[0].Missed != 0 {
		t.Fatalf("after the first slot: firings %+v, want one job at 10:05", f)
	}
	j := c.fsm.State().Job(f[0].JobID)
	if j == nil || j.User != "root" || j.Name != "five" || strings.Join(j.Command, " ") != "/bin/true" {
		t.Fatalf("fired job %+v, want root's job five running /bin/true", j)
	}
	// A change of the schedules wakes the loop: it fires nothing new.
	c.mustCron(t, api.CronSpec{Name: "other", Schedule: "0 0 1 1 *"})
	clock.waitArmed(t, at("2026-12-04T10:10:00Z"))
	clock.Advance(at("2026-12-04T10:10:20Z"))
	clock.waitArmed(t, at("2026-12-04T10:15:00Z"))
	clock.Advance(at("2026-12-04T10:15:00Z"))
	clock.waitArmed(t, at("2026-12-04T10:20:00Z"))
	f = c.firings(t, "five")
	var slots []string
	ids := map[uint64]bool{}
	for _, x := range f {
		slots = append(slots, time.UnixMilli(x.Slot).UTC().Format("15:04"))
		ids[x.JobID] = true
	}
	if strings.Join(slots, " ") != "10:05 10:10 10:15" || len(ids) != 3 {
		t.Fatalf("firings at %v with %d distinct jobs, want 10:05 10:10 10:15, three jobs", slots, len(ids))
	}
	for id := range ids {
		if j := c.fsm.State().Job(id); j == nil || j.State.Terminal() {
			t.Errorf("fired job %d: %+v, want it queued or placed", id, j)
		}
	}
}

// TestCronLoopOverlapAndMissed: overlap skip skips a slot while the
// earlier run waits; after a jump of an hour (a controller that was down)
// run-once fires one job for the missed slots and skip fires none.
func TestCronLoopOverlapAndMissed(t *testing.T) {
	clock := newFakeClock(at("2026-12-04T10:00:30Z"))
	c := startCron(t, clock)
	// The node has no daemon: fired jobs never end, so an earlier run is
	// always active.
	c.mustCron(t, api.CronSpec{Name: "skip", Schedule: "* * * * *"})
	c.mustCron(t, api.CronSpec{Name: "once", Schedule: "*/10 * * * *", Overlap: api.OverlapAllow, Missed: api.MissedRunOnce})
	c.mustCron(t, api.CronSpec{Name: "none", Schedule: "*/10 * * * *", Overlap: api.OverlapAllow, Missed: api.MissedSkip})
	clock.fireSlots(t, at("2026-12-04T10:01:00Z"), at("2026-12-04T10:02:00Z"))
	clock.waitArmed(t, at("2026-12-04T10:03:00Z"))
	f := c.firings(t, "skip")
	if len(f) != 2 || f[0].JobID == 0 || f[1].JobID != 0 || !strings.Contains(f[1].Skipped, "overlap skip") {
		t.Fatalf("overlap skip: firings %+v, want a job at 10:01 and 10:02 skipped for it", f)
	}

	// An hour passes with no loop to see it: slots 10:10 .. 11:00 of the
	// ten-minute schedules are due at once.
	clock.Advance(at("2026-12-04T11:05:00Z"))
	clock.waitArmed(t, at("2026-12-04T11:06:00Z"))
	once, none := c.firings(t, "once"), c.firings(t, "none")
	if len(once) != 1 || once[0].JobID == 0 || once[0].Missed != 5 || once[0].Slot != at("2026-12-04T11:00:00Z").UnixMilli() {
		t.Errorf("missed run-once: firings %+v, want one job for slot 11:00 with 5 missed before it", once)
	}
	if len(none) != 1 || none[0].JobID != 0 || none[0].Missed != 5 || !strings.Contains(none[0].Skipped, "missed") {
		t.Errorf("missed skip: firings %+v, want slot 11:00 skipped with 5 missed before it", none)
	}
}

// A firing is a submit: past MaxJobCount it records why, and no job.
func TestCronFiringMaxJobCount(t *testing.T) {
	clock := newFakeClock(at("2026-12-04T10:00:30Z"))
	c := startCronWith(t, Config{CronClock: clock, MaxJobCount: 1})
	c.mustCron(t, api.CronSpec{Name: "every", Schedule: "* * * * *", Overlap: api.OverlapAllow})
	clock.fireSlots(t, at("2026-12-04T10:01:00Z"), at("2026-12-04T10:02:00Z"))
	clock.waitArmed(t, at("2026-12-04T10:03:00Z"))
	f := c.firings(t, "every")
	if len(f) != 2 || f[0].JobID == 0 || f[1].JobID != 0 || !strings.Contains(f[1].Error, "MaxJobCount of 1") {
		t.Fatalf("firings %+v, want a job at 10:01 and 10:02 refused for MaxJobCount", f)
	}
}

// TestCronRefusals: bad input is refused with what would be right, and
// users touch only their own schedules.
func TestCronRefusals(t *testing.T) {
	c := startCron(t, newFakeClock(at("2026-12-04T10:00:30Z")))
	ctx := context.Background()
	alice := caller{uid: 4242, gid: 4242, known: true}
	ok := api.CronSpec{Name: "ok", Schedule: "0 3 * * *", Job: api.SubmitJobRequest{JobSpec: api.JobSpec{Command: []string{"date"}}}}
	for _, tc := range []struct {
		mod   func(*api.CronSpec)
		field string
		words string
	}{
		{func(s *api.CronSpec) { s.Schedule = "0 25 * * *" }, "schedule", "25 is out of range"},
		{func(s *api.CronSpec) { s.Timezone = "Asia/Tokio" }, "timezone", "not a known IANA zone"},
		{func(s *api.CronSpec) { s.Overlap = "queue" }, "overlap", "use skip"},
		{func(s *api.CronSpec) { s.Missed = "all" }, "missed", "use run-once"},
		{func(s *api.CronSpec) { s.Name = "a b" }, "name", "letters, digits"},
		{func(s *api.CronSpec) { s.Job.Command = nil }, "", "has no command"},
		{func(s *api.CronSpec) { s.Job.Queue = "nope" }, "queue", "does not exist"},
		{func(s *api.CronSpec) { s.Definition = "nodef" }, "", "nodef"},
	} {
		spec := ok
		tc.mod(&spec)
		_, err := c.cronPut(ctx, alice, api.CronPutRequest{Spec: spec})
		var e *api.Error
		if err == nil || !strings.Contains(err.Error(), tc.words) {
			t.Errorf("spec %+v: %v, want an error with %q", spec, err, tc.words)
		} else if tc.field != "" && (!errors.As(err, &e) || e.Field != tc.field) {
			t.Errorf("spec %+v: error field %q, want %q", spec, e.Field, tc.field)
		}
	}
	if _, err := c.cronPut(ctx, alice, api.CronPutRequest{Spec: ok}); err != nil {
		t.Fatalf("create: %v", err)
	}
	bob := caller{uid: 4243, gid: 4243, known: true}
	if resp, err := c.cronList(ctx, bob, api.CronListRequest{}); err != nil || len(resp.Schedules) != 0 {
		t.Errorf("bob's list: %+v %v, want none of alice's", resp.Schedules, err)
	}
	if _, err := c.cronList(ctx, bob, api.CronListRequest{User: "4242"}); !api.IsCode(err, api.CodeForbidden) {
		t.Errorf("bob lists alice's: %v, want forbidden", err)
	}
	if _, err := c.cronDelete(ctx, bob, api.CronNameRequest{Name: "ok"}); !api.IsCode(err, api.CodeNotFound) {
		t.Errorf("bob deletes 'ok' (his own namespace): %v, want not found", err)
	}
	if _, err := c.cronPause(ctx, bob, api.CronPauseRequest{Name: "ok", User: "4242", Paused: true}); !api.IsCode(err, api.CodeForbidden) {
		t.Errorf("bob pauses alice's: %v, want forbidden", err)
	}
	if resp, err := c.cronList(ctx, root, api.CronListRequest{}); err != nil || len(resp.Schedules) != 1 || resp.Schedules[0].NextRun != at("2026-12-05T03:00:00Z").UnixMilli() {
		t.Errorf("root's list: %+v %v, want alice's with its next run 2026-12-05 03:00Z", resp.Schedules, err)
	}
	if _, err := c.cronDelete(ctx, root, api.CronNameRequest{Name: "ok", User: "4242"}); err != nil {
		t.Errorf("root deletes alice's: %v", err)
	}
}

// TestCronDefinitionAndErrorStatus: a schedule from a job definition
// resolves it at each firing (parameters substituted); once the definition
// is gone, the slot records the error in the schedule's status (and does
// not retry it), and the next good firing clears it.
func TestCronDefinitionAndErrorStatus(t *testing.T) {
	clock := newFakeClock(at("2026-12-04T10:00:30Z"))
	c := startCron(t, clock)
	ctx := context.Background()
	def := api.JobDefinition{Name: "greet", Type: "script", Parameters: map[string]string{"who": "nobody"},
		ContainerProperties: &api.ContainerProperties{Command: []string{"echo", "Ref::who"}}}
	if _, err := c.registerJobDef(ctx, root, api.AWSRegisterJobDefinitionRequest{JobDefinition: def}); err != nil {
		t.Fatalf("register definition: %v", err)
	}
	spec := api.CronSpec{Name: "greeter", Schedule: "* * * * *", Overlap: api.OverlapAllow, Definition: "greet", Parameters: map[string]string{"who": "world"}}
	if _, err := c.cronPut(ctx, root, api.CronPutRequest{Spec: spec}); err != nil {
		t.Fatalf("create: %v", err)
	}
	clock.waitArmed(t, at("2026-12-04T10:01:00Z"))
	clock.Advance(at("2026-12-04T10:01:00Z"))
	clock.waitArmed(t, at("2026-12-04T10:02:00Z"))
	f := c.firings(t, "greeter")
	j := c.fsm.State().Job(f[0].JobID)
	if j == nil || strings.Join(j.Command, " ") != "echo world" || j.JobDefinition != "greet:1" {
		t.Fatalf("job of the first slot: %+v, want echo world from greet:1", j)
	}
	if _, err := c.deregisterJobDef(ctx, root, api.AWSDeregisterJobDefinitionRequest{JobDefinition: "greet:1"}); err != nil {
		t.Fatalf("deregister: %v", err)
	}
	clock.Advance(at("2026-12-04T10:02:00Z"))
	clock.waitArmed(t, at("2026-12-04T10:03:00Z"))
	resp, err := c.cronList(ctx, root, api.CronListRequest{Name: "greeter"})
	if err != nil {
		t.Fatal(err)
	}
	s := resp.Schedules[0]
	last := s.Firings[len(s.Firings)-1]
	if s.Error == "" || last.Error == "" || last.JobID != 0 || last.Slot != at("2026-12-04T10:02:00Z").UnixMilli() || !strings.Contains(s.Error, "greet") {
		t.Fatalf("after the definition went: error %q, last firing %+v; want the slot recorded with an error naming greet", s.Error, last)
	}
	if _, err := c.registerJobDef(ctx, root, api.AWSRegisterJobDefinitionRequest{JobDefinition: def}); err != nil {
		t.Fatalf("register again: %v", err)
	}
	clock.Advance(at("2026-12-04T10:03:00Z"))
	clock.waitArmed(t, at("2026-12-04T10:04:00Z"))
	resp, _ = c.cronList(ctx, root, api.CronListRequest{Name: "greeter"})
	if s := resp.Schedules[0]; s.Error != "" || s.Firings[len(s.Firings)-1].JobID == 0 {
		t.Errorf("after the definition is back: error %q, last firing %+v; want a job and no error", s.Error, s.Firings[len(s.Firings)-1])
	}
}

// A user's schedules are bounded, named and crontab lines together, in
// number and in what their jobs hold: every controller keeps them.
func TestCronBudget(t *testing.T) {
	c := startCron(t, newFakeClock(at("2026-12-04T10:00:30Z")))
	alice := caller{uid: 4201, gid: 4201, known: true}
	big := strings.Repeat("#", 3<<20) // 3 MiB: five pass the 16 MiB
	put := func(name string, update ...bool) error {
		_, err := c.cronPut(context.Background(), alice, api.CronPutRequest{Update: len(update) > 0, Spec: api.CronSpec{Name: name, Schedule: "0 0 1 1 *",
			Job: api.SubmitJobRequest{JobSpec: api.JobSpec{Script: "#!/bin/sh\n" + big}}}})
		return err
	}
	for i := range 5 {
		if err := put(fmt.Sprintf("s%d", i)); err != nil {
			t.Fatalf("schedule %d of 3 MiB: %v", i, err)
		}
	}
	if err := put("s0", true); err != nil { // an update does not add
		t.Errorf("update s0: %v", err)
	}
	err := put("s5")
	if !api.IsCode(err, api.CodeInvalid) || !strings.Contains(err.Error(), "would have 6 cron schedules") {
		t.Errorf("a sixth schedule of 3 MiB: %v, want it refused", err)
	}
	if n := len(c.fsm.State().CronSchedules(alice.uid, false)); n != 5 {
		t.Errorf("alice has %d schedules after the refusal, want 5", n)
	}
}
