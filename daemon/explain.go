package daemon

import (
	"context"
	"fmt"
	"strings"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/sched"
)

// explainJob answers why a job waits and until when: the scheduler's pass
// on the current state, made for the asking (a pure function: it commits
// nothing), for the one job. Whoever may see the job may ask.
func (c *Controller) explainJob(_ context.Context, who caller, req api.ExplainRequest) (api.Explanation, error) {
	state := c.fsm.State()
	stored := c.withHistory(state).Job(req.ID)
	if stored == nil {
		return api.Explanation{}, errNoJob(req.ID)
	}
	j, ok := c.jobFor(who, stored)
	if !ok {
		return api.Explanation{}, errNoJob(req.ID)
	}
	now := c.nowMillis()
	out := api.Explanation{Job: j, Now: now}
	if !j.State.Cancellable() {
		return out, nil
	}
	w, heads, waits := sched.Explain(state, now, c.cfg.Sched, j.ID)
	if !waits {
		out.Placeable = j.State == api.StateRunnable
		return out, nil
	}
	out.Reason, out.Detail = w.Reason, w.Describe(j.Resources, now)
	if w.Reason == sched.ReasonDependency && len(j.DependsOn) > 0 {
		out.Detail += ": " + dependencyStates(c.visibleTo(who, c.withHistory(state)), j)
	}
	out.EstimatedStartAt, out.Reserved, out.Node = w.StartAt, w.Reserved, w.Node
	out.Ahead, out.Heads, out.Blocker, out.BlockerAt = w.Ahead, heads, w.Blocker, w.BlockerAt
	if s := w.Short; s != nil {
		out.Shortfall = &api.Shortfall{Resource: s.Resource, Asked: s.Asked, FreeNow: s.FreeNow, AtMost: s.AtMost,
			BestNode: s.BestNode, UpNodes: s.UpNodes, Unavailable: s.Unavailable}
	}
	return out, nil
}

// dependencyStates lists a job's dependencies with the state of each job
// it names ("afterok:12 (RUNNING), afterany:13 (SUCCEEDED)").
func dependencyStates(st interface{ Job(uint64) *api.Job }, j api.Job) string {
	var parts []string
	for _, d := range j.DependsOn {
		typ := d.Type
		if typ == "" {
			typ = api.AfterOK
		}
		state := "gone"
		if dep := st.Job(d.JobID); dep != nil {
			state = string(dep.State)
		}
		parts = append(parts, fmt.Sprintf("%s:%d (%s)", typ, d.JobID, state))
	}
	if j.DependAny {
		return "any of " + strings.Join(parts, ", ")
	}
	return strings.Join(parts, ", ")
}

// awsWaitReason is a RUNNABLE job's statusReason in describe-jobs: the
// scheduler's reason, prefixed as AWS Batch prefixes its own for jobs
// stuck RUNNABLE where one applies (CAPACITY:, MISCONFIGURATION:), and
// followed by Slurm's code, which shoal explain expands.
func awsWaitReason(reason string) string {
	text := map[string]string{
		sched.ReasonResources:            "CAPACITY:INSUFFICIENT_CAPACITY - no node of the job queue has the vCPUs, memory and GPUs the job needs free now",
		sched.ReasonPriority:             "CAPACITY:INSUFFICIENT_CAPACITY - the job fits now but would delay a higher-priority job's reservation",
		sched.ReasonReqNodeNotAvail:      "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - no available node of the job queue's compute environments can run the job",
		sched.ReasonPartitionDown:        "MISCONFIGURATION:COMPUTE_ENVIRONMENT - the job queue has no enabled compute environment",
		sched.ReasonPartitionInactive:    "MISCONFIGURATION:JOB_QUEUE - the job queue is disabled or does not exist",
		sched.ReasonBeginTime:            "the job's begin time has not come",
		sched.ReasonArrayTaskLimit:       "the array runs as many child jobs as its throttle allows",
		sched.ReasonFairShareReservation: "CAPACITY:INSUFFICIENT_CAPACITY - the job's share holds all of the job queue the scheduling policy's computeReservation leaves to active shares",
	}[reason]
	if text == "" {
		return reason
	}
	return text + " (" + reason + ")"
}
