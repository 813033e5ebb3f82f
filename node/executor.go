package node

import (
	"syscall"
	"time"

	"github.com/shoal-batch/shoal/node/sandbox"
)

// Executor starts jobs. The real one is sandbox.Runner (libcontainer).
type Executor interface {
	// Start returns once the job's process runs.
	Start(spec sandbox.Spec) (Process, error)
	// Cleanup removes sandboxes a previous daemon left behind; safe to call
	// before any Start.
	Cleanup() error
}

// Process is one started job.
type Process interface {
	// Wait blocks until the job ends and its sandbox is removed.
	Wait() (sandbox.Result, error)
	// Stop asks every process of the job to end, killing them after grace.
	Stop(grace time.Duration) error
	// Signal sends sig to the job's processes that scope names (see
	// sandbox.Job.Signal for what reaches the job's PID 1).
	Signal(sig syscall.Signal, scope sandbox.Scope) error
}

// SandboxExecutor runs jobs under libcontainer.
type SandboxExecutor struct{ Runner *sandbox.Runner }

var _ Executor = SandboxExecutor{}

// Start implements Executor.
func (e SandboxExecutor) Start(spec sandbox.Spec) (Process, error) {
	j, err := e.Runner.Start(spec)
	if err != nil {
		return nil, err
	}
	return j, nil
}

// Cleanup implements Executor.
func (e SandboxExecutor) Cleanup() error { return e.Runner.Cleanup() }
