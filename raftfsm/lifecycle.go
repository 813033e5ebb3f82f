package raftfsm

import (
	"fmt"

	"github.com/shoal-batch/shoal/api"
)

// transitions is the one table of legal lifecycle moves; every state change
// in the FSM goes through move, which consults it.
//
// Beyond the straight line: a hold sends a RUNNABLE job back to PENDING; a
// requeue or a retry (AWS Batch's retryStrategy) sends a placed job back to
// RUNNABLE once its node has stopped it, and so does the loss of its node
// for a job that RequeuesOnNodeFailure.
var transitions = map[api.JobState][]api.JobState{
	api.StateSubmitted: {api.StatePending, api.StateRunnable, api.StateFailed},
	api.StatePending:   {api.StateRunnable, api.StateFailed},
	api.StateRunnable:  {api.StateStarting, api.StatePending, api.StateFailed},
	api.StateStarting:  {api.StateRunning, api.StateRunnable, api.StateFailed},
	api.StateRunning:   {api.StateSucceeded, api.StateRunnable, api.StateFailed},
	api.StateSucceeded: nil,
	api.StateFailed:    nil,
}

// CanMove reports whether the lifecycle allows from -> to.
func CanMove(from, to api.JobState) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// move sets j's state to `to`, stamping times, or explains why it may not.
func move(j *api.Job, to api.JobState, now int64) error {
	if !CanMove(j.State, to) {
		return api.Errorf(api.CodeConflict, "job %d is %s and cannot become %s", j.ID, j.State, to)
	}
	if j.State.Terminable() && !to.Terminable() {
		endSteps(j, now) // its processes are gone: so are its steps'
	}
	j.State = to
	if to == api.StateRunnable {
		j.RunnableAt = now
	}
	switch {
	case to == api.StateRunning:
		j.StartedAt = now
	case to == api.StateRunnable && j.StartedAt != 0: // requeued: a fresh attempt
		j.StartedAt, j.ExitCode, j.ExitSignal = 0, nil, 0
		j.Steps, j.NextStep = nil, 0 // its steps count from 0 again, as Slurm's
	case to.Terminal():
		j.StoppedAt = now
	}
	return nil
}

// mustMove is move for transitions the caller has already checked.
func mustMove(j *api.Job, to api.JobState, now int64) {
	if err := move(j, to, now); err != nil {
		panic(fmt.Sprintf("raftfsm: checked transition refused: %v", err))
	}
}

// reopen queues an ended job again (scontrol requeue of a finished batch
// job). It is not a lifecycle move, and no transition leaves a terminal
// state: it is the job's submission made anew under its id, with no
// dependencies, RUNNABLE, or PENDING when held. What the ended run left is cleared; the caller has
// recorded it as an attempt.
func reopen(j *api.Job, now int64) {
	if !j.State.Terminal() {
		panic(fmt.Sprintf("raftfsm: reopen of job %d, which is %s", j.ID, j.State))
	}
	j.State, j.RunnableAt = api.StateRunnable, now
	if j.Held {
		j.State = api.StatePending
	}
	j.StartedAt, j.StoppedAt, j.ExitCode, j.ExitSignal, j.StatusReason, j.Cause, j.Usage = 0, 0, nil, 0, "", "", nil
	j.StopRequested, j.RequeueRequested, j.StopReason, j.StopCause, j.StopGraceSeconds, j.SignalRequests = false, false, "", "", 0, nil
	j.Steps, j.NextStep = nil, 0
	// Its dependencies are forgotten, met or not, as the unheld job's
	// RUNNABLE says: the jobs they name may have left the state since.
	j.DependsOn, j.DependAny = nil, false
}
