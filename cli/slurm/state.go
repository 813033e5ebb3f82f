package slurm

import (
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// State is a Slurm job state: the long name (sacct State, squeue %T,
// scontrol JobState=) and the short code (squeue %t).
type State struct{ Long, Short string }

// Slurm states shoal's lifecycle maps to.
var (
	Pending     = State{"PENDING", "PD"}
	Running     = State{"RUNNING", "R"}
	Completing  = State{"COMPLETING", "CG"}
	Completed   = State{"COMPLETED", "CD"}
	Failed      = State{"FAILED", "F"}
	Cancelled   = State{"CANCELLED", "CA"}
	Timeout     = State{"TIMEOUT", "TO"}
	OutOfMemory = State{"OUT_OF_MEMORY", "OOM"}
	NodeFail    = State{"NODE_FAIL", "NF"}
	Deadline    = State{"DEADLINE", "DL"}
	// Requeued is the state sacct --duplicates gives a run of a job that
	// was requeued after it.
	Requeued = State{"REQUEUED", "RQ"}
	// Stopped: running, its processes sent SIGSTOP (scancel --signal=STOP)
	// and not SIGCONT since.
	Stopped = State{"STOPPED", "ST"}
)

// AllStates lists every Slurm state shoal reports, for -t/--states.
var AllStates = []State{Pending, Running, Completing, Completed, Failed, Cancelled, Timeout, OutOfMemory, NodeFail, Stopped}

// JobState is the Slurm view of a job's lifecycle state: PENDING covers
// SUBMITTED/PENDING/RUNNABLE, RUNNING covers STARTING/RUNNING (COMPLETING
// once a stop was asked), and FAILED is refined by the job's cause.
func JobState(j *api.Job) State {
	switch j.State {
	case api.StateSubmitted, api.StatePending, api.StateRunnable:
		return Pending
	case api.StateStarting, api.StateRunning:
		if j.StopRequested {
			return Completing
		}
		if stopped(j) {
			return Stopped
		}
		return Running
	case api.StateSucceeded:
		return Completed
	}
	switch j.Cause {
	case api.CauseCancelled, api.CauseTerminated, api.CauseDependency:
		return Cancelled
	case api.CauseTimeout:
		return Timeout
	case api.CauseOOM:
		return OutOfMemory
	case api.CauseNodeLost:
		return NodeFail
	case api.CauseDeadline:
		return Deadline
	case api.CausePreempted:
		return State{"PREEMPTED", "PR"}
	}
	return Failed
}

// stopped reports whether the last stop-or-continue signal asked for a
// running job was SIGSTOP.
func stopped(j *api.Job) bool {
	for i := len(j.SignalRequests) - 1; i >= 0; i-- {
		switch j.SignalRequests[i].Signal {
		case int(syscall.SIGSTOP):
			return true
		case int(syscall.SIGCONT):
			return false
		}
	}
	return false
}

// PendingReason is squeue's %r / scontrol's Reason= for a job: why it
// waits, or why it ended, or None.
func PendingReason(j *api.Job, now time.Time) string {
	switch {
	case j.State == api.StatePending && j.Held && len(j.Attempts) > 0 && j.Attempts[len(j.Attempts)-1].Cause == api.CauseRequeued:
		return "job_requeued_in_held_state" // scontrol requeuehold
	case j.State == api.StatePending && j.Held && j.HeldByAdmin:
		return "JobHeldAdmin"
	case j.State == api.StatePending && j.Held:
		return "JobHeldUser"
	case j.State == api.StatePending && j.StatusReason == api.ReasonDependencyNever:
		return "DependencyNeverSatisfied"
	case j.State == api.StatePending || j.State == api.StateSubmitted:
		return "Dependency"
	case j.State == api.StateRunnable && j.BeginAt > now.UnixMilli():
		return "BeginTime"
	case recordedReason(j) != "":
		return recordedReason(j) // the scheduler's, as it last recorded it
	case j.State == api.StateRunnable:
		return "Resources"
	case j.State == api.StateFailed && j.Cause == api.CauseDependency:
		return "DependencyNeverSatisfied"
	case j.State == api.StateFailed && j.Cause == api.CauseExitCode && j.ExitSignal != 0:
		// Slurm 22.05 says this of a batch script killed by a signal.
		return "JobLaunchFailure"
	case j.State == api.StateFailed && j.Cause == api.CauseExitCode:
		return "NonZeroExitCode"
	case j.State == api.StateFailed && j.Cause == api.CauseStartFailed:
		return "JobLaunchFailure"
	case j.State == api.StateFailed && j.Cause == api.CauseNodeLost:
		return "NodeDown"
	case j.State == api.StateFailed && j.Cause == api.CauseTimeout:
		return "TimeLimit"
	case j.State == api.StateFailed && j.Cause == api.CauseOOM:
		return "OutOfMemory"
	case j.State == api.StateFailed && j.Cause == api.CauseDeadline:
		return "DeadLine"
	}
	return "None"
}

// Reason is PendingReason refined by what the job's array does: a task
// that could run but whose array already runs its %N throttle's worth of
// tasks (arrayRunning) waits for JobArrayTaskLimit.
func Reason(j *api.Job, now time.Time, arrayRunning int) string {
	if j.State == api.StateRunnable && !j.Held && j.Array != nil && j.Array.MaxRunning > 0 &&
		arrayRunning >= j.Array.MaxRunning && j.BeginAt <= now.UnixMilli() {
		return "JobArrayTaskLimit"
	}
	return PendingReason(j, now)
}

// slurmStates lists every job state Slurm 22.05 knows, in the order its
// "Valid job states" message names them; -t/--states accepts any of them
// (shoal's jobs are only ever in the ones AllStates lists).
var slurmStates = []State{
	Pending, Running, {"SUSPENDED", "S"}, Completed, Cancelled, Failed, Timeout, NodeFail,
	{"PREEMPTED", "PR"}, {"BOOT_FAIL", "BF"}, Deadline, OutOfMemory, Completing,
	{"CONFIGURING", "CF"}, {"RESIZING", "RS"}, {"RESV_DEL_HOLD", "RD"}, Requeued,
	{"REQUEUE_FED", "RF"}, {"REQUEUE_HOLD", "RH"}, {"REVOKED", "RV"}, {"SIGNALING", "SI"},
	{"SPECIAL_EXIT", "SE"}, {"STAGE_OUT", "SO"}, {"STOPPED", "ST"},
}

// ParseState reads a Slurm job state name, long or short, in any case.
func ParseState(s string) (State, bool) {
	for _, st := range slurmStates {
		if strings.EqualFold(s, st.Long) || strings.EqualFold(s, st.Short) {
			return st, true
		}
	}
	return State{}, false
}

// Finished reports whether a Slurm state is one a job ends in.
func (s State) Finished() bool {
	switch s {
	case Pending, Running, Completing, State{"SUSPENDED", "S"}, State{"CONFIGURING", "CF"},
		State{"RESIZING", "RS"}, State{"REQUEUED", "RQ"}, State{"SIGNALING", "SI"}, State{"STOPPED", "ST"},
		State{"STAGE_OUT", "SO"}, State{"REQUEUE_HOLD", "RH"}, State{"REQUEUE_FED", "RF"}, State{"RESV_DEL_HOLD", "RD"}:
		return false
	}
	return true
}

// ExitCode is Slurm's "code:signal": a job killed by signal S shows "0:S".
func ExitCode(j *api.Job) string {
	if j.ExitSignal != 0 {
		return fmt.Sprintf("0:%d", j.ExitSignal)
	}
	if j.ExitCode == nil {
		return "0:0"
	}
	return fmt.Sprintf("%d:0", *j.ExitCode)
}

// JobID is how Slurm prints a job's id: N, or A_i for an array task.
func JobID(j *api.Job) string {
	if j.Array != nil {
		return fmt.Sprintf("%d_%d", j.Array.JobID, j.Array.Index)
	}
	return api.FormatID(j.ID)
}

// restarts is how many times j ran before its current attempt (Slurm's
// Restarts): from its attempt count, as its list keeps only the last
// api.MaxJobAttempts (AttemptsDropped counts the others, and tells a
// placed current attempt from one that never ran).
func restarts(j *api.Job) int {
	r := j.Attempt
	if len(j.AttemptHistory()) > len(j.Attempts) { // its current attempt is placed: not a restart
		r--
	}
	return max(r, j.AttemptsDropped+len(j.Attempts))
}
