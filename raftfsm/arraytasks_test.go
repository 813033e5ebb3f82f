package raftfsm

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// applyOK applies one command to f and fails the test on a refusal.
func applyOK(t *testing.T, f *FSM, idx uint64, op Op, body any) Result {
	t.Helper()
	e, err := Encode(op, body)
	if err != nil {
		t.Fatal(err)
	}
	res := f.Apply(idx, e).(Result)
	if res.Err != nil || res.Errs != nil {
		t.Fatalf("apply %v: %v %v", op, res.Err, res.Errs)
	}
	return res
}

// slotRecords counts the distinct records the slots of ids hold.
func slotRecords(f *FSM, ids []uint64) int {
	txn := f.db.Txn(false)
	seen := map[*jobRec]bool{}
	for _, id := range ids {
		raw, _ := txn.First(tableJobBuckets, "id", id/jobBucketSize)
		seen[raw.(*jobBucket).Jobs[id%jobBucketSize]] = true
	}
	return len(seen)
}

// wantTasks checks that every task of an array reads as itself: its id,
// its index, and what every task of it says.
func wantTasks(t *testing.T, f *FSM, ids []uint64, indexes []int, state api.JobState) {
	t.Helper()
	s := f.State()
	for k, id := range ids {
		j := s.Job(id)
		if j == nil || j.ID != id || j.Array == nil || j.Array.JobID != ids[0] || j.Array.Index != indexes[k] || j.State != state {
			t.Fatalf("task %d (index %d): %+v, want its own id and index, %s", id, indexes[k], j, state)
		}
	}
	want := map[uint64]int{}
	for k, id := range ids {
		want[id] = indexes[k]
	}
	n := 0
	s.JobsInState(state, func(j *api.Job) bool {
		if x, ok := want[j.ID]; ok {
			if j.Array == nil || j.Array.Index != x {
				t.Fatalf("in the %s set, task %d: %+v, want index %d", state, j.ID, j.Array, x)
			}
			n++
		}
		return true
	})
	if n != len(ids) {
		t.Fatalf("the %s set lists %d tasks, want %d", state, n, len(ids))
	}
}

// sameJobs fails the test unless f and plain (which groups no tasks)
// hold the same jobs, read by id and in id order.
func sameJobs(t *testing.T, when string, f, plain *FSM) {
	t.Helper()
	a, b := allJobsOf(f), allJobsOf(plain)
	if len(a) != len(b) {
		t.Fatalf("%s: %d jobs, want %d as without groups", when, len(a), len(b))
	}
	for i := range a {
		if !reflect.DeepEqual(a[i], b[i]) {
			t.Fatalf("%s: job %d is %+v, want %+v as without groups", when, b[i].ID, a[i], b[i])
		}
		if j := f.State().Job(a[i].ID); !reflect.DeepEqual(j, b[i]) {
			t.Fatalf("%s: job %d read by id is %+v, want %+v", when, b[i].ID, j, b[i])
		}
	}
	got, want := readAll(f), readAll(plain)
	for way := range want {
		if !slices.Equal(got[way], want[way]) {
			t.Fatalf("%s: read as %s, the jobs differ from those without groups", when, way)
		}
	}
}

