package raftfsm

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
)

// AWS Batch's fair-share scheduling policies (api/schedpolicy.go), and
// the usage each share of a fair-share queue has had: vCPU-seconds
// charged as attempts end, decayed with the queue's policy.
const (
	OpSchedPolicyPut    Op = 60 // SchedPolicyPutCmd
	OpSchedPolicyDelete Op = 61 // SchedPolicyDeleteCmd
)

const (
	tableSchedPolicies = "schedpolicies"
	tableShareUsage    = "shareusage"
)

func schedPolicyTables() map[string]*memdb.TableSchema {
	return map[string]*memdb.TableSchema{
		tableSchedPolicies: byName(tableSchedPolicies, "Name"),
		tableShareUsage: {Name: tableShareUsage, Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
				&memdb.StringFieldIndex{Field: "Queue"}, &memdb.StringFieldIndex{Field: "Share"},
			}}},
			"queue": {Name: "queue", Indexer: &memdb.StringFieldIndex{Field: "Queue"}},
		}},
	}
}

// SchedPolicyPutCmd creates a scheduling policy (Create) or replaces an
// existing one's fairsharePolicy (UpdateSchedulingPolicy). The leader has
// checked the caller is an operator.
type SchedPolicyPutCmd struct {
	Policy api.SchedulingPolicy `json:"policy"`
	Create bool                 `json:"create,omitempty"`
	Now    int64                `json:"now"`
}

// SchedPolicyDeleteCmd deletes a scheduling policy no job queue uses.
type SchedPolicyDeleteCmd struct {
	Name string `json:"name"`
}

func (w writer) schedPolicyPut(c SchedPolicyPutCmd) Result {
	st := &State{txn: w.txn}
	p := c.Policy
	if p.Name == "" {
		return invalid("a scheduling policy needs a name")
	}
	if err := p.FairsharePolicy.Check(); err != nil {
		return Result{Err: err}
	}
	old := st.SchedulingPolicy(p.Name)
	switch {
	case c.Create && old != nil:
		return Result{Err: api.Errorf(api.CodeConflict, "scheduling policy %s already exists: update it instead", p.Name)}
	case !c.Create && old == nil:
		return Result{Err: api.Errorf(api.CodeNotFound, "scheduling policy %s does not exist", p.Name)}
	case c.Create:
		p.CreatedAt = c.Now
	default:
		up := *old
		up.FairsharePolicy = p.FairsharePolicy
		p = up
	}
	w.put(tableSchedPolicies, &p)
	return Result{}
}

func (w writer) schedPolicyDelete(c SchedPolicyDeleteCmd) Result {
	st := &State{txn: w.txn}
	p := st.SchedulingPolicy(c.Name)
	if p == nil {
		return Result{Err: api.Errorf(api.CodeNotFound, "scheduling policy %s does not exist", c.Name)}
	}
	if users := st.policyQueues(c.Name); len(users) > 0 {
		return Result{Err: api.Errorf(api.CodeConflict, "Cannot delete scheduling policy %s because it is used by job queue(s): %s",
			SchedulingPolicyARN(c.Name), strings.Join(users, ", "))}
	}
	if err := w.txn.Delete(tableSchedPolicies, p); err != nil {
		panic(fmt.Sprintf("raftfsm: delete scheduling policy: %v", err))
	}
	return Result{}
}

// SchedulingPolicyARN is a policy's ARN as AWS Batch writes it (the
// account and region shoal's AWS front door uses).
func SchedulingPolicyARN(name string) string {
	return "arn:aws:batch:us-east-1:000000000000:scheduling-policy/" + name
}

// policyQueues names the queues whose policy is name.
func (s *State) policyQueues(name string) []string {
	var out []string
	for _, q := range collect[api.JobQueue](s, tableQueues, "id") {
		if q.SchedulingPolicyArn != "" && api.SchedulingPolicyName(q.SchedulingPolicyArn) == name {
			out = append(out, q.Name)
		}
	}
	return out
}

