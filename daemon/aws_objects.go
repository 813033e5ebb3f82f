package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// AWS Batch's objects through its REST operations (POST /v1/<operation>),
// with its field names. The same handlers serve shoal's CLI on the unix
// socket and the aws CLI on TCP (SigV4-signed).

// awsAccount and awsRegion fill in ARNs.
const (
	awsAccount = "000000000000"
	awsRegion  = "us-east-1"
)

func arn(kind, name string) string {
	return fmt.Sprintf("arn:aws:batch:%s:%s:%s/%s", awsRegion, awsAccount, kind, name)
}

// nameFromARN returns the last part of an ARN (NAME or NAME:REV), or s.
func nameFromARN(s string) string {
	if strings.HasPrefix(s, "arn:") {
		if i := strings.LastIndex(s, "/"); i >= 0 {
			return s[i+1:]
		}
	}
	return s
}

// validName is AWS Batch's rule for object names: 1 to 128 letters,
// digits, hyphens and underscores, the first a letter or digit. (Checked by
// hand: the equivalent regexp costs every run of the binary, the CLI's
// included, over a millisecond to compile.)
func validName(name string) bool {
	if len(name) == 0 || len(name) > 128 || name[0] == '-' || name[0] == '_' {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func checkName(kind, name string) error {
	if !validName(name) {
		return api.Errorf(api.CodeInvalid, "%s name %q: use up to 128 letters, digits, hyphens and underscores, starting with a letter or digit", kind, name)
	}
	return nil
}

// checkPartitionName is checkName for job queues and compute
// environments, which are also Slurm partitions: dots are allowed too,
// after the first character (Slurm's test4.14_partition_1).
func checkPartitionName(kind, name string) error {
	if !validName(strings.ReplaceAll(name, ".", "_")) || strings.HasPrefix(name, ".") {
		return api.Errorf(api.CodeInvalid, "%s name %q: use up to 128 letters, digits, dots, hyphens and underscores, starting with a letter or digit", kind, name)
	}
	return nil
}

// requireRoot refuses changes to shared objects by anyone but operators
// (root, or the controller's own user on its socket). The routes that
// call it are operators' already (routeTable); this keeps the handler
// safe on its own.
func requireRoot(who caller, what string) error {
	if !who.operator {
		return api.Errorf(api.CodeForbidden, "only root may %s", what)
	}
	return nil
}

func (c *Controller) registerJobDef(ctx context.Context, who caller, req api.AWSRegisterJobDefinitionRequest) (api.AWSRegisterJobDefinitionResponse, error) {
	d := req.JobDefinition
	if !who.known {
		return api.AWSRegisterJobDefinitionResponse{}, errNoUser
	}
	if err := checkName("job definition", d.Name); err != nil {
		return api.AWSRegisterJobDefinitionResponse{}, err
	}
	switch d.Type {
	case "container":
		if d.ContainerProperties == nil || d.ContainerProperties.Image == "" {
			return api.AWSRegisterJobDefinitionResponse{}, api.Errorf(api.CodeInvalid, "job definition %s: a container job definition needs containerProperties.image", d.Name)
		}
	case "script":
		if d.ContainerProperties == nil {
			d.ContainerProperties = &api.ContainerProperties{}
		}
		if d.ContainerProperties.Image != "" {
			return api.AWSRegisterJobDefinitionResponse{}, api.Errorf(api.CodeInvalid, "job definition %s: a script job definition runs on the host and takes no image", d.Name)
		}
	default:
		return api.AWSRegisterJobDefinitionResponse{}, api.Errorf(api.CodeInvalid, "job definition %s: type %q: use container or script", d.Name, d.Type)
	}
	if err := checkRetryStrategy(d.RetryStrategy); err != nil {
		return api.AWSRegisterJobDefinitionResponse{}, err
	}
	if p := d.SchedulingPriority; p != nil && (*p < 0 || *p > api.MaxSchedulingPriority) {
		return api.AWSRegisterJobDefinitionResponse{}, api.Errorf(api.CodeInvalid, "job definition %s: schedulingPriority %d: give 0 to %d", d.Name, *p, api.MaxSchedulingPriority).WithField("schedulingPriority")
	}
	if err := checkDefinitionLicenses(c.fsm.State(), &d); err != nil {
		return api.AWSRegisterJobDefinitionResponse{}, err
	}
	if d.Timeout != nil && d.Timeout.AttemptDurationSeconds != 0 && d.Timeout.AttemptDurationSeconds < 60 {
		return api.AWSRegisterJobDefinitionResponse{}, api.Errorf(api.CodeInvalid, "job definition %s: timeout.attemptDurationSeconds must be at least 60", d.Name)
	}
	if err := checkJobDefSize(&d); err != nil {
		return api.AWSRegisterJobDefinitionResponse{}, err
	}
	o, err := c.lookupOwner(who) // a definition without an owner would be root's alone to deregister
	if err != nil {
		return api.AWSRegisterJobDefinitionResponse{}, err
	}
	d.Owner = o.name
	cmd := raftfsm.RegisterJobDefCmd{Def: d, Now: c.nowMillis(), Operator: who.operator}
	// The FSM bounds the owner's revisions (raftfsm.MaxUserJobDefinitions and
	// MaxUserJobDefinitionBytes), in Check here and again where it applies.
	if res := c.fsm.Check(raftfsm.OpRegisterJobDef, cmd); res.Err != nil { // refused: never a log entry
		return api.AWSRegisterJobDefinitionResponse{}, res.Err
	}
	res, err := c.applier.Apply(ctx, raftfsm.OpRegisterJobDef, cmd)
	if err != nil {
		return api.AWSRegisterJobDefinitionResponse{}, err
	}
	ref := fmt.Sprintf("%s:%d", d.Name, res.Revision)
	return api.AWSRegisterJobDefinitionResponse{Name: d.Name, ARN: arn("job-definition", ref), Revision: res.Revision}, nil
}

// MaxJobDefinitionBytes bounds one job definition, as JSON: AWS Batch's
// limit for RegisterJobDefinition (24 KiB). Each user's revisions are
// bounded too, in the FSM (raftfsm.MaxUserJobDefinitions).
const MaxJobDefinitionBytes = 24 << 10

// maxDescribeJobDefs bounds describe-job-definitions' jobDefinitions list
// (AWS Batch's: up to 100).
const maxDescribeJobDefs = 100

// checkJobDefSize refuses a job definition over MaxJobDefinitionBytes.
func checkJobDefSize(d *api.JobDefinition) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return api.Errorf(api.CodeInvalid, "job definition %s: %v", d.Name, err)
	}
	if len(raw) > MaxJobDefinitionBytes {
		return api.Errorf(api.CodeInvalid, "job definition %s is %s as JSON; at most %s (AWS Batch's limit for a job definition): "+
			"keep a long script in a file the command runs, or in the image", d.Name, sizeString(int64(len(raw))), sizeString(MaxJobDefinitionBytes))
	}
	return nil
}