// readAll lists every job of f each way a reader can: by id order, as
// refs (by ref and by id), by state, scanned, and as the scheduler's
// views; each as one string per job.
func readAll(f *FSM) map[string][]string {
	s := f.State()
	out := map[string][]string{}
	add := func(way string, v any) {
		b, err := json.Marshal(v) // through pointers, which %v would print as addresses
		if err != nil {
			panic(err)
		}
		out[way] = append(out[way], string(b))
	}
	load := func(r JobRef) api.Job { var j api.Job; r.Load(&j); return j }
	s.AllJobs(func(j *api.Job) bool { add("all", *j); return true })
	s.JobsOfUser("alice", func(j *api.Job) bool { add("of user", *j); return true })
	s.AllJobRefs(func(r JobRef) bool {
		add("refs", load(r))
		add("ref ids", r.ID())
		byID, _ := s.JobRef(r.ID())
		add("ref by id", load(byID))
		return true
	})
	refs := s.JobRefs()
	for id := uint64(1); id < 3000; id++ {
		if r, ok := refs.Ref(id); ok {
			add("refs in order", load(r))
		}
	}
	for _, st := range []api.JobState{api.StateSubmitted, api.StatePending, api.StateRunnable, api.StateFailed} {
		s.JobsInState(st, func(j *api.Job) bool { add("in state", *j); return true })
		s.JobRefsInState(st, func(r JobRef) bool { add("refs in state", load(r)); return true })
		s.ScanJobsInState(st, func(j *api.Job) bool { add("scanned", *j); add("scanned task", j.Array); return true })
		s.JobViews(st, func(v *JobView) bool { add("views", *v); add("view task", v.Array); return true })
		var arena JobArena
		s.WithArena(&arena).JobViews(st, func(v *JobView) bool { add("arena views", *v); add("arena view task", v.Array); return true })
	}
	return out
}

func allJobsOf(f *FSM) []*api.Job {
	var out []*api.Job
	f.State().AllJobs(func(j *api.Job) bool { out = append(out, j); return true })
	return out
}

// TestArrayTasksShareOneRecord: the waiting tasks of an array whose
// indexes go in steps of one size are one record, and so are they once
// cancelled together; each reads as itself, by id and in the state sets,
// and as it would were no tasks grouped; a snapshot restored holds the same jobs, grouped again. Tasks of
// an array with uneven steps keep their own records.
func TestArrayTasksShareOneRecord(t *testing.T) {
	job := api.Job{User: "alice", UID: 1000, GID: 1000}
	job.Name, job.Queue, job.Command = "sweep", "q", []string{"true"}
	for _, tc := range []struct {
		name    string
		indexes []int
		records int // distinct records the tasks' slots hold
	}{
		{"0-999", seq(0, 1000, 1), 1},
		{"1-1999:2", seq(1, 1000, 2), 1},
		{"one index", []int{7}, 1},
		{"uneven 1,2,10", []int{1, 2, 10}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, plain := New(), New()
			plain.shared.specs.noGroups = true
			both := func(idx uint64, op Op, body any) Result {
				applyOK(t, plain, idx, op, body)
				return applyOK(t, f, idx, op, body)
			}
			res := both(1, OpSubmit, SubmitCmd{Jobs: []api.Job{job}, Arrays: []ArraySpec{{Job: 0, Indexes: tc.indexes}}, Now: 5})
			if got := slotRecords(f, res.IDs); got != tc.records {
				t.Errorf("submitted: the tasks' slots hold %d records, want %d", got, tc.records)
			}
			wantTasks(t, f, res.IDs, tc.indexes, f.State().Job(res.IDs[0]).State)
			sameJobs(t, "submitted", f, plain)

			both(2, OpStopMany, StopManyCmd{IDs: res.IDs, Reason: "scancel", Now: 9})
			if got := slotRecords(f, res.IDs); got != tc.records {
				t.Errorf("cancelled: the tasks' slots hold %d records, want %d", got, tc.records)
			}
			wantTasks(t, f, res.IDs, tc.indexes, api.StateFailed)
			sameJobs(t, "cancelled", f, plain)
			if j := f.State().Job(res.IDs[len(res.IDs)-1]); j.StatusReason != "scancel" || j.StoppedAt != 9 {
				t.Errorf("last task cancelled: reason %q at %d, want scancel at 9", j.StatusReason, j.StoppedAt)
			}

			var buf bytes.Buffer
			if _, err := f.Snapshot().WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			g := New()
			if err := g.Restore(&buf, 2); err != nil {
				t.Fatal(err)
			}
			if got := slotRecords(g, res.IDs); got != tc.records {
				t.Errorf("restored: the tasks' slots hold %d records, want %d", got, tc.records)
			}
			for _, id := range res.IDs {
				if a, b := f.State().Job(id), g.State().Job(id); !reflect.DeepEqual(a, b) {
					t.Fatalf("job %d restored: %+v, want %+v", id, b, a)
				}
			}
		})
	}
}

