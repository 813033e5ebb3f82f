package daemon

import (
	"context"
	"strconv"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// AWS Batch's fair-share scheduling policies (CreateSchedulingPolicy and
// the rest) and what they change at submit: a job of a fair-share queue
// (one with a schedulingPolicyArn) needs a shareIdentifier and a
// scheduling priority; a job of a FIFO queue may have no share. Operators
// create, update and delete policies; anyone may describe and list them.
// The scheduler orders a fair-share queue's jobs (sched/awsfairshare.go).

// AWS Batch's ClientException messages, as it answers them.
const (
	msgShareRequired    = "shareIdentifier must be specified."
	msgPriorityRequired = "Either schedulingPriority in job definition or schedulingPriorityOverride should be specified."
)

// shareOf fills in sub's share and scheduling priority from the request
// and its definition, as AWS Batch's SubmitJob checks them against the
// queue: a fair-share queue needs both, a FIFO queue takes no share (its
// jobs keep the override as their priority, as before).
func shareOf(state *raftfsm.State, def *api.JobDefinition, req api.AWSSubmitJobRequest, sub *api.SubmitJobRequest) error {
	prio := def.SchedulingPriority
	if req.SchedulingPrio != nil {
		prio = req.SchedulingPrio
	}
	if prio != nil && (*prio < 0 || *prio > api.MaxSchedulingPriority) {
		return api.Errorf(api.CodeInvalid, "schedulingPriorityOverride %d: give 0 to %d (higher runs first within its share)", *prio, api.MaxSchedulingPriority).WithField("schedulingPriorityOverride")
	}
	q := state.Queue(sub.Queue)
	if q == nil {
		return nil // the submit path says the queue does not exist
	}
	if q.SchedulingPolicyArn == "" {
		if req.ShareIdentifier != "" {
			return shareOnFIFO(q.Name)
		}
		if req.SchedulingPrio != nil {
			sub.Priority = *req.SchedulingPrio
		}
		return nil
	}
	switch {
	case req.ShareIdentifier == "":
		return api.Errorf(api.CodeInvalid, msgShareRequired).WithField("shareIdentifier")
	case !api.ValidShareIdentifier(req.ShareIdentifier, false):
		return badShare(req.ShareIdentifier)
	case prio == nil:
		return api.Errorf(api.CodeInvalid, msgPriorityRequired).WithField("schedulingPriorityOverride")
	}
	sub.ShareIdentifier, sub.SchedulingPriority = req.ShareIdentifier, *prio
	return nil
}

func shareOnFIFO(queue string) error {
	return api.Errorf(api.CodeInvalid, "shareIdentifier can only be specified for a job queue with a scheduling policy: job queue %s is a FIFO job queue", queue).WithField("shareIdentifier")
}

func badShare(id string) error {
	return api.Errorf(api.CodeInvalid, "shareIdentifier %q: use 1 to %d letters, digits, hyphens and underscores", id, api.MaxShareIdentifierLen).WithField("shareIdentifier")
}

// checkJobShare is the share check of every submit, both front doors': a
// share only in a fair-share queue, a priority 0 to 9999; a job sent to a
// fair-share queue without a share (sbatch, shoal submit) is its user's
// share.
func checkJobShare(state *raftfsm.State, j *api.Job) error {
	if j.SchedulingPriority < 0 || j.SchedulingPriority > api.MaxSchedulingPriority {
		return api.Errorf(api.CodeInvalid, "job %q: schedulingPriority %d: give 0 to %d", j.Name, j.SchedulingPriority, api.MaxSchedulingPriority).WithField("schedulingPriority")
	}
	q := state.Queue(j.Queue)
	if q == nil {
		return nil
	}
	if q.SchedulingPolicyArn == "" {
		if j.ShareIdentifier != "" {
			return shareOnFIFO(q.Name)
		}
		return nil
	}
	if j.ShareIdentifier == "" {
		j.ShareIdentifier = j.User
	}
	if !api.ValidShareIdentifier(j.ShareIdentifier, false) {
		return badShare(j.ShareIdentifier)
	}
	return nil
}

// queuePolicyARN normalises a queue's schedulingPolicyArn (an ARN or a
// bare name) to the policy's ARN.
func queuePolicyARN(ref string) string {
	if ref == "" {
		return ""
	}
	return raftfsm.SchedulingPolicyARN(api.SchedulingPolicyName(ref))
}

func (c *Controller) createSchedulingPolicy(ctx context.Context, who caller, req api.AWSCreateSchedulingPolicyRequest) (api.AWSSchedulingPolicyResponse, error) {
	if err := requireRoot(who, "create scheduling policies"); err != nil {
		return api.AWSSchedulingPolicyResponse{}, err
	}
	if err := checkName("scheduling policy", req.Name); err != nil {
		return api.AWSSchedulingPolicyResponse{}, err
	}
	cmd := raftfsm.SchedPolicyPutCmd{Policy: api.SchedulingPolicy{Name: req.Name, FairsharePolicy: req.FairsharePolicy, Tags: req.Tags},
		Create: true, Now: c.nowMillis()}
	if err := c.applyPolicy(ctx, raftfsm.OpSchedPolicyPut, cmd); err != nil {
		return api.AWSSchedulingPolicyResponse{}, err
	}
	return api.AWSSchedulingPolicyResponse{Name: req.Name, ARN: raftfsm.SchedulingPolicyARN(req.Name)}, nil
}

func (c *Controller) updateSchedulingPolicy(ctx context.Context, who caller, req api.AWSUpdateSchedulingPolicyRequest) (empty, error) {
	if err := requireRoot(who, "update scheduling policies"); err != nil {
		return empty{}, err
	}
	if req.ARN == "" {
		return empty{}, api.Errorf(api.CodeInvalid, "give arn, the scheduling policy's ARN").WithField("arn")
	}
	cmd := raftfsm.SchedPolicyPutCmd{Policy: api.SchedulingPolicy{Name: api.SchedulingPolicyName(req.ARN), FairsharePolicy: req.FairsharePolicy}, Now: c.nowMillis()}
	return empty{}, c.applyPolicy(ctx, raftfsm.OpSchedPolicyPut, cmd)
}

func (c *Controller) deleteSchedulingPolicy(ctx context.Context, who caller, req api.AWSSchedulingPolicyARNRequest) (empty, error) {
	if err := requireRoot(who, "delete scheduling policies"); err != nil {
		return empty{}, err
	}
	if req.ARN == "" {
		return empty{}, api.Errorf(api.CodeInvalid, "give arn, the scheduling policy's ARN").WithField("arn")
	}
	return empty{}, c.applyPolicy(ctx, raftfsm.OpSchedPolicyDelete, raftfsm.SchedPolicyDeleteCmd{Name: api.SchedulingPolicyName(req.ARN)})
}

// applyPolicy checks a policy (or queue) command against the state
// (refused: never a log entry) and commits it.
func (c *Controller) applyPolicy(ctx context.Context, op raftfsm.Op, cmd any) error {
	if res := c.fsm.Check(op, cmd); res.Err != nil {
		return res.Err
	}
	_, err := c.applier.Apply(ctx, op, cmd)
	return err
}

func policyDetail(p *api.SchedulingPolicy) api.SchedulingPolicyDetail {
	d := api.SchedulingPolicyDetail{Name: p.Name, ARN: raftfsm.SchedulingPolicyARN(p.Name), FairsharePolicy: p.FairsharePolicy, Tags: p.Tags}
	if d.FairsharePolicy == nil {
		d.FairsharePolicy = &api.FairsharePolicy{}
	}
	return d
}

// describeSchedulingPolicies answers the policies named (AWS Batch
// requires arns and leaves unknown ones out).
func (c *Controller) describeSchedulingPolicies(_ context.Context, _ caller, req api.AWSDescribeSchedulingPoliciesRequest) (api.AWSDescribeSchedulingPoliciesResponse, error) {
	if len(req.ARNs) == 0 {
		return api.AWSDescribeSchedulingPoliciesResponse{}, api.Errorf(api.CodeInvalid, "give arns, the ARNs of the scheduling policies to describe").WithField("arns")
	}
	state := c.fsm.State()
	out := api.AWSDescribeSchedulingPoliciesResponse{SchedulingPolicies: []api.SchedulingPolicyDetail{}}
	for _, ref := range req.ARNs {
		if p := state.SchedulingPolicy(api.SchedulingPolicyName(ref)); p != nil {
			out.SchedulingPolicies = append(out.SchedulingPolicies, policyDetail(p))
		}
	}
	return out, nil
}

func (c *Controller) listSchedulingPolicies(_ context.Context, _ caller, req api.AWSListSchedulingPoliciesRequest) (api.AWSListSchedulingPoliciesResponse, error) {
	page, skip, err := awsPage(req.MaxResults, req.NextToken)
	if err != nil {
		return api.AWSListSchedulingPoliciesResponse{}, err
	}
	all := c.fsm.State().SchedulingPolicies()
	out := api.AWSListSchedulingPoliciesResponse{SchedulingPolicies: []api.SchedulingPolicyListingDetail{}}
	for i := skip; i < len(all) && len(out.SchedulingPolicies) < page; i++ {
		out.SchedulingPolicies = append(out.SchedulingPolicies, api.SchedulingPolicyListingDetail{ARN: raftfsm.SchedulingPolicyARN(all[i].Name)})
	}
	if skip+page < len(all) {
		out.NextToken = strconv.Itoa(skip + page)
	}
	return out, nil
}