// describeJobDefs is AWS Batch's DescribeJobDefinitions, in pages of
// maxResults (100 unless asked for fewer) with a nextToken for the next,
// as AWS answers (the aws CLI follows the tokens itself).
func (c *Controller) describeJobDefs(_ context.Context, _ caller, req api.AWSDescribeJobDefinitionsRequest) (api.AWSDescribeJobDefinitionsResponse, error) {
	page, skip, err := awsPage(req.MaxResults, req.NextToken)
	if err != nil {
		return api.AWSDescribeJobDefinitionsResponse{}, err
	}
	if len(req.JobDefinitions) > maxDescribeJobDefs {
		return api.AWSDescribeJobDefinitionsResponse{}, api.Errorf(api.CodeInvalid, "%d job definitions named; at most %d in one call",
			len(req.JobDefinitions), maxDescribeJobDefs).WithField("jobDefinitions")
	}
	type ref struct {
		name   string
		rev    int
		hasRev bool // else every revision
	}
	refs := make([]ref, 0, len(req.JobDefinitions))
	for _, r := range req.JobDefinitions {
		name, rev, hasRev := strings.Cut(nameFromARN(r), ":")
		if !hasRev {
			refs = append(refs, ref{name: name})
			continue
		}
		n, err := strconv.Atoi(rev)
		if err != nil {
			return api.AWSDescribeJobDefinitionsResponse{}, api.Errorf(api.CodeInvalid, "job definition %q: the revision after ':' must be a number", r)
		}
		refs = append(refs, ref{name, n, true})
	}
	state := c.fsm.State()
	out := api.AWSDescribeJobDefinitionsResponse{JobDefinitions: []api.JobDefinitionDetail{}}
	matched := 0
	// add pages d in (skipping what earlier pages gave); false once the page is full.
	add := func(d *api.JobDefinition) bool {
		if req.Status != "" && d.Status != req.Status {
			return true
		}
		if matched++; matched <= skip {
			return true
		}
		if len(out.JobDefinitions) == page {
			out.NextToken = strconv.Itoa(skip + page)
			return false
		}
		out.JobDefinitions = append(out.JobDefinitions, api.JobDefinitionDetail{JobDefinition: d, ARN: arn("job-definition", fmt.Sprintf("%s:%d", d.Name, d.Revision))})
		return true
	}
	addAll := func(defs []*api.JobDefinition) bool {
		for _, d := range defs {
			if !add(d) {
				return false
			}
		}
		return true
	}
	switch {
	case len(refs) > 0:
		for _, r := range refs {
			if !r.hasRev {
				if !addAll(state.JobDefinitions(r.name)) {
					break
				}
			} else if d := state.JobDefinition(r.name, r.rev); d != nil && !add(d) {
				break
			}
		}
	case req.Name != "":
		addAll(state.JobDefinitions(req.Name))
	default:
		state.EachJobDefinition(add)
	}
	return out, nil
}

