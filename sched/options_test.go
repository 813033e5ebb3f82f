package sched_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/sched"
)

func TestParseQueueTimeLimits(t *testing.T) {
	got, err := sched.ParseQueueTimeLimits([]string{"short=1h", " long = 168h"})
	if err != nil || fmt.Sprint(got) != "map[long:604800 short:3600]" {
		t.Errorf("got %v, %v; want short 3600 s and long 604800 s", got, err)
	}
	for _, bad := range []string{"short", "=1h", "short=soon", "short=0s", "a=1h a=2h"} {
		if _, err := sched.ParseQueueTimeLimits(strings.Fields(bad)); err == nil {
			t.Errorf("%q: accepted, want an error", bad)
		}
	}
}

// TestQueueTimeLimit: a queue's default time limit is what its jobs
// without one are reckoned to run: with one short enough, a job without a
// limit backfills; with the global default it does not.
func TestQueueTimeLimit(t *testing.T) {
	jobs := []*api.Job{runningOn(100, "a", t0, 6, 1024, 3600), limited(job(1, 10, 8, 1024, 0), 3600), job(2, 0, 2, 1024, 0)}
	snap := &fakeSnap{jobs: jobs, nodes: []*api.Node{nodeRunning(node("a", 8, 8192, 0), jobs...)}}
	if p := sched.Schedule(snap, t0); len(p.Placements) != 0 {
		t.Errorf("global default (a year): placed %v, want nothing", p.Placements)
	}
	p := sched.ScheduleWith(snap, t0, sched.Options{QueueTimeLimits: map[string]int64{api.DefaultQueue: 1800}})
	if len(p.Placements) != 1 || p.Placements[0].JobID != 2 {
		t.Errorf("queue default 30 min: placed %v, want job 2", p.Placements)
	}
	jobs[2].TimeLimit = 1800 // as the pass reckoned it, for the check
	checkNotDelayed(t, snap, p, t0)
}
