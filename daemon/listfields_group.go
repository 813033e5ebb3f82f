package daemon

import (
	"bytes"
	"reflect"
	"unsafe"

	"github.com/shoal-batch/shoal/api"
)

// A list in the row form that asks for it (api.ListJobsRequest.GroupTasks)
// sends one row for a run of an array's pending tasks, as collapsed
// squeue shows them: over an array of 10,000 waiting tasks, squeue read,
// decoded and merged 10,000 rows to print one line. The tasks of a run
// have consecutive ids and rising indexes (an array's ids follow its
// indexes) and have never started; their cells are the same but for the
// ones that differ from task to task by nature (groupIgnored). The row
// sent is the run's first task, its array naming every task of the run.

// groupIgnored are the fields in which the tasks of a run may differ:
// the row shows the lowest task's, as squeue's collapsed line does.
var groupIgnored = api.TaskRunFields

// groupable reports whether j may be one of a run.
var groupable = api.MayJoinTaskRun

// taskGroup is the run of tasks held back from the list until a job that
// is not one of it comes.
type taskGroup struct {
	cols    []rowCol // the columns compared: not the ignored ones
	isOpen  bool
	grouped bool    // a run of more than one task has formed
	rep     api.Job // the run's first task (a copy: the list reuses its job)
	idx     []int   // every task's index
	a, b    []byte  // scratch: two cells encoded to be compared
}

// newTaskGroup groups rows of the columns cols.
func newTaskGroup(cols []rowCol) *taskGroup {
	g := &taskGroup{}
	for _, col := range cols {
		if !groupIgnored[col.pf.Name] {
			g.cols = append(g.cols, col)
		}
	}
	return g
}

// open starts a run with j (a copy of it and of its Array: the list may
// reuse both for the next job).
func (g *taskGroup) open(j *api.Job) {
	g.isOpen, g.rep, g.idx = true, *j, append(g.idx[:0], j.Array.Index)
	a := *j.Array
	g.rep.Array = &a
}

// takes adds j to the open run if it belongs there: the next task of
// the array by id and by index, so that the run's k-th index is the task
// with the k-th id from the first's (api.ArrayTask.Tasks).
func (g *taskGroup) takes(j *api.Job) bool {
	if !g.isOpen || !groupable(j) || j.Array.JobID != g.rep.Array.JobID || j.Array.MaxRunning != g.rep.Array.MaxRunning ||
		j.ID != g.rep.ID+uint64(len(g.idx)) || j.Array.Index <= g.idx[len(g.idx)-1] || !g.sameCells(&g.rep, j) {
		return false
	}
	g.idx = append(g.idx, j.Array.Index)
	g.grouped = true
	return true
}

// flush writes the open run's row, if a run is open.
func (g *taskGroup) flush(write func(*api.Job) error) error {
	if !g.isOpen {
		return nil
	}
	g.isOpen = false
	if len(g.idx) > 1 {
		a := *g.rep.Array
		a.Tasks = api.IndexRanges(g.idx)
		g.rep.Array = &a
	}
	return write(&g.rep)
}

// sameCells reports whether x and y would have the same cells but for
// the ignored ones.
func (g *taskGroup) sameCells(x, y *api.Job) bool {
	if api.SameOutsideTaskRunFields(x, y) {
		return true
	}
	bx, by := unsafe.Pointer(x), unsafe.Pointer(y)
	var vx, vy reflect.Value
	for i := range g.cols {
		col := &g.cols[i]
		ax, ay := unsafe.Add(bx, col.off), unsafe.Add(by, col.off)
		switch col.kind {
		case reflect.String:
			if *(*string)(ax) != *(*string)(ay) {
				return false
			}
			continue
		case reflect.Slice, reflect.Pointer, reflect.Invalid:
			// The same bytes are the same value (the same strings,
			// pointers and slices: the tasks of a sweep share them);
			// other bytes may still encode the same.
			if bytes.Equal(unsafe.Slice((*byte)(ax), col.size), unsafe.Slice((*byte)(ay), col.size)) {
				continue
			}
			var ox, oy bool
			switch col.kind { // as rowsWriter.write tests for an empty one
			case reflect.Slice:
				ox, oy = len(*(*[]byte)(ax)) == 0, len(*(*[]byte)(ay)) == 0
			case reflect.Pointer:
				ox, oy = *(*unsafe.Pointer)(ax) == nil, *(*unsafe.Pointer)(ay) == nil
			default:
				ox, oy = col.pf.omit(x, &vx), col.pf.omit(y, &vy)
			}
			if ox || oy {
				if ox != oy {
					return false
				}
				continue
			}
			var err error
			if g.a, err = col.pf.appendValue(g.a[:0], x, &vx); err != nil {
				return false
			}
			if g.b, err = col.pf.appendValue(g.b[:0], y, &vy); err != nil {
				return false
			}
			if !bytes.Equal(g.a, g.b) {
				return false
			}
			continue
		}
		if col.bits(ax) != col.bits(ay) {
			return false
		}
	}
	return true
}