func (c *Controller) deregisterJobDef(ctx context.Context, who caller, req api.AWSDeregisterJobDefinitionRequest) (empty, error) {
	name, rev, ok := strings.Cut(nameFromARN(req.JobDefinition), ":")
	n, err := strconv.Atoi(rev)
	if !ok || err != nil {
		return empty{}, api.Errorf(api.CodeInvalid, "job definition %q: give NAME:REVISION or its ARN", req.JobDefinition)
	}
	d := c.fsm.State().JobDefinition(name, n)
	if d == nil {
		return empty{}, api.Errorf(api.CodeNotFound, "job definition %s:%d does not exist", name, n)
	}
	if o, err := c.lookupOwner(who); err != nil || (!who.operator && o.name != d.Owner) {
		return empty{}, api.Errorf(api.CodeForbidden, "job definition %s:%d belongs to %s; only they or root may deregister it", name, n, d.Owner)
	}
	_, err = c.applier.Apply(ctx, raftfsm.OpDeregisterJobDef, raftfsm.DeregisterJobDefCmd{Name: name, Revision: n})
	return empty{}, err
}

// resolveJobDef finds NAME (newest ACTIVE revision), NAME:REV or an ARN.
func resolveJobDef(state *raftfsm.State, ref string) (*api.JobDefinition, error) {
	name, rev, hasRev := strings.Cut(nameFromARN(ref), ":")
	var d *api.JobDefinition
	if hasRev {
		n, err := strconv.Atoi(rev)
		if err != nil {
			return nil, api.Errorf(api.CodeInvalid, "job definition %q: the revision after ':' must be a number", ref).WithField("jobDefinition")
		}
		d = state.JobDefinition(name, n)
	} else {
		d = state.LatestJobDefinition(name)
	}
	if d == nil || d.Status != api.Active {
		return nil, api.Errorf(api.CodeNotFound, "job definition %q does not exist or is not ACTIVE", ref).WithField("jobDefinition")
	}
	return d, nil
}

func (c *Controller) createCE(ctx context.Context, who caller, req api.AWSCreateComputeEnvironmentRequest) (api.AWSComputeEnvironmentResponse, error) {
	ce := req.ComputeEnvironment
	if err := requireRoot(who, "create compute environments"); err != nil {
		return api.AWSComputeEnvironmentResponse{}, err
	}
	if err := checkPartitionName("compute environment", ce.Name); err != nil {
		return api.AWSComputeEnvironmentResponse{}, err
	}
	if ce.Type != "MANAGED" && ce.Type != "UNMANAGED" {
		return api.AWSComputeEnvironmentResponse{}, api.Errorf(api.CodeInvalid, "compute environment %s: type %q: use MANAGED or UNMANAGED", ce.Name, ce.Type)
	}
	if ce.State == "" {
		ce.State = api.Enabled
	}
	if err := checkEnabled("compute environment "+ce.Name, ce.State); err != nil {
		return api.AWSComputeEnvironmentResponse{}, err
	}
	ce.Status = api.Valid
	_, err := c.applier.Apply(ctx, raftfsm.OpPutCE, raftfsm.PutCECmd{CE: ce, Create: true, Now: c.nowMillis()})
	return api.AWSComputeEnvironmentResponse{Name: ce.Name, ARN: arn("compute-environment", ce.Name)}, err
}

