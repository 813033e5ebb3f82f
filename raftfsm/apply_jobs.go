package raftfsm

import (
	"fmt"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
)

// writer applies commands inside one write transaction. Stored objects are
// never modified in place (readers may hold them): it copies, then inserts.
// out, when set, collects what the transaction did beyond the state.
type writer struct {
	txn *memdb.Txn
	out *applyOut
	// open is the command's openCache: what it has opened to change.
	open *openCache
	// ended are a SubmitCmd's jobs that have left the state.
	ended map[uint64]EndedJob
	// corr holds, for a SubmitCmd with aftercorr, the task ids of arrays
	// by index (aftercorr.go).
	corr corrTables
	// singles holds, for a SubmitCmd, the jobs singleton expands into
	// (apply_submit.go).
	singles singletons
	// past reads, for a SubmitCmd, the jobs stored before it (pastJobs).
	past *pastJobs
}

// pastJobs reads the slots of the jobs stored before a submit (ids below
// before), which it never changes: a read from the job buckets kept, and
// not a go-memdb lookup, for each of its 200,000 links
// (MaxDependencyLinks) as it is checked and expanded. A bucket the
// submit copies to store its first jobs holds the same earlier ones.
type pastJobs struct {
	recReader
	before uint64
}

// slot is what the slot of job id holds (storedSlot).
func (p *pastJobs) slot(id uint64) *jobRec {
	if id < p.before {
		return p.raw(id)
	}
	return storedSlot(p.txn, id)
}

// slot is what the slot of job id holds (storedSlot), read by the
// submit's pastJobs if it has one.
func (w writer) slot(id uint64) *jobRec {
	if w.past != nil {
		return w.past.slot(id)
	}
	return storedSlot(w.txn, id)
}

// job returns a copy of a stored job, or nil, without its environment
// (Env nil): no command changes a job's environment, and storing the
// copy keeps the one the record has (newJobRec). Unpacking it for every
// change of state was most of what a change cost a job with its own.
func (w writer) job(id uint64) *api.Job {
	if r := storedRec(w.txn, id); r != nil {
		j := new(api.Job)
		r.loadNoEnv(j)
		return j
	}
	return nil
}

// jobInto is job, loaded into dst (a copy the caller reuses from job to
// job: a command that moves a thousand jobs need not make a thousand
// api.Jobs, the largest part of its garbage), or nil. Storing dst keeps
// nothing of it (newJobRec copies what it holds).
func (w writer) jobInto(id uint64, dst *api.Job) *api.Job {
	if r := storedRec(w.txn, id); r != nil {
		r.loadNoEnv(dst)
		return dst
	}
	return nil
}

// stored reports whether job id is in the state, loading nothing.
func (w writer) stored(id uint64) bool { return w.slot(id) != nil }

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
	if table == tableJobs {
		putJob(w.txn, w.open, obj.(*api.Job), w.specs())
		return
	}
	if err := w.txn.Insert(table, obj); err != nil {
		panic(fmt.Sprintf("raftfsm: write %s: %v", table, err))
	}
}

// specs is the FSM's cache of what jobs share, or nil in Check, which
// stores nothing.
func (w writer) specs() *specCache {
	if w.out != nil && w.out.shared != nil {
		return &w.out.shared.specs
	}
	return nil
}

// putJob stores j (new, or in place of the job of its id) as a record
// that shares its spec with the one it replaces or one in cache, and
// keeps the job sets.
func putJob(txn *memdb.Txn, open *openCache, j *api.Job, cache *specCache) {
	// A group the slot held shares what newJobRec reuses (spec, place,
	// environment, rare fields) as the task's own record would.
	was, r := storeJobFrom(txn, open, j.ID, func(was *jobRec) *jobRec { return cache.groupTask(newJobRec(j, was, cache)) })
	setWriter{txn, open}.moveJob(j.ID, was, r)
}

// deleteJob removes a stored job (and its places in the job sets).
func (w writer) deleteJob(j *api.Job) {
	setWriter{w.txn, w.open}.moveJob(j.ID, storeJob(w.txn, w.open, j.ID, nil), nil)
}

