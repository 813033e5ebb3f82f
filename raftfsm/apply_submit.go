package raftfsm

import (
	"encoding/json"
	"fmt"
	"maps"

	"github.com/shoal-batch/shoal/api"
)

// submitBody is a SubmitCmd as Apply decodes it: each job decoded into
// its own object, which submitJobs stores as it is (decoded into []api.Job,
// 1,000 jobs would be a slice of 800 KB grown by doubling and then copied
// job by job, garbage that sets how far the heap grows in a burst).
type submitBody struct {
	Jobs   []*api.Job  `json:"jobs"`
	Arrays []ArraySpec `json:"arrays,omitempty"`
	Now    int64       `json:"now"`
	Ended  []EndedJob  `json:"ended,omitempty"`
}

// submitWire is a SubmitCmd as Apply reads it from the log: each job's
// environment is kept as its JSON (envJSON) until store looks it up.
type submitWire struct {
	Jobs   []*submitJob `json:"jobs"`
	Arrays []ArraySpec  `json:"arrays,omitempty"`
	Now    int64        `json:"now"`
	Ended  []EndedJob   `json:"ended,omitempty"`
}

// submitJob is one job of a submitWire: api.Job but for its environment,
// whose field here takes the place of api.Job's ("environment").
type submitJob struct {
	*api.Job
	Env envJSON `json:"environment,omitempty"`
}

// envJSON is an environment as the log entry has it (a slice of the
// entry, valid while it applies). A sweep's 20,000 jobs carry the same
// environment, each some 6 KB of JSON that would decode into a map of a
// hundred strings only to be dropped for the shared copy; the shared
// table knows it by its JSON instead (shared.envJSON).
type envJSON []byte

func (e *envJSON) UnmarshalJSON(data []byte) error {
	*e = data
	return nil
}

// submitLogged applies a SubmitCmd read from the log.
func (w writer) submitLogged(c submitWire) Result {
	b := submitBody{Jobs: make([]*api.Job, len(c.Jobs)), Arrays: c.Arrays, Now: c.Now, Ended: c.Ended}
	for i, sj := range c.Jobs {
		if sj == nil || sj.Job == nil {
			continue // null: submitJobs refuses it
		}
		j := sj.Job
		if w.out != nil && w.out.shared != nil {
			j.Env = w.out.shared.envJSON(sj.Env)
		} else {
			j.Env = decodeEnv(sj.Env)
		}
		b.Jobs[i] = j
	}
	return w.submitJobs(b)
}

// decodeEnv decodes an environment's JSON (nil or null: none).
func decodeEnv(raw envJSON) map[string]string {
	if len(raw) == 0 {
		return nil
	}
	var env map[string]string
	if err := json.Unmarshal(raw, &env); err != nil {
		panic(fatal(fmt.Sprintf("raftfsm: decode a job's environment: %v", err)))
	}
	return env
}

// submitBodyOf makes a submitBody of c, each job copied out of it.
func submitBodyOf(c SubmitCmd) submitBody {
	b := submitBody{Jobs: make([]*api.Job, len(c.Jobs)), Arrays: c.Arrays, Now: c.Now, Ended: c.Ended}
	for i := range c.Jobs {
		j := c.Jobs[i]
		b.Jobs[i] = &j
	}
	return b
}

