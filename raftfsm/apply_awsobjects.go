package raftfsm

import (
	"fmt"
	"sort"

	"github.com/shoal-batch/shoal/api"
)

// AWS Batch object commands (job definitions, compute environments, job
// queues) and access keys. Not OpBatch, which is several commands of any
// kind in one log entry (command.go).
const (
	OpRegisterJobDef   Op = 10 // RegisterJobDefCmd
	OpDeregisterJobDef Op = 11 // DeregisterJobDefCmd
	OpPutCE            Op = 12 // PutCECmd
	OpPutQueue         Op = 13 // PutQueueCmd
	OpPutKey           Op = 14 // PutKeyCmd
	OpDeleteKey        Op = 15 // DeleteKeyCmd
	OpDeleteQueue      Op = 33 // DeleteQueueCmd
	OpDeleteCE         Op = 34 // DeleteCECmd
)

// DeleteQueueCmd deletes a DISABLED job queue that holds no unfinished job
// (AWS Batch's DeleteJobQueue, Slurm's scontrol delete PartitionName=).
type DeleteQueueCmd struct {
	Name string `json:"name"`
}

// DeleteCECmd deletes a DISABLED compute environment no queue uses (AWS
// Batch's DeleteComputeEnvironment).
type DeleteCECmd struct {
	Name string `json:"name"`
}

// RegisterJobDefCmd stores the next revision of a job definition.
type RegisterJobDefCmd struct {
	Def api.JobDefinition `json:"def"`
	Now int64             `json:"now"`
	// Operator may add a revision to a name another user registered; a
	// user may not, or they would choose what the owner's next submit of
	// NAME (the newest revision) runs.
	Operator bool `json:"operator,omitempty"`
}

// DeregisterJobDefCmd marks one revision INACTIVE.
type DeregisterJobDefCmd struct {
	Name     string `json:"name"`
	Revision int    `json:"revision"`
}

// PutCECmd creates (Create) or replaces a compute environment.
type PutCECmd struct {
	CE     api.ComputeEnvironment `json:"ce"`
	Create bool                   `json:"create"`
	Now    int64                  `json:"now"`
}

// PutQueueCmd creates (Create) or replaces a job queue.
type PutQueueCmd struct {
	Queue  api.JobQueue `json:"queue"`
	Create bool         `json:"create"`
	Now    int64        `json:"now"`
}

// PutKeyCmd stores an access key.
type PutKeyCmd struct {
	Key api.AccessKey `json:"key"`
}

// DeleteKeyCmd removes an access key.
type DeleteKeyCmd struct {
	ID string `json:"id"`
}

func (w writer) registerJobDef(c RegisterJobDefCmd) Result {
	d := c.Def
	d.Revision = 1
	if revs := (&State{txn: w.txn}).JobDefinitions(d.Name); len(revs) > 0 {
		if owner := revs[0].Owner; owner != d.Owner && !c.Operator {
			return Result{Err: api.Errorf(api.CodeForbidden,
				"job definition %s belongs to %s: only they or an operator may register revisions of it; choose another name", d.Name, owner)}
		}
		d.Revision = revs[len(revs)-1].Revision + 1
	}
	d.Status, d.CreatedAt = api.Active, c.Now
	w.put(tableJobDefs, &d)
	return Result{Revision: d.Revision}
}

func (w writer) deregisterJobDef(c DeregisterJobDefCmd) Result {
	d := (&State{txn: w.txn}).JobDefinition(c.Name, c.Revision)
	if d == nil {
		return Result{Err: api.Errorf(api.CodeNotFound, "job definition %s:%d does not exist", c.Name, c.Revision)}
	}
	cp := *d
	cp.Status = api.Inactive
	w.put(tableJobDefs, &cp)
	return Result{}
}

func (w writer) putCE(c PutCECmd) Result {
	st := &State{txn: w.txn}
	if c.Create && st.storedCE(c.CE.Name) != nil {
		return Result{Err: api.Errorf(api.CodeConflict, "compute environment %s already exists", c.CE.Name)}
	}
	if !c.Create && st.ComputeEnvironment(c.CE.Name) == nil {
		return Result{Err: api.Errorf(api.CodeNotFound, "compute environment %s does not exist", c.CE.Name)}
	}
	ce := c.CE
	if c.Create {
		ce.CreatedAt = c.Now
	}
	w.put(tableCEs, &ce)
	return Result{}
}

