package raftfsm

import (
	"encoding/binary"
	"fmt"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
)

const (
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
		tableJobs: {
			Name: tableJobs,
			Indexes: map[string]*memdb.IndexSchema{
				"id":    {Name: "id", Unique: true, Indexer: &memdb.UintFieldIndex{Field: "ID"}},
				"state": {Name: "state", Indexer: &memdb.StringFieldIndex{Field: "State"}},
				"user":  {Name: "user", Indexer: &memdb.StringFieldIndex{Field: "User"}},
				"node":  {Name: "node", AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "Node"}},
				"deps":  {Name: "deps", AllowMissing: true, Indexer: dependsOnIndex{}},
				// active: STARTING and RUNNING jobs by node, a node's work.
				// Its watch channels are what a node's blocking query waits
				// on: they fire when that node's assignments change, not
				// when anything else does.
				"active": {Name: "active", AllowMissing: true, Indexer: activeOnNodeIndex{}},
			},
		},
		tableNodes: {
			Name: tableNodes,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Name"}},
			},
		},
		tableMeta:   byName(tableMeta, "Key"),
		tableCEs:    byName(tableCEs, "Name"),
		tableQueues: byName(tableQueues, "Name"),
		tableKeys:   byName(tableKeys, "ID"),
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

// dependsOnIndex indexes a job under every job it depends on, so that the
// FSM finds a finished job's dependents without a scan.
type dependsOnIndex struct{}

func (dependsOnIndex) FromObject(obj any) (bool, [][]byte, error) {
	j, ok := obj.(*api.Job)
	if !ok {
		return false, nil, fmt.Errorf("deps index: %T is not a job", obj)
	}
	if len(j.DependsOn) == 0 {
		return false, nil, nil
	}
	vals := make([][]byte, len(j.DependsOn))
	for i, d := range j.DependsOn {
		vals[i] = uint64Key(d.JobID)
	}
	return true, vals, nil
}

func (dependsOnIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("deps index: want one job id, got %d args", len(args))
	}
	id, ok := args[0].(uint64)
	if !ok {
		return nil, fmt.Errorf("deps index: %T is not a uint64 job id", args[0])
	}
	return uint64Key(id), nil
}

func uint64Key(id uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, id)
}

// activeOnNodeIndex indexes a placed, unfinished job (STARTING or RUNNING)
// under its node; other jobs are not in it.
type activeOnNodeIndex struct{}

func (activeOnNodeIndex) FromObject(obj any) (bool, []byte, error) {
	j, ok := obj.(*api.Job)
	if !ok {
		return false, nil, fmt.Errorf("active index: %T is not a job", obj)
	}
	if j.Node == "" || !j.State.Terminable() {
		return false, nil, nil
	}
	return true, []byte(j.Node + "\x00"), nil
}

func (activeOnNodeIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("active index: want one node name, got %d args", len(args))
	}
	node, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("active index: %T is not a node name", args[0])
	}
	return []byte(node + "\x00"), nil
}
