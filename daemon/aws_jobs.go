package daemon

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// ReasonMisconfiguration starts the statusReason of an AWS job that no node
// of its queue can run: it stays RUNNABLE, as AWS Batch keeps it, until a
// queue's jobStateTimeLimitActions or the user cancels it.
const ReasonMisconfiguration = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - "

// submitJob submits from a job definition. Unlike shoal's own submit, a job
// that no node can run is accepted and held RUNNABLE with a reason that
// quantifies the shortfall (AWS Batch's behaviour).
func (c *Controller) submitJob(ctx context.Context, who caller, req api.AWSSubmitJobRequest) (api.AWSSubmitJobResponse, error) {
	state := c.fsm.State()
	sub, err := fromDefinition(state, c.visibleTo(who, c.withHistory(state)), req) // a job depended on may have ended long ago
	if err != nil {
		return api.AWSSubmitJobResponse{}, err
	}
	ids, err := c.submitJobs(ctx, who, []api.SubmitJobRequest{sub}, holdUnsatisfiable)
	if err != nil {
		return api.AWSSubmitJobResponse{}, err
	}
	id := api.FormatID(ids[0])
	return api.AWSSubmitJobResponse{JobName: sub.Name, JobID: id, JobArn: arn("job", id)}, nil
}

// fromDefinition merges a definition, its parameters and the request's
// overrides into a submission, substituting Ref::NAME in the command;
// jobs finds the jobs its dependencies name (archived ones too).
func fromDefinition(state *raftfsm.State, jobs jobSource, req api.AWSSubmitJobRequest) (api.SubmitJobRequest, error) {
	if req.JobName == "" || req.JobQueue == "" || req.JobDefinition == "" {
		return api.SubmitJobRequest{}, api.Errorf(api.CodeInvalid, "submit-job needs jobName, jobQueue and jobDefinition")
	}
	def, err := resolveJobDef(state, req.JobDefinition)
	if err != nil {
		return api.SubmitJobRequest{}, err
	}
	cp := api.ContainerProperties{}
	if def.ContainerProperties != nil {
		cp = *def.ContainerProperties
	}
	env := map[string]string{}
	for _, kv := range cp.Environment {
		env[kv.Name] = kv.Value
	}
	reqs := append([]api.ResourceRequirement(nil), cp.ResourceRequirements...)
	if o := req.ContainerOverrides; o != nil {
		if o.Command != nil {
			cp.Command = o.Command
		}
		if o.Vcpus != 0 {
			cp.Vcpus = o.Vcpus
		}
		if o.Memory != 0 {
			cp.Memory = o.Memory
		}
		for _, kv := range o.Environment {
			env[kv.Name] = kv.Value
		}
		reqs = append(reqs, o.ResourceRequirements...) // later entries win below
	}
	res := api.Resources{CPUs: cp.Vcpus, MemoryMB: cp.Memory}
	for _, r := range reqs {
		n, err := strconv.ParseFloat(r.Value, 64)
		if err != nil || n < 0 {
			return api.SubmitJobRequest{}, api.Errorf(api.CodeInvalid, "resourceRequirements %s value %q is not a number", r.Type, r.Value)
		}
		switch r.Type {
		case "VCPU":
			res.CPUs = int(n + 0.999)
		case "MEMORY":
			res.MemoryMB = int64(n)
		case "GPU":
			res.GPUs = int(n)
		default:
			return api.SubmitJobRequest{}, api.Errorf(api.CodeInvalid, "resourceRequirements type %q: use VCPU, MEMORY or GPU", r.Type)
		}
	}
	params := map[string]string{}
	for k, v := range def.Parameters {
		params[k] = v
	}
	for k, v := range req.Parameters {
		params[k] = v
	}
	sub := api.SubmitJobRequest{
		JobSpec: api.JobSpec{
			Name: req.JobName, Queue: nameFromARN(req.JobQueue),
			Command: substitute(cp.Command, params), Env: env, Resources: res,
		},
	}
	if err := shareOf(state, def, req, &sub); err != nil { // fair-share queues (aws_fairshare.go)
		return api.SubmitJobRequest{}, err
	}
	if len(sub.Command) == 0 {
		return api.SubmitJobRequest{}, api.Errorf(api.CodeInvalid, "job definition %s:%d has no command and the request gives none", def.Name, def.Revision)
	}
	if len(env) == 0 {
		sub.Env = nil
	}
	sub.Licenses = licensesFromProperties(def.ConsumableResourceProperties)
	if o := req.ConsumableResourcePropertiesOverride; o != nil {
		sub.Licenses = licensesFromProperties(o)
	}
	retry, timeout := def.RetryStrategy, def.Timeout
	if req.RetryStrategy != nil {
		retry = req.RetryStrategy
	}
	if req.Timeout != nil {
		timeout = req.Timeout
	}
	if req.RetryStrategy != nil {
		if err := checkRetryStrategy(req.RetryStrategy); err != nil {
			return api.SubmitJobRequest{}, err
		}
	}
	if retry != nil {
		sub.RetryAttempts = retry.Attempts
		sub.RetryRules = append([]api.RetryRule(nil), retry.EvaluateOnExit...)
	}
	if timeout != nil {
		sub.TimeLimit = timeout.AttemptDurationSeconds
	}
	for _, d := range req.DependsOn {
		dep, err := awsDependencyOf(jobs, d)
		if err != nil {
			return api.SubmitJobRequest{}, err
		}
		sub.DependsOn = append(sub.DependsOn, dep)
	}
	if a := req.ArrayProperties; a != nil && a.Size > 0 {
		if a.Size < 2 || a.Size > 10000 {
			return api.SubmitJobRequest{}, api.Errorf(api.CodeInvalid, "arrayProperties.size %d: use 2 to 10000", a.Size)
		}
		for i := 0; i < a.Size; i++ {
			sub.ArrayIndexes = append(sub.ArrayIndexes, i)
		}
	}
	sub.JobDefinition = fmt.Sprintf("%s:%d", def.Name, def.Revision)
	sub.Parameters = params
	sub.Image = cp.Image
	sub.ReadonlyRootfs = cp.ReadonlyRootFilesystem
	sub.Tags = req.Tags
	sub.Mounts, err = mounts(cp)
	return sub, err
}