// NextJobID is the id the next job submitted gets: a job id below it
// that the state does not hold has ended and left (or never was one).
func (s *State) NextJobID() uint64 { return writer{txn: s.txn}.meta().NextJobID }

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

// owns refuses a caller who is neither root nor the job's owner.
func owns(j *api.Job, uid uint32, verb string) *api.Error {
	if uid != 0 && uid != j.UID {
		return api.Errorf(api.CodeForbidden, "job %d belongs to %s; only its owner or root may %s it", j.ID, j.User, verb)
	}
	return nil
}

// stop applies cancel (unplaced jobs), terminate (placed jobs; unplaced
// ones are cancelled, as AWS Batch does) and requeue (placed jobs run
// again once stopped).
func (w writer) stop(c StopCmd) Result {
	j := w.job(c.ID)
	if j == nil {
		return Result{Err: api.Errorf(api.CodeNotFound, "job %d does not exist", c.ID)}
	}
	verb := "cancel"
	switch {
	case c.Requeue:
		verb = "requeue"
	case c.Terminate:
		verb = "terminate"
	}
	if err := owns(j, c.CallerUID, verb); err != nil {
		return Result{Err: err}
	}
	switch {
	case c.Deadline:
		return w.deadline(j, c.Now)
	case c.Requeue && j.NoRequeue:
		return Result{Err: api.Errorf(api.CodeConflict, "cannot requeue job %d: it was submitted with --no-requeue", j.ID)}
	case c.Requeue && j.State.Terminable():
		j.StopRequested, j.RequeueRequested, j.StopReason = true, true, c.Reason
		requeueHold(j, c)
		w.put(tableJobs, j)
		return Result{}
	case c.Requeue && j.State.Cancellable():
		return Result{} // not started: already queued
	case c.Requeue && j.State.Terminal():
		requeueHold(j, c)
		w.requeueEnded(j, c.Now)
		return Result{}
	case c.Terminate && j.State.Terminable():
		if !j.StopRequested {
			j.StopRequested, j.StopReason, j.StopCause = true, c.Reason, api.CauseTerminated
			w.put(tableJobs, j)
		}
		return Result{}
	case j.State.Cancellable() && !c.Requeue:
		mustMove(j, api.StateFailed, c.Now)
		j.StatusReason, j.Cause = c.Reason, api.CauseCancelled
		w.put(tableJobs, j)
		w.released(j.ID, c.Now)
		return Result{}
	}
	allowed := "SUBMITTED, PENDING or RUNNABLE"
	if c.Terminate {
		allowed = "SUBMITTED through RUNNING"
	}
	return Result{Err: api.Errorf(api.CodeConflict,
		"cannot %s job %d: it is %s; %s applies to jobs that are %s", verb, j.ID, j.State, verb, allowed)}
}

// requeueEnded queues a job that has ended to run again, as Slurm's
// scontrol requeue does with a finished batch job: its last attempt is
// recorded, and it waits as a new submission would (its dependencies were
// met when it first ran, and Slurm forgets those that are met).
func (w writer) requeueEnded(j *api.Job, now int64) {
	all := j.AttemptHistory()
	if n := len(all); n > len(j.Attempts) { // it ran: that run is now an attempt
		all[n-1].Cause = api.CauseRequeued
		all[n-1].Usage = copyUsage(j.Usage)
	}
	// Attempt already counts the run just recorded (placing the job
	// counted it); it counts the attempts dropped beyond MaxJobAttempts
	// too, so it never falls back to what the list holds.
	j.Attempt = max(j.Attempt, j.AttemptsDropped+len(all))
	j.Attempts = keepAttempts(all)
	j.AttemptsDropped += len(all) - len(j.Attempts)
	reopen(j, now)
	w.put(tableJobs, j)
}

// requeueHold holds a job being requeued when c asks (scontrol
// requeuehold): root's hold of another's job is an admin hold.
func requeueHold(j *api.Job, c StopCmd) {
	if c.Hold {
		j.Held = true
		j.HeldByAdmin = j.HeldByAdmin || c.CallerUID == 0 && j.UID != 0
	}
}

