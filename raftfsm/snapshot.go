package raftfsm

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
)

// SnapshotFormat is the version of the snapshot format this binary
// writes, in each snapshot's first line ({"format":N}); a snapshot
// without one is format 0. Add 1 with every record kind added to
// snapshotKinds: a binary that meets a kind it does not know names the
// snapshot's format and its own in the error.
const SnapshotFormat = 8 // 2: cron schedules and crontabs; 3: licenses; 4: the account registry; 5: client tokens of submits; 6: scheduling policies and share usage; 7: how far running jobs' usage is charged; 8: the node join secret, once rotated

// snapshotRecord is one line of a snapshot: exactly one field is set,
// named after its kind in snapshotKinds.
type snapshotRecord struct {
	Format  *int                    `json:"format,omitempty"`
	Meta    *meta                   `json:"meta,omitempty"`
	Node    *api.Node               `json:"node,omitempty"`
	Job     *api.Job                `json:"job,omitempty"`
	JobDef  *api.JobDefinition      `json:"jobDefinition,omitempty"`
	CE      *api.ComputeEnvironment `json:"computeEnvironment,omitempty"`
	Queue   *api.JobQueue           `json:"jobQueue,omitempty"`
	Key     *api.AccessKey          `json:"accessKey,omitempty"`
	Cron    *api.CronSchedule       `json:"cronSchedule,omitempty"`
	Crontab *api.Crontab            `json:"crontab,omitempty"`
	License *api.License            `json:"license,omitempty"`
	// The account registry (accounts.go).
	Account      *api.Account      `json:"account,omitempty"`
	AcctUser     *api.AcctUser     `json:"acctUser,omitempty"`
	Association  *api.Association  `json:"association,omitempty"`
	QOS          *api.QOS          `json:"qos,omitempty"`
	AssocUsage   *api.AssocUsage   `json:"assocUsage,omitempty"`
	PrioSettings *PrioritySettings `json:"prioritySettings,omitempty"`
	Token        *submitToken      `json:"submitToken,omitempty"`
	// AWS Batch's scheduling policies and share usage (awsfairshare.go).
	SchedPolicy *api.SchedulingPolicy `json:"schedulingPolicy,omitempty"`
	ShareUsage  *api.ShareUsage       `json:"shareUsage,omitempty"`
	// How far running attempts' usage is charged (usagecharge.go).
	RunCharge *runCharge `json:"runCharge,omitempty"`
	// The node join secret, once an operator rotated it (joinsecret.go).
	JoinSecret *JoinSecret `json:"joinSecret,omitempty"`
}

// recordKind is one kind of snapshot record: the table it restores into
// and a new value to decode it into.
type recordKind struct {
	table string
	new   func() any
}

// snapshotKinds are the record kinds this binary restores, by their key
// in a snapshot line. Restore refuses a snapshot with any other kind, as
// Apply refuses a command it does not know: a newer snapshot read by an
// older binary fails loudly, never loses what it cannot read. To add a
// kind: a field in snapshotRecord, a row here, the records in WriteTo,
// and SnapshotFormat one higher.
var snapshotKinds = map[string]recordKind{
	"meta":               {tableMeta, func() any { return new(meta) }},
	"node":               {tableNodes, func() any { return new(api.Node) }},
	"job":                {tableJobs, func() any { return new(api.Job) }},
	"jobDefinition":      {tableJobDefs, func() any { return new(api.JobDefinition) }},
	"computeEnvironment": {tableCEs, func() any { return new(api.ComputeEnvironment) }},
	"jobQueue":           {tableQueues, func() any { return new(api.JobQueue) }},
	"accessKey":          {tableKeys, func() any { return new(api.AccessKey) }},
	"cronSchedule":       {tableCron, func() any { return new(api.CronSchedule) }},
	"crontab":            {tableCrontabs, func() any { return new(api.Crontab) }},
	"license":            {tableLicenses, func() any { return new(api.License) }},
	"account":            {tableAccounts, func() any { return new(api.Account) }},
	"acctUser":           {tableAcctUsers, func() any { return new(api.AcctUser) }},
	"association":        {tableAssocs, func() any { return new(api.Association) }},
	"qos":                {tableQOS, func() any { return new(api.QOS) }},
	"assocUsage":         {tableUsage, func() any { return new(api.AssocUsage) }},
	"prioritySettings":   {tablePrioConf, func() any { return new(PrioritySettings) }},
	"submitToken":        {tableSubmitTokens, func() any { return new(submitToken) }},
	"schedulingPolicy":   {tableSchedPolicies, func() any { return new(api.SchedulingPolicy) }},
	"shareUsage":         {tableShareUsage, func() any { return new(api.ShareUsage) }},
	"runCharge":          {tableRunCharge, func() any { return new(runCharge) }},
	"joinSecret":         {tableJoinSecret, func() any { return new(JoinSecret) }},
}

