package sched_test

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/sched"
)

// TestConservativeBackfill: node a (8 CPUs, 8 GiB) runs r (2 CPUs,
// 6 GiB) for 100 s more. Waiting, in priority order: j1 (2 CPUs, 6 GiB,
// 100 s) fits when r ends; j2 (the whole node's CPUs, 100 s) after j1;
// j3 (2 CPUs, 1 GiB, 1000 s) fits now and beside j1, but not beside j2.
// EASY reserves for j1 alone and starts j3, which pushes j2 back by
// 800 s; conservative reserves for j1 and j2 and holds j3 (Priority)
// behind them, with its own reservation after j2.
func TestConservativeBackfill(t *testing.T) {
	const s = int64(1000)
	snapshot := func() *fakeSnap {
		r := runningOn(100, "a", t0, 2, 6144, 100)
		return &fakeSnap{nodes: []*api.Node{nodeRunning(node("a", 8, 8192, 0), r)}, jobs: []*api.Job{r,
			limited(job(1, 0, 2, 6144, 0), 100), limited(job(2, 0, 8, 1024, 0), 100), limited(job(3, 0, 2, 1024, 0), 1000)}}
	}
	type want struct {
		placed   []uint64
		reserved map[uint64]int64 // job -> reserved start
		reason3  string
	}
	for _, tc := range []struct {
		name string
		opts sched.Options
		want want
	}{
		{"easy", sched.Options{}, want{placed: []uint64{3}, reserved: map[uint64]int64{1: t0 + 100*s}}},
		{"conservative", sched.Options{Conservative: true}, want{reserved: map[uint64]int64{1: t0 + 100*s, 2: t0 + 200*s, 3: t0 + 300*s},
			reason3: sched.ReasonPriority}},
		{"conservative, one reservation", sched.Options{Conservative: true, MaxReservations: 1},
			want{placed: []uint64{3}, reserved: map[uint64]int64{1: t0 + 100*s}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := snapshot()
			plan := sched.ScheduleWith(snap, t0, tc.opts)
			var placed []uint64
			for _, pl := range plan.Placements {
				placed = append(placed, pl.JobID)
			}
			if len(placed) != len(tc.want.placed) || (len(placed) > 0 && placed[0] != tc.want.placed[0]) {
				t.Errorf("placed %v, want %v", placed, tc.want.placed)
			}
			reserved := map[uint64]int64{}
			for _, w := range plan.Waits {
				if w.Reserved {
					reserved[w.JobID] = w.StartAt
				}
			}
			if len(reserved) != len(tc.want.reserved) {
				t.Errorf("reservations %v, want %v", reserved, tc.want.reserved)
			}
			for id, at := range tc.want.reserved {
				if reserved[id] != at {
					t.Errorf("job %d reserved at %+d s, want %+d s (reservations %v)", id, (reserved[id]-t0)/s, (at-t0)/s, reserved)
				}
			}
			if tc.want.reason3 != "" {
				if w, ok := waitOf(plan, 3); !ok || w.Reason != tc.want.reason3 {
					t.Errorf("job 3 waits with %+v, want reason %s", w, tc.want.reason3)
				}
			}
			wantNoReservationDelayed(t, snap, plan, tc.opts)
		})
	}
}

