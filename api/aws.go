package api

// The AWS Batch front door's requests and answers, in AWS Batch's shapes
// and JSON casing (the objects they carry are in batch.go). Names are AWS's
// own (JobDetail, JobSummary, ...); a request or answer whose AWS name
// would clash with the native API's takes the prefix AWS.

// ArrayProperties makes a submit an array job of Size children (2-10,000).
type ArrayProperties struct {
	Size int `json:"size"`
}

// JobDetail is a job as AWS Batch's describe-jobs shows it (JobDetail).
type JobDetail struct {
	JobArn          string                 `json:"jobArn"`
	JobName         string                 `json:"jobName"`
	JobID           string                 `json:"jobId"`
	JobQueue        string                 `json:"jobQueue"`
	Status          JobState               `json:"status"`
	StatusReason    string                 `json:"statusReason,omitempty"`
	JobDefinition   string                 `json:"jobDefinition"`
	CreatedAt       int64                  `json:"createdAt"`
	StartedAt       int64                  `json:"startedAt,omitempty"`
	StoppedAt       int64                  `json:"stoppedAt,omitempty"`
	Parameters      map[string]string      `json:"parameters"`
	DependsOn       []JobDependency        `json:"dependsOn"`
	Container       *ContainerDetail       `json:"container,omitempty"`
	Attempts        []AttemptDetail        `json:"attempts"`
	ArrayProperties *ArrayPropertiesDetail `json:"arrayProperties,omitempty"`
	RetryStrategy   *RetryStrategy         `json:"retryStrategy,omitempty"`
	Timeout         *JobTimeout            `json:"timeout,omitempty"`
	Tags            map[string]string      `json:"tags,omitempty"`
	IsCancelled     bool                   `json:"isCancelled"`
	IsTerminated    bool                   `json:"isTerminated"`
	// ConsumableResourceProperties are the job's consumable resources.
	ConsumableResourceProperties *ConsumableResourceProperties `json:"consumableResourceProperties,omitempty"`
	// ShareIdentifier and SchedulingPriority: the job's share and its
	// priority within it, in a fair-share queue.
	ShareIdentifier    string `json:"shareIdentifier,omitempty"`
	SchedulingPriority *int64 `json:"schedulingPriority,omitempty"`
}

// ContainerDetail is AWS Batch's ContainerDetail.
type ContainerDetail struct {
	Image                string                `json:"image,omitempty"`
	Vcpus                int                   `json:"vcpus"`
	Memory               int64                 `json:"memory"`
	Command              []string              `json:"command"`
	Environment          []KeyValue            `json:"environment,omitempty"`
	ResourceRequirements []ResourceRequirement `json:"resourceRequirements,omitempty"`
	ExitCode             *int                  `json:"exitCode,omitempty"`
	Reason               string                `json:"reason,omitempty"`
	LogStreamName        string                `json:"logStreamName,omitempty"`
}

// AttemptDetail is AWS Batch's AttemptDetail.
type AttemptDetail struct {
	Container    AttemptContainerDetail `json:"container"`
	StartedAt    int64                  `json:"startedAt,omitempty"`
	StoppedAt    int64                  `json:"stoppedAt,omitempty"`
	StatusReason string                 `json:"statusReason,omitempty"`
}

// AttemptContainerDetail is AWS Batch's AttemptContainerDetail.
type AttemptContainerDetail struct {
	ExitCode      *int   `json:"exitCode,omitempty"`
	Reason        string `json:"reason,omitempty"`
	LogStreamName string `json:"logStreamName,omitempty"`
}

// ArrayPropertiesDetail is AWS Batch's ArrayPropertiesDetail.
type ArrayPropertiesDetail struct {
	Size          int            `json:"size,omitempty"`
	Index         *int           `json:"index,omitempty"`
	StatusSummary map[string]int `json:"statusSummary,omitempty"`
}

