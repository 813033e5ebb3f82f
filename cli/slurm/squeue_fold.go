package slurm

import "github.com/shoal-batch/shoal/api"

// Collapsed squeue merges an array's waiting tasks into one line
// (collapseArrays), so it keeps every task until the list ends. The
// controller sends a run of alike waiting tasks of consecutive ids as one
// row (ListJobsRequest.GroupTasks), but the ids of a run must be
// consecutive (scancel derives them): once every other task of an array
// is cancelled, each waiting task comes as a row of its own, and squeue
// kept 250,000 tasks of five such arrays, 944 bytes each and their views.
// taskFold folds those rows as they are read: a waiting task alike the
// open run's first (the same bytes but for api.TaskRunFields: the
// fields in which the controller's runs differ too)
// joins the run, which is then kept as its first task standing for all
// of them (Array.Tasks), as the controller would have sent it. Squeue
// reads the indexes of a merged line's tasks and the first task's
// fields, never the ids of the others, so the line is the same.

// foldTasks turns the fold on (tests compare squeue's lines without it).
var foldTasks = true

// foldable reports whether j may be one of a run, as the controller's
// groupable.
var foldable = api.MayJoinTaskRun

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
		b.Index <= f.idx[len(f.idx)-1] || !api.SameOutsideTaskRunFields(f.first, j) {
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