// knownKinds lists snapshotKinds' keys, sorted, for errors.
func knownKinds() string {
	keys := make([]string, 0, len(snapshotKinds))
	for k := range snapshotKinds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// Snapshot is a point-in-time copy of the state, cheap to take (a memdb
// read transaction) and written out later, off raft's apply path.
type Snapshot struct {
	state *State
}

// Snapshot captures the current state.
func (f *FSM) Snapshot() *Snapshot { return &Snapshot{state: f.State()} }

// WriteTo writes the snapshot as JSON lines: the format, meta, nodes,
// job definitions, compute environments, queues, access keys, then jobs.
func (s *Snapshot) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: bufio.NewWriterSize(w, 1<<16)}
	enc := json.NewEncoder(cw)
	format := SnapshotFormat
	if err := enc.Encode(snapshotRecord{Format: &format}); err != nil {
		return cw.n, fmt.Errorf("snapshot format: %w", err)
	}
	raw, err := s.state.txn.First(tableMeta, "id", "meta")
	if err != nil {
		return cw.n, fmt.Errorf("snapshot meta: %w", err)
	}
	if raw != nil {
		if err := enc.Encode(snapshotRecord{Meta: raw.(*meta)}); err != nil {
			return cw.n, fmt.Errorf("snapshot meta: %w", err)
		}
	}
	var records []snapshotRecord
	for _, n := range s.state.Nodes() {
		records = append(records, snapshotRecord{Node: n})
	}
	for _, d := range s.state.AllJobDefinitions() {
		records = append(records, snapshotRecord{JobDef: d})
	}
	for _, ce := range collect[api.ComputeEnvironment](s.state, tableCEs, "id") {
		records = append(records, snapshotRecord{CE: ce})
	}
	for _, q := range collect[api.JobQueue](s.state, tableQueues, "id") {
		records = append(records, snapshotRecord{Queue: q})
	}
	for _, k := range s.state.AccessKeys() {
		records = append(records, snapshotRecord{Key: k})
	}
	for _, c := range s.state.CronSchedules(0, true) {
		records = append(records, snapshotRecord{Cron: c})
	}
	for _, c := range collect[api.Crontab](s.state, tableCrontabs, "id") {
		records = append(records, snapshotRecord{Crontab: c})
	}
	for _, l := range s.state.Licenses() {
		records = append(records, snapshotRecord{License: l})
	}
	records = append(records, s.state.accountRecords()...)
	records = append(records, s.state.schedPolicyRecords()...)
	records = append(records, s.state.runChargeRecords()...)
	for _, t := range collect[submitToken](s.state, tableSubmitTokens, "seq") {
		records = append(records, snapshotRecord{Token: t})
	}
	if js := s.state.JoinSecret(nil); js != nil { // none until rotated: older binaries read the snapshot till then
		records = append(records, snapshotRecord{JoinSecret: js})
	}
	for _, r := range records {
		if err := enc.Encode(r); err != nil {
			return cw.n, fmt.Errorf("snapshot: %w", err)
		}
	}
	var jobErr error
	s.state.AllJobs(func(j *api.Job) bool {
		jobErr = enc.Encode(snapshotRecord{Job: j})
		return jobErr == nil
	})
	if jobErr != nil {
		return cw.n, fmt.Errorf("snapshot jobs: %w", jobErr)
	}
	if err := cw.w.(*bufio.Writer).Flush(); err != nil {
		return cw.n, fmt.Errorf("snapshot flush: %w", err)
	}
	return cw.n, nil
}

// Restore replaces the whole state with a snapshot written by WriteTo.
// A record of a kind this binary does not know (written by a newer one)
// fails the restore, naming the record and both formats; on any error the
// state is left as it was.
func (f *FSM) Restore(r io.Reader, index uint64) error {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		return fmt.Errorf("restore: new store: %w", err)
	}
	txn := db.Txn(true)
	shared := newShared()
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<16))
	format := 0 // a snapshot without a format line is older than format 1
	for line := 1; ; line++ {
		var rec map[string]json.RawMessage
		if err := dec.Decode(&rec); err == io.EOF {
			break
		} else if err != nil {
			txn.Abort()
			return fmt.Errorf("restore: decode record at line %d: %w", line, err)
		}
		if len(rec) != 1 {
			txn.Abort()
			return fmt.Errorf("restore: snapshot line %d has %d records, want one", line, len(rec))
		}
		for key, raw := range rec {
			if key == "format" {
				if err := json.Unmarshal(raw, &format); err != nil {
					txn.Abort()
					return fmt.Errorf("restore: snapshot format at line %d: %w", line, err)
				}
				continue
			}
			kind, ok := snapshotKinds[key]
			if !ok {
				txn.Abort()
				return fmt.Errorf("restore: snapshot record %q at line %d is of a kind this binary does not know (it knows %s): "+
					"the snapshot is format %d and this binary reads format %d; restore it with the newer shoal that wrote it",
					key, line, knownKinds(), format, SnapshotFormat)
			}
			obj := kind.new()
			if err := json.Unmarshal(raw, obj); err != nil {
				txn.Abort()
				return fmt.Errorf("restore: decode %s record at line %d: %w", key, line, err)
			}
			if j, ok := obj.(*api.Job); ok {
				shared.job(j)
				shared.jobs++
			}
			if j, ok := obj.(*api.Job); ok {
				putJob(txn, nil, j, &shared.specs) // its sets are derived, never in a snapshot
				continue
			}
			if err := txn.Insert(kind.table, obj); err != nil {
				txn.Abort()
				return fmt.Errorf("restore: insert into %s: %w", kind.table, err)
			}
		}
	}
	txn.Commit()
	shared.kept = shared.size()
	f.shared = shared
	f.swap(db)
	f.advance(index)
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
