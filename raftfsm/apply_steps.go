package raftfsm

import (
	"github.com/shoal-batch/shoal/api"
)

// Job steps (api/steps.go): srun inside a job registers each step it runs
// and reports its end; scancel JOB.STEP signals or cancels one. A job
// keeps its steps with it, so they leave the state (and reach the
// archive) with their job. Never renumber.
const (
	OpStepStart  Op = 41 // StepStartCmd
	OpStepEnd    Op = 42 // StepEndCmd
	OpStepSignal Op = 43 // StepSignalCmd
)

// sigKill is SIGKILL's number: what cancelling a step sends its processes.
const sigKill = 9

// StepStartCmd records a new step of a STARTING or RUNNING job, with the
// next step id (Result.IDs[0]). Caller, if not root, must own the job. A
// job runs at most api.MaxJobRunningSteps steps at once: beyond that a
// start is refused until a step ends.
type StepStartCmd struct {
	Step      api.StepStartRequest `json:"step"`
	CallerUID uint32               `json:"callerUid"`
	Now       int64                `json:"now"`
}

// StepEndCmd records how a running step ended.
type StepEndCmd struct {
	End       api.StepEndRequest `json:"end"`
	CallerUID uint32             `json:"callerUid"`
	Now       int64              `json:"now"`
}

// StepSignalCmd asks the job's node to signal a running step's processes,
// or to kill them (Cancel: the step ends CANCELLED once its srun reports
// the end, or with its job).
type StepSignalCmd struct {
	Signal    api.StepSignalRequest `json:"signal"`
	CallerUID uint32                `json:"callerUid"`
	Now       int64                 `json:"now"`
}

// stepJob returns a copy of the job a step command names, checked: it
// exists, the caller may act on it and it runs.
func (w writer) stepJob(id uint64, uid uint32, verb string) (*api.Job, *api.Error) {
	j := w.job(id)
	if j == nil {
		return nil, api.Errorf(api.CodeNotFound, "job %d does not exist", id)
	}
	if err := owns(j, uid, verb); err != nil {
		return nil, err
	}
	if !j.State.Terminable() {
		return nil, api.Errorf(api.CodeConflict, "job %d is %s: steps exist only in a STARTING or RUNNING job", id, j.State)
	}
	return j, nil
}

// openStep returns a copy of the job a step command names (checked as
// stepJob checks it) and the index of its step stepID, which must exist
// and still run.
func (w writer) openStep(jobID uint64, stepID, uid uint32, verb string) (*api.Job, int, *api.Error) {
	j, err := w.stepJob(jobID, uid, verb)
	if err != nil {
		return nil, -1, err
	}
	i := stepIndex(j.Steps, stepID)
	if i < 0 {
		return nil, -1, api.Errorf(api.CodeNotFound, "job %d has no step %d", j.ID, stepID)
	}
	if j.Steps[i].Ended() {
		return nil, -1, api.Errorf(api.CodeConflict, "step %d.%d has ended (%s)", j.ID, stepID, j.Steps[i].State)
	}
	return j, i, nil
}

// runningSteps counts the steps that have not ended.
func runningSteps(steps []api.Step) int {
	n := 0
	for i := range steps {
		if !steps[i].Ended() {
			n++
		}
	}
	return n
}

// stepIndex finds step id among steps (-1: none).
func stepIndex(steps []api.Step, id uint32) int {
	for i := range steps {
		if steps[i].ID == id {
			return i
		}
	}
	return -1
}

