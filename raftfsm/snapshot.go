package raftfsm

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
)

// snapshotRecord is one line of a snapshot: exactly one field is set.
type snapshotRecord struct {
	Meta    *meta                   `json:"meta,omitempty"`
	Node    *api.Node               `json:"node,omitempty"`
	Job     *api.Job                `json:"job,omitempty"`
	JobDef  *api.JobDefinition      `json:"jobDefinition,omitempty"`
	CE      *api.ComputeEnvironment `json:"computeEnvironment,omitempty"`
	Queue   *api.JobQueue           `json:"jobQueue,omitempty"`
	Key     *api.AccessKey          `json:"accessKey,omitempty"`
	Cron    *api.CronSchedule       `json:"cronSchedule,omitempty"`
	Crontab *api.Crontab            `json:"crontab,omitempty"`
}

// Snapshot is a point-in-time copy of the state, cheap to take (a memdb
// read transaction) and written out later, off raft's apply path.
type Snapshot struct {
	state *State
}

// Snapshot captures the current state.
func (f *FSM) Snapshot() *Snapshot { return &Snapshot{state: f.State()} }

// WriteTo writes the snapshot as JSON lines: meta, nodes, then jobs.
func (s *Snapshot) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: bufio.NewWriterSize(w, 1<<16)}
	enc := json.NewEncoder(cw)
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
func (f *FSM) Restore(r io.Reader, index uint64) error {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		return fmt.Errorf("restore: new store: %w", err)
	}
	txn := db.Txn(true)
	shared := newShared()
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<16))
	for {
		var rec snapshotRecord
		if err := dec.Decode(&rec); err == io.EOF {
			break
		} else if err != nil {
			txn.Abort()
			return fmt.Errorf("restore: decode record: %w", err)
		}
		var table string
		var obj any
		switch {
		case rec.Meta != nil:
			table, obj = tableMeta, rec.Meta
		case rec.Node != nil:
			table, obj = tableNodes, rec.Node
		case rec.Job != nil:
			shared.job(rec.Job)
			table, obj = tableJobs, rec.Job
		case rec.JobDef != nil:
			table, obj = tableJobDefs, rec.JobDef
		case rec.CE != nil:
			table, obj = tableCEs, rec.CE
		case rec.Queue != nil:
			table, obj = tableQueues, rec.Queue
		case rec.Key != nil:
			table, obj = tableKeys, rec.Key
		case rec.Cron != nil:
			table, obj = tableCron, rec.Cron
		case rec.Crontab != nil:
			table, obj = tableCrontabs, rec.Crontab
		default:
			continue // a record type from a newer version
		}
		if err := txn.Insert(table, obj); err != nil {
			txn.Abort()
			return fmt.Errorf("restore: insert into %s: %w", table, err)
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