// hold holds or releases jobs that have not started, all or none.
func (w writer) hold(c HoldCmd) Result {
	jobs := make([]*api.Job, 0, len(c.IDs))
	verb := map[bool]string{true: "hold", false: "release"}[c.Hold]
	for _, id := range c.IDs {
		j := w.job(id)
		if j == nil {
			return Result{Err: api.Errorf(api.CodeNotFound, "job %d does not exist", id)}
		}
		if err := owns(j, c.CallerUID, verb); err != nil {
			return Result{Err: err}
		}
		if !c.Hold && j.HeldByAdmin && c.CallerUID != 0 {
			return Result{Err: api.Errorf(api.CodeForbidden, "cannot release job %d: an administrator held it (JobHeldAdmin), and only root may release it", id)}
		}
		// A job being requeued (scontrol requeuehold) is held once it is queued again.
		if !j.State.Cancellable() && !(c.Hold && j.RequeueRequested) {
			return Result{Err: api.Errorf(api.CodeConflict, "cannot %s job %d: it is %s; only jobs that have not started can be held or released", verb, id, j.State)}
		}
		jobs = append(jobs, j)
	}
	for _, j := range jobs {
		byAdmin := c.Hold && c.CallerUID == 0 && j.UID != 0 // JobHeldAdmin
		if j.Held == c.Hold {
			if byAdmin && !j.HeldByAdmin { // root's hold of a job its owner held
				j.HeldByAdmin = true
				w.put(tableJobs, j)
			}
			continue
		}
		j.Held = c.Hold
		j.HeldByAdmin = byAdmin
		switch {
		case c.Hold && j.State == api.StateRunnable:
			mustMove(j, api.StatePending, c.Now)
		case c.Hold && !j.State.Cancellable():
			// requeued: finish holds it once its node reports the stop
		case !c.Hold:
			// Released, it waits its turn behind the jobs already
			// waiting, as Slurm's release gives a job the next lowest
			// priority: that of a job submitted now.
			if !j.PriorityFixed && j.JobDefinition == "" {
				j.Priority = max(api.DefaultPriority(w.meta().NextJobID)-j.Nice, 1)
			}
			w.resolve(j, c.Now)
		}
		w.put(tableJobs, j)
		if j.State.Terminal() {
			w.released(j.ID, c.Now)
		}
	}
	return Result{}
}

