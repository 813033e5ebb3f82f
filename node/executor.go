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
	// Recover returns, by sandbox id, the jobs an earlier daemon started
	// that still run or whose end it never reported, and removes every
	// other sandbox it left behind. Call it once, before any Start; safe
	// without any setup.
	Recover() (map[string]Process, error)
}

// Process is one started (or recovered) job.
type Process interface {
	// Wait blocks until the job ends and its sandbox is removed.
	Wait() (sandbox.Result, error)
	// Stop asks every process of the job to end, killing them after grace.
	Stop(grace time.Duration) error
	// Signal sends sig to the job's processes that scope names (see
	// sandbox.Job.Signal for what reaches the job's PID 1).
	Signal(sig syscall.Signal, scope sandbox.Scope) error
	// Forget drops the record of the job's end, once the controller has
	// it; until then a daemon that starts later recovers the end and
	// reports it. Call it after Wait.
	Forget() error
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

// Recover implements Executor.
func (e SandboxExecutor) Recover() (map[string]Process, error) {
	jobs, err := e.Runner.Recover()
	out := make(map[string]Process, len(jobs))
	for id, j := range jobs {
		out[id] = j
	}
	return out, err
}

// Quiesce waits until no job's cgroup is frozen by a signal in progress
// and refuses to freeze any more (sandbox.Runner.Quiesce): the daemon is
// about to exit, and a job it left frozen would never end.
func (e SandboxExecutor) Quiesce() { e.Runner.Quiesce() }
