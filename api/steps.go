package api

// Job steps: what srun runs inside a job (Slurm's JOB.0, JOB.1, ...). A
// step is registered by the job's own srun through the controller, which
// checks that the caller owns the job; srun reports its end. A job keeps
// its steps (Job.Steps) in the replicated state and in the archive, so
// squeue --steps, scontrol show step and sacct read them with the job.
// The batch script itself is Slurm's JOB.batch step: it is the job, not a
// record here.

// Step API paths.
const (
	PathStepStart  = "/shoal/v1/jobs/steps/start"
	PathStepEnd    = "/shoal/v1/jobs/steps/end"
	PathStepSignal = "/shoal/v1/jobs/steps/signal"
)

// StepState is a step's state, in Slurm's words (steps exist only on the
// Slurm side, so they have one vocabulary).
type StepState string

// Step states.
const (
	StepRunning   StepState = "RUNNING"
	StepCompleted StepState = "COMPLETED" // every task exited 0
	StepFailed    StepState = "FAILED"    // a task exited non-zero or was killed by a signal
	StepCancelled StepState = "CANCELLED" // scancel JOB.STEP, or the job ended under it
	StepNodeFail  StepState = "NODE_FAIL" // the job's node was lost
)

// MaxJobSteps bounds the step records a job keeps: beyond it the oldest
// ended ones are dropped (their ids are not reused). Running steps are
// always kept.
const MaxJobSteps = 512

// MaxJobRunningSteps bounds the steps a job runs at once: a step start
// beyond it is refused until one of them ends (Slurm bounds a job's steps
// with MaxStepCount). It is at most MaxJobSteps, so that a job's step
// records stay within MaxJobSteps and a step start, which copies them,
// stays cheap.
const MaxJobRunningSteps = 512

// Step is one job step.
type Step struct {
	ID     uint32    `json:"id"`
	Name   string    `json:"name"`
	State  StepState `json:"state"`
	NTasks int       `json:"ntasks"`
	CPUs   int       `json:"cpus"`
	// MemMB is the step's --mem (0: the job's).
	MemMB     int64 `json:"memMB,omitempty"`
	StartedAt int64 `json:"startedAt"`
	EndedAt   int64 `json:"endedAt,omitempty"`
	// ExitCode is the highest exit code of the step's tasks; ExitSignal
	// the signal that killed one (0: none).
	ExitCode   int `json:"exitCode,omitempty"`
	ExitSignal int `json:"signal,omitempty"`
	// CancelRequested: scancel JOB.STEP asked the node to kill the step's
	// processes; the step ends CANCELLED.
	CancelRequested bool `json:"cancelRequested,omitempty"`
	// SrunHost and SrunPID are where the srun that runs it is (scontrol
	// show step SrunHost:Pid=), as srun reported them.
	SrunHost string `json:"srunHost,omitempty"`
	SrunPID  int    `json:"srunPid,omitempty"`
}

// Ended reports whether the step has ended.
func (s *Step) Ended() bool { return s.State != StepRunning }

// StepStartRequest registers a new step of a running job (srun inside the
// job). The caller must own the job (the connection proves who calls).
type StepStartRequest struct {
	JobID    uint64 `json:"jobId"`
	Name     string `json:"name"`
	NTasks   int    `json:"ntasks"`
	CPUs     int    `json:"cpus"`
	MemMB    int64  `json:"memMB,omitempty"`
	SrunHost string `json:"srunHost,omitempty"`
	SrunPID  int    `json:"srunPid,omitempty"`
}

// StepStartResponse carries the new step's id (0, 1, ... per job).
type StepStartResponse struct {
	StepID uint32 `json:"stepId"`
}

// StepEndRequest records how a step ended: the highest exit code of its
// tasks, and the signal that killed one (0: none).
type StepEndRequest struct {
	JobID      uint64 `json:"jobId"`
	StepID     uint32 `json:"stepId"`
	ExitCode   int    `json:"exitCode"`
	ExitSignal int    `json:"signal,omitempty"`
}

// StepSignalRequest signals a running step's processes (scancel
// --signal JOB.STEP), or cancels the step (Cancel: its processes are
// killed and it ends CANCELLED; the job goes on).
type StepSignalRequest struct {
	JobID  uint64 `json:"jobId"`
	StepID uint32 `json:"stepId"`
	Signal int    `json:"signal,omitempty"`
	Cancel bool   `json:"cancel,omitempty"`
}

// SignalStep is the scope of a signal for one step's processes
// (JobSignal.Step names it).
const SignalStep SignalScope = "step"
