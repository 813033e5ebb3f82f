package raftfsm

import (
	"reflect"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestJobArenaReusesWithoutLeftovers: jobs made in an arena equal the
// records' jobs, across blocks, and after a Reset a job made where a
// fuller one was holds nothing of it.
func TestJobArenaReusesWithoutLeftovers(t *testing.T) {
	var full api.Job
	fill(reflect.ValueOf(&full).Elem(), 0)
	full.State = api.StateRunning
	fullRec := newJobRec(&full, nil, nil)
	sparse := api.Job{ID: 7, State: api.StateRunnable}
	sparse.Queue = "q"
	sparseRec := newJobRec(&sparse, nil, nil)

	var a JobArena
	n := arenaBlockJobs + 3 // into a second block
	for range 2 {
		for i := range n {
			if got := a.load(fullRec); !reflect.DeepEqual(got, fullRec.job()) {
				t.Fatalf("job %d from the arena: %+v, want %+v", i, got, fullRec.job())
			}
		}
		a.Reset()
		for i := range n {
			if got := a.load(sparseRec); !reflect.DeepEqual(got, sparseRec.job()) {
				t.Fatalf("job %d made after a Reset where a full one was: %+v, want %+v", i, got, sparseRec.job())
			}
		}
		a.Reset()
	}
	if len(a.blocks) != 0 {
		t.Errorf("after Reset the arena holds %d blocks, want 0 (they go back to the pool)", len(a.blocks))
	}
}
