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
type corrTables map[uint64]map[int]uint64

// corrTable returns the task ids by index of the array whose first task
// is array (empty: no array in the state), kept in *t.
func (w writer) corrTable(t *corrTables, array uint64) map[int]uint64 {
	if m, ok := (*t)[array]; ok {
		return m
	}
	count := w.arraySize(array)
	m := make(map[int]uint64, count)
	for id := array; id < array+uint64(count); id++ {
		r := storedSlot(w.txn, id)
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
		m[x] = id
	}
	if *t == nil {
		*t = corrTables{}
	}
	(*t)[array] = m
	return m
}

// corrDeps turns aftercorr dependency d of j (task: its place in its
// array, nil for no array) into concrete ones.
func (w writer) corrDeps(j *api.Job, d api.Dependency, task *api.ArrayTask) []api.Dependency {
	if task != nil {
		if id, ok := w.corrTable(&w.corr, d.JobID)[task.Index]; ok {
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
		if _, ok := m[x]; ok {
			n++
		} else {
			n += whole
		}
	}
	return n
}
