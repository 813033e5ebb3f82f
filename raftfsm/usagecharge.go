package raftfsm

import (
	"fmt"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
)

// Usage charged while jobs run (Slurm's PriorityCalcPeriod): every
// period the leader commits one ChargeUsageCmd stamped with its clock,
// and every replica charges each RUNNING attempt the time since it was
// last charged (or started) to its association (accounts.go) and to its
// share of a fair-share queue (awsfairshare.go), and records that point
// (a runCharge). The charge at the attempt's end (finish) counts only
// what is left after that point and drops the record, so no second of an
// attempt is charged twice or lost, whichever leader charged it and
// whatever snapshot a replica restarted from.
const OpChargeUsage Op = 65 // ChargeUsageCmd

const tableRunCharge = "runcharge"

// ChargeUsageCmd charges the running attempts up to Now (epoch ms, the
// leader's clock).
type ChargeUsageCmd struct {
	Now int64 `json:"now"`
}

// runCharge is how far the running attempt of a job has been charged.
// StartedAt names the attempt: a record of an earlier attempt of the same
// job counts for nothing.
type runCharge struct {
	Job       uint64 `json:"job"`
	StartedAt int64  `json:"startedAt"`
	At        int64  `json:"at"`
}

func runChargeTables() map[string]*memdb.TableSchema {
	return map[string]*memdb.TableSchema{
		tableRunCharge: {Name: tableRunCharge, Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: &memdb.UintFieldIndex{Field: "Job"}},
		}},
	}
}

// chargedFrom is where the charge of j's current attempt starts: where
// the last periodic charge left it, else the attempt's start.
func (w writer) chargedFrom(j *api.Job) int64 {
	raw, err := w.txn.First(tableRunCharge, "id", j.ID)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: read %s: %v", tableRunCharge, err))
	}
	if raw != nil {
		if rc := raw.(*runCharge); rc.StartedAt == j.StartedAt && rc.At > j.StartedAt {
			return rc.At
		}
	}
	return j.StartedAt
}

// endCharge charges the rest of j's attempt, which ends at now, and drops
// its record: the attempt is charged in full.
func (w writer) endCharge(j *api.Job, now int64) {
	from := w.chargedFrom(j)
	w.chargeUsage(j, from, now)      // fair share: the attempt's resource-seconds (accounts.go)
	w.chargeShareUsage(j, from, now) // AWS fair-share queues: its share's vCPU-seconds (awsfairshare.go)
	if _, err := w.txn.DeleteAll(tableRunCharge, "id", j.ID); err != nil {
		panic(fmt.Sprintf("raftfsm: delete %s: %v", tableRunCharge, err))
	}
}

// chargeRunning applies a ChargeUsageCmd: each running attempt whose
// usage counts somewhere is charged up to c.Now, and the point recorded.
// A clock behind the recorded point (a new leader's) charges nothing and
// moves no record back. Records of jobs no longer running are dropped.
func (w writer) chargeRunning(c ChargeUsageCmd) Result {
	st := &State{txn: w.txn}
	var running []*api.Job
	st.JobsInState(api.StateRunning, func(j *api.Job) bool {
		running = append(running, j)
		return true
	})
	live := make(map[uint64]bool, len(running))
	for _, j := range running {
		live[j.ID] = true
		if !st.usageCounts(j) {
			continue
		}
		from := w.chargedFrom(j)
		if c.Now <= from {
			continue
		}
		w.chargeUsage(j, from, c.Now)
		w.chargeShareUsage(j, from, c.Now)
		w.put(tableRunCharge, &runCharge{Job: j.ID, StartedAt: j.StartedAt, At: c.Now})
	}
	for _, rc := range collect[runCharge](st, tableRunCharge, "id") {
		if !live[rc.Job] {
			if err := w.txn.Delete(tableRunCharge, rc); err != nil {
				panic(fmt.Sprintf("raftfsm: delete %s: %v", tableRunCharge, err))
			}
		}
	}
	return Result{}
}

// usageCounts reports whether the usage of running job j is charged
// anywhere: to an association of the registry, or to its share of a
// fair-share queue.
func (s *State) usageCounts(j *api.Job) bool {
	if j.StartedAt == 0 {
		return false
	}
	if a := s.JobAccount(j); a != "" && s.Association(a, j.User) != nil {
		return true
	}
	return j.ShareIdentifier != "" && s.QueuePolicy(j.Queue) != nil
}

// RunningCharged reports whether a ChargeUsageCmd would charge anything
// now: some running job's usage counts. The leader commits none
// otherwise, so that an idle cluster writes nothing.
func (s *State) RunningCharged() bool {
	found := false
	s.JobsInState(api.StateRunning, func(j *api.Job) bool {
		found = s.usageCounts(j)
		return !found
	})
	return found
}

// watchRunCharges adds the channel that fires when running jobs are
// charged (or one that was ends): priorities under fair share move, and
// a job that waited behind another's reservation may now come first.
func (s *State) watchRunCharges(ws memdb.WatchSet) {
	it, err := s.txn.Get(tableRunCharge, "id")
	if err != nil {
		panic(fmt.Sprintf("raftfsm: watch %s: %v", tableRunCharge, err))
	}
	ws.Add(it.WatchCh())
}

// runChargeRecords are the records' snapshot records.
func (s *State) runChargeRecords() []snapshotRecord {
	var out []snapshotRecord
	for _, rc := range collect[runCharge](s, tableRunCharge, "id") {
		out = append(out, snapshotRecord{RunCharge: rc})
	}
	return out
}
