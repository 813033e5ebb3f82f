package raftfsm

import (
	"reflect"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestJobViewMatchesJob: the view of a record says what its api.Job
// says, every field of the view is set from a job that sets every field,
// and the spec it points to is the record's own (not a copy).
func TestJobViewMatchesJob(t *testing.T) {
	var full api.Job
	fill(reflect.ValueOf(&full).Elem(), 0)
	full.State = api.StateRunning
	rec := newJobRec(&full, nil, nil)
	var a JobArena
	got := a.load(rec, rec.ID)
	if got.JobSpec != &rec.spec.JobSpec {
		t.Errorf("the view's spec is not the record's")
	}
	wantView := ViewOf(rec.job())
	want := &wantView
	// The spec a record shares leaves out what the record keeps itself;
	// the view has those fields of its own.
	spec := *want.JobSpec
	spec.Name, spec.Env, spec.Priority, spec.DependsOn, spec.Held = "", nil, 0, nil, false
	if !reflect.DeepEqual(*got.JobSpec, spec) {
		t.Errorf("the view's spec: %+v, want %+v", *got.JobSpec, spec)
	}
	gv, wv := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	for i := range gv.NumField() {
		name := gv.Type().Field(i).Name
		if name == "JobSpec" {
			continue
		}
		if gv.Field(i).IsZero() {
			t.Errorf("view field %s is zero for a job that sets every field", name)
		}
		if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
			t.Errorf("view field %s: %v, want %v", name, gv.Field(i), wv.Field(i))
		}
	}
}

// TestJobArenaReusesWithoutLeftovers: views made in an arena are the
// records' views, across blocks, and after a Reset a view made where a
// fuller one was holds nothing of it.
func TestJobArenaReusesWithoutLeftovers(t *testing.T) {
	var full api.Job
	fill(reflect.ValueOf(&full).Elem(), 0)
	full.State = api.StateRunning
	fullRec := newJobRec(&full, nil, nil)
	sparse := api.Job{ID: 7, State: api.StateRunnable}
	sparse.Queue = "q"
	sparseRec := newJobRec(&sparse, nil, nil)
	viewOf := func(r *jobRec) *JobView { v := ViewOf(r.job()); return &v }

	var a JobArena
	n := arenaBlockJobs + 3 // into a second block
	for range 2 {
		for i := range n {
			if got := a.load(fullRec, fullRec.ID); !sameView(got, viewOf(fullRec)) {
				t.Fatalf("view %d from the arena: %+v, want %+v", i, got, viewOf(fullRec))
			}
		}
		a.Reset()
		for i := range n {
			if got := a.load(sparseRec, sparseRec.ID); !sameView(got, viewOf(sparseRec)) {
				t.Fatalf("view %d made after a Reset where a full one was: %+v, want %+v", i, got, viewOf(sparseRec))
			}
		}
		a.Reset()
	}
	if len(a.blocks) != 2 {
		t.Errorf("after two reads of %d views the arena holds %d blocks, want 2 (used again)", n, len(a.blocks))
	}
	a.Release()
	if len(a.blocks) != 0 {
		t.Errorf("after Release the arena holds %d blocks, want none", len(a.blocks))
	}
	if got := a.load(sparseRec, sparseRec.ID); !sameView(got, viewOf(sparseRec)) {
		t.Errorf("a view made after Release: %+v, want %+v", got, viewOf(sparseRec))
	}
}

// sameView compares two views but for their specs' fields that a record
// keeps apart (the views' own fields hold those).
func sameView(a, b *JobView) bool {
	x, y := *a, *b
	sa, sb := *x.JobSpec, *y.JobSpec
	for _, s := range []*api.JobSpec{&sa, &sb} {
		s.Name, s.Env, s.Priority, s.DependsOn, s.Held = "", nil, 0, nil, false
	}
	x.JobSpec, y.JobSpec = nil, nil
	return reflect.DeepEqual(x, y) && reflect.DeepEqual(sa, sb)
}
