package daemon

import (
	"context"
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

type registerJobDefRequest struct {
	api.JobDefinition
	PlatformCapabilities []string `json:"platformCapabilities,omitempty"`
	PropagateTags        bool     `json:"propagateTags,omitempty"`
}

type registerJobDefResponse struct {
	Name     string `json:"jobDefinitionName"`
	ARN      string `json:"jobDefinitionArn"`
	Revision int    `json:"revision"`
}

func (c *Controller) registerJobDef(ctx context.Context, who caller, req registerJobDefRequest) (registerJobDefResponse, error) {
	d := req.JobDefinition
	if !who.known {
		return registerJobDefResponse{}, errNoUser
	}
	if err := checkName("job definition", d.Name); err != nil {
		return registerJobDefResponse{}, err
	}
	switch d.Type {
	case "container":
		if d.ContainerProperties == nil || d.ContainerProperties.Image == "" {
			return registerJobDefResponse{}, api.Errorf(api.CodeInvalid, "job definition %s: a container job definition needs containerProperties.image", d.Name)
		}
	case "script":
		if d.ContainerProperties == nil {
			d.ContainerProperties = &api.ContainerProperties{}
		}
		if d.ContainerProperties.Image != "" {
			return registerJobDefResponse{}, api.Errorf(api.CodeInvalid, "job definition %s: a script job definition runs on the host and takes no image", d.Name)
		}
	default:
		return registerJobDefResponse{}, api.Errorf(api.CodeInvalid, "job definition %s: type %q: use container or script", d.Name, d.Type)
	}
	if d.RetryStrategy != nil && (d.RetryStrategy.Attempts < 1 || d.RetryStrategy.Attempts > 10) {
		return registerJobDefResponse{}, api.Errorf(api.CodeInvalid, "job definition %s: retryStrategy.attempts must be 1 to 10", d.Name)
	}
	if d.Timeout != nil && d.Timeout.AttemptDurationSeconds != 0 && d.Timeout.AttemptDurationSeconds < 60 {
		return registerJobDefResponse{}, api.Errorf(api.CodeInvalid, "job definition %s: timeout.attemptDurationSeconds must be at least 60", d.Name)
	}
	if o, err := lookupOwner(who); err == nil {
		d.Owner = o.name
	}
	cmd := raftfsm.RegisterJobDefCmd{Def: d, Now: nowMillis(), Operator: who.operator}
	if res := c.fsm.Check(raftfsm.OpRegisterJobDef, cmd); res.Err != nil { // refused: never a log entry
		return registerJobDefResponse{}, res.Err
	}
	res, err := c.applier.Apply(ctx, raftfsm.OpRegisterJobDef, cmd)
	if err != nil {
		return registerJobDefResponse{}, err
	}
	ref := fmt.Sprintf("%s:%d", d.Name, res.Revision)
	return registerJobDefResponse{Name: d.Name, ARN: arn("job-definition", ref), Revision: res.Revision}, nil
}

// jobDefView is a job definition as AWS describes it.
type jobDefView struct {
	*api.JobDefinition
	ARN string `json:"jobDefinitionArn"`
}

type describeJobDefsRequest struct {
	JobDefinitions []string `json:"jobDefinitions,omitempty"`
	Name           string   `json:"jobDefinitionName,omitempty"`
	Status         string   `json:"status,omitempty"`
	MaxResults     int      `json:"maxResults,omitempty"`
	NextToken      string   `json:"nextToken,omitempty"`
}

type describeJobDefsResponse struct {
	JobDefinitions []jobDefView `json:"jobDefinitions"`
}

func (c *Controller) describeJobDefs(_ context.Context, _ caller, req describeJobDefsRequest) (describeJobDefsResponse, error) {
	state := c.fsm.State()
	var defs []*api.JobDefinition
	switch {
	case len(req.JobDefinitions) > 0:
		for _, ref := range req.JobDefinitions {
			name, rev, hasRev := strings.Cut(nameFromARN(ref), ":")
			if !hasRev {
				defs = append(defs, state.JobDefinitions(name)...)
				continue
			}
			n, err := strconv.Atoi(rev)
			if err != nil {
				return describeJobDefsResponse{}, api.Errorf(api.CodeInvalid, "job definition %q: the revision after ':' must be a number", ref)
			}
			if d := state.JobDefinition(name, n); d != nil {
				defs = append(defs, d)
			}
		}
	case req.Name != "":
		defs = state.JobDefinitions(req.Name)
	default:
		defs = state.AllJobDefinitions()
	}
	out := describeJobDefsResponse{JobDefinitions: []jobDefView{}}
	for _, d := range defs {
		if req.Status == "" || d.Status == req.Status {
			out.JobDefinitions = append(out.JobDefinitions, jobDefView{d, arn("job-definition", fmt.Sprintf("%s:%d", d.Name, d.Revision))})
		}
	}
	return out, nil
}

type deregisterJobDefRequest struct {
	JobDefinition string `json:"jobDefinition"`
}

func (c *Controller) deregisterJobDef(ctx context.Context, who caller, req deregisterJobDefRequest) (empty, error) {
	name, rev, ok := strings.Cut(nameFromARN(req.JobDefinition), ":")
	n, err := strconv.Atoi(rev)
	if !ok || err != nil {
		return empty{}, api.Errorf(api.CodeInvalid, "job definition %q: give NAME:REVISION or its ARN", req.JobDefinition)
	}
	d := c.fsm.State().JobDefinition(name, n)
	if d == nil {
		return empty{}, api.Errorf(api.CodeNotFound, "job definition %s:%d does not exist", name, n)
	}
	if o, err := lookupOwner(who); err != nil || (!who.operator && o.name != d.Owner) {
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

type ceRequest struct {
	api.ComputeEnvironment
	ComputeResources any    `json:"computeResources,omitempty"`
	ServiceRole      string `json:"serviceRole,omitempty"`
}

type ceResponse struct {
	Name string `json:"computeEnvironmentName"`
	ARN  string `json:"computeEnvironmentArn"`
}

func (c *Controller) createCE(ctx context.Context, who caller, req ceRequest) (ceResponse, error) {
	ce := req.ComputeEnvironment
	if err := requireRoot(who, "create compute environments"); err != nil {
		return ceResponse{}, err
	}
	if err := checkName("compute environment", ce.Name); err != nil {
		return ceResponse{}, err
	}
	if ce.Type != "MANAGED" && ce.Type != "UNMANAGED" {
		return ceResponse{}, api.Errorf(api.CodeInvalid, "compute environment %s: type %q: use MANAGED or UNMANAGED", ce.Name, ce.Type)
	}
	if ce.State == "" {
		ce.State = api.Enabled
	}
	if err := checkEnabled("compute environment "+ce.Name, ce.State); err != nil {
		return ceResponse{}, err
	}
	ce.Status = api.Valid
	_, err := c.applier.Apply(ctx, raftfsm.OpPutCE, raftfsm.PutCECmd{CE: ce, Create: true, Now: nowMillis()})
	return ceResponse{Name: ce.Name, ARN: arn("compute-environment", ce.Name)}, err
}

type updateCERequest struct {
	ComputeEnvironment string            `json:"computeEnvironment"`
	State              string            `json:"state,omitempty"`
	Nodes              []string          `json:"nodes,omitempty"`
	NodeLabels         map[string]string `json:"nodeLabels,omitempty"`
	ComputeResources   any               `json:"computeResources,omitempty"`
	ServiceRole        string            `json:"serviceRole,omitempty"`
}

func (c *Controller) updateCE(ctx context.Context, who caller, req updateCERequest) (ceResponse, error) {
	if err := requireRoot(who, "update compute environments"); err != nil {
		return ceResponse{}, err
	}
	name := nameFromARN(req.ComputeEnvironment)
	old := c.fsm.State().ComputeEnvironment(name)
	if old == nil {
		return ceResponse{}, api.Errorf(api.CodeNotFound, "compute environment %s does not exist", name)
	}
	ce := *old
	if req.State != "" {
		if err := checkEnabled("compute environment "+name, req.State); err != nil {
			return ceResponse{}, err
		}
		ce.State = req.State
	}
	if req.Nodes != nil {
		ce.Nodes = req.Nodes
	}
	if req.NodeLabels != nil {
		ce.NodeLabels = req.NodeLabels
	}
	_, err := c.applier.Apply(ctx, raftfsm.OpPutCE, raftfsm.PutCECmd{CE: ce, Now: nowMillis()})
	return ceResponse{Name: name, ARN: arn("compute-environment", name)}, err
}

func checkEnabled(what, state string) error {
	if state != api.Enabled && state != api.Disabled {
		return api.Errorf(api.CodeInvalid, "%s: state %q: use ENABLED or DISABLED", what, state)
	}
	return nil
}

type ceView struct {
	*api.ComputeEnvironment
	ARN string `json:"computeEnvironmentArn"`
}

type describeCEsRequest struct {
	ComputeEnvironments []string `json:"computeEnvironments,omitempty"`
	MaxResults          int      `json:"maxResults,omitempty"`
	NextToken           string   `json:"nextToken,omitempty"`
}

type describeCEsResponse struct {
	ComputeEnvironments []ceView `json:"computeEnvironments"`
}

func (c *Controller) describeCEs(_ context.Context, _ caller, req describeCEsRequest) (describeCEsResponse, error) {
	out := describeCEsResponse{ComputeEnvironments: []ceView{}}
	for _, ce := range c.fsm.State().ComputeEnvironments() {
		if len(req.ComputeEnvironments) == 0 || namedIn(ce.Name, req.ComputeEnvironments) {
			out.ComputeEnvironments = append(out.ComputeEnvironments, ceView{ce, arn("compute-environment", ce.Name)})
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

type queueResponse struct {
	Name string `json:"jobQueueName"`
	ARN  string `json:"jobQueueArn"`
}

func (c *Controller) createQueue(ctx context.Context, who caller, req api.JobQueue) (queueResponse, error) {
	if err := requireRoot(who, "create job queues"); err != nil {
		return queueResponse{}, err
	}
	if err := checkName("job queue", req.Name); err != nil {
		return queueResponse{}, err
	}
	if req.State == "" {
		req.State = api.Enabled
	}
	if err := c.checkQueue(&req); err != nil {
		return queueResponse{}, err
	}
	_, err := c.applier.Apply(ctx, raftfsm.OpPutQueue, raftfsm.PutQueueCmd{Queue: req, Create: true, Now: nowMillis()})
	return queueResponse{Name: req.Name, ARN: arn("job-queue", req.Name)}, err
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

type updateQueueRequest struct {
	JobQueue                 string                        `json:"jobQueue"`
	State                    string                        `json:"state,omitempty"`
	Priority                 *int                          `json:"priority,omitempty"`
	ComputeEnvironmentOrder  []api.ComputeEnvironmentOrder `json:"computeEnvironmentOrder,omitempty"`
	JobStateTimeLimitActions []api.JobStateTimeLimitAction `json:"jobStateTimeLimitActions,omitempty"`
	// Memory enforcement (api.RAMSpace), each changed only if given.
	ConstrainRAMSpace *bool    `json:"constrainRAMSpace,omitempty"`
	AllowedRAMSpace   *float64 `json:"allowedRAMSpace,omitempty"`
}

func (c *Controller) updateQueue(ctx context.Context, who caller, req updateQueueRequest) (queueResponse, error) {
	if err := requireRoot(who, "update job queues"); err != nil {
		return queueResponse{}, err
	}
	name := nameFromARN(req.JobQueue)
	old := c.fsm.State().Queue(name)
	if old == nil {
		return queueResponse{}, api.Errorf(api.CodeNotFound, "job queue %s does not exist", name)
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
	if err := c.checkQueue(&q); err != nil {
		return queueResponse{}, err
	}
	// (The implicit default queue becomes a stored one on its first update.)
	_, err := c.applier.Apply(ctx, raftfsm.OpPutQueue, raftfsm.PutQueueCmd{Queue: q, Now: nowMillis()})
	return queueResponse{Name: name, ARN: arn("job-queue", name)}, err
}

type queueView struct {
	*api.JobQueue
	ARN string `json:"jobQueueArn"`
}

type describeQueuesRequest struct {
	JobQueues  []string `json:"jobQueues,omitempty"`
	MaxResults int      `json:"maxResults,omitempty"`
	NextToken  string   `json:"nextToken,omitempty"`
}

type describeQueuesResponse struct {
	JobQueues []queueView `json:"jobQueues"`
}

func (c *Controller) describeQueues(_ context.Context, _ caller, req describeQueuesRequest) (describeQueuesResponse, error) {
	out := describeQueuesResponse{JobQueues: []queueView{}}
	for _, q := range c.fsm.State().Queues() {
		if len(req.JobQueues) == 0 || namedIn(q.Name, req.JobQueues) {
			out.JobQueues = append(out.JobQueues, queueView{q, arn("job-queue", q.Name)})
		}
	}
	return out, nil
}