func (w writer) putQueue(c PutQueueCmd) Result {
	st := &State{txn: w.txn}
	if c.Create && st.storedQueue(c.Queue.Name) != nil {
		return Result{Err: api.Errorf(api.CodeConflict, "job queue %s already exists", c.Queue.Name)}
	}
	if !c.Create && st.Queue(c.Queue.Name) == nil {
		return Result{Err: api.Errorf(api.CodeNotFound, "job queue %s does not exist", c.Queue.Name)}
	}
	for _, o := range c.Queue.ComputeEnvironmentOrder {
		if st.ComputeEnvironment(o.ComputeEnvironment) == nil {
			return Result{Err: api.Errorf(api.CodeNotFound, "job queue %s: compute environment %s does not exist",
				c.Queue.Name, o.ComputeEnvironment).WithField("computeEnvironmentOrder")}
		}
	}
	if err := w.checkQueuePolicy(c); err != nil { // fair-share queues (awsfairshare.go)
		return Result{Err: err}
	}
	q := c.Queue
	if c.Create {
		q.CreatedAt = c.Now
	}
	w.put(tableQueues, &q)
	return Result{}
}

func (w writer) putKey(c PutKeyCmd) Result {
	k := c.Key
	w.put(tableKeys, &k)
	return Result{}
}

func (w writer) deleteKey(c DeleteKeyCmd) Result {
	raw, err := w.txn.First(tableKeys, "id", c.ID)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: read key: %v", err))
	}
	if raw == nil {
		return Result{Err: api.Errorf(api.CodeNotFound, "access key %s does not exist", c.ID)}
	}
	if err := w.txn.Delete(tableKeys, raw); err != nil {
		panic(fmt.Sprintf("raftfsm: delete key: %v", err))
	}
	return Result{}
}

func (w writer) deleteQueue(c DeleteQueueCmd) Result {
	st := &State{txn: w.txn}
	q := st.storedQueue(c.Name)
	switch {
	case q == nil:
		return Result{Err: api.Errorf(api.CodeNotFound, "job queue %s does not exist", c.Name)}
	case c.Name == api.DefaultQueue:
		return Result{Err: api.Errorf(api.CodeConflict, "job queue %s is the default queue and cannot be deleted", c.Name)}
	case q.State != api.Disabled:
		return Result{Err: api.Errorf(api.CodeConflict, "job queue %s is %s: disable it before deleting it", c.Name, q.State)}
	}
	busy := uint64(0)
	for _, s := range []api.JobState{api.StateSubmitted, api.StatePending, api.StateRunnable, api.StateStarting, api.StateRunning} {
		st.JobsInState(s, func(j *api.Job) bool {
			if j.InQueue(c.Name) {
				busy = j.ID
				return false
			}
			return true
		})
		if busy != 0 {
			return Result{Err: api.Errorf(api.CodeConflict, "job queue %s still holds job %d, which has not finished: cancel its jobs or wait for them to end", c.Name, busy)}
		}
	}
	if err := w.txn.Delete(tableQueues, q); err != nil {
		panic(fmt.Sprintf("raftfsm: delete queue: %v", err))
	}
	return Result{}
}

func (w writer) deleteCE(c DeleteCECmd) Result {
	st := &State{txn: w.txn}
	ce := st.storedCE(c.Name)
	switch {
	case ce == nil:
		return Result{Err: api.Errorf(api.CodeNotFound, "compute environment %s does not exist", c.Name)}
	case c.Name == api.DefaultQueue:
		return Result{Err: api.Errorf(api.CodeConflict, "compute environment %s is the default one and cannot be deleted", c.Name)}
	case ce.State != api.Disabled:
		return Result{Err: api.Errorf(api.CodeConflict, "compute environment %s is %s: disable it before deleting it", c.Name, ce.State)}
	}
	for _, q := range st.Queues() {
		for _, o := range q.ComputeEnvironmentOrder {
			if o.ComputeEnvironment == c.Name {
				return Result{Err: api.Errorf(api.CodeConflict, "compute environment %s is used by job queue %s: take it out of the queue first", c.Name, q.Name)}
			}
		}
	}
	if err := w.txn.Delete(tableCEs, ce); err != nil {
		panic(fmt.Sprintf("raftfsm: delete compute environment: %v", err))
	}
	return Result{}
}

