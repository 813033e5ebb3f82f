package raftfsm

import (
	"fmt"

	"github.com/shoal-batch/shoal/api"
)

// depOutcome is where one dependency stands.
type depOutcome int

const (
	depWaiting depOutcome = iota
	depSatisfied
	depNever // can no longer be satisfied
)

// outcome evaluates one concrete dependency against the job it names.
func outcome(d api.Dependency, dep *api.Job) depOutcome {
	return stateOutcome(d, dep.State, dep.StartedAt)
}

// stateOutcome is outcome from what it reads of the job named: its state
// and when it started (0: never).
func stateOutcome(d api.Dependency, state api.JobState, startedAt int64) depOutcome {
	switch d.Type {
	case api.AfterAny:
		if state.Terminal() {
			return depSatisfied
		}
	case api.After:
		if startedAt != 0 || state.Terminal() {
			return depSatisfied
		}
	case api.AfterNotOK:
		switch state {
		case api.StateFailed:
			return depSatisfied
		case api.StateSucceeded:
			return depNever
		}
	default: // afterok
		switch state {
		case api.StateSucceeded:
			return depSatisfied
		case api.StateFailed:
			return depNever
		}
	}
	return depWaiting
}

// resolve moves a SUBMITTED or PENDING job as far as its dependencies and
// hold allow: RUNNABLE when they are met (all of them, or one with
// DependAny), FAILED when they never can be, else PENDING. It returns how
// many of the job's links hold it where it is: those not yet met, or
// with DependAny, those that still can be.
func (w writer) resolve(j *api.Job, now int64) (blocking int) {
	if j.StatusReason == api.ReasonDependencyNever {
		return 0 // it waits until cancelled
	}
	satisfied, never := 0, 0
	// Links to an array's tasks share their buckets.
	read := linkReader{past: w.past, now: recReader{txn: w.txn}}
	for _, d := range j.DependsOn {
		switch read.outcome(j, d) {
		case depSatisfied:
			satisfied++
		case depNever:
			never++
		}
	}
	n := len(j.DependsOn)
	met, failed := satisfied == n, never > 0
	blocking = n - satisfied
	if j.DependAny && n > 0 {
		met, failed = satisfied > 0, never == n
		blocking = n - never
	}
	switch {
	case failed:
		w.dependencyNever(j, now)
	case met && !j.Held:
		mustMove(j, api.StateRunnable, now)
	case j.State == api.StateSubmitted:
		mustMove(j, api.StatePending, now)
	}
	return blocking
}

// linkReader reads the jobs one job's links name, while nothing is
// written: those before a submit from its pastJobs (past, nil but in a
// submit), which keeps their buckets for all its jobs, the others from
// buckets kept for this job's links (now).
type linkReader struct {
	past *pastJobs
	now  recReader
}

// outcome is where j's dependency d stands.
func (read *linkReader) outcome(j *api.Job, d api.Dependency) depOutcome {
	// Read from the slot as it is: a task group's state and start are
	// each of its tasks', and a job of 200,000 links made a record and
	// an api.Job of each was most of its submit.
	var r *jobRec
	if read.past != nil && d.JobID < read.past.before {
		r = read.past.raw(d.JobID)
	} else {
		r = read.now.raw(d.JobID)
	}
	if r == nil { // checked at submit; jobs are never deleted
		panic(fmt.Sprintf("raftfsm: job %d depends on missing job %d", j.ID, d.JobID))
	}
	return stateOutcome(d, r.State(), r.StartedAt)
}

// dependencyNever ends a job whose dependencies can never be met: FAILED
// (cause dependency), or, KeepOnInvalidDep, PENDING for good with
// ReasonDependencyNever.
func (w writer) dependencyNever(j *api.Job, now int64) {
	if j.KeepOnInvalidDep {
		if j.State == api.StateSubmitted {
			mustMove(j, api.StatePending, now)
		}
		j.StatusReason = api.ReasonDependencyNever
		return
	}
	mustMove(j, api.StateFailed, now)
	j.StatusReason, j.Cause = api.ReasonDependencyFailed, api.CauseDependency
}

// released re-resolves the PENDING dependents of a job that started or
// ended; those that fail release their own dependents in turn.
func (w writer) released(id uint64, now int64) { w.releasedAll([]uint64{id}, now) }

// releasedAll re-resolves, once each, the PENDING dependents of jobs that
// started or ended (in the order of ids, then of each one's dependents);
// those that fail release their own dependents in turn. A dependent whose
// hint (dephints.go) shows that these jobs cannot move it costs a look at
// its hint and its links to them, not a read of the job and of all its
// links: a job waiting on a 20,000-task array is read in full twice, not
// at each task's end, and 20,000 jobs waiting on one array are not read
// at each of its tasks' ends.
func (w writer) releasedAll(ids []uint64, now int64) {
	released := newJobIDSet(ids)
	var waiting []*api.Job
	read := recReader{txn: w.txn}
	slab := jobSlab{noEnv: true} // to change their states: no command changes an environment
	for _, id := range dependentIDs(w.txn, ids...) {
		if w.unmoved(id, &released) {
			continue
		}
		if r := read.raw(id); r != nil {
			if d := slab.loadAt(r, id); d.State == api.StatePending {
				c := *d
				waiting = append(waiting, &c)
			}
		}
	}
	for _, d := range waiting {
		before, why := d.State, d.StatusReason
		blocking := w.resolve(d, now)
		if d.State == before && d.StatusReason == why {
			w.putDepHint(d, blocking)
			continue
		}
		w.put(tableJobs, d)
		if d.State.Terminal() {
			w.released(d.ID, now)
		}
	}
}
