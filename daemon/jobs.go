package daemon

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// Defaults for a job that does not say what it needs.
const (
	DefaultCPUs     = 1
	DefaultMemoryMB = 1024
)

// SubmitBatchRequest submits several jobs that are stored together or not
// at all, in one raft entry.
type SubmitBatchRequest struct {
	Jobs []api.SubmitJobRequest `json:"jobs"`
}

// SubmitBatchResponse lists the new ids in request order.
type SubmitBatchResponse struct {
	IDs []uint64 `json:"jobIds"`
}

func (c *Controller) submit(ctx context.Context, who caller, req api.SubmitJobRequest) (api.SubmitJobResponse, error) {
	ids, err := c.submitJobs(ctx, who, []api.SubmitJobRequest{req})
	if err != nil {
		return api.SubmitJobResponse{}, err
	}
	return api.SubmitJobResponse{ID: ids[0], Name: req.Name}, nil
}

func (c *Controller) submitBatch(ctx context.Context, who caller, req SubmitBatchRequest) (SubmitBatchResponse, error) {
	ids, err := c.submitJobs(ctx, who, req.Jobs)
	return SubmitBatchResponse{IDs: ids}, err
}

// submitJobs validates requests, stamps the owner from the connection and
// commits them as one command.
func (c *Controller) submitJobs(ctx context.Context, who caller, reqs []api.SubmitJobRequest) ([]uint64, error) {
	if len(reqs) == 0 {
		return nil, api.Errorf(api.CodeInvalid, "no jobs to submit")
	}
	o, err := lookupOwner(who)
	if err != nil {
		return nil, err
	}
	state := c.fsm.State()
	jobs := make([]api.Job, len(reqs))
	for i, r := range reqs {
		j, err := newJob(r, o)
		if err != nil {
			return nil, err
		}
		if err := satisfiable(state, j); err != nil {
			return nil, err
		}
		jobs[i] = j
	}
	res, err := c.applier.Apply(ctx, raftfsm.OpSubmit, raftfsm.SubmitCmd{Jobs: jobs, Now: nowMillis()})
	if err != nil {
		return nil, err
	}
	return res.IDs, nil
}

// newJob checks a request and turns it into a job owned by o.
func newJob(r api.SubmitJobRequest, o owner) (api.Job, error) {
	name := r.Name
	if len(r.Command) == 0 {
		return api.Job{}, api.Errorf(api.CodeInvalid, "job %q has no command: give the program and its arguments", name)
	}
	if name == "" {
		name = filepath.Base(r.Command[0])
	}
	res := r.Resources
	if res.CPUs == 0 {
		res.CPUs = DefaultCPUs
	}
	if res.MemoryMB == 0 {
		res.MemoryMB = DefaultMemoryMB
	}
	if res.CPUs < 0 || res.MemoryMB < 0 || res.GPUs < 0 {
		return api.Job{}, api.Errorf(api.CodeInvalid,
			"job %q asks for cpus=%d memory=%dMiB gpus=%d: amounts must be positive", name, res.CPUs, res.MemoryMB, res.GPUs)
	}
	if r.Dir != "" && !filepath.IsAbs(r.Dir) {
		return api.Job{}, api.Errorf(api.CodeInvalid, "job %q: working directory %q must be an absolute path", name, r.Dir)
	}
	queue := r.Queue
	if queue == "" {
		queue = api.DefaultQueue
	}
	return api.Job{
		Name: name, User: o.name, UID: o.uid, GID: o.gid, Groups: o.groups,
		Queue: queue, Command: r.Command, Env: r.Env, Dir: r.Dir,
		Stdout: r.Stdout, Stderr: r.Stderr,
		Resources: res, Priority: r.Priority, DependsOn: r.DependsOn,
	}, nil
}