// JobDefinitions returns every revision of a named job definition, oldest first.
func (s *State) JobDefinitions(name string) []*api.JobDefinition {
	out := collect[api.JobDefinition](s, tableJobDefs, "name", name)
	sort.Slice(out, func(a, b int) bool { return out[a].Revision < out[b].Revision })
	return out
}

// AllJobDefinitions returns every job definition, by name then revision.
func (s *State) AllJobDefinitions() []*api.JobDefinition {
	return collect[api.JobDefinition](s, tableJobDefs, "id")
}

// JobDefinition returns one revision, or nil.
func (s *State) JobDefinition(name string, revision int) *api.JobDefinition {
	return first[api.JobDefinition](s, tableJobDefs, name, revision)
}

// LatestJobDefinition returns the newest ACTIVE revision of name, or nil.
func (s *State) LatestJobDefinition(name string) *api.JobDefinition {
	revs := s.JobDefinitions(name)
	for i := len(revs) - 1; i >= 0; i-- {
		if revs[i].Status == api.Active {
			return revs[i]
		}
	}
	return nil
}

func (s *State) storedCE(name string) *api.ComputeEnvironment {
	return first[api.ComputeEnvironment](s, tableCEs, name)
}

func (s *State) storedQueue(name string) *api.JobQueue {
	return first[api.JobQueue](s, tableQueues, name)
}

// ComputeEnvironment returns a compute environment by name (the implicit
// default one included), or nil.
func (s *State) ComputeEnvironment(name string) *api.ComputeEnvironment {
	if ce := s.storedCE(name); ce != nil || name != api.DefaultQueue {
		return ce
	}
	_, ce := api.DefaultQueueObject()
	return ce
}

// Queue returns a job queue by name (the implicit default one included), or nil.
func (s *State) Queue(name string) *api.JobQueue {
	if q := s.storedQueue(name); q != nil || name != api.DefaultQueue {
		return q
	}
	q, _ := api.DefaultQueueObject()
	return q
}

// ComputeEnvironments returns every compute environment by name, the
// default one included.
func (s *State) ComputeEnvironments() []*api.ComputeEnvironment {
	out := collect[api.ComputeEnvironment](s, tableCEs, "id")
	if s.storedCE(api.DefaultQueue) == nil {
		out = append(out, s.ComputeEnvironment(api.DefaultQueue))
		sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	}
	return out
}

// Queues returns every job queue by name, the default one included.
func (s *State) Queues() []*api.JobQueue {
	out := collect[api.JobQueue](s, tableQueues, "id")
	if s.storedQueue(api.DefaultQueue) == nil {
		out = append(out, s.Queue(api.DefaultQueue))
		sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	}
	return out
}

// AccessKey returns a key by id, or nil.
func (s *State) AccessKey(id string) *api.AccessKey { return first[api.AccessKey](s, tableKeys, id) }

// AccessKeys returns every key.
func (s *State) AccessKeys() []*api.AccessKey { return collect[api.AccessKey](s, tableKeys, "id") }

// QueueNodes returns the compute environments a job of queue q may run in,
// in the queue's order, each with its UP nodes; nil if q does not exist.
func (s *State) QueueNodes(q string) []CENodes {
	queue := s.Queue(q)
	if queue == nil {
		return nil
	}
	nodes := s.Nodes()
	var out []CENodes
	for _, ce := range api.QueueEnvironments(queue, s.ComputeEnvironment) {
		cn := CENodes{CE: ce}
		for _, n := range nodes {
			if ce.Includes(n) {
				cn.Nodes = append(cn.Nodes, n)
			}
		}
		out = append(out, cn)
	}
	return out
}

// CENodes is a compute environment and its nodes.
type CENodes struct {
	CE    *api.ComputeEnvironment
	Nodes []*api.Node
}

func first[T any](s *State, table string, args ...any) *T {
	raw, err := s.txn.First(table, "id", args...)
	if err != nil || raw == nil {
		return nil
	}
	return raw.(*T)
}

func collect[T any](s *State, table, index string, args ...any) []*T {
	it, err := s.txn.Get(table, index, args...)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: iterate %s by %s: %v", table, index, err))
	}
	var out []*T
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*T))
	}
	return out
}
