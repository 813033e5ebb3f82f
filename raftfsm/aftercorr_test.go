package raftfsm_test

import (
	"reflect"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// TestAfterCorr: Slurm 22.05's aftercorr matches tasks by index, not by
// place, between arrays of any sizes: the task of index N waits for the
// task of index N of the named array and succeeds or fails with it; a
// task with no counterpart, and a job that is no array, wait for the whole
// named array; aftercorr on a job that is no array waits for that job.
func TestAfterCorr(t *testing.T) {
	h := newHarness(t)
	h.register(1, api.Node{Name: "n", Boot: "b", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}})
	// Array A: indexes 0-4, jobs 1-5; P: a plain job, 6.
	res := h.mustOK("submit A and P", h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{Now: 2,
		Jobs: []api.Job{newJob("a"), newJob("p")}, Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: []int{0, 1, 2, 3, 4}}}}))
	if !reflect.DeepEqual(res.IDs, []uint64{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("ids %v, want 1..6", res.IDs)
	}
	corr := func(name string, on uint64) api.Job {
		j := newJob(name)
		j.DependsOn = []api.Dependency{{JobID: on, Type: api.AfterCorr}}
		return j
	}
	// B: indexes 2-6 (jobs 7-11), aftercorr on A: 2, 3, 4 have a
	// counterpart (jobs 3, 4, 5); 5 and 6 have none.
	res = h.mustOK("submit B", h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{Now: 3,
		Jobs: []api.Job{corr("b", 1)}, Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: []int{2, 3, 4, 5, 6}}}}))
	whole := []uint64{1, 2, 3, 4, 5}
	for k, want := range [][]uint64{{3}, {4}, {5}, whole, whole} {
		if got := depIDs(h.job(res.IDs[k])); !reflect.DeepEqual(got, want) {
			t.Errorf("B's task of index %d depends on %v, want %v", 2+k, got, want)
		}
	}
	b2, b3, b5 := res.IDs[0], res.IDs[1], res.IDs[3]
	// C: no array, aftercorr on A: all of A. D: an array, aftercorr on
	// the plain job P: each task on P.
	c := h.submit(4, corr("c", 1))[0]
	if got := depIDs(h.job(c)); !reflect.DeepEqual(got, whole) {
		t.Errorf("C (no array) depends on %v, want all of A %v", got, whole)
	}
	res = h.mustOK("submit D", h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{Now: 5,
		Jobs: []api.Job{corr("d", 6)}, Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: []int{0, 1}}}}))
	for _, id := range res.IDs {
		if got := depIDs(h.job(id)); !reflect.DeepEqual(got, []uint64{6}) {
			t.Errorf("D's task %d depends on %v, want [6]", id, got)
		}
	}
	// An array whose indexes are not in rising order: by index still.
	res = h.mustOK("submit E", h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{Now: 6,
		Jobs: []api.Job{newJob("e")}, Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: []int{7, 3, 5}}}}))
	e := res.IDs
	res = h.mustOK("submit F", h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{Now: 7,
		Jobs: []api.Job{corr("f", e[0])}, Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: []int{5}}}}))
	if got := depIDs(h.job(res.IDs[0])); !reflect.DeepEqual(got, []uint64{e[2]}) {
		t.Errorf("F's task of index 5 depends on %v, want E's task of index 5, %d", got, e[2])
	}
	// The array it names may come earlier in the same submit.
	first := res.IDs[0] + 1
	res = h.mustOK("submit G and H", h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{Now: 7,
		Jobs:   []api.Job{newJob("g"), corr("h", first)},
		Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: []int{0, 1, 2}}, {Job: 1, Indexes: []int{1, 5}}}}))
	if got := depIDs(h.job(res.IDs[3])); !reflect.DeepEqual(got, []uint64{first + 1}) {
		t.Errorf("H's task of index 1 depends on %v, want G's task of index 1, %d", got, first+1)
	}
	if got, want := depIDs(h.job(res.IDs[4])), []uint64{first, first + 1, first + 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("H's task of index 5 depends on %v, want all of G %v", got, want)
	}
	// aftercorr on a job that does not exist is refused.
	wantErr(t, "aftercorr on no job", h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{Now: 8, Jobs: []api.Job{corr("g", 999)},
		Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: []int{0}}}}), api.CodeNotFound, "does not exist")

	// A's index 2 succeeds: B's index 2 may run, the rest wait. A's
	// index 3 fails: B's index 3 fails with it, and the tasks waiting on
	// all of A (B's index 5, C) can never run.
	h.wantJob(b2, api.StatePending, "")
	h.place(10, raftfsm.Placement{JobID: 3, Node: "n"}, raftfsm.Placement{JobID: 4, Node: "n"})
	h.events(11, api.JobEvent{ID: 3, Node: "n", State: api.StateRunning}, api.JobEvent{ID: 4, Node: "n", State: api.StateRunning})
	h.events(12, api.JobEvent{ID: 3, Node: "n", State: api.StateSucceeded, ExitCode: intp(0)})
	h.wantJob(b2, api.StateRunnable, "")
	h.wantJob(b3, api.StatePending, "")
	h.events(13, api.JobEvent{ID: 4, Node: "n", State: api.StateFailed, ExitCode: intp(1)})
	h.wantJob(b3, api.StateFailed, api.ReasonDependencyFailed)
	h.wantJob(b5, api.StateFailed, api.ReasonDependencyFailed)
	h.wantJob(c, api.StateFailed, api.ReasonDependencyFailed)
}