func (c *Controller) updateCE(ctx context.Context, who caller, req api.AWSUpdateComputeEnvironmentRequest) (api.AWSComputeEnvironmentResponse, error) {
	if err := requireRoot(who, "update compute environments"); err != nil {
		return api.AWSComputeEnvironmentResponse{}, err
	}
	name := nameFromARN(req.ComputeEnvironment)
	old := c.fsm.State().ComputeEnvironment(name)
	if old == nil {
		return api.AWSComputeEnvironmentResponse{}, api.Errorf(api.CodeNotFound, "compute environment %s does not exist", name)
	}
	ce := *old
	if req.State != "" {
		if err := checkEnabled("compute environment "+name, req.State); err != nil {
			return api.AWSComputeEnvironmentResponse{}, err
		}
		ce.State = req.State
	}
	if req.Nodes != nil {
		ce.Nodes = req.Nodes
	}
	if req.NodeLabels != nil {
		ce.NodeLabels = req.NodeLabels
	}
	_, err := c.applier.Apply(ctx, raftfsm.OpPutCE, raftfsm.PutCECmd{CE: ce, Now: c.nowMillis()})
	return api.AWSComputeEnvironmentResponse{Name: name, ARN: arn("compute-environment", name)}, err
}

func checkEnabled(what, state string) error {
	if state != api.Enabled && state != api.Disabled {
		return api.Errorf(api.CodeInvalid, "%s: state %q: use ENABLED or DISABLED", what, state)
	}
	return nil
}

func (c *Controller) describeCEs(_ context.Context, _ caller, req api.AWSDescribeComputeEnvironmentsRequest) (api.AWSDescribeComputeEnvironmentsResponse, error) {
	out := api.AWSDescribeComputeEnvironmentsResponse{ComputeEnvironments: []api.ComputeEnvironmentDetail{}}
	for _, ce := range c.fsm.State().ComputeEnvironments() {
		if len(req.ComputeEnvironments) == 0 || namedIn(ce.Name, req.ComputeEnvironments) {
			out.ComputeEnvironments = append(out.ComputeEnvironments, api.ComputeEnvironmentDetail{ComputeEnvironment: ce, ARN: arn("compute-environment", ce.Name)})
		}
	}
	return out, nil
}

func namedIn(name string, refs []string) bool {
	for _, r := range refs {
		if nameFromARN(r) == name {
			return true
		}
	}
	return false
}

func (c *Controller) createQueue(ctx context.Context, who caller, req api.JobQueue) (api.AWSJobQueueResponse, error) {
	if err := requireRoot(who, "create job queues"); err != nil {
		return api.AWSJobQueueResponse{}, err
	}
	if err := checkPartitionName("job queue", req.Name); err != nil {
		return api.AWSJobQueueResponse{}, err
	}
	if req.State == "" {
		req.State = api.Enabled
	}
	if err := c.checkQueue(&req); err != nil {
		return api.AWSJobQueueResponse{}, err
	}
	err := c.applyPolicy(ctx, raftfsm.OpPutQueue, raftfsm.PutQueueCmd{Queue: req, Create: true, Now: c.nowMillis()}) // checked first (aws_fairshare.go)
	return api.AWSJobQueueResponse{Name: req.Name, ARN: arn("job-queue", req.Name)}, err
}

// checkQueue validates a queue's fields and normalizes ARNs to names.
func (c *Controller) checkQueue(q *api.JobQueue) error {
	if err := checkEnabled("job queue "+q.Name, q.State); err != nil {
		return err
	}
	if len(q.ComputeEnvironmentOrder) == 0 {
		return api.Errorf(api.CodeInvalid, "job queue %s: give at least one computeEnvironmentOrder entry", q.Name)
	}
	for i := range q.ComputeEnvironmentOrder {
		q.ComputeEnvironmentOrder[i].ComputeEnvironment = nameFromARN(q.ComputeEnvironmentOrder[i].ComputeEnvironment)
	}
	if err := checkPreemptMode(q); err != nil {
		return err
	}
	q.SchedulingPolicyArn = queuePolicyARN(q.SchedulingPolicyArn) // a fair-share queue (aws_fairshare.go)
	if err := q.RAMSpace.Check(); err != nil {
		return api.Errorf(api.CodeInvalid, "job queue %s: %v", q.Name, err).WithField("allowedRAMSpace")
	}
	for _, a := range q.JobStateTimeLimitActions {
		if a.State != string(api.StateRunnable) || a.Action != "CANCEL" || a.MaxTimeSeconds < 600 || a.MaxTimeSeconds > 86400 {
			return api.Errorf(api.CodeInvalid, "job queue %s: jobStateTimeLimitActions need state RUNNABLE, action CANCEL and maxTimeSeconds 600 to 86400", q.Name)
		}
	}
	q.Status = api.Valid
	return nil
}