func (w writer) stepStart(c StepStartCmd) Result {
	r := c.Step
	if r.NTasks < 1 || r.CPUs < 0 || r.MemMB < 0 {
		return Result{Err: api.Errorf(api.CodeInvalid, "step of job %d: %d tasks, %d CPUs, %d MB: give at least one task and no negative count",
			r.JobID, r.NTasks, r.CPUs, r.MemMB)}
	}
	j, err := w.stepJob(r.JobID, c.CallerUID, "start a step of")
	if err != nil {
		return Result{Err: err}
	}
	if j.StopRequested {
		return Result{Err: api.Errorf(api.CodeConflict, "job %d is ending: no new step starts in it", j.ID)}
	}
	if n := runningSteps(j.Steps); n >= api.MaxJobRunningSteps {
		return Result{Err: api.Errorf(api.CodeConflict, "job %d runs %d steps, the most a job may run at once (%d): a step must end before another starts",
			j.ID, n, api.MaxJobRunningSteps)}
	}
	id := j.NextStep
	j.NextStep++
	// A fresh slice (the stored job's may be shared with readers), without
	// the oldest ended steps beyond MaxJobSteps.
	steps := make([]api.Step, 0, min(len(j.Steps)+1, api.MaxJobSteps))
	drop := len(j.Steps) + 1 - api.MaxJobSteps
	for _, s := range j.Steps {
		if drop > 0 && s.Ended() {
			drop--
			continue
		}
		steps = append(steps, s)
	}
	j.Steps = append(steps, api.Step{ID: id, Name: r.Name, State: api.StepRunning, NTasks: r.NTasks, CPUs: r.CPUs,
		MemMB: r.MemMB, StartedAt: c.Now, SrunHost: r.SrunHost, SrunPID: r.SrunPID})
	w.put(tableJobs, j)
	return Result{IDs: []uint64{uint64(id)}}
}

func (w writer) stepEnd(c StepEndCmd) Result {
	r := c.End
	j, i, err := w.openStep(r.JobID, r.StepID, c.CallerUID, "end a step of")
	if err != nil {
		return Result{Err: err}
	}
	steps := append([]api.Step(nil), j.Steps...)
	s := &steps[i]
	s.EndedAt, s.ExitCode, s.ExitSignal = c.Now, r.ExitCode, r.ExitSignal
	switch {
	case s.CancelRequested:
		s.State = api.StepCancelled
	case r.ExitCode != 0 || r.ExitSignal != 0:
		s.State = api.StepFailed
	default:
		s.State = api.StepCompleted
	}
	j.Steps = steps
	w.put(tableJobs, j)
	return Result{}
}

func (w writer) stepSignal(c StepSignalCmd) Result {
	r := c.Signal
	sig := r.Signal
	if r.Cancel {
		sig = sigKill
	}
	if sig < 1 || sig > api.MaxSignal {
		return Result{Err: api.Errorf(api.CodeInvalid, "signal %d is out of range: give a signal number from 1 to %d", sig, api.MaxSignal).WithField("signal")}
	}
	verb := "signal a step of"
	if r.Cancel {
		verb = "cancel a step of"
	}
	j, i, err := w.openStep(r.JobID, r.StepID, c.CallerUID, verb)
	if err != nil {
		return Result{Err: err}
	}
	if r.Cancel {
		steps := append([]api.Step(nil), j.Steps...)
		steps[i].CancelRequested = true
		j.Steps = steps
	}
	seq := uint64(1)
	if n := len(j.SignalRequests); n > 0 {
		seq = j.SignalRequests[n-1].Seq + 1
	}
	keep := j.SignalRequests[max(0, len(j.SignalRequests)-(api.MaxJobSignals-1)):]
	sigs := make([]api.JobSignal, 0, len(keep)+1)
	j.SignalRequests = append(append(sigs, keep...), api.JobSignal{Seq: seq, Signal: sig, Scope: api.SignalStep, Step: r.StepID, SrunPID: j.Steps[i].SrunPID})
	w.put(tableJobs, j)
	return Result{}
}

// endSteps ends j's running steps at now, CANCELLED: the job's processes
// are gone (the job ended, or its attempt was stopped to run again), and
// a step's srun with them. j is the caller's copy; its Steps slice is
// replaced, never changed in place.
func endSteps(j *api.Job, now int64) {
	open := false
	for i := range j.Steps {
		if !j.Steps[i].Ended() {
			open = true
			break
		}
	}
	if !open {
		return
	}
	steps := append([]api.Step(nil), j.Steps...)
	for i := range steps {
		if !steps[i].Ended() {
			steps[i].State, steps[i].EndedAt = api.StepCancelled, now
		}
	}
	j.Steps = steps
}
