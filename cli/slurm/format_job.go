package slurm

import (
	"fmt"
	"os/user"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// jobView is one job (or one line of collapsed pending array tasks) as
// squeue, scontrol and sacct print it: the Slurm names of its id, state
// and reason, and its times in the reader's time zone.
type jobView struct {
	j       *api.Job
	id      string // Slurm's JobID: "N", "A_i" or "A_[3-6%2]"
	rawID   uint64 // JobIDRaw; the array's id for a collapsed line
	arrayID uint64 // the array's id, or the job's own
	// taskStr is the array task id as %K prints it: "N/A" outside an
	// array, "3" for a task, "3-6%2" for a collapsed line.
	taskStr string
	tasks   []*api.Job // the tasks of a collapsed line; nil otherwise
	state   State
	reason  string
	now     time.Time
	// group names a gid (Ctx.groupName).
	group func(gid uint32) string
}

// newJobView makes the view of one job at now; arrayRunning is how many
// tasks of its array run (for the JobArrayTaskLimit reason).
func newJobView(j *api.Job, now time.Time, arrayRunning int, group func(uint32) string) *jobView {
	v := &jobView{}
	initJobView(v, j, now, arrayRunning, group)
	return v
}

// initJobView makes *v the view newJobView makes.
func initJobView(v *jobView, j *api.Job, now time.Time, arrayRunning int, group func(uint32) string) {
	*v = jobView{j: j, id: JobID(j), rawID: j.ID, arrayID: j.ID, taskStr: "N/A",
		state: JobState(j), reason: Reason(j, now, arrayRunning), now: now, group: group}
	if j.Array != nil {
		v.arrayID = j.Array.JobID
		v.taskStr = strconv.Itoa(j.Array.Index)
	}
}

// viewJobs makes the views of jobs, counting each array's running tasks
// among them; group names their gids.
func viewJobs(jobs []api.Job, now time.Time, group func(uint32) string) []*jobView {
	var p pageViews
	return p.views(jobs, now, group)
}

// viewChunks is viewJobs over jobs held in chunks (squeue's array tasks,
// kept as they are read), without copying them.
func viewChunks(jobs *chunks[api.Job], now time.Time, group func(uint32) string) []*jobView {
	running := map[uint64]int{}
	for i := range jobs.n {
		if j := jobs.at(i); j.Array != nil && j.State.Terminable() {
			running[j.Array.JobID]++
		}
	}
	out, views := make([]*jobView, jobs.n), make([]jobView, jobs.n) // one allocation, not one a job
	for i := range jobs.n {
		j, n := jobs.at(i), 0
		if j.Array != nil {
			n = running[j.Array.JobID]
		}
		initJobView(&views[i], j, now, n, group)
		out[i] = &views[i]
	}
	return out
}

// pageViews makes the views of one page of jobs after another in the same
// memory: the views of a page are gone once the next page's are made.
type pageViews struct {
	ptrs  []*jobView
	slab  []jobView
	count map[uint64]int
}

// views is viewJobs, in p's memory.
func (p *pageViews) views(jobs []api.Job, now time.Time, group func(uint32) string) []*jobView {
	if p.count == nil {
		p.count = map[uint64]int{}
	}
	clear(p.count)
	running := p.count
	for i := range jobs {
		if a := jobs[i].Array; a != nil && jobs[i].State.Terminable() {
			running[a.JobID]++
		}
	}
	if cap(p.slab) < len(jobs) {
		p.ptrs, p.slab = make([]*jobView, len(jobs)), make([]jobView, len(jobs)) // one allocation, not one a job
	}
	return fillViews(p.ptrs[:len(jobs)], p.slab[:len(jobs)], jobs, running, now, group)
}

// fillViews makes in views (and points out at) the views of jobs, running
// counting each array's running tasks.
func fillViews(out []*jobView, views []jobView, jobs []api.Job, running map[uint64]int, now time.Time, group func(uint32) string) []*jobView {
	for i := range jobs {
		n := 0
		if a := jobs[i].Array; a != nil {
			n = running[a.JobID]
		}
		initJobView(&views[i], &jobs[i], now, n, group)
		out[i] = &views[i]
	}
	return out
}

// collapseArrays merges the pending tasks of each array that wait for the
// same reason into one line "A_[3-6%2]", as squeue (without -r) and sacct
// show an array's tasks that have not started.
func collapseArrays(views []*jobView) []*jobView {
	type key struct {
		array  uint64
		reason string
	}
	groups := map[key][]*jobView{}
	out := make([]*jobView, 0, len(views))
	for _, v := range views {
		if v.j.Array == nil || v.state != Pending {
			out = append(out, v)
			continue
		}
		k := key{v.arrayID, v.reason}
		if groups[k] == nil {
			out = append(out, nil) // placeholder, filled below
		}
		groups[k] = append(groups[k], v)
	}
	// Fill the placeholders in the order the groups first appeared.
	var order []key
	seen := map[key]bool{}
	for _, v := range views {
		if v.j.Array == nil || v.state != Pending {
			continue
		}
		k := key{v.arrayID, v.reason}
		if !seen[k] {
			seen[k] = true
			order = append(order, k)
		}
	}
	gi := 0
	for i := range out {
		if out[i] != nil {
			continue
		}
		out[i] = mergeTasks(groups[order[gi]])
		gi++
	}
	return out
}

// mergeTasks makes one line of an array's pending tasks. A job the
// controller sent for several of them (Array.Tasks) counts as all of
// them; it is their lowest, so the line shows the lowest task's fields.
func mergeTasks(g []*jobView) *jobView {
	sort.Slice(g, func(a, b int) bool { return g[a].j.Array.Index < g[b].j.Array.Index })
	if len(g) == 1 && g[0].j.Array.Tasks == "" {
		return g[0]
	}
	first := *g[0]
	a := first.j.Array
	idx := make([]int, 0, len(g))
	first.tasks = make([]*api.Job, len(g))
	for i, v := range g {
		idx = append(idx, groupedIndexes(v.j.Array)...)
		first.tasks[i] = v.j
	}
	first.taskStr = api.IndexRanges(idx)
	if a.MaxRunning > 0 {
		first.taskStr += "%" + strconv.Itoa(a.MaxRunning)
	}
	first.id = fmt.Sprintf("%d_[%s]", a.JobID, first.taskStr)
	first.rawID = a.JobID
	return &first
}

// groupedIndexes are the indexes of the tasks a listed job stands for:
// its Array.Tasks, else (or if those do not read) its own.
func groupedIndexes(a *api.ArrayTask) []int {
	if a.Tasks != "" {
		if idx, err := api.ParseIndexRanges(a.Tasks, maxArrayTasks); err == nil && len(idx) > 0 {
			return idx
		}
	}
	return []int{a.Index}
}

// loc is the time zone times are printed in: the reader's.
func (v *jobView) loc() *time.Location { return v.now.Location() }

// submitted, started and ended are the job's times (zero when unset).
func (v *jobView) submitted() time.Time { return epochTime(v.j.CreatedAt, v.loc()) }
func (v *jobView) started() time.Time   { return epochTime(v.j.StartedAt, v.loc()) }
func (v *jobView) ended() time.Time {
	if !v.j.State.Terminal() {
		return time.Time{}
	}
	return epochTime(v.j.StoppedAt, v.loc())
}

// beginAt is the job's --begin time when it is still ahead.
func (v *jobView) beginAt() time.Time {
	t := epochTime(v.j.BeginAt, v.loc())
	if t.IsZero() || !t.After(v.now) || v.j.StartedAt > 0 {
		return time.Time{}
	}
	return t
}

// runSecs is how long the job has run (or ran): Slurm's RunTime.
func (v *jobView) runSecs() int64 {
	start := v.started()
	if start.IsZero() {
		return 0
	}
	end := v.ended()
	if end.IsZero() {
		end = v.now.Truncate(time.Second)
	}
	if d := int64(end.Sub(start) / time.Second); d > 0 {
		return d
	}
	return 0
}

// expectedEnd is when the job ends or is expected to (start + limit); ok
// is false when there is no such time.
func (v *jobView) expectedEnd() (time.Time, bool) {
	if e := v.ended(); !e.IsZero() {
		return e, true
	}
	if s := v.started(); !s.IsZero() && v.j.TimeLimit > 0 {
		return s.Add(time.Duration(v.j.TimeLimit) * time.Second), true
	}
	return time.Time{}, false
}

// nodeList is the node the job ran on, once it was placed.
func (v *jobView) nodeList() string {
	if v.state == Pending {
		return ""
	}
	return v.j.Node
}

// userName is the job owner's name (uid when unknown).
func (v *jobView) userName() string {
	if v.j.User != "" {
		return v.j.User
	}
	return strconv.FormatUint(uint64(v.j.UID), 10)
}

// groupName is the name of the job's group, or its gid.
func (v *jobView) groupName() string {
	if v.group == nil {
		return systemGroupName(v.j.GID)
	}
	return v.group(v.j.GID)
}

// systemGroupName looks a gid up in the group database, or prints it.
func systemGroupName(gid uint32) string {
	id := strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(id); err == nil {
		return g.Name
	}
	return id
}

// nice is the job's Slurm nice value (already subtracted from its
// priority).
func (v *jobView) nice() int64 {
	return v.j.Nice
}

// priority is the job's priority as Slurm's unsigned number; held jobs
// have 0, as in Slurm.
func (v *jobView) priority() int64 {
	if v.j.Held && v.state == Pending {
		return 0
	}
	if v.j.Priority < 0 {
		return 0
	}
	return v.j.Priority
}

// priorityFraction is squeue's %p: the priority over 2^32-1.
func (v *jobView) priorityFraction() string {
	return fmt.Sprintf("%.14f", float64(v.priority())/4294967295.0)
}

// rawExit is the job's exit status as wait(2) encodes it (squeue's
// exit_code): code<<8 | signal.
func (v *jobView) rawExit() int {
	if v.j.ExitSignal != 0 {
		return v.j.ExitSignal
	}
	if v.j.ExitCode != nil {
		return *v.j.ExitCode << 8
	}
	return 0
}

// outputPath is the job's stdout or stderr file as Slurm shows it: the
// pattern's %-escapes filled in, relative to the working directory.
func (v *jobView) outputPath(pattern string) string {
	if pattern == "" {
		return ""
	}
	j := v.j
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c != '%' || i+1 >= len(pattern) {
			b.WriteByte(c)
			continue
		}
		i++
		switch pattern[i] {
		case 'j', 'J':
			b.WriteString(api.FormatID(j.ID))
		case 'A':
			b.WriteString(api.FormatID(v.arrayID))
		case 'a':
			if j.Array != nil {
				b.WriteString(strconv.Itoa(j.Array.Index))
			} else {
				b.WriteString("4294967294")
			}
		case 'x':
			b.WriteString(j.Name)
		case 'u':
			b.WriteString(v.userName())
		case 'N', 'n':
			b.WriteString(j.Node)
		case 't', 's':
			b.WriteString("0")
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(pattern[i])
		}
	}
	p := b.String()
	if !path.IsAbs(p) && j.Dir != "" {
		p = path.Join(j.Dir, p)
	}
	return p
}