func (c *Controller) updateQueue(ctx context.Context, who caller, req api.AWSUpdateJobQueueRequest) (api.AWSJobQueueResponse, error) {
	if err := requireRoot(who, "update job queues"); err != nil {
		return api.AWSJobQueueResponse{}, err
	}
	name := nameFromARN(req.JobQueue)
	old := c.fsm.State().Queue(name)
	if old == nil {
		return api.AWSJobQueueResponse{}, api.Errorf(api.CodeNotFound, "job queue %s does not exist", name)
	}
	q := *old
	if req.State != "" {
		q.State = req.State
	}
	if req.Priority != nil {
		q.Priority = *req.Priority
	}
	if req.ComputeEnvironmentOrder != nil {
		q.ComputeEnvironmentOrder = req.ComputeEnvironmentOrder
	}
	if req.JobStateTimeLimitActions != nil {
		q.JobStateTimeLimitActions = req.JobStateTimeLimitActions
	}
	if req.ConstrainRAMSpace != nil {
		q.ConstrainRAMSpace = req.ConstrainRAMSpace
	}
	if req.AllowedRAMSpace != nil {
		q.AllowedRAMSpace = *req.AllowedRAMSpace
	}
	if req.PreemptMode != "" {
		q.PreemptMode = req.PreemptMode
	}
	if req.GraceTimeSeconds != nil {
		q.GraceTimeSeconds = *req.GraceTimeSeconds
	}
	if req.SchedulingPolicyArn != "" {
		q.SchedulingPolicyArn = req.SchedulingPolicyArn
	}
	if err := c.checkQueue(&q); err != nil {
		return api.AWSJobQueueResponse{}, err
	}
	// (The implicit default queue becomes a stored one on its first update.)
	err := c.applyPolicy(ctx, raftfsm.OpPutQueue, raftfsm.PutQueueCmd{Queue: q, Now: c.nowMillis()}) // checked first (aws_fairshare.go)
	return api.AWSJobQueueResponse{Name: name, ARN: arn("job-queue", name)}, err
}

func (c *Controller) describeQueues(_ context.Context, _ caller, req api.AWSDescribeJobQueuesRequest) (api.AWSDescribeJobQueuesResponse, error) {
	out := api.AWSDescribeJobQueuesResponse{JobQueues: []api.JobQueueDetail{}}
	for _, q := range c.fsm.State().Queues() {
		if len(req.JobQueues) == 0 || namedIn(q.Name, req.JobQueues) {
			out.JobQueues = append(out.JobQueues, api.JobQueueDetail{JobQueue: q, ARN: arn("job-queue", q.Name)})
		}
	}
	return out, nil
}

// deleteQueue is AWS Batch's DeleteJobQueue: the queue must be DISABLED
// and hold no unfinished job (the FSM checks both).
func (c *Controller) deleteQueue(ctx context.Context, who caller, req api.AWSDeleteJobQueueRequest) (struct{}, error) {
	if err := requireRoot(who, "delete job queues"); err != nil {
		return struct{}{}, err
	}
	_, err := c.applier.Apply(ctx, raftfsm.OpDeleteQueue, raftfsm.DeleteQueueCmd{Name: nameFromARN(req.JobQueue)})
	return struct{}{}, err
}

// deleteCE is AWS Batch's DeleteComputeEnvironment: DISABLED, and in no queue.
func (c *Controller) deleteCE(ctx context.Context, who caller, req api.AWSDeleteComputeEnvironmentRequest) (struct{}, error) {
	if err := requireRoot(who, "delete compute environments"); err != nil {
		return struct{}{}, err
	}
	_, err := c.applier.Apply(ctx, raftfsm.OpDeleteCE, raftfsm.DeleteCECmd{Name: nameFromARN(req.ComputeEnvironment)})
	return struct{}{}, err
}
