// Package sched decides where jobs run. Schedule is a pure function of a
// snapshot of the state: no I/O, no clocks, no randomness, so it is tested
// with tables of simulated nodes and the daemon commits its plans through
// raft, where the FSM re-checks each placement.
package sched