// dependency is squeue's %E / scontrol's Dependency=: what the job still
// waits for, or "(null)". known holds the jobs at hand, to leave out the
// dependencies already met.
func (v *jobView) dependency(known map[uint64]*api.Job) string {
	j := v.j
	if len(j.DependsOn) == 0 || v.state != Pending && v.reason != "DependencyNeverSatisfied" {
		return "(null)"
	}
	var parts []string
	for _, d := range j.DependsOn {
		typ := d.Type
		if typ == "" {
			typ = api.AfterOK
		}
		status := "(unfulfilled)"
		if dep, ok := known[d.JobID]; ok {
			switch met, failed := depMet(typ, dep); {
			case met:
				continue
			case failed:
				status = "(failed)"
			}
		}
		switch typ {
		case api.Singleton:
			parts = append(parts, "singleton"+status)
		case api.NToN:
			parts = append(parts, fmt.Sprintf("aftercorr:%d%s", d.JobID, status))
		case api.Sequential:
			parts = append(parts, "sequential"+status)
		default:
			parts = append(parts, fmt.Sprintf("%s:%d%s", typ, d.JobID, status))
		}
	}
	if len(parts) == 0 {
		return "(null)"
	}
	sep := ","
	if j.DependAny {
		sep = "?"
	}
	return strings.Join(parts, sep)
}

