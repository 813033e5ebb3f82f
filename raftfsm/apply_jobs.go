package raftfsm

import (
	"fmt"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
)

// writer applies commands inside one write transaction. Stored objects are
// never modified in place (readers may hold them): it copies, then inserts.
type writer struct{ txn *memdb.Txn }

// job returns a copy of a stored job, or nil.
func (w writer) job(id uint64) *api.Job { return readCopy[api.Job](w, tableJobs, id) }

// node returns a copy of a stored node, or nil.
func (w writer) node(name string) *api.Node { return readCopy[api.Node](w, tableNodes, name) }

// readCopy reads one object by id and returns a copy the caller may change.
func readCopy[T any](w writer, table string, id any) *T {
	raw, err := w.txn.First(table, "id", id)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: read %s %v: %v", table, id, err))
	}
	if raw == nil {
		return nil
	}
	c := *raw.(*T)
	return &c
}

func (w writer) put(table string, obj any) {
	if err := w.txn.Insert(table, obj); err != nil {
		panic(fmt.Sprintf("raftfsm: write %s: %v", table, err))
	}
}

func (w writer) meta() meta {
	raw, err := w.txn.First(tableMeta, "id", "meta")
	if err != nil {
		panic(fmt.Sprintf("raftfsm: read meta: %v", err))
	}
	if raw == nil {
		return meta{Key: "meta", NextJobID: 1}
	}
	return *raw.(*meta)
}

// submit stores new jobs with consecutive ids and resolves each to PENDING
// (waiting on dependencies), RUNNABLE, or FAILED (a dependency already failed).
// Dependencies may name earlier jobs of the same command.
func (w writer) submit(c SubmitCmd) Result {
	m := w.meta()
	first := m.NextJobID
	for i, j := range c.Jobs {
		for _, dep := range j.DependsOn {
			inBatch := dep >= first && dep < first+uint64(i)
			if !inBatch && w.job(dep) == nil {
				return Result{Err: api.Errorf(api.CodeNotFound,
					"job %q depends on job %d, which does not exist", j.Name, dep)}
			}
		}
	}
	ids := make([]uint64, len(c.Jobs))
	for i := range c.Jobs {
		j := c.Jobs[i]
		j.ID = first + uint64(i)
		j.State = api.StateSubmitted
		j.CreatedAt = c.Now
		ids[i] = j.ID
		w.resolve(&j, c.Now)
		w.put(tableJobs, &j)
	}
	m.NextJobID = first + uint64(len(c.Jobs))
	w.put(tableMeta, &m)
	return Result{IDs: ids}
}

// resolve moves a SUBMITTED or PENDING job as far as its dependencies allow.
func (w writer) resolve(j *api.Job, now int64) {
	waiting := false
	for _, dep := range j.DependsOn {
		d := w.job(dep)
		switch {
		case d == nil: // checked at submit; cannot vanish
			panic(fmt.Sprintf("raftfsm: job %d depends on missing job %d", j.ID, dep))
		case d.State == api.StateFailed:
			mustMove(j, api.StateFailed, now)
			j.StatusReason = api.ReasonDependencyFailed
			return
		case d.State != api.StateSucceeded:
			waiting = true
		}
	}
	switch {
	case waiting && j.State == api.StateSubmitted:
		mustMove(j, api.StatePending, now)
	case !waiting:
		mustMove(j, api.StateRunnable, now)
	}
}

// finished releases a job's dependents once it has reached a terminal state:
// they become RUNNABLE when all their dependencies succeeded, FAILED (and so
// on down the chain) when one failed.
func (w writer) finished(id uint64, now int64) {
	it, err := w.txn.Get(tableJobs, "deps", id)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: read dependents of %d: %v", id, err))
	}
	var dependents []*api.Job
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if d := raw.(*api.Job); d.State == api.StatePending {
			c := *d
			dependents = append(dependents, &c)
		}
	}
	for _, d := range dependents {
		w.resolve(d, now)
		w.put(tableJobs, d)
		if d.State.Terminal() {
			w.finished(d.ID, now)
		}
	}
}

// stop applies cancel (unplaced jobs) or terminate (placed jobs).
func (w writer) stop(c StopCmd) Result {
	j := w.job(c.ID)
	if j == nil {
		return Result{Err: api.Errorf(api.CodeNotFound, "job %d does not exist", c.ID)}
	}
	if c.CallerUID != 0 && c.CallerUID != j.UID {
		return Result{Err: api.Errorf(api.CodeForbidden,
			"job %d belongs to %s; only its owner or root may stop it", j.ID, j.User)}
	}
	if c.Terminate && j.State.Terminable() {
		if j.StopRequested {
			return Result{}
		}
		j.StopRequested = true
		j.StopReason = c.Reason
		w.put(tableJobs, j)
		return Result{}
	}
	// terminate on an unplaced job cancels it, as AWS Batch does.
	if !j.State.Cancellable() {
		verb, allowed := "cancel", "SUBMITTED, PENDING or RUNNABLE"
		if c.Terminate {
			verb, allowed = "terminate", "SUBMITTED through RUNNING"
		}
		return Result{Err: api.Errorf(api.CodeConflict,
			"cannot %s job %d: it is %s; %s applies to jobs that are %s", verb, j.ID, j.State, verb, allowed)}
	}
	mustMove(j, api.StateFailed, c.Now)
	j.StatusReason = c.Reason
	w.put(tableJobs, j)
	w.finished(j.ID, c.Now)
	return Result{}
}

// jobEvents records nodes' reports. A report that does not match the state
// (a duplicate, a job placed elsewhere since) is ignored: nodes resend.
func (w writer) jobEvents(c JobEventsCmd) Result {
	for _, ev := range c.Events {
		j := w.job(ev.ID)
		if j == nil || j.Node != ev.Node || j.State.Terminal() {
			continue
		}
		switch ev.State {
		case api.StateRunning:
			if j.State != api.StateStarting {
				continue
			}
			mustMove(j, api.StateRunning, c.Now)
			w.put(tableJobs, j)
		case api.StateSucceeded, api.StateFailed:
			w.complete(j, ev, c.Now)
		}
	}
	return Result{}
}

// complete ends a placed job with a node's report.
func (w writer) complete(j *api.Job, ev api.JobEvent, now int64) {
	to := ev.State
	if j.StopRequested || ev.OOMKilled || (ev.ExitCode != nil && *ev.ExitCode != 0) {
		to = api.StateFailed
	}
	if j.State == api.StateStarting && to == api.StateSucceeded {
		mustMove(j, api.StateRunning, now) // the node's RUNNING report was folded in
	}
	if err := move(j, to, now); err != nil {
		return
	}
	j.ExitCode, j.Signal = ev.ExitCode, ev.Signal
	switch {
	case j.StopRequested:
		j.StatusReason = j.StopReason
	case ev.OOMKilled:
		j.StatusReason = api.ReasonOutOfMemory
	case ev.Reason != "":
		j.StatusReason = ev.Reason
	case to == api.StateFailed:
		j.StatusReason = api.ReasonNonZeroExit
	}
	w.release(j)
	w.put(tableJobs, j)
	w.finished(j.ID, now)
}