// JobSummary is a job as list-jobs shows it.
type JobSummary struct {
	JobArn          string                 `json:"jobArn"`
	JobID           string                 `json:"jobId"`
	JobName         string                 `json:"jobName"`
	CreatedAt       int64                  `json:"createdAt"`
	Status          JobState               `json:"status"`
	StatusReason    string                 `json:"statusReason,omitempty"`
	StartedAt       int64                  `json:"startedAt,omitempty"`
	StoppedAt       int64                  `json:"stoppedAt,omitempty"`
	Container       *ContainerSummary      `json:"container,omitempty"`
	ArrayProperties *ArrayPropertiesDetail `json:"arrayProperties,omitempty"`
	JobDefinition   string                 `json:"jobDefinition,omitempty"`
}

// ContainerSummary is AWS Batch's ContainerSummary.
type ContainerSummary struct {
	ExitCode *int   `json:"exitCode,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// ContainerOverrides is what submit-job may change of a definition's container.
type ContainerOverrides struct {
	Command              []string              `json:"command,omitempty"`
	Vcpus                int                   `json:"vcpus,omitempty"`
	Memory               int64                 `json:"memory,omitempty"`
	Environment          []KeyValue            `json:"environment,omitempty"`
	ResourceRequirements []ResourceRequirement `json:"resourceRequirements,omitempty"`
	InstanceType         string                `json:"instanceType,omitempty"`
}

// JobDependency is AWS Batch's JobDependency.
type JobDependency struct {
	JobID string `json:"jobId"`
	Type  string `json:"type,omitempty"`
}

// AWSSubmitJobRequest is AWS Batch's SubmitJobRequest.
type AWSSubmitJobRequest struct {
	JobName            string              `json:"jobName"`
	JobQueue           string              `json:"jobQueue"`
	JobDefinition      string              `json:"jobDefinition"`
	Parameters         map[string]string   `json:"parameters,omitempty"`
	ContainerOverrides *ContainerOverrides `json:"containerOverrides,omitempty"`
	DependsOn          []JobDependency     `json:"dependsOn,omitempty"`
	ArrayProperties    *ArrayProperties    `json:"arrayProperties,omitempty"`
	RetryStrategy      *RetryStrategy      `json:"retryStrategy,omitempty"`
	Timeout            *JobTimeout         `json:"timeout,omitempty"`
	Tags               map[string]string   `json:"tags,omitempty"`
	PropagateTags      bool                `json:"propagateTags,omitempty"`
	// SchedulingPrio (0-9999) orders the job within its share of a
	// fair-share queue, over the definition's schedulingPriority.
	SchedulingPrio *int64 `json:"schedulingPriorityOverride,omitempty"`
	// ShareIdentifier is the job's share of a fair-share queue (required
	// there, refused elsewhere).
	ShareIdentifier string `json:"shareIdentifier,omitempty"`
	// ConsumableResourcePropertiesOverride replaces the definition's
	// consumable resources for this job.
	ConsumableResourcePropertiesOverride *ConsumableResourceProperties `json:"consumableResourcePropertiesOverride,omitempty"`
}

// AWSSubmitJobResponse is AWS Batch's SubmitJobResponse.
type AWSSubmitJobResponse struct {
	JobName string `json:"jobName"`
	JobID   string `json:"jobId"`
	JobArn  string `json:"jobArn"`
}

// AWSJobIDRequest is AWS Batch's JobIDRequest.
type AWSJobIDRequest struct {
	JobID  string `json:"jobId"`
	Reason string `json:"reason"`
}

// KeyValuesPair is AWS Batch's KeyValuesPair.
type KeyValuesPair struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

// AWSListJobsRequest is AWS Batch's ListJobsRequest.
type AWSListJobsRequest struct {
	JobQueue     string          `json:"jobQueue,omitempty"`
	ArrayJobID   string          `json:"arrayJobId,omitempty"`
	MultiNodeJob string          `json:"multiNodeJobId,omitempty"`
	JobStatus    string          `json:"jobStatus,omitempty"`
	MaxResults   int             `json:"maxResults,omitempty"`
	NextToken    string          `json:"nextToken,omitempty"`
	Filters      []KeyValuesPair `json:"filters,omitempty"`
}

// AWSListJobsResponse is AWS Batch's ListJobsResponse.
type AWSListJobsResponse struct {
	JobSummaryList []JobSummary `json:"jobSummaryList"`
	NextToken      string       `json:"nextToken,omitempty"`
}

// AWSDescribeJobsRequest is AWS Batch's DescribeJobsRequest.
type AWSDescribeJobsRequest struct {
	Jobs []string `json:"jobs"`
}

// AWSDescribeJobsResponse is AWS Batch's DescribeJobsResponse.
type AWSDescribeJobsResponse struct {
	Jobs []JobDetail `json:"jobs"`
}

// AWSRegisterJobDefinitionRequest is AWS Batch's RegisterJobDefinitionRequest.
type AWSRegisterJobDefinitionRequest struct {
	JobDefinition
	PlatformCapabilities []string `json:"platformCapabilities,omitempty"`
	PropagateTags        bool     `json:"propagateTags,omitempty"`
}

// AWSRegisterJobDefinitionResponse is AWS Batch's RegisterJobDefinitionResponse.
type AWSRegisterJobDefinitionResponse struct {
	Name     string `json:"jobDefinitionName"`
	ARN      string `json:"jobDefinitionArn"`
	Revision int    `json:"revision"`
}

// JobDefinitionDetail is a job definition as AWS describes it.
type JobDefinitionDetail struct {
	*JobDefinition
	ARN string `json:"jobDefinitionArn"`
}

// AWSDescribeJobDefinitionsRequest is AWS Batch's DescribeJobDefinitionsRequest.
type AWSDescribeJobDefinitionsRequest struct {
	JobDefinitions []string `json:"jobDefinitions,omitempty"`
	Name           string   `json:"jobDefinitionName,omitempty"`
	Status         string   `json:"status,omitempty"`
	MaxResults     int      `json:"maxResults,omitempty"`
	NextToken      string   `json:"nextToken,omitempty"`
}

// AWSDescribeJobDefinitionsResponse is AWS Batch's DescribeJobDefinitionsResponse.
type AWSDescribeJobDefinitionsResponse struct {
	JobDefinitions []JobDefinitionDetail `json:"jobDefinitions"`
	// NextToken asks for the next page (absent on the last).
	NextToken string `json:"nextToken,omitempty"`
}

// AWSDeregisterJobDefinitionRequest is AWS Batch's DeregisterJobDefinitionRequest.
type AWSDeregisterJobDefinitionRequest struct {
	JobDefinition string `json:"jobDefinition"`
}

// AWSCreateComputeEnvironmentRequest is AWS Batch's CreateComputeEnvironmentRequest.
type AWSCreateComputeEnvironmentRequest struct {
	ComputeEnvironment
	ComputeResources any    `json:"computeResources,omitempty"`
	ServiceRole      string `json:"serviceRole,omitempty"`
}

// AWSComputeEnvironmentResponse is AWS Batch's ComputeEnvironmentResponse.
type AWSComputeEnvironmentResponse struct {
	Name string `json:"computeEnvironmentName"`
	ARN  string `json:"computeEnvironmentArn"`
}

// AWSUpdateComputeEnvironmentRequest is AWS Batch's UpdateComputeEnvironmentRequest.
type AWSUpdateComputeEnvironmentRequest struct {
	ComputeEnvironment string            `json:"computeEnvironment"`
	State              string            `json:"state,omitempty"`
	Nodes              []string          `json:"nodes,omitempty"`
	NodeLabels         map[string]string `json:"nodeLabels,omitempty"`
	ComputeResources   any               `json:"computeResources,omitempty"`
	ServiceRole        string            `json:"serviceRole,omitempty"`
}

// ComputeEnvironmentDetail is AWS Batch's ComputeEnvironmentDetail.
type ComputeEnvironmentDetail struct {
	*ComputeEnvironment
	ARN string `json:"computeEnvironmentArn"`
}

// AWSDescribeComputeEnvironmentsRequest is AWS Batch's DescribeComputeEnvironmentsRequest.
type AWSDescribeComputeEnvironmentsRequest struct {
	ComputeEnvironments []string `json:"computeEnvironments,omitempty"`
	MaxResults          int      `json:"maxResults,omitempty"`
	NextToken           string   `json:"nextToken,omitempty"`
}

// AWSDescribeComputeEnvironmentsResponse is AWS Batch's DescribeComputeEnvironmentsResponse.
type AWSDescribeComputeEnvironmentsResponse struct {
	ComputeEnvironments []ComputeEnvironmentDetail `json:"computeEnvironments"`
}

// AWSJobQueueResponse is AWS Batch's JobQueueResponse.
type AWSJobQueueResponse struct {
	Name string `json:"jobQueueName"`
	ARN  string `json:"jobQueueArn"`
}

// AWSUpdateJobQueueRequest is AWS Batch's UpdateJobQueueRequest.
type AWSUpdateJobQueueRequest struct {
	JobQueue                 string                    `json:"jobQueue"`
	State                    string                    `json:"state,omitempty"`
	Priority                 *int                      `json:"priority,omitempty"`
	ComputeEnvironmentOrder  []ComputeEnvironmentOrder `json:"computeEnvironmentOrder,omitempty"`
	JobStateTimeLimitActions []JobStateTimeLimitAction `json:"jobStateTimeLimitActions,omitempty"`
	// Memory enforcement (RAMSpace), each changed only if given.
	ConstrainRAMSpace *bool    `json:"constrainRAMSpace,omitempty"`
	AllowedRAMSpace   *float64 `json:"allowedRAMSpace,omitempty"`
	// PreemptMode (OFF, CANCEL, REQUEUE), changed only if given.
	PreemptMode string `json:"preemptMode,omitempty"`
	// GraceTimeSeconds (GraceTime), changed only if given.
	GraceTimeSeconds *int `json:"graceTimeSeconds,omitempty"`
	// SchedulingPolicyArn replaces a fair-share queue's policy (a FIFO
	// queue cannot be given one, nor a fair-share queue lose its own).
	SchedulingPolicyArn string `json:"schedulingPolicyArn,omitempty"`
}

// JobQueueDetail is AWS Batch's JobQueueDetail.
type JobQueueDetail struct {
	*JobQueue
	ARN string `json:"jobQueueArn"`
}

// AWSDescribeJobQueuesRequest is AWS Batch's DescribeJobQueuesRequest.
type AWSDescribeJobQueuesRequest struct {
	JobQueues  []string `json:"jobQueues,omitempty"`
	MaxResults int      `json:"maxResults,omitempty"`
	NextToken  string   `json:"nextToken,omitempty"`
}

// AWSDescribeJobQueuesResponse is AWS Batch's DescribeJobQueuesResponse.
type AWSDescribeJobQueuesResponse struct {
	JobQueues []JobQueueDetail `json:"jobQueues"`
}

// Summary is the job as list-jobs shows it.
func (v JobDetail) Summary() JobSummary {
	s := JobSummary{JobArn: v.JobArn, JobID: v.JobID, JobName: v.JobName, CreatedAt: v.CreatedAt,
		Status: v.Status, StatusReason: v.StatusReason, StartedAt: v.StartedAt, StoppedAt: v.StoppedAt,
		ArrayProperties: v.ArrayProperties, JobDefinition: v.JobDefinition}
	if v.Container != nil && (v.Container.ExitCode != nil || v.Container.Reason != "") {
		s.Container = &ContainerSummary{ExitCode: v.Container.ExitCode, Reason: v.Container.Reason}
	}
	return s
}

// AWSDeleteJobQueueRequest is AWS Batch's DeleteJobQueueRequest.
type AWSDeleteJobQueueRequest struct {
	JobQueue string `json:"jobQueue"`
}

// AWSDeleteComputeEnvironmentRequest is AWS Batch's DeleteComputeEnvironmentRequest.
type AWSDeleteComputeEnvironmentRequest struct {
	ComputeEnvironment string `json:"computeEnvironment"`
}
