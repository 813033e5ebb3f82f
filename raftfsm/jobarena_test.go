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
	if len(a.blocks) != 2 {
		t.Errorf("after two reads of %d jobs the arena holds %d blocks, want 2 (used again)", n, len(a.blocks))
	}
	a.Release()
	if len(a.blocks) != 0 {
		t.Errorf("after Release the arena holds %d blocks, want none", len(a.blocks))
	}
	if got := a.load(sparseRec); !reflect.DeepEqual(got, sparseRec.job()) {
		t.Errorf("a job made after Release: %+v, want %+v", got, sparseRec.job())
	}
}
