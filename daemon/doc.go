// Package daemon is the controller process: raft wiring around raftfsm, the
// HTTP API on a unix socket (caller identified by SO_PEERCRED) and optional
// TCP, and the scheduling loop that turns sched plans into raft entries.
package daemon
