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

// Bounds on the job definitions one user owns: every revision they
// registered counts, INACTIVE ones too (AWS Batch keeps a deregistered
// revision and describes it with status INACTIVE). A register that would
// pass either bound first drops the user's oldest INACTIVE revisions, as AWS
// Batch deletes deregistered ones in time, but never the first or the
// newest revision of a name: those keep the name its owner's and its
// revision numbers from being given again. With nothing left to drop, the
// register is refused. The check is made here, in the FSM, so that two
// registers raced past the controller's check cannot both pass.
const (
	// MaxUserJobDefinitions bounds one user's revisions.
	MaxUserJobDefinitions = 2000
	// MaxUserJobDefinitionBytes bounds what one user's revisions hold, by
	// JobDefinitionBytes (one definition is bounded by the controller to
	// 24 KiB as JSON, AWS Batch's limit).
	MaxUserJobDefinitionBytes = 16 << 20
)

func (w writer) registerJobDef(c RegisterJobDefCmd) Result {
	d := c.Def
	st := &State{txn: w.txn}
	d.Revision = 1
	if revs := st.JobDefinitions(d.Name); len(revs) > 0 {
		if owner := revs[0].Owner; owner != d.Owner && !c.Operator {
			return Result{Err: api.Errorf(api.CodeForbidden,
				"job definition %s belongs to %s: only they or an operator may register revisions of it; choose another name", d.Name, owner)}
		}
		d.Revision = revs[len(revs)-1].Revision + 1
	}
	d.Status, d.CreatedAt = api.Active, c.Now
	drop, err := st.jobDefRoom(&d)
	if err != nil {
		return Result{Err: err}
	}
	for _, old := range drop {
		if err := w.txn.Delete(tableJobDefs, old); err != nil {
			panic(fmt.Sprintf("raftfsm: delete job definition %s:%d: %v", old.Name, old.Revision, err))
		}
	}
	w.put(tableJobDefs, &d)
	return Result{Revision: d.Revision}
}

// jobDefRoom makes room for d among its owner's revisions: it returns the
// INACTIVE revisions to drop (oldest first) for d to fit in
// MaxUserJobDefinitions and MaxUserJobDefinitionBytes, or the refusal
// if dropping every one that may go is not enough.
func (s *State) jobDefRoom(d *api.JobDefinition) ([]*api.JobDefinition, *api.Error) {
	// Every definition is read (they have no index by owner): first only to
	// count the owner's, without sorting or keeping any.
	n, size := 1, JobDefinitionBytes(d)
	it, err := s.txn.Get(tableJobDefs, "id")
	if err != nil {
		panic(fmt.Sprintf("raftfsm: iterate %s: %v", tableJobDefs, err))
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if o := raw.(*api.JobDefinition); o.Owner == d.Owner {
			n, size = n+1, size+JobDefinitionBytes(o)
		}
	}
	fits := func() bool { return n <= MaxUserJobDefinitions && size <= MaxUserJobDefinitionBytes }
	if fits() {
		return nil, nil
	}
	had, held := n-1, size-JobDefinitionBytes(d)
	// Then the owner's INACTIVE revisions that may go: neither the first nor
	// the newest of their name (d is the newest of its own). A name's
	// revisions come together, in no order of their numbers.
	var spare, maybe []*api.JobDefinition
	name, first, newest := "", 0, 0
	settle := func() {
		if name == d.Name {
			newest = d.Revision
		}
		for _, o := range maybe {
			if o.Revision != first && o.Revision != newest {
				spare = append(spare, o)
			}
		}
		maybe = maybe[:0]
	}
	if it, err = s.txn.Get(tableJobDefs, "id"); err != nil {
		panic(fmt.Sprintf("raftfsm: iterate %s: %v", tableJobDefs, err))
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		o := raw.(*api.JobDefinition)
		if o.Name != name {
			settle()
			name, first, newest = o.Name, o.Revision, o.Revision
		}
		first, newest = min(first, o.Revision), max(newest, o.Revision)
		if o.Owner == d.Owner && o.Status == api.Inactive {
			maybe = append(maybe, o)
		}
	}
	settle()
	sort.Slice(spare, func(a, b int) bool {
		x, y := spare[a], spare[b]
		if x.CreatedAt != y.CreatedAt {
			return x.CreatedAt < y.CreatedAt
		}
		if x.Name != y.Name {
			return x.Name < y.Name
		}
		return x.Revision < y.Revision
	})
	var drop []*api.JobDefinition
	for _, o := range spare {
		if fits() {
			break
		}
		drop = append(drop, o)
		n, size = n-1, size-JobDefinitionBytes(o)
	}
	if !fits() {
		return nil, api.Errorf(api.CodeInvalid,
			"job definition %s: user %s has %d job definition revisions holding %s, INACTIVE ones included, and this one (%s) would pass the bound of %d revisions and %s per user: "+
				"deregister revisions you no longer use (deregister-job-definition NAME:REVISION) to make room; "+
				"the first and newest revisions of a name are kept, so register new revisions of names you have rather than new names",
			d.Name, d.Owner, had, bytesText(held), bytesText(JobDefinitionBytes(d)), MaxUserJobDefinitions, bytesText(MaxUserJobDefinitionBytes))
	}
	return drop, nil
}

