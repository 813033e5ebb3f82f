package raftfsm

import (
	"maps"
	"slices"

	"github.com/shoal-batch/shoal/api"
)

// An array's tasks are alike but for their ids and indexes while they
// wait, and again once they end together (a scancel of the array): a
// 10,000-task array held 10,000 records (some 270 bytes each, with its
// ArrayTask), where Slurm keeps one job record for all its pending tasks
// (about 110 bytes a task of slurmctld's memory, measured). So a task
// record alike another of its array is stored as one shared record, a
// task group: ID 0 (no job has it) and Array set; the slot and set entry
// of each task it stands for point at it, and a reader gets each task's
// own record from it with at(id): the id is the slot's, and the index
// follows from the id (the k-th id of the array has the k-th index).
// That holds for indexes in steps of one size (0-9999, 1-99:2, one
// index), which is what sweeps use; a task of any other array keeps a
// record of its own. Priorities differ too: a job submitted without one
// gets one less than the job before it (api.DefaultPriority), so a group
// says whether its tasks' priorities fall with their ids or are the
// same. Readers never see a group: at is the one way out of a slot or a
// set (jobtable.go, jobsets.go).

// How a group's tasks' priorities go, in its Array.Index (which no task
// reads from it: each task's own follows from its id).
const (
	samePriority    = 0 // every task has the group's Priority
	fallingPriority = 1 // task id has the group's Priority - id
)

// group reports whether r stands for alike tasks (see above).
func (r *jobRec) group() bool { return r != nil && r.ID == 0 && r.Array != nil }

// at returns the record of job id that r, read from id's slot or set
// entry, holds: r itself, or for a group a new record of the task.
func (r *jobRec) at(id uint64) *jobRec {
	if !r.group() {
		return r
	}
	t := *r
	t.ID, t.Array, t.Priority = id, new(api.ArrayTask), r.taskPriority(id)
	r.taskOf(id, t.Array)
	return &t
}

// taskOf writes the ArrayTask of task id of group g into a.
func (g *jobRec) taskOf(id uint64, a *api.ArrayTask) {
	*a = *g.Array
	a.Index, _ = taskIndex(a, id)
}

// ownTask makes j, loaded from r (the record or task group in job id's
// slot), job id's own: for a group, its id, priority and ArrayTask, which
// it writes into a (nil: a new one). Readers that load many jobs use it
// instead of at, which copies the whole record.
func (r *jobRec) ownTask(j *api.Job, id uint64, a *api.ArrayTask) {
	if !r.group() {
		return
	}
	if a == nil {
		a = new(api.ArrayTask)
	}
	r.taskOf(id, a)
	j.ID, j.Priority, j.Array = id, r.taskPriority(id), a
}

// taskPriority is the priority of task id of group g.
func (g *jobRec) taskPriority(id uint64) int64 {
	if g.Array.Index == fallingPriority {
		return g.Priority - int64(id)
	}
	return g.Priority
}

// taskIndex is the index of the array task with id, when the array's
// indexes go up in steps of one size from Min (false otherwise: ids past
// the array, or a step that does not divide the span).
func taskIndex(a *api.ArrayTask, id uint64) (int, bool) {
	if id < a.JobID || id-a.JobID >= uint64(a.Count) {
		return 0, false
	}
	k := int(id - a.JobID)
	if a.Count == 1 {
		return a.Min, true
	}
	span := a.Max - a.Min
	if span%(a.Count-1) != 0 {
		return 0, false
	}
	return a.Min + k*(span/(a.Count-1)), true
}

// groupTask returns what to store for record r: a group that stands for
// r and tasks alike it (one of the last groups stored, or a new one), or
// r itself when r is no task a group can stand for. A nil cache groups
// nothing.
func (c *specCache) groupTask(r *jobRec) *jobRec {
	if c == nil || c.noGroups || r.Array == nil || r.Array.Tasks != "" {
		return r
	}
	if x, ok := taskIndex(r.Array, r.ID); !ok || x != r.Array.Index {
		return r
	}
	// A task whose links are not those of the task before it (aftercorr,
	// N_TO_N, SEQUENTIAL and singleton give each task its own) is alike
	// no other: a group of its own would cost each of an array's 100,000
	// tasks an allocation and a copy.
	ownLinks := c.taskArray == r.Array.JobID && !sameLinks(c.taskLinks, r.DependsOn)
	c.taskArray, c.taskLinks = r.Array.JobID, r.DependsOn
	for _, g := range c.groups {
		if g != nil && g.alike(r) {
			return g
		}
	}
	if ownLinks {
		return r
	}
	g := *r
	a := *r.Array
	a.Index = samePriority
	if !r.PriorityFixed && r.Priority == api.DefaultPriority(r.ID)-r.spec.Nice {
		a.Index, g.Priority = fallingPriority, r.Priority+int64(r.ID)
	}
	g.ID, g.Array = 0, &a
	c.groups[c.nextGroup] = &g
	c.nextGroup = (c.nextGroup + 1) % len(c.groups)
	return &g
}

// alike reports whether group g stands for task record r: every field
// the same but the id, the index and a priority that falls with the id.
// Shared parts (spec, placement, rare fields, usage) are compared by
// pointer first, as newJobRec shares them.
func (g *jobRec) alike(r *jobRec) bool {
	a, b := g.Array, r.Array
	if a.JobID != b.JobID || a.Min != b.Min || a.Max != b.Max || a.Count != b.Count || a.MaxRunning != b.MaxRunning {
		return false
	}
	return g.spec == r.spec && g.Name == r.Name && g.envSmall == r.envSmall && sameEnv(g.Env, r.Env) &&
		g.taskPriority(r.ID) == r.Priority && slices.Equal(g.DependsOn, r.DependsOn) && (g.DependsOn == nil) == (r.DependsOn == nil) &&
		g.StatusReason == r.StatusReason && g.WaitReason == r.WaitReason && g.Cause == r.Cause &&
		sameInt(g.ExitCode, r.ExitCode) && g.Usage == r.Usage && samePlace(g.place, r.place) && sameRare(g.rare, r.rare) &&
		g.CreatedAt == r.CreatedAt && g.RunnableAt == r.RunnableAt && g.StartedAt == r.StartedAt &&
		g.StoppedAt == r.StoppedAt && g.EstimatedStartAt == r.EstimatedStartAt && g.Attempt == r.Attempt &&
		g.state == r.state && g.Held == r.Held && g.HeldByAdmin == r.HeldByAdmin && g.PriorityFixed == r.PriorityFixed
}

// sameEnv reports whether two environments hold the same variables: the
// same map (shared environments are) or equal ones.
func sameEnv(a, b map[string]string) bool {
	return (a == nil) == (b == nil) && (sameMap(a, b) || maps.Equal(a, b))
}

// sameLinks reports whether two jobs' links are the same: one slice
// (records share equal ones) or equal ones.
func sameLinks(a, b []api.Dependency) bool {
	if len(a) != len(b) {
		return false
	}
	return len(a) == 0 || &a[0] == &b[0] || slices.Equal(a, b)
}

func sameInt(a, b *int) bool { return a == b || (a != nil && b != nil && *a == *b) }

func samePlace(a, b *jobPlace) bool { return a == b || (a != nil && b != nil && *a == *b) }

func sameRare(a, b *jobRare) bool { return a == b || (a != nil && b != nil && a.equal(b)) }
