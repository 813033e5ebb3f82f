package raftfsm

import "github.com/shoal-batch/shoal/api"

// JobView is what the scheduler reads of a job: the spec it was submitted
// with, shared with its record (read only), and the fields of its state a
// plan depends on. A pass reads every waiting job; a view is some 250
// bytes and copies no spec, where an api.Job is some 950 that a pass
// would write and read again for each of 320,000 jobs.
//
// The fields a job's record keeps apart from its spec (Name, Priority,
// DependsOn, Held) are the view's own and hide the spec's; the
// environment is not in a view (the spec's Env is nil).
type JobView struct {
	*api.JobSpec
	ID        uint64
	Name      string
	User      string
	State     api.JobState
	Priority  int64
	DependsOn []api.Dependency
	Array     *api.ArrayTask
	Node      string
	Attempts  []api.Attempt
	// WaitReason and EstimatedStartAt are what the last recorded plan
	// said (the scheduling loop records only changes).
	WaitReason       string
	EstimatedStartAt int64
	StopReason       string
	StopCause        api.Cause

	CreatedAt, RunnableAt, StartedAt int64

	Held, HeldByAdmin, PriorityFixed, StopRequested bool
}

// ViewOf is the view of a job held as an api.Job (a job read from the
// state, or one a test makes). It points into j: j must outlive it and
// not change meanwhile.
func ViewOf(j *api.Job) JobView {
	return JobView{JobSpec: &j.JobSpec, ID: j.ID, Name: j.Name, User: j.User, State: j.State,
		Priority: j.Priority, DependsOn: j.DependsOn, Array: j.Array, Node: j.Node, Attempts: j.Attempts,
		WaitReason: j.WaitReason, EstimatedStartAt: j.EstimatedStartAt, StopReason: j.StopReason,
		StopCause: j.StopCause, CreatedAt: j.CreatedAt, RunnableAt: j.RunnableAt, StartedAt: j.StartedAt,
		Held: j.Held, HeldByAdmin: j.HeldByAdmin, PriorityFixed: j.PriorityFixed, StopRequested: j.StopRequested}
}

// viewAt writes the view of job id, read from r (its record, or a task
// group's: then its own ArrayTask goes in a, or a new one when a is nil).
func (r *jobRec) viewAt(v *JobView, id uint64, a *api.ArrayTask) {
	r.view(v)
	if r.group() {
		if a == nil {
			a = new(api.ArrayTask)
		}
		r.taskOf(id, a)
		v.ID, v.Priority, v.Array = id, r.taskPriority(id), a
	}
}

// view sets v from r.
func (r *jobRec) view(v *JobView) {
	*v = JobView{JobSpec: &r.spec.JobSpec, ID: r.ID, Name: r.Name, User: r.spec.User, State: stateNames[r.state],
		Priority: r.Priority, DependsOn: r.DependsOn, Array: r.Array, Node: r.Node(),
		WaitReason: r.WaitReason, EstimatedStartAt: r.EstimatedStartAt,
		CreatedAt: r.CreatedAt, RunnableAt: r.RunnableAt, StartedAt: r.StartedAt,
		Held: r.Held, HeldByAdmin: r.HeldByAdmin, PriorityFixed: r.PriorityFixed}
	if x := r.rare; x != nil {
		v.Attempts, v.StopReason, v.StopCause, v.StopRequested = x.Attempts, x.StopReason, x.StopCause, x.StopRequested
	}
}

// JobViews calls fn with the view of each job in state st, in id order,
// until fn returns false. The views are made in the state's arena
// (WithArena), else in new memory.
func (s *State) JobViews(st api.JobState, fn func(*JobView) bool) {
	load := s.arena.load
	if s.arena == nil {
		load = func(r *jobRec, id uint64) *JobView { v := new(JobView); r.viewAt(v, id, nil); return v }
	}
	eachSetMember(s.txn, tableJobSets, stateSetPrefix(st), func(m setMember) bool { return fn(load(m.Job, m.ID)) })
}
