package raftfsm

import "github.com/shoal-batch/shoal/api"

// Slurm's aftercorr, as 22.05's slurmctld tests it (job_scheduler.c,
// _test_job_dependency_common): the task of index N of the dependent array
// waits for the task of index N of the array it names, and succeeds or
// fails with it. A task with no counterpart there (the arrays need not
// have the same indexes or size), or a dependent that is no array task,
// waits for the named job as a whole: every task of its array, or the job
// when it is no array (afterok). The counterpart is looked up once, at
// submit, among the named array's tasks in the state: one that has left
// it (MinJobAge) is no counterpart, as in slurmctld once it is purged.

// corrTables holds, for the arrays named by a command's aftercorr
// dependencies, their tasks' ids by index.
type corrTables map[uint64]*corrTable

// corrTable is one array's task ids by index: in a slice from the lowest
// index where the indexes are dense, as most arrays' are (0-N): a map of
// 100,000 tasks, looked up at random, was a tenth of an aftercorr of two
// such arrays.
type corrTable struct {
	lo     int
	ids    []uint64 // ids[x-lo]: the task of index x (0: none)
	sparse map[int]uint64
}

func (t *corrTable) task(x int) (uint64, bool) {
	if t.sparse != nil {
		id, ok := t.sparse[x]
		return id, ok
	}
	if x < t.lo || x-t.lo >= len(t.ids) || t.ids[x-t.lo] == 0 {
		return 0, false
	}
	return t.ids[x-t.lo], true
}

// corrTable returns the task ids by index of the array whose first task
// is array (none: no array in the state), kept in *t.
func (w writer) corrTable(t *corrTables, array uint64) *corrTable {
	if m, ok := (*t)[array]; ok {
		return m
	}
	count := w.arraySize(array)
	type task struct {
		x  int
		id uint64
	}
	tasks := make([]task, 0, count)
	lo, hi := 0, -1
	for id := array; id < array+uint64(count); id++ {
		r := w.slot(id)
		if r == nil || r.Array == nil || r.Array.JobID != array {
			continue // left the state
		}
		x := r.Array.Index
		if r.group() { // a group's Array.Index is no task's: see arraytasks.go
			var ok bool
			if x, ok = taskIndex(r.Array, id); !ok {
				continue
			}
		}
		if len(tasks) == 0 {
			lo, hi = x, x
		}
		tasks = append(tasks, task{x, id})
		lo, hi = min(lo, x), max(hi, x)
	}
	table := &corrTable{lo: lo}
	if span := hi - lo + 1; span <= 2*len(tasks) {
		table.ids = make([]uint64, span)
		for _, t := range tasks {
			table.ids[t.x-lo] = t.id
		}
	} else {
		table.sparse = make(map[int]uint64, len(tasks))
		for _, t := range tasks {
			table.sparse[t.x] = t.id
		}
	}
	if *t == nil {
		*t = corrTables{}
	}
	(*t)[array] = table
	return table
}

// corrDeps turns aftercorr dependency d of j (task: its place in its
// array, nil for no array) into concrete ones.
func (w writer) corrDeps(j *api.Job, d api.Dependency, task *api.ArrayTask) []api.Dependency {
	if task != nil {
		if id, ok := w.corrTable(&w.corr, d.JobID).task(task.Index); ok {
			return []api.Dependency{{JobID: id, Type: api.AfterOK}}
		}
	}
	return w.concrete(j, api.Dependency{JobID: d.JobID, Type: api.AfterOK})
}

// corrLinks is how many links aftercorr dependency d makes for a job of
// the array indexes (none: no array), as dependencyLinks counts them: one
// a task with a counterpart, the named job's tasks a task without.
func (w writer) corrLinks(t *corrTables, d api.Dependency, indexes []int) int {
	whole := max(1, w.arraySize(d.JobID))
	if len(indexes) == 0 {
		return whole
	}
	m := w.corrTable(t, d.JobID)
	n := 0
	for _, x := range indexes {
		if _, ok := m.task(x); ok {
			n++
		} else {
			n += whole
		}
	}
	return n
}
