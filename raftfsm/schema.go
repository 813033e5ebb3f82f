package raftfsm

import (
	"encoding/binary"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
)

const (
	// tableJobs names jobs for writer.put and snapshots; they are stored
	// in buckets (tableJobBuckets, jobtable.go), not as a table of their own.
	tableJobs    = "jobs"
	tableNodes   = "nodes"
	tableMeta    = "meta"
	tableJobDefs = "jobdefs"
	tableCEs     = "computeenvs"
	tableQueues  = "queues"
	tableKeys    = "accesskeys"
)

// meta is the FSM's own counters, kept in the store so that snapshots and
// replays carry them.
type meta struct {
	Key       string `json:"key"` // always "meta"
	NextJobID uint64 `json:"nextJobId"`
	// SubmitTokenSeq numbers the client tokens recorded (submittoken.go).
	SubmitTokenSeq uint64 `json:"submitTokenSeq,omitempty"`
}

func schema() *memdb.DBSchema {
	s := &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tableJobBuckets: jobsTable(),
		tableNodes: {
			Name: tableNodes,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Name"}},
			},
		},
		tableJobSets: jobSetsTable(tableJobSets),
		tableJobWork: jobSetsTable(tableJobWork),
		tableMeta:    byName(tableMeta, "Key"),
		tableCEs:     byName(tableCEs, "Name"),
		tableQueues:  byName(tableQueues, "Name"),
		tableKeys:    byName(tableKeys, "ID"),
		tableJobDefs: {
			Name: tableJobDefs,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
					&memdb.StringFieldIndex{Field: "Name"}, &memdb.IntFieldIndex{Field: "Revision"},
				}}},
				"name": {Name: "name", Indexer: &memdb.StringFieldIndex{Field: "Name"}},
			},
		},
	}}
	for name, t := range cronTables() {
		s.Tables[name] = t
	}
	for name, t := range licenseTables() {
		s.Tables[name] = t
	}
	for name, t := range accountTables() {
		s.Tables[name] = t
	}
	for name, t := range schedPolicyTables() {
		s.Tables[name] = t
	}
	for name, t := range submitTokenTables() {
		s.Tables[name] = t
	}
	for name, t := range runChargeTables() {
		s.Tables[name] = t
	}
	for name, t := range depHintTables() {
		s.Tables[name] = t
	}
	for name, t := range joinSecretTables() {
		s.Tables[name] = t
	}
	return s
}

// byName is a table indexed by one unique string field.
func byName(table, field string) *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: table,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: field}},
		},
	}
}

// stateCodes are the jobs' states as one byte each, in the keys of the
// state sets (jobsets.go).
var stateCodes = map[api.JobState]byte{
	api.StateSubmitted: 1, api.StatePending: 2, api.StateRunnable: 3, api.StateStarting: 4,
	api.StateRunning: 5, api.StateSucceeded: 6, api.StateFailed: 7,
}

// stateNames are the states by their codes (a job record's state).
var stateNames = func() (out [8]api.JobState) {
	for st, c := range stateCodes {
		out[c] = st
	}
	return out
}()

func uint64Key(id uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, id)
}
