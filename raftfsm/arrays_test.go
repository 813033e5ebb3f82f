package raftfsm_test

import (
	"reflect"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// depIDs lists the job ids a job depends on.
func depIDs(j *api.Job) []uint64 {
	var ids []uint64
	for _, d := range j.DependsOn {
		ids = append(ids, d.JobID)
	}
	return ids
}

// TestArrayDependencies: arrays get consecutive ids and task numbers; a
// dependency on an array waits for every task; SEQUENTIAL chains the tasks;
// N_TO_N pairs them; singleton waits for the user's same-named jobs.
func TestArrayDependencies(t *testing.T) {
	h := newHarness(t)
	res := h.mustOK("submit arrays", h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{Now: 5,
		Jobs: []api.Job{newJob("a"), newJob("seq")},
		Arrays: []raftfsm.ArraySpec{
			{Job: 0, Indexes: []int{0, 1, 2}, MaxRunning: 2},
			{Job: 1, Indexes: []int{0, 1, 2}},
		}}))
	if !reflect.DeepEqual(res.IDs, []uint64{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("array ids: got %v, want 1..6", res.IDs)
	}
	if a := h.job(3).Array; a == nil || a.JobID != 1 || a.Index != 2 || a.Count != 3 || a.Min != 0 || a.Max != 2 || a.MaxRunning != 2 {
		t.Fatalf("task 3: array %+v, want job 1 index 2 of 0..2, throttle 2", a)
	}
	// SEQUENTIAL within the second array: 4 <- 5 <- 6.
	seq := newJob("seq2")
	seq.DependsOn = []api.Dependency{{Type: api.Sequential}}
	res = h.mustOK("submit sequential", h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{Now: 6, Jobs: []api.Job{seq},
		Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: []int{0, 1, 2}}}}))
	if got := depIDs(h.job(res.IDs[0])); len(got) != 0 {
		t.Fatalf("first SEQUENTIAL task depends on %v, want nothing", got)
	}
	if got := depIDs(h.job(res.IDs[2])); !reflect.DeepEqual(got, []uint64{res.IDs[1]}) {
		t.Fatalf("third SEQUENTIAL task depends on %v, want [%d]", got, res.IDs[1])
	}
	// N_TO_N on the first array: task k waits for task k of array 1.
	nn := newJob("nn")
	nn.DependsOn = []api.Dependency{{JobID: 1, Type: api.NToN}}
	res = h.mustOK("submit N_TO_N", h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{Now: 7, Jobs: []api.Job{nn},
		Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: []int{0, 1, 2}}}}))
	if got := depIDs(h.job(res.IDs[1])); !reflect.DeepEqual(got, []uint64{2}) {
		t.Fatalf("N_TO_N task 1 depends on %v, want [2]", got)
	}
	// A plain dependency on the array id waits for all its tasks.
	all := h.submit(8, newJob("after-all", 1))[0]
	if got := depIDs(h.job(all)); !reflect.DeepEqual(got, []uint64{1, 2, 3}) {
		t.Fatalf("dependency on array 1 expands to %v, want [1 2 3]", got)
	}
	// singleton: afterany on the same user's unfinished jobs of that name.
	single := newJob("a")
	single.DependsOn = []api.Dependency{{Type: api.Singleton}}
	id := h.submit(9, single)[0]
	if got := depIDs(h.job(id)); !reflect.DeepEqual(got, []uint64{1, 2, 3}) {
		t.Fatalf("singleton depends on %v, want the unfinished jobs named a: [1 2 3]", got)
	}
	// N_TO_N against arrays of another size is refused, storing nothing.
	bad := newJob("bad")
	bad.DependsOn = []api.Dependency{{JobID: 1, Type: api.NToN}}
	r := h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{Now: 10, Jobs: []api.Job{bad},
		Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: []int{0, 1}}}})
	wantErr(t, "N_TO_N of another size", r, api.CodeInvalid, "same size")
}

// TestDependencyTypes: afterany, afternotok and after release or fail a job
// as Slurm's dependency types do; "?" (DependAny) needs one of them.
func TestDependencyTypes(t *testing.T) {
	tests := []struct {
		name     string
		typ      api.DependencyType
		exitCode int // of the dependency, after it ran
		want     api.JobState
	}{
		{"afterok, succeeded", api.AfterOK, 0, api.StateRunnable},
		{"afterok, failed", api.AfterOK, 1, api.StateFailed},
		{"afterany, failed", api.AfterAny, 1, api.StateRunnable},
		{"afternotok, failed", api.AfterNotOK, 1, api.StateRunnable},
		{"afternotok, succeeded", api.AfterNotOK, 0, api.StateFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.register(1, api.Node{Name: "n", Boot: "b", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}})
			dep := h.submit(2, newJob("dep"))[0]
			j := newJob("j")
			j.DependsOn = []api.Dependency{{JobID: dep, Type: tt.typ}}
			id := h.submit(3, j)[0]
			h.wantJob(id, api.StatePending, "")
			h.place(4, raftfsm.Placement{JobID: dep, Node: "n"})
			h.events(5, api.JobEvent{ID: dep, Node: "n", State: api.StateRunning})
			ended := api.StateSucceeded
			if tt.exitCode != 0 {
				ended = api.StateFailed
			}
			h.events(6, api.JobEvent{ID: dep, Node: "n", State: ended, ExitCode: intp(tt.exitCode)})
			reason := ""
			if tt.want == api.StateFailed {
				reason = api.ReasonDependencyFailed
			}
			h.wantJob(id, tt.want, reason)
		})
	}
	// after: released as soon as the dependency starts.
	h := newHarness(t)
	h.register(1, api.Node{Name: "n", Boot: "b", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}})
	dep := h.submit(2, newJob("dep"))[0]
	j := newJob("j")
	j.DependsOn = []api.Dependency{{JobID: dep, Type: api.After}}
	id := h.submit(3, j)[0]
	h.place(4, raftfsm.Placement{JobID: dep, Node: "n"})
	h.wantJob(id, api.StatePending, "")
	h.events(5, api.JobEvent{ID: dep, Node: "n", State: api.StateRunning})
	h.wantJob(id, api.StateRunnable, "")
}