// submitJobs stores new jobs with consecutive ids, expanding arrays into one
// task per index and dependencies into concrete ones (an array's id into
// each of its tasks, singleton into the user's unfinished jobs of the same
// name, N_TO_N, SEQUENTIAL and aftercorr into task-to-task links), then
// resolves each job to PENDING, RUNNABLE or FAILED. Dependencies may name
// jobs of the same command that come earlier.
func (w writer) submitJobs(c submitBody) Result {
	m := w.meta()
	if len(c.Ended) > 0 {
		w.ended = make(map[uint64]EndedJob, len(c.Ended))
		for _, e := range c.Ended {
			if e.State.Terminal() { // only ended jobs leave the state
				w.ended[e.ID] = e
			}
		}
	}
	w.singles = singletons{}
	w.past = &pastJobs{recReader: recReader{txn: w.txn}, before: m.NextJobID}
	arrays := make(map[int]ArraySpec, len(c.Arrays))
	for _, a := range c.Arrays {
		arrays[a.Job] = a
	}
	// Check everything before writing anything.
	next := m.NextJobID
	links := 0
	for i, j := range c.Jobs {
		if j == nil {
			return Result{Err: api.Errorf(api.CodeInvalid, "job %d of the submission is null", i)}
		}
		a, isArray := arrays[i]
		if isArray && len(a.Indexes) == 0 {
			return Result{Err: api.Errorf(api.CodeInvalid, "job %q: an array needs at least one index", j.Name)}
		}
		for _, d := range j.DependsOn {
			if err := w.checkDependency(j, d, isArray, len(a.Indexes), m.NextJobID, next); err != nil {
				return Result{Err: err}
			}
			if d.Type == api.AfterCorr { // aftercorr.go
				links += w.corrLinks(&w.corr, d, a.Indexes)
				continue
			}
			links += w.dependencyLinks(j, d, max(1, len(a.Indexes)))
		}
		if links > MaxDependencyLinks {
			return Result{Err: tooManyLinks(j, links)}
		}
		next += uint64(max(1, len(a.Indexes)))
	}
	// Arrays of this command looked up above were not stored yet.
	maps.DeleteFunc(w.corr, func(array uint64, _ *corrTable) bool { return array >= m.NextJobID })

	ids := make([]uint64, 0, next-m.NextJobID) // next: past the last id, counted above
	id := m.NextJobID
	for i, tmpl := range c.Jobs {
		a, isArray := arrays[i]
		if !isArray {
			w.store(tmpl, id, nil, 0, c.Now) // decoded for this entry: stored as it is
			ids = append(ids, id)
			id++
			continue
		}
		first := id
		lo, hi := a.Indexes[0], a.Indexes[0]
		for _, x := range a.Indexes {
			lo, hi = min(lo, x), max(hi, x)
		}
		// One job to store each task from (its record keeps nothing of
		// it but values): a job apiece was most of a 10,000-task array's
		// apply, in allocation and garbage collection. Tasks alike are
		// one group (arraytasks.go), which the first two make.
		var j api.Job
		alike := tasksAlike(tmpl)
		skip := 0 // tasks before this one stored already, as a run of alike ones
		for k, x := range a.Indexes {
			if alike && k >= 2 && (k < skip || w.storeAlike(tmpl, id, a.Indexes[k:], &skip, k)) {
				ids = append(ids, id)
				id++
				continue
			}
			j = *tmpl
			task := &api.ArrayTask{JobID: first, Index: x, Min: lo, Max: hi, Count: len(a.Indexes), MaxRunning: a.MaxRunning}
			w.store(&j, id, task, k, c.Now)
			ids = append(ids, id)
			id++
		}
	}
	m.NextJobID = id
	w.put(tableMeta, &m)
	return Result{IDs: ids}
}

// storeAlike stores task id of an array of tmpl, and the tasks after it
// in its bucket of ids (indexes, from this task's on), as the group the
// two tasks before it are, if they are one and it stands for them too,
// and reports whether it did; *skip becomes k (this task's place in the
// array) past the last task it stored. A store of each task's own would
// make the same record and find the group: this skips making them, and
// writes the run's slots and set entries together.
func (w writer) storeAlike(tmpl *api.Job, id uint64, indexes []int, skip *int, k int) bool {
	g := w.open.rawRec(w.txn, id-1)
	if !g.group() || g != w.open.rawRec(w.txn, id-2) {
		return false
	}
	n := 0
	for n < len(indexes) && (n == 0 || (id+uint64(n))%stateBucket != 0) {
		at := id + uint64(n)
		if y, ok := taskIndex(g.Array, at); !ok || y != indexes[n] || g.taskPriority(at) != taskPriority(tmpl, at) {
			break
		}
		n++
	}
	if n == 0 {
		return false
	}
	storeRun(w.txn, w.open, id, n, g)
	for at := id; at < id+uint64(n); at++ {
		w.singles.stored(g.spec.User, g.Name, at, g.State())
	}
	setWriter{w.txn, w.open}.addRun(id, n, g)
	*skip = k + n
	return true
}

// taskPriority is the priority job j (as submitted) gets as job id:
// AWS Batch's schedulingPriority (0 or not) from a job definition, the
// one asked, or one less than the job before (api.DefaultPriority).
func taskPriority(j *api.Job, id uint64) int64 {
	if j.JobDefinition != "" || j.Priority != 0 {
		return j.Priority
	}
	return max(api.DefaultPriority(id)-j.Nice, 1)
}

