package api

import (
	"bytes"
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unsafe"
)

// TaskRunFields are the fields, by JSON name, in which the tasks of one
// run of an array may differ: a run of alike waiting tasks is sent as its
// first task standing for all of them (the controller's grouped lists),
// and squeue folds alike tasks the same way as it reads them.
var TaskRunFields = map[string]bool{"jobId": true, "array": true, "priority": true, "estimatedStartAt": true}

// SameOutsideTaskRunFields reports whether x and y hold the same bytes
// outside TaskRunFields. The same bytes are the same values (the same
// strings, pointers, slices): tasks loaded from records that share their
// spec, or cells repeated from the row before, compare in a few memory
// compares. Equal values in other memory compare unequal here; callers
// that must know compare them field by field after.
func SameOutsideTaskRunFields(x, y *Job) bool {
	bx, by := unsafe.Pointer(x), unsafe.Pointer(y)
	for _, r := range outsideTaskRunFields() {
		n := r[1] - r[0]
		if !bytes.Equal(unsafe.Slice((*byte)(unsafe.Add(bx, r[0])), n), unsafe.Slice((*byte)(unsafe.Add(by, r[0])), n)) {
			return false
		}
	}
	return true
}

// outsideTaskRunFields are the byte ranges of a Job outside
// TaskRunFields, made on first use (most commands never compare tasks).
var outsideTaskRunFields = sync.OnceValue(func() [][2]uintptr {
	t := reflect.TypeFor[Job]()
	var cut [][2]uintptr
	for _, f := range reflect.VisibleFields(t) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !TaskRunFields[name] || f.Anonymous {
			continue
		}
		off := uintptr(0)
		for i := range f.Index {
			off += t.FieldByIndex(f.Index[:i+1]).Offset
		}
		cut = append(cut, [2]uintptr{off, off + f.Type.Size()})
	}
	if len(cut) != len(TaskRunFields) {
		panic(fmt.Sprintf("api.Job has %d of the %d fields TaskRunFields names", len(cut), len(TaskRunFields)))
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

// MayJoinTaskRun reports whether j may be one of a run: an array's task,
// not a run itself, that waits and has never started (a requeued one
// shows its past, which its neighbours do not share).
func MayJoinTaskRun(j *Job) bool {
	return j.Array != nil && j.Array.Tasks == "" && j.StartedAt == 0 && len(j.Attempts) == 0 &&
		(j.State == StateSubmitted || j.State == StatePending || j.State == StateRunnable)
}