// updateJob changes what may still change: the name always, the queue and
// begin time before the job starts, the priority and nice until it ends
// (Slurm lets them change on a running job too), the time limit until it
// ends (others than root may only lower it, as in Slurm).
func (w writer) updateJob(c UpdateJobCmd) Result {
	u := c.Update
	j := w.job(u.ID)
	if j == nil {
		return Result{Err: api.Errorf(api.CodeNotFound, "job %d does not exist", u.ID)}
	}
	if err := owns(j, c.CallerUID, "update"); err != nil {
		return Result{Err: err}
	}
	if len(u.Queues) > 0 && (u.Queue == nil || *u.Queue != u.Queues[0]) {
		return Result{Err: api.Errorf(api.CodeInvalid, "job %d: the queues to move it to need jobQueue, their first", j.ID).WithField("jobQueue")}
	}
	if (u.Queue != nil || u.BeginAt != nil) && !j.State.Cancellable() {
		return Result{Err: api.Errorf(api.CodeConflict, "cannot change the queue or begin time of job %d: it is %s; only jobs that have not started can", j.ID, j.State)}
	}
	if (u.Priority != nil || u.Nice != nil) && j.State.Terminal() {
		return Result{Err: api.Errorf(api.CodeConflict, "cannot change the priority or nice of job %d: it has ended", j.ID)}
	}
	if u.BeginAt != nil {
		j.BeginAt = max(*u.BeginAt, 0)
	}
	if u.TimeLimit != nil {
		switch {
		case j.State.Terminal():
			return Result{Err: api.Errorf(api.CodeConflict, "cannot change the time limit of job %d: it has ended", j.ID)}
		case c.CallerUID != 0 && (j.TimeLimit == 0 || *u.TimeLimit == 0 || *u.TimeLimit > j.TimeLimit):
			return Result{Err: api.Errorf(api.CodeForbidden, "only root may raise the time limit of job %d; you may lower it", j.ID).WithField("timeLimit")}
		}
		j.TimeLimit = *u.TimeLimit
	}
	if u.Name != nil {
		j.Name = *u.Name
	}
	if u.Queue != nil {
		j.Queue, j.Queues = *u.Queue, u.Queues
		// The share a fair-share queue orders it by, as a submit gives
		// it (its user's unless it named one); none on a FIFO queue.
		if q := (&State{txn: w.txn}).Queue(j.Queue); q != nil {
			switch {
			case q.SchedulingPolicyArn == "":
				j.ShareIdentifier = ""
			case j.ShareIdentifier == "":
				j.ShareIdentifier = j.User
			}
		}
	}
	if u.Nice != nil {
		switch {
		case *u.Nice < -api.MaxNice || *u.Nice > api.MaxNice:
			return Result{Err: api.Errorf(api.CodeInvalid, "nice %d of job %d is out of range: it is from %d to %d", *u.Nice, j.ID, -api.MaxNice, api.MaxNice).WithField("nice")}
		case *u.Nice < 0 && c.CallerUID != 0:
			return Result{Err: api.Errorf(api.CodeForbidden, "only root may give job %d a negative nice", j.ID).WithField("nice")}
		}
		if !j.PriorityFixed { // Slurm ignores a nice change of a set priority
			j.Priority = max(j.Priority+j.Nice-*u.Nice, 1)
		}
		j.Nice = *u.Nice
	}
	if u.Priority != nil {
		// As Slurm: others than root may lower a priority, not raise it,
		// and what they set is not kept through a release or a nice
		// change (direct_set_prio is root's).
		if c.CallerUID != 0 && *u.Priority > j.Priority {
			return Result{Err: api.Errorf(api.CodeForbidden, "only root may raise the priority of job %d (from %d to %d); you may lower it", j.ID, j.Priority, *u.Priority).WithField("priority")}
		}
		j.Priority = *u.Priority
		j.PriorityFixed = j.PriorityFixed || c.CallerUID == 0
	}
	w.put(tableJobs, j)
	return Result{}
}

// jobEvents records nodes' reports. A report that does not match the state
// (a duplicate, a job placed elsewhere since, a job not placed) is ignored:
// nodes resend.
func (w writer) jobEvents(c JobEventsCmd) Result {
	var each api.Job
	for _, ev := range c.Events {
		j := w.jobInto(ev.ID, &each)
		if j == nil || j.Node != ev.Node || !j.State.Terminable() {
			continue
		}
		if ev.Attempt != 0 && ev.Attempt != j.Attempt {
			continue // about an attempt given up on (its node stopped responding)
		}
		switch ev.State {
		case api.StateRunning:
			if j.State != api.StateStarting {
				continue
			}
			mustMove(j, api.StateRunning, c.Now)
			w.put(tableJobs, j)
			w.released(j.ID, c.Now)
		case api.StateSucceeded, api.StateFailed:
			w.complete(j, ev, c.Now)
		case api.StateRunnable:
			w.handBack(j, ev, c.Now)
		}
	}
	return Result{}
}

// handBack applies a node's giving back a job it never started (the node
// daemon shut down): the job is queued again as if never placed, its
// attempt not counted; one that was being stopped ends as the stop asked.
func (w writer) handBack(j *api.Job, ev api.JobEvent, now int64) {
	if j.State != api.StateStarting {
		return // it started after all: its end will be reported
	}
	if j.StopRequested && !j.RequeueRequested {
		w.complete(j, api.JobEvent{ID: j.ID, Node: ev.Node, State: api.StateFailed}, now)
		return
	}
	w.release(j)
	mustMove(j, api.StateRunnable, now)
	j.Attempt--
	j.StopRequested, j.RequeueRequested, j.StopReason, j.StopCause, j.StopGraceSeconds = false, false, "", "", 0
	j.SignalRequests = nil
	w.put(tableJobs, j)
}

