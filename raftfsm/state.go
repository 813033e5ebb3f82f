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
	txn   *memdb.Txn
	index uint64
}

// Index is the raft index this view reflects.
func (s *State) Index() uint64 { return s.index }

// Job returns one job, or nil.
func (s *State) Job(id uint64) *api.Job {
	raw, err := s.txn.First(tableJobs, "id", id)
	if err != nil || raw == nil {
		return nil
	}
	return raw.(*api.Job)
}

// JobsInState calls fn for each job in state st, in id order, until fn
// returns false.
func (s *State) JobsInState(st api.JobState, fn func(*api.Job) bool) {
	s.each(tableJobs, "state", fn, string(st))
}

// AllJobs calls fn for every job in id order until fn returns false.
func (s *State) AllJobs(fn func(*api.Job) bool) { s.each(tableJobs, "id", fn) }

// JobsOfUser calls fn for every job of user in id order until fn returns false.
func (s *State) JobsOfUser(user string, fn func(*api.Job) bool) { s.each(tableJobs, "user", fn, user) }

// JobsOnNode calls fn for every job ever placed on node, until fn returns false.
func (s *State) JobsOnNode(node string, fn func(*api.Job) bool) { s.each(tableJobs, "node", fn, node) }

func (s *State) each(table, index string, fn func(*api.Job) bool, args ...any) {
	it, err := s.txn.Get(table, index, args...)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: iterate %s by %s: %v", table, index, err))
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if !fn(raw.(*api.Job)) {
			return
		}
	}
}

// CountInState returns how many jobs are in state st.
func (s *State) CountInState(st api.JobState) int {
	n := 0
	s.JobsInState(st, func(*api.Job) bool { n++; return true })
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
