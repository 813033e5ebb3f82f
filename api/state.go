package api

import "strings"

// JobState is a step of shoal's one job lifecycle (AWS Batch's):
//
//	SUBMITTED -> PENDING -> RUNNABLE -> STARTING -> RUNNING -> SUCCEEDED | FAILED
//
// Slurm state names are a view of it (cli/slurm's JobState: PENDING covers
// SUBMITTED/PENDING/RUNNABLE, RUNNING covers STARTING/RUNNING, FAILED is
// refined by the job's Cause).
type JobState string

// The lifecycle states, in order.
const (
	StateSubmitted JobState = "SUBMITTED"
	StatePending   JobState = "PENDING"
	StateRunnable  JobState = "RUNNABLE"
	StateStarting  JobState = "STARTING"
	StateRunning   JobState = "RUNNING"
	StateSucceeded JobState = "SUCCEEDED"
	StateFailed    JobState = "FAILED"
)

// AllStates lists the lifecycle in order.
var AllStates = []JobState{StateSubmitted, StatePending, StateRunnable, StateStarting, StateRunning, StateSucceeded, StateFailed}

// ParseJobState accepts a state name in any case.
func ParseJobState(s string) (JobState, bool) {
	for _, st := range AllStates {
		if strings.EqualFold(string(st), s) {
			return st, true
		}
	}
	return "", false
}

// Terminal reports whether no transition leaves s.
func (s JobState) Terminal() bool { return s == StateSucceeded || s == StateFailed }

// In reports whether s is one of states.
func (s JobState) In(states ...JobState) bool {
	for _, x := range states {
		if x == s {
			return true
		}
	}
	return false
}

// Reached reports whether s is one of states or, when states is empty,
// terminal: what a wait for a job's end means.
func (s JobState) Reached(states []JobState) bool {
	if len(states) == 0 {
		return s.Terminal()
	}
	return s.In(states...)
}

// Cancellable reports whether cancel applies (the job has not been placed).
func (s JobState) Cancellable() bool {
	return s == StateSubmitted || s == StatePending || s == StateRunnable
}

// Terminable reports whether terminate applies (the job is placed or runs).
func (s JobState) Terminable() bool { return s == StateStarting || s == StateRunning }

// Status reasons that shoal itself sets; users' cancel/terminate reasons are free text.
const (
	ReasonDependencyFailed = "Dependent Job failed"
	// ReasonDependencyNever: a PENDING job (KeepOnInvalidDep) whose
	// dependency can never be satisfied (Slurm's DependencyNeverSatisfied).
	ReasonDependencyNever = "DependencyNeverSatisfied: a dependency can never be satisfied; cancel the job"
	ReasonOutOfMemory     = "OutOfMemoryError: Container killed due to memory usage"
	ReasonNonZeroExit     = "Essential container in task exited"
	ReasonNodeLost        = "Host terminated: the node daemon running the job restarted or went away"
	ReasonNodeShutdown    = "Host terminated: the node daemon shut down while the job ran"
	ReasonSandboxFailed   = "CannotStartContainerError"
	ReasonTimeout         = "Job attempt duration exceeded timeout"
	// ReasonNotResponding is a node's reason when the controller set it
	// DOWN for missing its heartbeats (Slurm's words).
	ReasonNotResponding = "Not responding"
)
