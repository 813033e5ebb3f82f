package raftfsm

import (
	"fmt"
	"sort"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
)

// State is a consistent, read-only view of the replicated state at one
// index. Returned objects are shared: callers must not modify them.
type State struct {
	txn     *memdb.Txn
	index   uint64
	abandon <-chan struct{} // closed when a restore replaces the store
	arena   *JobArena       // where JobViews makes its views (WithArena), else new memory
}

// Index is the raft index this view reflects.
func (s *State) Index() uint64 { return s.index }

// Job returns one job, or nil.
func (s *State) Job(id uint64) *api.Job {
	return storedJob(s.txn, id)
}

// JobArray reports whether job id is in the state and, when it is the
// first task of an array, how many tasks the array has (else 0), without
// loading the job.
func (s *State) JobArray(id uint64) (stored bool, tasks int) {
	return arrayHead(storedSlot(s.txn, id), id)
}

// arrayHead is State.JobArray of what the slot of job id holds (r): the
// job's record, or the task group standing for it. Both carry the array's
// first task and count, and reading them copies nothing.
func arrayHead(r *jobRec, id uint64) (stored bool, tasks int) {
	if r == nil {
		return false, 0
	}
	if r.Array != nil && r.Array.JobID == id {
		return true, r.Array.Count
	}
	return true, 0
}

// JobsInState calls fn for each job in state st, in id order, until fn
// returns false. The jobs come without their environments (Env nil):
// Job reads one with it.
func (s *State) JobsInState(st api.JobState, fn func(*api.Job) bool) {
	eachInSets(s.txn, tableJobSets, stateSetPrefix(st), false, fn)
}

// ScanJobsInState is JobsInState for a reader that keeps nothing of the
// jobs it reads and does not read their environments: fn gets one
// api.Job, overwritten for the next job (copy what you keep), with Env
// nil. A check every second over 20,000 waiting jobs makes no garbage
// this way; JobsInState makes an api.Job of each.
func (s *State) ScanJobsInState(st api.JobState, fn func(*api.Job) bool) {
	var j api.Job
	var task api.ArrayTask
	eachSetMember(s.txn, tableJobSets, stateSetPrefix(st), func(m setMember) bool {
		m.Job.loadNoEnv(&j)
		m.Job.ownTask(&j, m.ID, &task)
		return fn(&j)
	})
}

// AllJobs calls fn for every job in id order until fn returns false.
func (s *State) AllJobs(fn func(*api.Job) bool) { eachStoredJob(s.txn, fn) }

// JobsOfUser calls fn for every job of user in id order until fn returns
// false, without their environments (as JobsInState). A scan: an index
// by user would cost every job its entry (some 330 bytes) for the few
// readers that ask by user, and a scan of 100,000 jobs takes a few
// milliseconds.
func (s *State) JobsOfUser(user string, fn func(*api.Job) bool) {
	slab := jobSlab{noEnv: true}
	eachSlot(s.txn, func(id uint64, r *jobRec) bool { return r.spec.User != user || fn(slab.loadAt(r, id)) })
}

// JobsOnNode calls fn for every job placed on node that has not finished
// (STARTING or RUNNING), in id order, until fn returns false; without
// their environments (as JobsInState: NodeWork gives them).
func (s *State) JobsOnNode(node string, fn func(*api.Job) bool) {
	eachInSets(s.txn, tableJobWork, activeSetPrefix(node), false, fn)
}

// CountInState returns how many jobs are in state st.
func (s *State) CountInState(st api.JobState) int {
	n := 0
	eachSetMember(s.txn, tableJobSets, stateSetPrefix(st), func(setMember) bool { n++; return true })
	return n
}

// Nodes returns every node, by name.
func (s *State) Nodes() []*api.Node {
	it, err := s.txn.Get(tableNodes, "id")
	if err != nil {
		panic(fmt.Sprintf("raftfsm: iterate nodes: %v", err))
	}
	var out []*api.Node
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*api.Node))
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Name < out[k].Name })
	return out
}

// Node returns one node, or nil.
func (s *State) Node(name string) *api.Node {
	raw, err := s.txn.First(tableNodes, "id", name)
	if err != nil || raw == nil {
		return nil
	}
	return raw.(*api.Node)
}

// NodeWork returns node n (nil if unknown) and the jobs placed on it that
// have not finished (STARTING or RUNNING), in id order. With ws non-nil it
// adds the channels that fire when either changes: a change to this
// node's assignments or to its record, and nothing else (a blocking query
// of one node is not woken by another's jobs or by heartbeats).
func (s *State) NodeWork(n string, ws memdb.WatchSet) (*api.Node, []*api.Job) {
	ch, raw, err := s.txn.FirstWatch(tableNodes, "id", n)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: read node %s: %v", n, err))
	}
	it, err := s.txn.Get(tableJobWork, "id_prefix", activeSetPrefix(n))
	if err != nil {
		panic(fmt.Sprintf("raftfsm: read work of node %s: %v", n, err))
	}
	var jobs []*api.Job // with their environments: the node starts them
	eachInSets(s.txn, tableJobWork, activeSetPrefix(n), true, func(j *api.Job) bool { jobs = append(jobs, j); return true })
	if ws != nil {
		ws.Add(ch)
		ws.Add(it.WatchCh())
		s.watchRestore(ws)
	}
	var node *api.Node
	if raw != nil {
		node = raw.(*api.Node)
	}
	return node, jobs
}