// JobDefinitionBytes is about what a job definition holds: its strings'
// bytes, and a few for each other field and entry (about its size as
// JSON, without the field names).
func JobDefinitionBytes(d *api.JobDefinition) int {
	const item = 8 // a number, a flag, or an entry's punctuation
	n := len(d.Name) + len(d.Status) + len(d.Type) + len(d.Owner) + 4*item
	for k, v := range d.Parameters {
		n += len(k) + len(v) + item
	}
	for k, v := range d.Tags {
		n += len(k) + len(v) + item
	}
	if p := d.ContainerProperties; p != nil {
		n += len(p.Image) + len(p.User) + 4*item
		for _, a := range p.Command {
			n += len(a) + item
		}
		for _, e := range p.Environment {
			n += len(e.Name) + len(e.Value) + item
		}
		for _, r := range p.ResourceRequirements {
			n += len(r.Type) + len(r.Value) + item
		}
		for _, v := range p.Volumes {
			n += len(v.Name) + item
			if v.Host != nil {
				n += len(v.Host.SourcePath)
			}
		}
		for _, m := range p.MountPoints {
			n += len(m.SourceVolume) + len(m.ContainerPath) + item
		}
	}
	if r := d.RetryStrategy; r != nil {
		n += item
		for _, e := range r.EvaluateOnExit {
			n += len(e.OnExitCode) + len(e.OnStatusReason) + len(e.OnReason) + len(e.Action) + item
		}
	}
	if d.Timeout != nil || d.SchedulingPriority != nil {
		n += 2 * item
	}
	if c := d.ConsumableResourceProperties; c != nil {
		for _, l := range c.ConsumableResourceList {
			n += len(l.Name) + 2*item
		}
	}
	return n
}

// bytesText writes a size for a message: bytes, KiB or MiB.
func bytesText(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
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

// AllJobDefinitions returns every job definition, by name (a name's
// revisions in the index's order: EachJobDefinition sorts them).
func (s *State) AllJobDefinitions() []*api.JobDefinition {
	return collect[api.JobDefinition](s, tableJobDefs, "id")
}

// EachJobDefinition calls fn with every job definition, by name then
// revision (oldest first), until fn returns false. (The index orders a
// name's revisions by their encoding, not their number: each name's are
// sorted here.)
func (s *State) EachJobDefinition(fn func(*api.JobDefinition) bool) {
	it, err := s.txn.Get(tableJobDefs, "id")
	if err != nil {
		panic(fmt.Sprintf("raftfsm: iterate %s: %v", tableJobDefs, err))
	}
	var revs []*api.JobDefinition // one name's
	flush := func() bool {
		sort.Slice(revs, func(a, b int) bool { return revs[a].Revision < revs[b].Revision })
		for _, d := range revs {
			if !fn(d) {
				return false
			}
		}
		revs = revs[:0]
		return true
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		d := raw.(*api.JobDefinition)
		if len(revs) > 0 && revs[0].Name != d.Name && !flush() {
			return
		}
		revs = append(revs, d)
	}
	flush()
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
