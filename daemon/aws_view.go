package daemon

import (
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// matchesFilters applies list-jobs filters: JOB_NAME and JOB_DEFINITION (a
// trailing * matches a prefix), BEFORE_CREATED_AT and AFTER_CREATED_AT.
func matchesFilters(v api.JobDetail, filters []api.KeyValuesPair) bool {
	for _, f := range filters {
		if len(f.Values) == 0 {
			continue
		}
		val := f.Values[0]
		switch f.Name {
		case "JOB_NAME":
			if !wildcard(val, v.JobName) {
				return false
			}
		case "JOB_DEFINITION":
			if !wildcard(nameFromARN(val), nameFromARN(v.JobDefinition)) && !wildcard(nameFromARN(val), strings.Split(nameFromARN(v.JobDefinition), ":")[0]) {
				return false
			}
		case "BEFORE_CREATED_AT", "AFTER_CREATED_AT":
			t, err := strconv.ParseInt(val, 10, 64)
			if err != nil || (f.Name == "BEFORE_CREATED_AT" && v.CreatedAt >= t) || (f.Name == "AFTER_CREATED_AT" && v.CreatedAt <= t) {
				return false
			}
		}
	}
	return true
}

func wildcard(pattern, s string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(s, p)
	}
	return pattern == s
}

// logStreamName is where AWS would keep the job's log: DEFINITION/default/ID.
func logStreamName(j *api.Job) string {
	def := strings.Split(j.JobDefinition, ":")[0]
	if def == "" {
		def = "shoal"
	}
	return def + "/default/" + api.FormatID(j.ID)
}

// taskView shows one job (or one array task, as ID:INDEX) as it is: give
// it a job as the caller may see it (Controller.jobFor).
func taskView(j *api.Job) api.JobDetail {
	id := api.FormatID(j.ID)
	if j.Array != nil {
		id = api.FormatID(j.Array.JobID) + ":" + strconv.Itoa(j.Array.Index)
	}
	def := j.JobDefinition
	if def != "" {
		def = arn("job-definition", def)
	}
	v := api.JobDetail{
		JobArn: arn("job", id), JobName: j.Name, JobID: id, JobQueue: arn("job-queue", j.Queue),
		Status: j.State, StatusReason: j.StatusReason, JobDefinition: def,
		CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, StoppedAt: j.StoppedAt,
		Parameters: j.Parameters, DependsOn: []api.JobDependency{}, Attempts: []api.AttemptDetail{}, Tags: j.Tags,
		IsCancelled: j.Cause == api.CauseCancelled, IsTerminated: j.Cause == api.CauseTerminated,
	}
	if j.State == api.StateRunnable && j.StatusReason == "" && j.WaitReason != "" {
		// Why it waits, as the scheduler recorded it (unless submit-job
		// already said, quantified, that no node can run it).
		v.StatusReason = awsJobWaitReason(j)
	}
	v.ConsumableResourceProperties = licenseProperties(j.Licenses)
	if j.ShareIdentifier != "" { // a fair-share queue's job
		prio := j.SchedulingPriority
		v.ShareIdentifier, v.SchedulingPriority = j.ShareIdentifier, &prio
	}
	if v.Parameters == nil {
		v.Parameters = map[string]string{}
	}
	for _, d := range j.DependsOn {
		v.DependsOn = append(v.DependsOn, api.JobDependency{JobID: api.FormatID(d.JobID)})
	}
	if j.RetryAttempts > 0 {
		v.RetryStrategy = &api.RetryStrategy{Attempts: j.RetryAttempts, EvaluateOnExit: j.RetryRules}
	}
	if j.TimeLimit > 0 {
		v.Timeout = &api.JobTimeout{AttemptDurationSeconds: j.TimeLimit}
	}
	c := &api.ContainerDetail{Image: j.Image, Vcpus: j.Resources.CPUs, Memory: j.Resources.MemoryMB,
		Command: j.Command, ExitCode: j.ExitCode, LogStreamName: logStreamName(j)}
	if c.Command == nil { // another user's job (redacted): a list, as AWS always gives
		c.Command = []string{}
	}
	if j.State.Terminal() && j.Cause != "" {
		c.Reason = j.StatusReason
	}
	for k, val := range j.Env {
		c.Environment = append(c.Environment, api.KeyValue{Name: k, Value: val})
	}
	c.ResourceRequirements = []api.ResourceRequirement{
		{Type: "VCPU", Value: strconv.Itoa(j.Resources.CPUs)},
		{Type: "MEMORY", Value: strconv.FormatInt(j.Resources.MemoryMB, 10)},
	}
	if j.Resources.GPUs > 0 {
		c.ResourceRequirements = append(c.ResourceRequirements, api.ResourceRequirement{Type: "GPU", Value: strconv.Itoa(j.Resources.GPUs)})
	}
	v.Container = c
	// AWS lists the attempts that ended (a running one is not there yet).
	for i, a := range j.AttemptHistory() {
		if i == len(j.Attempts) && (a.StoppedAt == 0 || a.StartedAt == 0) {
			continue
		}
		v.Attempts = append(v.Attempts, api.AttemptDetail{
			Container: api.AttemptContainerDetail{ExitCode: a.ExitCode, Reason: a.Reason, LogStreamName: c.LogStreamName},
			StartedAt: a.StartedAt, StoppedAt: a.StoppedAt, StatusReason: a.StatusReason})
	}
	if j.Array != nil {
		idx := j.Array.Index
		v.ArrayProperties = &api.ArrayPropertiesDetail{Index: &idx}
	}
	return v
}

// viewOf shows a job by its own id: a plain job as it is, an array as its
// parent (AWS Batch's array job), whose status sums up its tasks.
func viewOf(state jobSource, j *api.Job) api.JobDetail {
	if j.Array == nil || j.Array.JobID != j.ID {
		return taskView(j)
	}
	v := taskView(j)
	v.JobID, v.JobArn = api.FormatID(j.ID), arn("job", api.FormatID(j.ID))
	summary := map[string]int{}
	var started, stopped int64
	allDone, anyFailed, anyRunning, anyPending := true, false, false, false
	for t := j.ID; t < j.ID+uint64(j.Array.Count); t++ {
		tj := state.Job(t)
		if tj == nil {
			continue // not in the state nor the archive: cannot happen but by a lost archive
		}
		summary[string(tj.State)]++
		switch tj.State {
		case api.StateFailed:
			anyFailed = true
		case api.StateStarting, api.StateRunning:
			anyRunning = true
		case api.StateSubmitted, api.StatePending:
			anyPending = true
		}
		allDone = allDone && tj.State.Terminal()
		if tj.StartedAt != 0 && (started == 0 || tj.StartedAt < started) {
			started = tj.StartedAt
		}
		stopped = max(stopped, tj.StoppedAt)
	}
	switch {
	case allDone && anyFailed:
		v.Status, v.StatusReason = api.StateFailed, "Array Child Job failed"
	case allDone:
		v.Status, v.StatusReason = api.StateSucceeded, ""
	case anyRunning:
		v.Status, v.StatusReason = api.StateRunning, ""
	case anyPending:
		v.Status, v.StatusReason = api.StatePending, ""
	default:
		v.Status, v.StatusReason = api.StateRunnable, ""
	}
	v.StartedAt, v.StoppedAt = started, 0
	if allDone {
		v.StoppedAt = stopped
	}
	v.Container, v.Attempts = nil, []api.AttemptDetail{}
	v.ArrayProperties = &api.ArrayPropertiesDetail{Size: j.Array.Count, StatusSummary: summary}
	return v
}
