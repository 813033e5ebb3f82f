package daemon

import (
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// jobView is a job as AWS Batch's describe-jobs shows it (JobDetail).
type jobView struct {
	JobArn          string             `json:"jobArn"`
	JobName         string             `json:"jobName"`
	JobID           string             `json:"jobId"`
	JobQueue        string             `json:"jobQueue"`
	Status          api.JobState       `json:"status"`
	StatusReason    string             `json:"statusReason,omitempty"`
	JobDefinition   string             `json:"jobDefinition"`
	CreatedAt       int64              `json:"createdAt"`
	StartedAt       int64              `json:"startedAt,omitempty"`
	StoppedAt       int64              `json:"stoppedAt,omitempty"`
	Parameters      map[string]string  `json:"parameters"`
	DependsOn       []awsDependency    `json:"dependsOn"`
	Container       *containerDetail   `json:"container,omitempty"`
	Attempts        []attemptDetail    `json:"attempts"`
	ArrayProperties *arrayDetail       `json:"arrayProperties,omitempty"`
	RetryStrategy   *api.RetryStrategy `json:"retryStrategy,omitempty"`
	Timeout         *api.JobTimeout    `json:"timeout,omitempty"`
	Tags            map[string]string  `json:"tags,omitempty"`
	IsCancelled     bool               `json:"isCancelled"`
	IsTerminated    bool               `json:"isTerminated"`
}

type containerDetail struct {
	Image                string                    `json:"image,omitempty"`
	Vcpus                int                       `json:"vcpus"`
	Memory               int64                     `json:"memory"`
	Command              []string                  `json:"command"`
	Environment          []api.KeyValue            `json:"environment,omitempty"`
	ResourceRequirements []api.ResourceRequirement `json:"resourceRequirements,omitempty"`
	ExitCode             *int                      `json:"exitCode,omitempty"`
	Reason               string                    `json:"reason,omitempty"`
	LogStreamName        string                    `json:"logStreamName,omitempty"`
}

type attemptDetail struct {
	Container    attemptContainer `json:"container"`
	StartedAt    int64            `json:"startedAt,omitempty"`
	StoppedAt    int64            `json:"stoppedAt,omitempty"`
	StatusReason string           `json:"statusReason,omitempty"`
}

type attemptContainer struct {
	ExitCode      *int   `json:"exitCode,omitempty"`
	Reason        string `json:"reason,omitempty"`
	LogStreamName string `json:"logStreamName,omitempty"`
}

type arrayDetail struct {
	Size          int            `json:"size,omitempty"`
	Index         *int           `json:"index,omitempty"`
	StatusSummary map[string]int `json:"statusSummary,omitempty"`
}

// jobSummary is a job as list-jobs shows it.
type jobSummary struct {
	JobArn          string       `json:"jobArn"`
	JobID           string       `json:"jobId"`
	JobName         string       `json:"jobName"`
	CreatedAt       int64        `json:"createdAt"`
	Status          api.JobState `json:"status"`
	StatusReason    string       `json:"statusReason,omitempty"`
	StartedAt       int64        `json:"startedAt,omitempty"`
	StoppedAt       int64        `json:"stoppedAt,omitempty"`
	Container       *summaryExit `json:"container,omitempty"`
	ArrayProperties *arrayDetail `json:"arrayProperties,omitempty"`
	JobDefinition   string       `json:"jobDefinition,omitempty"`
}

type summaryExit struct {
	ExitCode *int   `json:"exitCode,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

func (v jobView) summary() jobSummary {
	s := jobSummary{JobArn: v.JobArn, JobID: v.JobID, JobName: v.JobName, CreatedAt: v.CreatedAt,
		Status: v.Status, StatusReason: v.StatusReason, StartedAt: v.StartedAt, StoppedAt: v.StoppedAt,
		ArrayProperties: v.ArrayProperties, JobDefinition: v.JobDefinition}
	if v.Container != nil && (v.Container.ExitCode != nil || v.Container.Reason != "") {
		s.Container = &summaryExit{ExitCode: v.Container.ExitCode, Reason: v.Container.Reason}
	}
	return s
}

// matches applies list-jobs filters: JOB_NAME and JOB_DEFINITION (a
// trailing * matches a prefix), BEFORE_CREATED_AT and AFTER_CREATED_AT.
func (v jobView) matches(filters []listJobsFilter) bool {
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
func taskView(j *api.Job) jobView {
	id := api.FormatID(j.ID)
	if j.Array != nil {
		id = api.FormatID(j.Array.JobID) + ":" + strconv.Itoa(j.Array.Index)
	}
	def := j.JobDefinition
	if def != "" {
		def = arn("job-definition", def)
	}
	v := jobView{
		JobArn: arn("job", id), JobName: j.Name, JobID: id, JobQueue: arn("job-queue", j.Queue),
		Status: j.State, StatusReason: j.StatusReason, JobDefinition: def,
		CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, StoppedAt: j.StoppedAt,
		Parameters: j.Parameters, DependsOn: []awsDependency{}, Attempts: []attemptDetail{}, Tags: j.Tags,
		IsCancelled: j.Cause == api.CauseCancelled, IsTerminated: j.Cause == api.CauseTerminated,
	}
	if v.Parameters == nil {
		v.Parameters = map[string]string{}
	}
	for _, d := range j.DependsOn {
		v.DependsOn = append(v.DependsOn, awsDependency{JobID: api.FormatID(d.JobID)})
	}
	if j.RetryAttempts > 0 {
		v.RetryStrategy = &api.RetryStrategy{Attempts: j.RetryAttempts, EvaluateOnExit: j.RetryRules}
	}
	if j.TimeLimit > 0 {
		v.Timeout = &api.JobTimeout{AttemptDurationSeconds: j.TimeLimit}
	}
	c := &containerDetail{Image: j.Image, Vcpus: j.Resources.CPUs, Memory: j.Resources.MemoryMB,
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
		v.Attempts = append(v.Attempts, attemptDetail{
			Container: attemptContainer{ExitCode: a.ExitCode, Reason: a.Reason, LogStreamName: c.LogStreamName},
			StartedAt: a.StartedAt, StoppedAt: a.StoppedAt, StatusReason: a.StatusReason})
	}
	if j.Array != nil {
		idx := j.Array.Index
		v.ArrayProperties = &arrayDetail{Index: &idx}
	}
	return v
}

// viewOf shows a job by its own id: a plain job as it is, an array as its
// parent (AWS Batch's array job), whose status sums up its tasks.
func viewOf(state jobSource, j *api.Job) jobView {
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
	v.Container, v.Attempts = nil, []attemptDetail{}
	v.ArrayProperties = &arrayDetail{Size: j.Array.Count, StatusSummary: summary}
	return v
}
