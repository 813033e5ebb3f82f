package slurm

import (
	"bytes"
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/shoal-batch/shoal/api"
)

// Collapsed squeue merges an array's waiting tasks into one line
// (collapseArrays), so it keeps every task until the list ends. The
// controller sends a run of alike waiting tasks of consecutive ids as one
// row (ListJobsRequest.GroupTasks), but the ids of a run must be
// consecutive (scancel derives them): once every other task of an array
// is cancelled, each waiting task comes as a row of its own, and squeue
// kept 250,000 tasks of five such arrays, 944 bytes each and their views.
// taskFold folds those rows as they are read: a waiting task alike the
// open run's first (the same cells but for id, index, priority and
// estimated start: the fields in which the controller's runs differ too)
// joins the run, which is then kept as its first task standing for all
// of them (Array.Tasks), as the controller would have sent it. Squeue
// reads the indexes of a merged line's tasks and the first task's
// fields, never the ids of the others, so the line is the same.

// foldTasks turns the fold on (tests compare squeue's lines without it).
var foldTasks = true

// foldIgnored are the fields in which the tasks of a run may differ, by
// their JSON names (as the controller's groupIgnored).
var foldIgnored = [...]string{"jobId", "array", "priority", "estimatedStartAt"}

// foldCompared are the byte ranges of an api.Job outside foldIgnored,
// made on first use (squeue -r and the other commands never read them).
// The same bytes are the same values: a row's cell that repeats the row
// before's ("=") is copied from it, its strings and slices with it. A
// cell decoded anew (the same value in other memory) only keeps two
// tasks apart, which collapseArrays merges as before.
var foldCompared = sync.OnceValue(func() [][2]uintptr {
	t := reflect.TypeFor[api.Job]()
	var cut [][2]uintptr
	for _, f := range reflect.VisibleFields(t) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !slices.Contains(foldIgnored[:], name) || f.Anonymous {
			continue
		}
		off := uintptr(0)
		for i := range f.Index {
			off += t.FieldByIndex(f.Index[:i+1]).Offset
		}
		cut = append(cut, [2]uintptr{off, off + f.Type.Size()})
	}
	if len(cut) != len(foldIgnored) {
		panic(fmt.Sprintf("api.Job has %d of the %d fields foldIgnored names", len(cut), len(foldIgnored)))
	}
	slices.SortFunc(cut, func(a, b [2]uintptr) int { return cmp.Compare(a[0], b[0]) })
	var out [][2]uintptr
	at := uintptr(0)
	for _, c := range cut {
		if c[0] > at {
			out = append(out, [2]uintptr{at, c[0]})
		}
		at = max(at, c[1])
	}
	if at < t.Size() {
		out = append(out, [2]uintptr{at, t.Size()})
	}
	return out
})

// sameOutsideFold reports whether x and y hold the same bytes outside
// the fields foldIgnored names.
func sameOutsideFold(x, y *api.Job) bool {
	bx, by := unsafe.Pointer(x), unsafe.Pointer(y)
	for _, r := range foldCompared() {
		n := r[1] - r[0]
		if !bytes.Equal(unsafe.Slice((*byte)(unsafe.Add(bx, r[0])), n), unsafe.Slice((*byte)(unsafe.Add(by, r[0])), n)) {
			return false
		}
	}
	return true
}

// foldable reports whether j may be one of a run: an array's task, not a
// run the controller sent, that waits and has never started (as the
// controller's groupable).
func foldable(j *api.Job) bool {
	return j.Array != nil && j.Array.Tasks == "" && j.StartedAt == 0 && len(j.Attempts) == 0 &&
		(j.State == api.StateSubmitted || j.State == api.StatePending || j.State == api.StateRunnable)
}

// taskFold is the open run: its first task (kept, where the caller keeps
// tasks) and every task's index.
type taskFold struct {
	first *api.Job
	idx   []int
}

// takes adds j to the open run if it belongs there: a task of the same
// array after the run's last by index, alike the first.
func (f *taskFold) takes(j *api.Job) bool {
	if f.first == nil || !foldable(j) {
		return false
	}
	a, b := f.first.Array, j.Array
	if b.JobID != a.JobID || b.Min != a.Min || b.Max != a.Max || b.Count != a.Count || b.MaxRunning != a.MaxRunning ||
		b.Index <= f.idx[len(f.idx)-1] || !sameOutsideFold(f.first, j) {
		return false
	}
	f.idx = append(f.idx, b.Index)
	return true
}

// open closes the open run and starts one with first (kept by the
// caller), if it may begin one.
func (f *taskFold) open(first *api.Job) {
	f.close()
	if foldable(first) {
		f.first, f.idx = first, append(f.idx[:0], first.Array.Index)
	}
}

// close ends the open run: a run of several tasks is its first standing
// for all of them (a copy of its Array: the list's memory may share it).
func (f *taskFold) close() {
	if f.first != nil && len(f.idx) > 1 {
		a := *f.first.Array
		a.Tasks = api.IndexRanges(f.idx)
		f.first.Array = &a
	}
	f.first = nil
}
