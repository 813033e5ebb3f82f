package daemon

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// fakeUsers is a name service for the owner cache (its resolve): the
// users it holds, and for any other uid what resolveOwner answers for a
// uid without a passwd entry.
type fakeUsers struct {
	mu    sync.Mutex
	users map[uint32]owner
}

func (f *fakeUsers) resolve(_ context.Context, who caller) (owner, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if o, ok := f.users[who.uid]; ok {
		return o, nil
	}
	return owner{name: strconv.FormatUint(uint64(who.uid), 10), uid: who.uid, gid: who.gid}, nil
}

func (f *fakeUsers) set(uid uint32, o *owner) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if o == nil {
		delete(f.users, uid)
	} else {
		f.users[uid] = *o
	}
}

// forgetOwners empties the owner cache, as ownerMaxAge passing does.
func (c *Controller) forgetOwners() {
	c.owners.mu.Lock()
	c.owners.byUID = nil
	c.owners.mu.Unlock()
}

// TestCronFiringResolvesOwner: each firing resolves its owner from the
// uid as a submit does: a group the user left is not the job's; once the
// user is deleted, or the uid is another user's, the firing records why
// and submits nothing. (The users are the test's name service's, not
// the host's: the host knows neither shoalcarol nor shoaldave.)
func TestCronFiringResolvesOwner(t *testing.T) {
	clock := newFakeClock(at("2026-12-04T10:00:30Z"))
	c := startCron(t, clock)
	carol := owner{name: "shoalcarol", uid: 4310, gid: 4310, groups: []uint32{100, 200}}
	users := &fakeUsers{users: map[uint32]owner{0: {name: "root"}, carol.uid: carol}}
	c.owners.resolve = users.resolve // before any lookup: the loop reads it after the put below
	c.forgetOwners()
	spec := api.CronSpec{Name: "g", Schedule: "* * * * *", Overlap: api.OverlapAllow,
		Job: api.SubmitJobRequest{JobSpec: api.JobSpec{Command: []string{"/bin/true"}}}}
	if _, err := c.cronPut(context.Background(), caller{uid: carol.uid, gid: carol.gid, known: true}, api.CronPutRequest{Spec: spec}); err != nil {
		t.Fatalf("carol's schedule: %v", err)
	}
	last := func(next string) api.CronFiring {
		t.Helper()
		clock.waitArmed(t, at(next))
		f := c.firings(t, "g")
		return f[len(f)-1]
	}
	clock.fireSlots(t, at("2026-12-04T10:01:00Z"))
	f := last("2026-12-04T10:02:00Z")
	if j := c.fsm.State().Job(f.JobID); j == nil || j.User != "shoalcarol" || !slices.Equal(j.Groups, []uint32{100, 200}) {
		t.Fatalf("first firing %+v: job %+v, want carol's in groups 100 and 200", f, j)
	}

	// carol leaves group 200: the next firing (the cache expired) is not in it.
	carol.groups = []uint32{100}
	users.set(carol.uid, &carol)
	c.forgetOwners()
	clock.Advance(at("2026-12-04T10:02:00Z"))
	f = last("2026-12-04T10:03:00Z")
	if j := c.fsm.State().Job(f.JobID); j == nil || j.User != "shoalcarol" || !slices.Equal(j.Groups, []uint32{100}) {
		t.Fatalf("firing after carol left group 200: %+v, job %+v; want her job in group 100 alone", f, j)
	}

	// carol is deleted: the slot records why, and no job.
	users.set(carol.uid, nil)
	c.forgetOwners()
	next := c.fsm.State().NextJobID()
	clock.Advance(at("2026-12-04T10:03:00Z"))
	f = last("2026-12-04T10:04:00Z")
	if f.JobID != 0 || f.Slot != at("2026-12-04T10:03:00Z").UnixMilli() || !strings.Contains(f.Error, "shoalcarol (uid 4310)") || !strings.Contains(f.Error, "no longer exists") {
		t.Fatalf("firing after carol was deleted: %+v, want no job and an error saying she no longer exists", f)
	}
	if got := c.fsm.State().NextJobID(); got != next {
		t.Errorf("a job was stored for a deleted owner: next job id %d, was %d", got, next)
	}
	resp, err := c.cronList(context.Background(), root, api.CronListRequest{Name: "g"})
	if err != nil || !strings.Contains(resp.Schedules[0].Error, "no longer exists") {
		t.Errorf("the schedule's status: %+v %v, want the error", resp.Schedules, err)
	}

	// Her uid is given to dave: the schedule is not his.
	users.set(carol.uid, &owner{name: "shoaldave", uid: carol.uid, gid: carol.gid})
	c.forgetOwners()
	clock.Advance(at("2026-12-04T10:04:00Z"))
	f = last("2026-12-04T10:05:00Z")
	if f.JobID != 0 || !strings.Contains(f.Error, "is now user shoaldave") {
		t.Fatalf("firing after uid 4310 became dave's: %+v, want no job and an error naming dave", f)
	}
}