// WatchPlanInputs adds to ws the channels that fire when what a
// scheduling plan reads changes: the RUNNABLE jobs (a new one, one
// released, held, reprioritised or placed), the nodes (a state change,
// resources freed or taken), the queues and the compute environments.
// A running job's report, a signal or a log read does not fire them.
func (s *State) WatchPlanInputs(ws memdb.WatchSet) {
	watch := func(table, index string, args ...any) {
		it, err := s.txn.Get(table, index, args...)
		if err != nil {
			panic(fmt.Sprintf("raftfsm: watch %s by %s: %v", table, index, err))
		}
		ws.Add(it.WatchCh())
	}
	watch(tableJobSets, "id_prefix", stateSetPrefix(api.StateRunnable))
	s.WatchFitInputs(ws) // nodes, queues, compute environments, restores
	watch(tableLicenses, "id")
	s.watchAccounts(ws) // limits and priorities (accounts.go)
	s.watchSchedPolicies(ws)
}

// WatchFitInputs adds to ws the channels that fire when what decides
// whether a job could ever run changes: the nodes, the queues and the
// compute environments.
func (s *State) WatchFitInputs(ws memdb.WatchSet) {
	for _, table := range []string{tableNodes, tableQueues, tableCEs} {
		it, err := s.txn.Get(table, "id")
		if err != nil {
			panic(fmt.Sprintf("raftfsm: watch %s: %v", table, err))
		}
		ws.Add(it.WatchCh())
	}
	s.watchRestore(ws)
}

// watchRestore adds the channel closed when a snapshot restore replaces
// the store (whose own channels then never fire).
func (s *State) watchRestore(ws memdb.WatchSet) {
	if s.abandon != nil {
		ws.Add(s.abandon)
	}
}

// JobRef is a stored job not copied out yet: a list that selects and
// orders thousands of jobs holds refs, and loads each into one api.Job it
// reuses as it sends them (an api.Job made for each of 20,000 jobs was
// most of such a list's time). A ref stays valid after the state moves on:
// it reads the job as this State had it.
// A ref may hold a task group (arraytasks.go) and the task's id.
type JobRef struct {
	r  *jobRec
	id uint64
}

// ID is the job's id.
func (r JobRef) ID() uint64 { return r.id }

// Alike reports whether r and o are tasks of one array stored as one
// record (alike tasks, arraytasks.go): their jobs differ only in id,
// index and priority.
func (r JobRef) Alike(o JobRef) bool { return r.r == o.r && r.r.group() }

// Waiting reports whether the job has not started (SUBMITTED, PENDING,
// RUNNABLE).
func (r JobRef) Waiting() bool { return r.r.State().Cancellable() }

// LoadAlike makes j, loaded from a ref Alike r, r's job: it sets what
// differs, not the rest. j's Array becomes a (nil: a new one).
func (r JobRef) LoadAlike(j *api.Job, a *api.ArrayTask) { r.r.ownTask(j, r.id, a) }

// Load writes the job into j (every field of j is overwritten). j shares
// the state's slices and maps: read-only.
func (r JobRef) Load(j *api.Job) { r.r.load(j); r.r.ownTask(j, r.id, nil) }

// LoadNoEnv is Load without the job's environment (j.Env nil), for a
// reader that does not send it.
func (r JobRef) LoadNoEnv(j *api.Job) { r.r.loadNoEnv(j); r.r.ownTask(j, r.id, nil) }

// JobRefsInState is JobsInState with refs.
func (s *State) JobRefsInState(st api.JobState, fn func(JobRef) bool) {
	eachSetMember(s.txn, tableJobSets, stateSetPrefix(st), func(m setMember) bool { return fn(JobRef{m.Job, m.ID}) })
}

// AllJobRefs is AllJobs with refs.
func (s *State) AllJobRefs(fn func(JobRef) bool) {
	eachSlot(s.txn, func(id uint64, r *jobRec) bool { return fn(JobRef{r, id}) })
}

// JobRef returns a ref to job id, and whether there is one.
func (s *State) JobRef(id uint64) (JobRef, bool) {
	r := storedRec(s.txn, id)
	return JobRef{r, id}, r != nil
}

// JobRefs looks up refs by id, as JobRef does, for ids asked in order (an
// array's tasks): consecutive ids are read from the bucket they share.
type JobRefs struct{ read recReader }

// JobRefs reads refs of this state.
func (s *State) JobRefs() *JobRefs { return &JobRefs{read: recReader{txn: s.txn}} }

// Ref is State.JobRef.
func (j *JobRefs) Ref(id uint64) (JobRef, bool) {
	r := j.read.raw(id)
	return JobRef{r, id}, r != nil
}