// satisfiable refuses a job that no node of its queue could ever run,
// naming the resource, the amount asked and the most any node has.
func satisfiable(state *raftfsm.State, j api.Job) error {
	var most api.Resources
	serving := 0
	for _, n := range state.Nodes() {
		if !n.Serves(j.Queue) {
			continue
		}
		serving++
		if j.Resources.Fits(n.Capacity) {
			return nil
		}
		most.CPUs = max(most.CPUs, n.Capacity.CPUs)
		most.MemoryMB = max(most.MemoryMB, n.Capacity.MemoryMB)
		most.GPUs = max(most.GPUs, n.Capacity.GPUs)
	}
	if serving == 0 {
		return api.Errorf(api.CodeUnsatisfiable, "queue %q has no nodes: no node serves it; use a queue that has nodes (the default is %q)", j.Queue, api.DefaultQueue)
	}
	ask := j.Resources
	switch {
	case ask.MemoryMB > most.MemoryMB:
		return unsatisfiable(j, "memory", fmt.Sprintf("%d MiB", ask.MemoryMB), fmt.Sprintf("%d MiB", most.MemoryMB))
	case ask.CPUs > most.CPUs:
		return unsatisfiable(j, "cpus", fmt.Sprint(ask.CPUs), fmt.Sprint(most.CPUs))
	case ask.GPUs > most.GPUs:
		return unsatisfiable(j, "gpus", fmt.Sprint(ask.GPUs), fmt.Sprint(most.GPUs))
	}
	return api.Errorf(api.CodeUnsatisfiable,
		"job %q asks for cpus=%d memory=%dMiB gpus=%d together, which no single node of queue %q has", j.Name, ask.CPUs, ask.MemoryMB, ask.GPUs, j.Queue)
}

func unsatisfiable(j api.Job, what, asked, most string) error {
	return api.Errorf(api.CodeUnsatisfiable,
		"job %q can never run: %s: asked %s, the largest node of queue %q has %s", j.Name, what, asked, j.Queue, most)
}

func (c *Controller) listJobs(_ context.Context, _ caller, req api.ListJobsRequest) (api.ListJobsResponse, error) {
	state := c.fsm.State()
	var out []api.Job
	match := func(j *api.Job) bool {
		if (req.User == "" || j.User == req.User) && (req.Queue == "" || j.Queue == req.Queue) {
			out = append(out, *j)
		}
		return true
	}
	switch {
	case len(req.IDs) > 0:
		for _, id := range req.IDs {
			if j := state.Job(id); j != nil && (len(req.States) == 0 || j.State.In(req.States...)) {
				match(j)
			}
		}
	case len(req.States) > 0:
		for _, st := range req.States {
			state.JobsInState(st, match)
		}
		sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	case req.User != "":
		state.JobsOfUser(req.User, match)
	default:
		state.AllJobs(match)
	}
	if out == nil {
		out = []api.Job{}
	}
	return api.ListJobsResponse{Jobs: out}, nil
}

// waitJob is a blocking query on one job: it answers when the job reaches
// one of the states asked (default: terminal), or when the wait ends.
func (c *Controller) waitJob(ctx context.Context, _ caller, req api.WaitJobRequest) (api.Job, error) {
	timer := time.NewTimer(min(time.Duration(req.WaitMillis)*time.Millisecond, maxWorkWait))
	defer timer.Stop()
	for {
		_, changed := c.fsm.Changed()
		j := c.fsm.State().Job(req.ID)
		if j == nil {
			return api.Job{}, api.Errorf(api.CodeNotFound, "job %d does not exist", req.ID)
		}
		if j.State.Reached(req.States) {
			return *j, nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return *j, nil
		case <-ctx.Done():
			return api.Job{}, ctx.Err()
		}
	}
}

func (c *Controller) cancelJob(ctx context.Context, who caller, req api.StopJobRequest) (empty, error) {
	return empty{}, c.stopJob(ctx, who, req, false)
}

func (c *Controller) terminateJob(ctx context.Context, who caller, req api.StopJobRequest) (empty, error) {
	return empty{}, c.stopJob(ctx, who, req, true)
}

func (c *Controller) stopJob(ctx context.Context, who caller, req api.StopJobRequest, terminate bool) error {
	if !who.known {
		return api.Errorf(api.CodeForbidden, "this connection does not identify a user: use the controller's unix socket")
	}
	if req.Reason == "" {
		req.Reason = "Cancelled by user"
		if terminate {
			req.Reason = "Terminated by user"
		}
	}
	_, err := c.applier.Apply(ctx, raftfsm.OpStop, raftfsm.StopCmd{
		ID: req.ID, Reason: req.Reason, Terminate: terminate, CallerUID: who.uid, Now: nowMillis(),
	})
	return err
}