// TestTaskLeavesItsGroup: a task that changes alone (its priority set)
// gets a record of its own; the others stay one, and each reads right.
func TestTaskLeavesItsGroup(t *testing.T) {
	f := New()
	job := api.Job{User: "alice", UID: 1000, GID: 1000}
	job.Name, job.Queue, job.Command = "sweep", "q", []string{"true"}
	indexes := seq(0, 600, 1) // across three buckets
	res := applyOK(t, f, 1, OpSubmit, SubmitCmd{Jobs: []api.Job{job}, Arrays: []ArraySpec{{Job: 0, Indexes: indexes}}, Now: 5})
	ids := res.IDs
	state := f.State().Job(ids[0]).State
	prio := int64(77)
	applyOK(t, f, 2, OpUpdateJob, UpdateJobCmd{Update: api.UpdateJobRequest{ID: ids[300], Priority: &prio}})
	if got := slotRecords(f, ids); got != 2 {
		t.Errorf("one task's priority set: the slots hold %d records, want 2", got)
	}
	if j := f.State().Job(ids[300]); j.Priority != prio || j.ID != ids[300] || j.Array.Index != 300 {
		t.Errorf("the task with its own priority: %+v", j)
	}
	if j := f.State().Job(ids[301]); j.Priority == prio || j.ID != ids[301] || j.Array.Index != 301 || j.State != state {
		t.Errorf("the task after it: %+v", j)
	}
	wantTasks(t, f, append(ids[:300:300], ids[301:]...), append(indexes[:300:300], indexes[301:]...), state)
}

// TestGroupAlikeSeesEveryField: a task record differs from its group in
// any field but its id and index, and alike says so.
func TestGroupAlikeSeesEveryField(t *testing.T) {
	var full api.Job
	fill(reflect.ValueOf(&full).Elem(), 0)
	full.State = api.StateRunnable
	full.Array = &api.ArrayTask{JobID: full.ID, Index: 3, Min: 3, Max: 3, Count: 1}
	base := newJobRec(&full, nil, nil)
	g := (&specCache{}).groupTask(base)
	if !g.group() || !g.alike(base) {
		t.Fatalf("a task record is not alike the group made of it")
	}
	rv := reflect.ValueOf(base).Elem()
	for i := range rv.NumField() {
		name := rv.Type().Field(i).Name
		if name == "ID" || name == "Array" {
			continue
		}
		other := *base
		f := reflect.NewAt(rv.Field(i).Type(), reflect.ValueOf(&other).Elem().Field(i).Addr().UnsafePointer()).Elem()
		f.Set(reflect.Zero(f.Type()))
		if reflect.DeepEqual(other, *base) { // the field was zero: set it
			fill(f, 40)
			if f.Kind() == reflect.Uint8 {
				f.SetUint(uint64(stateCodes[api.StateFailed]))
			}
		}
		if g.alike(&other) {
			t.Errorf("a record that differs in %s is alike the group", name)
		}
	}
	for _, change := range []func(a *api.ArrayTask){
		func(a *api.ArrayTask) { a.JobID++ }, func(a *api.ArrayTask) { a.Count++ },
		func(a *api.ArrayTask) { a.Max++ }, func(a *api.ArrayTask) { a.Min-- }, func(a *api.ArrayTask) { a.MaxRunning++ },
	} {
		other := *base
		a := *base.Array
		change(&a)
		other.Array = &a
		if g.alike(&other) {
			t.Errorf("a task of another array (%+v) is alike the group", a)
		}
	}
}

func seq(from, n, step int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = from + i*step
	}
	return out
}