// checkQueuePolicy refuses a queue whose policy does not exist, a FIFO
// queue given a policy and a fair-share queue losing its own (AWS Batch:
// a policy can be replaced, not removed; a FIFO queue cannot get one).
func (w writer) checkQueuePolicy(c PutQueueCmd) *api.Error {
	st := &State{txn: w.txn}
	q := c.Queue
	if q.SchedulingPolicyArn != "" && st.SchedulingPolicy(api.SchedulingPolicyName(q.SchedulingPolicyArn)) == nil {
		return api.Errorf(api.CodeNotFound, "job queue %s: scheduling policy %s does not exist", q.Name, q.SchedulingPolicyArn).WithField("schedulingPolicyArn")
	}
	if c.Create {
		return nil
	}
	old := st.Queue(q.Name)
	switch {
	case old == nil:
	case old.SchedulingPolicyArn == "" && q.SchedulingPolicyArn != "":
		return api.Errorf(api.CodeInvalid, "job queue %s is a FIFO job queue (created without a scheduling policy): a scheduling policy cannot be added to it; create a new job queue with schedulingPolicyArn", q.Name).WithField("schedulingPolicyArn")
	case old.SchedulingPolicyArn != "" && q.SchedulingPolicyArn == "":
		return api.Errorf(api.CodeInvalid, "job queue %s has a scheduling policy: it can be replaced but not removed", q.Name).WithField("schedulingPolicyArn")
	}
	return nil
}

// chargeShareUsage charges the part of j's attempt from from to now
// (epoch ms) to its share of its fair-share queue: vCPUs × the seconds,
// added to the share's usage decayed to now with the queue's policy.
// Nothing is charged outside fair-share queues.
func (w writer) chargeShareUsage(j *api.Job, from, now int64) {
	if j.ShareIdentifier == "" || j.StartedAt == 0 || now <= from {
		return
	}
	st := &State{txn: w.txn}
	pol := st.QueuePolicy(j.Queue)
	if pol == nil {
		return
	}
	charge := float64(max(j.Resources.CPUs, 1)) * float64(now-from) / 1000
	u := api.ShareUsage{Queue: j.Queue, Share: j.ShareIdentifier, At: now}
	if raw, err := w.txn.First(tableShareUsage, "id", j.Queue, j.ShareIdentifier); err == nil && raw != nil {
		old := raw.(*api.ShareUsage)
		u.Raw = DecayShare(old.Raw, old.At, now, pol.FairsharePolicy.HalfLife())
		u.At = max(now, old.At) // a clock behind the last charge decays nothing
	}
	u.Raw += charge
	w.put(tableShareUsage, &u)
}

// DecayShare returns usage u recorded at from (epoch ms) decayed to now
// with a half-life of halfLife seconds.
func DecayShare(u float64, from, now, halfLife int64) float64 {
	if halfLife <= 0 || now <= from || u == 0 {
		return u
	}
	return u * math.Exp2(-float64(now-from)/1000/float64(halfLife))
}

// SchedulingPolicy returns a policy by name, or nil.
func (s *State) SchedulingPolicy(name string) *api.SchedulingPolicy {
	return first[api.SchedulingPolicy](s, tableSchedPolicies, name)
}

// SchedulingPolicies returns every policy, by name.
func (s *State) SchedulingPolicies() []*api.SchedulingPolicy {
	return collect[api.SchedulingPolicy](s, tableSchedPolicies, "id")
}

// QueuePolicy returns the policy of a fair-share queue, or nil (a FIFO
// queue, or none such).
func (s *State) QueuePolicy(queue string) *api.SchedulingPolicy {
	q := s.Queue(queue)
	if q == nil || q.SchedulingPolicyArn == "" {
		return nil
	}
	return s.SchedulingPolicy(api.SchedulingPolicyName(q.SchedulingPolicyArn))
}

// ShareUsage returns the usage of each share of a queue, by share.
func (s *State) ShareUsage(queue string) []*api.ShareUsage {
	out := collect[api.ShareUsage](s, tableShareUsage, "queue", queue)
	sort.Slice(out, func(a, b int) bool { return out[a].Share < out[b].Share })
	return out
}

// schedPolicyRecords are the policies' and usage's snapshot records.
func (s *State) schedPolicyRecords() []snapshotRecord {
	var out []snapshotRecord
	for _, p := range s.SchedulingPolicies() {
		out = append(out, snapshotRecord{SchedPolicy: p})
	}
	for _, u := range collect[api.ShareUsage](s, tableShareUsage, "id") {
		out = append(out, snapshotRecord{ShareUsage: u})
	}
	return out
}

// watchSchedPolicies adds the channel that fires when a policy changes.
func (s *State) watchSchedPolicies(ws memdb.WatchSet) {
	it, err := s.txn.Get(tableSchedPolicies, "id")
	if err != nil {
		panic(fmt.Sprintf("raftfsm: watch %s: %v", tableSchedPolicies, err))
	}
	ws.Add(it.WatchCh())
}
