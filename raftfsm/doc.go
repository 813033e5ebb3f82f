// Package raftfsm is shoal's replicated state: the commands that go through
// raft, the deterministic FSM that applies them to an indexed in-memory store
// (hashicorp/go-memdb), and its snapshots. Jobs are kept in buckets of
// consecutive ids, and their views by state, dependency and node in sets
// of many jobs each (jobtable.go, jobsets.go): a go-memdb object or index
// entry per job costs some 330 bytes, the controller's main cost per job
// after the job itself.
//
// Apply never reads a clock, draws a random number or does I/O: times and
// the owner of a job come stamped in the command by the leader; job ids come
// from a counter that is itself part of the state.
package raftfsm