// wantNoReservationDelayed checks a plan against every node's capacity
// over time: the running jobs until their limits, the placements from
// now for theirs, and every reservation over its span never add up to
// more than the node has, at any moment one of them begins. So nothing
// placed delays a reservation, and the reservations hold together.
func wantNoReservationDelayed(t *testing.T, snap *fakeSnap, plan sched.Plan, opts sched.Options) {
	t.Helper()
	type span struct {
		from, to int64
		res      api.Resources
		what     string
	}
	limit := func(j *api.Job) int64 {
		if j.TimeLimit > 0 {
			return j.TimeLimit * 1000
		}
		return sched.DefaultTimeLimit * 1000
	}
	spans := map[string][]span{}
	byID := map[uint64]*api.Job{}
	for _, j := range snap.jobs {
		byID[j.ID] = j
		if j.State == api.StateRunning {
			spans[j.Node] = append(spans[j.Node], span{t0, j.StartedAt + limit(j), j.Resources, "running"})
		}
	}
	for _, pl := range plan.Placements {
		j := byID[pl.JobID]
		spans[pl.Node] = append(spans[pl.Node], span{t0, t0 + limit(j), j.Resources, "placed"})
	}
	for _, w := range plan.Waits {
		if w.Reserved {
			j := byID[w.JobID]
			spans[w.Node] = append(spans[w.Node], span{w.StartAt, w.StartAt + limit(j), j.Resources, "reserved"})
		}
	}
	for _, n := range snap.nodes {
		for _, at := range spans[n.Name] {
			var sum api.Resources
			for _, s := range spans[n.Name] {
				if s.from <= at.from && at.from < s.to {
					sum = sum.Add(s.res)
				}
			}
			if sum.CPUs > n.Capacity.CPUs || sum.MemoryMB > n.Capacity.MemoryMB || sum.GPUs > n.Capacity.GPUs {
				t.Errorf("node %s at %+d s (a %s job begins): %+v in use, over its %+v: a reservation is delayed",
					n.Name, (at.from-t0)/1000, at.what, sum, n.Capacity)
			}
		}
	}
}

// TestConservativeNeverDelays: on random clusters and queues, a
// conservative pass's placements and reservations never overbook a node
// at any moment (no reservation is delayed), and every job that waits
// for resources has a reservation while there are fewer than
// MaxReservations.
func TestConservativeNeverDelays(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for round := 0; round < 200; round++ {
		snap := &fakeSnap{}
		nNodes := 1 + rng.Intn(4)
		var running []*api.Job
		id := uint64(1000)
		for i := 0; i < nNodes; i++ {
			n := node(string(rune('a'+i)), 8, 8192, 0)
			for k := rng.Intn(3); k > 0; k-- {
				id++
				r := runningOn(id, n.Name, t0-int64(rng.Intn(50))*1000, 1+rng.Intn(3), int64(1+rng.Intn(3))*1024, int64(60+rng.Intn(600)))
				if r.Resources.FitsOn(n.Capacity, n.Allocated) {
					n = nodeRunning(n, r)
					running = append(running, r)
				}
			}
			snap.nodes = append(snap.nodes, n)
		}
		snap.jobs = append(snap.jobs, running...)
		for k := 1; k <= 3+rng.Intn(12); k++ {
			snap.jobs = append(snap.jobs, limited(job(uint64(k), int64(rng.Intn(3)), 1+rng.Intn(8), int64(1+rng.Intn(8))*1024, 0), int64(60+rng.Intn(900))))
		}
		opts := sched.Options{Conservative: true}
		plan := sched.ScheduleWith(snap, t0, opts)
		wantNoReservationDelayed(t, snap, plan, opts)
		for _, w := range plan.Waits {
			if (w.Reason == sched.ReasonResources || w.Reason == sched.ReasonPriority) && !w.Reserved {
				t.Errorf("round %d: job %d waits (%s) without a reservation", round, w.JobID, w.Reason)
			}
		}
		if t.Failed() {
			t.Fatalf("round %d: snapshot nodes %d, jobs %d", round, len(snap.nodes), len(snap.jobs))
		}
	}
}

// TestParseBackfill reads -backfill, refusing anything but its two
// words with what would be right.
func TestParseBackfill(t *testing.T) {
	for in, want := range map[string]bool{"": false, "easy": false, "EASY": false, "conservative": true, " Conservative ": true} {
		if got, err := sched.ParseBackfill(in); err != nil || got != want {
			t.Errorf("ParseBackfill(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := sched.ParseBackfill("aggressive"); err == nil || !strings.Contains(err.Error(), "give easy") {
		t.Errorf("ParseBackfill(aggressive): %v, want an error naming easy and conservative", err)
	}
}