// substitute replaces Ref::NAME in each argument with the parameter's
// value, longer names first so that Ref::AB is not taken for Ref::A.
func substitute(cmd []string, params map[string]string) []string {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Slice(names, func(a, b int) bool { return len(names[a]) > len(names[b]) })
	out := make([]string, len(cmd))
	for i, arg := range cmd {
		for _, k := range names {
			arg = strings.ReplaceAll(arg, "Ref::"+k, params[k])
		}
		out[i] = arg
	}
	return out
}

// mounts pairs a definition's mountPoints with its host volumes.
func mounts(cp api.ContainerProperties) ([]api.Mount, error) {
	var out []api.Mount
	for _, mp := range cp.MountPoints {
		var src string
		for _, v := range cp.Volumes {
			if v.Name == mp.SourceVolume && v.Host != nil {
				src = v.Host.SourcePath
			}
		}
		if src == "" || !strings.HasPrefix(src, "/") || !strings.HasPrefix(mp.ContainerPath, "/") {
			return nil, api.Errorf(api.CodeInvalid, "mountPoint %q needs a volume with an absolute host.sourcePath and an absolute containerPath", mp.SourceVolume)
		}
		out = append(out, api.Mount{Source: src, Target: mp.ContainerPath, ReadOnly: mp.ReadOnly})
	}
	return out, nil
}

