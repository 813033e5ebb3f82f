package daemon

import (
	"context"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// Job steps (api/steps.go). srun inside a job registers each step it
// runs and reports its end; who calls is proven by the connection (the
// unix socket's peer uid, or an access key), and the FSM lets only the
// job's owner (or root) touch its steps. scancel JOB.STEP signals or
// cancels one: the job's node delivers that to the step's processes.

// maxStepTasks bounds a step's task count (srun -n).
const maxStepTasks = 1 << 16

// startStep records a new step of a running job and answers its id.
func (c *Controller) startStep(ctx context.Context, who caller, req api.StepStartRequest) (api.StepStartResponse, error) {
	if !who.known {
		return api.StepStartResponse{}, errNoUser
	}
	if req.NTasks < 1 || req.NTasks > maxStepTasks {
		return api.StepStartResponse{}, api.Errorf(api.CodeInvalid, "step of job %d: %d tasks: give 1 to %d", req.JobID, req.NTasks, maxStepTasks).WithField("ntasks")
	}
	if req.CPUs < 0 || req.MemMB < 0 || req.SrunPID < 0 {
		return api.StepStartResponse{}, api.Errorf(api.CodeInvalid, "step of job %d: CPUs, memory and srun's pid must not be negative", req.JobID)
	}
	if err := checkText("step name", req.Name, MaxNameBytes); err != nil {
		return api.StepStartResponse{}, api.Errorf(api.CodeInvalid, "step of job %d: %v", req.JobID, err).WithField("name")
	}
	if err := checkText("srun host", req.SrunHost, MaxNameBytes); err != nil {
		return api.StepStartResponse{}, api.Errorf(api.CodeInvalid, "step of job %d: %v", req.JobID, err).WithField("srunHost")
	}
	res, err := c.propose(ctx, who, []uint64{req.JobID}, raftfsm.OpStepStart, raftfsm.StepStartCmd{Step: req, CallerUID: who.actingUID(), Now: c.nowMillis()})
	if err != nil {
		return api.StepStartResponse{}, err
	}
	if len(res.IDs) != 1 {
		return api.StepStartResponse{}, api.Errorf(api.CodeInternal, "step of job %d: the controller recorded no step id (a bug, please report it)", req.JobID)
	}
	return api.StepStartResponse{StepID: uint32(res.IDs[0])}, nil
}

// endStep records how a step ended.
func (c *Controller) endStep(ctx context.Context, who caller, req api.StepEndRequest) (empty, error) {
	if !who.known {
		return empty{}, errNoUser
	}
	if req.ExitCode < 0 || req.ExitCode > 255 || req.ExitSignal < 0 || req.ExitSignal > api.MaxSignal {
		return empty{}, api.Errorf(api.CodeInvalid, "step %d.%d: exit code %d, signal %d: give an exit code from 0 to 255 and a signal from 0 to %d",
			req.JobID, req.StepID, req.ExitCode, req.ExitSignal, api.MaxSignal)
	}
	_, err := c.propose(ctx, who, []uint64{req.JobID}, raftfsm.OpStepEnd, raftfsm.StepEndCmd{End: req, CallerUID: who.actingUID(), Now: c.nowMillis()})
	return empty{}, err
}

// signalStep records a signal (or a cancel) for a running step's
// processes, which the job's node delivers.
func (c *Controller) signalStep(ctx context.Context, who caller, req api.StepSignalRequest) (empty, error) {
	if !who.known {
		return empty{}, errNoUser
	}
	if !req.Cancel && (req.Signal < 1 || req.Signal > api.MaxSignal) {
		return empty{}, api.Errorf(api.CodeInvalid, "signal step %d.%d: signal %d is out of range: give a signal number from 1 to %d (e.g. 10 for SIGUSR1), or cancel",
			req.JobID, req.StepID, req.Signal, api.MaxSignal).WithField("signal")
	}
	_, err := c.propose(ctx, who, []uint64{req.JobID}, raftfsm.OpStepSignal, raftfsm.StepSignalCmd{Signal: req, CallerUID: who.actingUID(), Now: c.nowMillis()})
	return empty{}, err
}