// complete ends a placed job with a node's report: SUCCEEDED, FAILED with a
// cause and reason, or back to RUNNABLE when a requeue was asked or the
// retry strategy runs it again (AWS Batch's retryStrategy).
func (w writer) complete(j *api.Job, ev api.JobEvent, now int64) { w.finish(j, ev, now, false) }

// finish is complete; nodeFail says the attempt ended because its node
// stopped responding, which requeues jobs without a retry strategy as
// Slurm does (retries). Every attempt that does not end the job is
// recorded in Attempts (the last api.MaxJobAttempts are kept).
func (w writer) finish(j *api.Job, ev api.JobEvent, now int64, nodeFail bool) {
	w.release(j)
	w.endCharge(j, now) // fair share: what the periodic charges left of the attempt (usagecharge.go)
	failed := ev.State == api.StateFailed || j.StopRequested || ev.OOMKilled || ev.TimedOut ||
		(ev.ExitCode != nil && *ev.ExitCode != 0)
	reason, cause := "", api.Cause("")
	switch {
	case !failed:
	case j.StopRequested:
		reason, cause = j.StopReason, j.StopCause
	case ev.OOMKilled:
		reason, cause = api.ReasonOutOfMemory, api.CauseOOM
	case ev.TimedOut:
		reason, cause = api.ReasonTimeout, api.CauseTimeout
	case ev.Reason != "":
		reason, cause = ev.Reason, ev.Cause
	default:
		reason, cause = api.ReasonNonZeroExit, api.CauseExitCode
	}
	if failed && cause == "" {
		cause = api.CauseExitCode
	}
	// The usage comes in the command, measured by the node: a copy, so no
	// two stored jobs share one.
	usage := copyUsage(ev.Usage)
	retry := failed && retries(j, ended{exitCode: ev.ExitCode, signal: ev.Signal, statusReason: reason, reason: reason}, nodeFail)
	if j.RequeueRequested || retry {
		a := api.Attempt{Node: j.Node, ExitCode: ev.ExitCode, ExitSignal: ev.Signal, StatusReason: reason,
			StartedAt: j.StartedAt, StoppedAt: now, Usage: usage, Cause: cause}
		if failed && cause != "" {
			a.Reason = reason
		}
		if j.RequeueRequested {
			a.Cause, a.Reason = api.CauseRequeued, ""
		}
		// The last MaxJobAttempts are kept; Attempt counts them all, and
		// AttemptsDropped those dropped.
		all := append(j.Attempts, a)
		j.Attempts = keepAttempts(all)
		j.AttemptsDropped += len(all) - len(j.Attempts)
		j.Usage = nil // the next attempt's, when it ends
		mustMove(j, api.StateRunnable, now)
		j.StopRequested, j.RequeueRequested, j.StopReason, j.StopCause, j.StopGraceSeconds = false, false, "", "", 0
		j.SignalRequests = nil // they were for the attempt that ended
		if j.Held {
			mustMove(j, api.StatePending, now) // scontrol requeuehold
		}
		w.put(tableJobs, j)
		return
	}
	if j.State == api.StateStarting && !failed {
		mustMove(j, api.StateRunning, now) // the node's RUNNING report was folded in
	}
	if failed {
		mustMove(j, api.StateFailed, now)
	} else {
		mustMove(j, api.StateSucceeded, now)
	}
	j.ExitCode, j.ExitSignal, j.StatusReason, j.Cause = ev.ExitCode, ev.Signal, reason, cause
	j.Usage = usage
	w.put(tableJobs, j)
	w.released(j.ID, now)
}

// copyUsage returns a deep copy of u (nil for nil).
func copyUsage(u *api.JobUsage) *api.JobUsage {
	if u == nil {
		return nil
	}
	c := *u
	c.GPUs = append([]api.UsedGPU(nil), u.GPUs...)
	if len(u.GPUs) == 0 {
		c.GPUs = nil
	}
	return &c
}