// tasksAlike reports whether the tasks of an array of j are alike as they
// are stored: none has dependencies of its own (task to task, or on the
// user's earlier jobs of its name, which the array's own tasks are).
func tasksAlike(j *api.Job) bool {
	for _, d := range j.DependsOn {
		if d.Type == api.Sequential || d.Type == api.NToN || d.Type == api.Singleton || d.Type == api.AfterCorr {
			return false
		}
	}
	return true
}

// checkDependency refuses a dependency that names no job (first is the
// id the command's first job will get, next the id this job will) or
// does not fit the job.
func (w writer) checkDependency(j *api.Job, d api.Dependency, isArray bool, size int, first, next uint64) *api.Error {
	switch d.Type {
	case "", api.AfterOK, api.AfterAny, api.AfterNotOK, api.After, api.AfterCorr:
	case api.Singleton:
		return nil
	case api.Sequential:
		if !isArray {
			return api.Errorf(api.CodeInvalid, "job %q: a SEQUENTIAL dependency needs an array job", j.Name).WithField("dependency")
		}
		return nil
	case api.NToN:
		dep := w.job(d.JobID)
		if _, ended := w.ended[d.JobID]; ended && dep == nil {
			return api.Errorf(api.CodeInvalid,
				"job %q: an N_TO_N dependency needs array job %d in the live state, and it ended and has left it (MinJobAge): name its tasks with afterok or afterany", j.Name, d.JobID).WithField("dependency")
		}
		if !isArray || dep == nil || dep.Array == nil || dep.Array.JobID != d.JobID || dep.Array.Count != size {
			return api.Errorf(api.CodeInvalid,
				"job %q: an N_TO_N dependency needs both jobs to be arrays of the same size (job %d)", j.Name, d.JobID).WithField("dependency")
		}
		return nil
	default:
		return api.Errorf(api.CodeInvalid, "job %q: unknown dependency type %q: use afterok, afterany, afternotok, after, aftercorr, singleton, N_TO_N or SEQUENTIAL", j.Name, d.Type).WithField("dependency")
	}
	if _, ended := w.ended[d.JobID]; ended && d.JobID < first {
		return nil
	}
	if d.JobID >= next || (d.JobID < first && !w.stored(d.JobID)) || d.JobID == 0 {
		return ErrNoDependency(j.Name, d.JobID)
	}
	return nil
}

// ErrNoDependency is the refusal of a job that depends on a job that does
// not exist.
func ErrNoDependency(name string, dep uint64) *api.Error {
	return api.Errorf(api.CodeNotFound, "job %q depends on job %d, which does not exist", name, dep).WithField("dependency")
}

// singletonDeps is what singleton makes of j: afterany on each unfinished
// job of its user with its name.
func (w writer) singletonDeps(j *api.Job) []api.Dependency {
	key := singletonKey{j.User, j.Name}
	ids, ok := w.singles[key]
	if !ok {
		eachSlot(w.txn, func(id uint64, r *jobRec) bool {
			if r.spec.User == j.User && r.Name == j.Name && !r.State().Terminal() {
				ids = append(ids, id)
			}
			return true
		})
		if w.singles != nil {
			w.singles[key] = ids
		}
	}
	var out []api.Dependency
	for _, id := range ids {
		if id != j.ID {
			out = append(out, api.Dependency{JobID: id, Type: api.AfterAny})
		}
	}
	return out
}

// singletons holds, for a SubmitCmd, the unfinished jobs of each user and
// name that singleton was expanded for, in id order: read from the state
// once (a read walks every job's slot: for each task of a singleton array
// it held the FSM for minutes in a state of 100,000 jobs), and the
// command's own jobs added as they are stored (stored).
type singletons map[singletonKey][]uint64

type singletonKey struct{ user, name string }

// stored adds job id (of user and name, in state st), just stored, to
// the jobs of its user and name if they are kept and it is unfinished. A
// job stored by a submit changes no other's state, so the jobs kept stay
// what a read of the state would find.
func (s singletons) stored(user, name string, id uint64, st api.JobState) {
	key := singletonKey{user, name}
	if ids, ok := s[key]; ok && !st.Terminal() {
		s[key] = append(ids, id)
	}
}

// MaxDependencyLinks bounds the job-to-job dependencies one submit makes
// once expanded (a dependency on an array is one on each task; singleton,
// one on each unfinished job of the user with the name, so that a
// singleton array of N tasks makes N(N-1)/2): each is stored and resolved
// in the FSM, and a 4,000-task singleton array, 8 million of them, held it
// for minutes. Each is in the jobs' records and snapshot lines too (a
// 10,000-task array on a 10,000-task array would be 100 million of them,
// gigabytes). The worst submits it admits apply in tens of milliseconds
// (BenchmarkDependencyLinks).
const MaxDependencyLinks = 200_000