// awsDependencyOf turns an AWS dependsOn entry ("ID" or "ID:INDEX") into a
// dependency: N_TO_N and SEQUENTIAL keep their type, others are afterok.
func awsDependencyOf(state jobSource, d api.JobDependency) (api.Dependency, error) {
	typ := api.AfterOK
	switch d.Type {
	case "N_TO_N":
		typ = api.NToN
	case "SEQUENTIAL":
		typ = api.Sequential
	case "":
	default:
		return api.Dependency{}, api.Errorf(api.CodeInvalid, "dependsOn type %q: use N_TO_N or SEQUENTIAL, or none", d.Type)
	}
	if typ == api.Sequential {
		return api.Dependency{Type: typ}, nil
	}
	j, err := jobByAWSID(state, d.JobID)
	if err != nil {
		return api.Dependency{}, err
	}
	return api.Dependency{JobID: j.ID, Type: typ}, nil
}

// jobByAWSID finds a job by its AWS id: "ID", or "ID:INDEX" for a task of
// the array ID.
func jobByAWSID(state jobSource, id string) (*api.Job, error) {
	base, index, isTask := strings.Cut(id, ":")
	n, err := strconv.ParseUint(base, 10, 64)
	if err != nil {
		return nil, api.Errorf(api.CodeNotFound, "job %q does not exist", id)
	}
	j := state.Job(n)
	if j == nil {
		return nil, api.Errorf(api.CodeNotFound, "job %q does not exist", id)
	}
	if !isTask {
		return j, nil
	}
	k, err := strconv.Atoi(index)
	if err != nil || j.Array == nil || j.Array.JobID != n {
		return nil, api.Errorf(api.CodeNotFound, "job %q does not exist", id)
	}
	for t := n; t < n+uint64(j.Array.Count); t++ {
		if tj := state.Job(t); tj != nil && tj.Array.Index == k {
			return tj, nil
		}
	}
	return nil, api.Errorf(api.CodeNotFound, "job %q does not exist", id)
}

// cancelJob is AWS's cancel-job: it ends a job that has not started and
// leaves a started one alone (the call succeeds either way).
func (c *Controller) cancelAWSJob(ctx context.Context, who caller, req api.AWSJobIDRequest) (empty, error) {
	return empty{}, c.stopAWSJob(ctx, who, req, false)
}

// terminateJob is AWS's terminate-job: it stops a started job and cancels
// one that has not started.
func (c *Controller) terminateAWSJob(ctx context.Context, who caller, req api.AWSJobIDRequest) (empty, error) {
	return empty{}, c.stopAWSJob(ctx, who, req, true)
}

func (c *Controller) stopAWSJob(ctx context.Context, who caller, req api.AWSJobIDRequest, terminate bool) error {
	if req.Reason == "" {
		return api.Errorf(api.CodeInvalid, "give a reason")
	}
	if err := checkReason(req.Reason); err != nil {
		return err
	}
	state := c.fsm.State()
	j, err := jobByAWSID(state, req.JobID)
	if err != nil {
		return err
	}
	if !c.visible(who, j) {
		return api.Errorf(api.CodeNotFound, "job %q does not exist", req.JobID)
	}
	// Checked here, not only by each stop: a started job that cancel
	// leaves alone, or an ended one, would answer another user success.
	if !ownsOrOperates(who, j) {
		verb := map[bool]string{false: "cancel", true: "terminate"}[terminate]
		return api.Errorf(api.CodeForbidden, "job %d belongs to %s; only its owner or root may %s it", j.ID, j.User, verb)
	}
	ids := []uint64{j.ID}
	if j.Array != nil && j.Array.JobID == j.ID && !strings.Contains(req.JobID, ":") {
		ids = ids[:0] // the array: every task
		for t := j.ID; t < j.ID+uint64(j.Array.Count); t++ {
			ids = append(ids, t)
		}
	}
	for _, id := range ids {
		t := state.Job(id)
		if t == nil || t.State.Terminal() || (!terminate && !t.State.Cancellable()) { // nil: ended and archived
			continue
		}
		err := c.stopJob(ctx, who, api.StopJobRequest{ID: id, Reason: req.Reason}, terminate)
		if err != nil && !api.IsCode(err, api.CodeConflict) {
			return err
		}
	}
	return nil
}