// depMet says whether dependency type typ on dep is met, or can never be.
func depMet(typ api.DependencyType, dep *api.Job) (met, failed bool) {
	switch typ {
	case api.AfterAny:
		return dep.State.Terminal(), false
	case api.After:
		return dep.StartedAt > 0 || dep.State.Terminal(), false
	case api.AfterNotOK:
		return dep.State == api.StateFailed, dep.State == api.StateSucceeded
	case api.AfterOK:
		return dep.State == api.StateSucceeded, dep.State == api.StateFailed
	}
	return false, false
}

// tres is the job's trackable resources as Slurm writes them.
func (v *jobView) tres() string {
	r := v.j.Resources
	cpus := max(r.CPUs, 1)
	s := fmt.Sprintf("cpu=%d", cpus)
	if r.MemoryMB > 0 {
		s += ",mem=" + memString(r.MemoryMB)
	}
	s += ",node=1"
	s += fmt.Sprintf(",billing=%d", cpus)
	return s + gpuTres(r)
}

// tresPerNode is squeue's %b: the job's GPUs as Slurm 22.05 writes them.
func (v *jobView) tresPerNode() string {
	if v.j.Resources.GPUs > 0 {
		return strings.Join(gresItems("gres:", v.j.Resources), ",")
	}
	return "N/A"
}