// tooManyLinks refuses job j, whose submit's dependencies come to links
// (past MaxDependencyLinks), with the way out for what it asked.
func tooManyLinks(j *api.Job, links int) *api.Error {
	instead := "to have each task of an array wait for a whole other array, make one job wait for that array " +
		"(--dependency=afterok:ARRAY --wrap=true) and the array wait for that job"
	for _, d := range j.DependsOn {
		if d.Type == api.Singleton {
			instead = "for an array whose tasks run one at a time, give it a throttle (--array=0-N%1) instead of --dependency=singleton"
		}
	}
	return api.Errorf(api.CodeInvalid,
		"job %q: its dependencies come to %d links between jobs once arrays and singleton are expanded; at most %d in one submit: %s",
		j.Name, links, MaxDependencyLinks, instead).WithField("dependency")
}

// dependencyLinks is how many links dependency d of j makes for each of
// its tasks together, as store expands it (an estimate that errs low for
// arrays of the same command).
func (w writer) dependencyLinks(j *api.Job, d api.Dependency, tasks int) int {
	switch d.Type {
	case api.Singleton:
		return tasks*len(w.singletonDeps(j)) + tasks*(tasks-1)/2
	case api.Sequential, api.NToN:
		return tasks
	}
	return tasks * max(1, w.arraySize(d.JobID))
}

// arraySize is how many tasks the array whose first task is id has (0:
// id is no array's), its tasks live or all ended (Ended).
func (w writer) arraySize(id uint64) int {
	if stored, tasks := arrayHead(w.slot(id), id); stored {
		return tasks
	}
	return w.ended[id].ArrayCount // an array whose tasks have all left the state
}

// taskDeps turns an array-relative dependency of the k-th task of the array
// starting at first into concrete ones; others pass through.
func taskDeps(d api.Dependency, first uint64, k int) []api.Dependency {
	switch d.Type {
	case api.Sequential:
		if k == 0 {
			return nil
		}
		return []api.Dependency{{JobID: first + uint64(k) - 1, Type: api.AfterOK}}
	case api.NToN:
		return []api.Dependency{{JobID: d.JobID + uint64(k), Type: api.AfterOK}}
	}
	return []api.Dependency{d}
}

// store gives j its id (and, for the k-th task of an array, its task),
// expands its dependencies, resolves its state and writes it.
func (w writer) store(j *api.Job, id uint64, task *api.ArrayTask, k int, now int64) {
	j.ID = id
	j.State = api.StateSubmitted
	j.CreatedAt = now
	j.Array = task
	if j.JobDefinition == "" && j.Priority != 0 {
		j.PriorityFixed = true
	}
	j.Priority = taskPriority(j, id)
	var deps []api.Dependency
	for _, d := range j.DependsOn {
		var links []api.Dependency // new: deps may take them as they are
		switch {
		case task != nil && (d.Type == api.Sequential || d.Type == api.NToN):
			// Task-to-task links name single tasks, not whole arrays.
			links = taskDeps(d, task.JobID, k)
		case d.Type == api.AfterCorr:
			links = w.corrDeps(j, d, task)
		default:
			links = w.concrete(j, d)
		}
		if len(deps) == 0 && len(links) > 0 { // most jobs: one dependency, on one job or array
			deps = links
		} else {
			deps = append(deps, links...)
		}
	}
	j.DependsOn = deps
	if w.endedDeps(j) {
		w.dependencyNever(j, now)
	} else {
		w.resolve(j, now)
	}
	if w.out != nil { // nil in Check, which stores nothing
		w.out.shared.job(j)
	}
	w.singles.stored(j.User, j.Name, j.ID, j.State)
	w.put(tableJobs, j)
}

// concrete expands a dependency on an array into one per task, and a
// singleton into afterany on each earlier unfinished job of the same user
// and name. Types default to afterok.
func (w writer) concrete(j *api.Job, d api.Dependency) []api.Dependency {
	if d.Type == "" {
		d.Type = api.AfterOK
	}
	if d.Type == api.Singleton {
		return w.singletonDeps(j)
	}
	count := w.arraySize(d.JobID)
	if count == 0 {
		return []api.Dependency{d}
	}
	out := make([]api.Dependency, count)
	for k := range out {
		out[k] = api.Dependency{JobID: d.JobID + uint64(k), Type: d.Type}
	}
	return out
}