// listJobs is AWS's list-jobs: the jobs of a queue (array parents, not their
// tasks) or the tasks of an array, in one status (RUNNING when none is
// given, as AWS Batch does) or, with filters, in any.
func (c *Controller) listAWSJobs(_ context.Context, who caller, req api.AWSListJobsRequest) (api.AWSListJobsResponse, error) {
	state := c.fsm.State()
	status := api.StateRunning
	if req.JobStatus != "" {
		st, ok := api.ParseJobState(req.JobStatus)
		if !ok {
			return api.AWSListJobsResponse{}, api.Errorf(api.CodeInvalid, "jobStatus %q: use one of %v", req.JobStatus, api.AllStates)
		}
		status = st
	}
	filtered := len(req.Filters) > 0
	var views []api.JobDetail
	add := func(v api.JobDetail) {
		if (filtered || v.Status == status) && matchesFilters(v, req.Filters) {
			views = append(views, v)
		}
	}
	switch {
	case req.ArrayJobID != "":
		src := c.withHistory(state) // tasks that ended long ago are archived
		parent, err := jobByAWSID(src, req.ArrayJobID)
		if err != nil || parent.Array == nil || !c.visible(who, parent) {
			return api.AWSListJobsResponse{}, api.Errorf(api.CodeNotFound, "array job %q does not exist", req.ArrayJobID)
		}
		for t := parent.ID; t < parent.ID+uint64(parent.Array.Count); t++ {
			if tj := src.Job(t); tj != nil {
				if j, ok := c.jobFor(who, tj); ok {
					add(taskView(&j))
				}
			}
		}
	case req.JobQueue != "":
		queue := nameFromARN(req.JobQueue)
		state.AllJobs(func(j *api.Job) bool {
			if j.Queue == queue && (j.Array == nil || j.Array.JobID == j.ID) {
				if v, ok := c.jobFor(who, j); ok {
					add(viewOf(c.withHistory(state), &v))
				}
			}
			return true
		})
	default:
		return api.AWSListJobsResponse{}, api.Errorf(api.CodeInvalid, "list-jobs needs jobQueue or arrayJobId")
	}
	return paginate(views, req.MaxResults, req.NextToken)
}

// paginate returns one page of views and the token of the next.
func paginate(views []api.JobDetail, max int, token string) (api.AWSListJobsResponse, error) {
	start := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		n, perr := strconv.Atoi(string(raw))
		if err != nil || perr != nil || n < 0 || n > len(views) {
			return api.AWSListJobsResponse{}, api.Errorf(api.CodeInvalid, "nextToken %q is not one this API gave", token)
		}
		start = n
	}
	if max <= 0 || max > 1000 {
		max = 100
	}
	end := min(start+max, len(views))
	out := api.AWSListJobsResponse{JobSummaryList: make([]api.JobSummary, 0, end-start)}
	for _, v := range views[start:end] {
		out.JobSummaryList = append(out.JobSummaryList, v.Summary())
	}
	if end < len(views) {
		out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return out, nil
}

func (c *Controller) describeAWSJobs(_ context.Context, who caller, req api.AWSDescribeJobsRequest) (api.AWSDescribeJobsResponse, error) {
	if len(req.Jobs) > 100 {
		return api.AWSDescribeJobsResponse{}, api.Errorf(api.CodeInvalid, "describe-jobs takes at most 100 jobs, got %d", len(req.Jobs))
	}
	// Jobs that ended longer ago than the retention window are read
	// from the archive.
	state := c.withHistory(c.fsm.State())
	out := api.AWSDescribeJobsResponse{Jobs: []api.JobDetail{}}
	for _, id := range req.Jobs {
		stored, err := jobByAWSID(state, id)
		if err != nil {
			continue // AWS leaves unknown ids out
		}
		j, ok := c.jobFor(who, stored)
		if !ok {
			continue // hidden (PrivateJobs): as if unknown
		}
		if strings.Contains(id, ":") {
			out.Jobs = append(out.Jobs, taskView(&j))
		} else {
			out.Jobs = append(out.Jobs, viewOf(state, &j))
		}
	}
	return out, nil
}