// command is squeue's %o / scontrol's Command=: a batch job's command is
// its script, which shoal keeps as text rather than a path.
func (v *jobView) command() string {
	if v.j.Script != "" || len(v.j.Command) == 0 {
		return "(null)"
	}
	return strings.Join(v.j.Command, " ")
}

// cpus is the job's CPU count (at least one).
func (v *jobView) cpus() int { return max(v.j.Resources.CPUs, 1) }

// visible reports whether squeue and scontrol still show a job: finished
// jobs stay for MinJobAge after they stopped.
func visible(j *api.Job, now time.Time) bool {
	if !j.State.Terminal() {
		return true
	}
	stopped := time.UnixMilli(j.StoppedAt)
	return j.StoppedAt == 0 || !now.After(stopped.Add(MinJobAge))
}

// visibleJobs indexes jobs by id (dependencies name jobs that may no longer
// be shown) and picks those squeue and scontrol still show: jobs itself
// when all are (a job is large: copying thousands of them was a fifth of
// squeue's time), else a copy of those shown.
func visibleJobs(jobs []api.Job, now time.Time) (known map[uint64]*api.Job, shown []api.Job) {
	return indexJobs(jobs), shownJobs(jobs, now)
}

// indexJobs indexes jobs by id.
func indexJobs(jobs []api.Job) map[uint64]*api.Job {
	known := make(map[uint64]*api.Job, len(jobs))
	for i := range jobs {
		known[jobs[i].ID] = &jobs[i]
	}
	return known
}

// shownJobs is jobs when squeue shows them all, else a copy of those it
// shows.
func shownJobs(jobs []api.Job, now time.Time) []api.Job {
	hidden := 0
	for i := range jobs {
		if !visible(&jobs[i], now) {
			hidden++
		}
	}
	if hidden == 0 {
		return jobs
	}
	shown := make([]api.Job, 0, len(jobs)-hidden)
	for i := range jobs {
		if visible(&jobs[i], now) {
			shown = append(shown, jobs[i])
		}
	}
	return shown
}
