package api

// The AWS Batch objects: job definitions, compute environments (shoal's
// partitions of nodes) and job queues. Field names and JSON casing are AWS
// Batch's, so the AWS-compatible API passes them through.

import "fmt"

// Object states and statuses.
const (
	Enabled  = "ENABLED"
	Disabled = "DISABLED"
	Active   = "ACTIVE"
	Inactive = "INACTIVE"
	Valid    = "VALID"
)

// KeyValue is an AWS name/value pair (environment variables).
type KeyValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ResourceRequirement is an AWS resource ask: type VCPU, MEMORY (MiB) or GPU.
type ResourceRequirement struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Volume is a host path a job definition can mount.
type Volume struct {
	Name string      `json:"name"`
	Host *VolumeHost `json:"host,omitempty"`
}

// VolumeHost names the host side of a volume.
type VolumeHost struct {
	SourcePath string `json:"sourcePath,omitempty"`
}

// MountPoint mounts a Volume in the container.
type MountPoint struct {
	SourceVolume  string `json:"sourceVolume"`
	ContainerPath string `json:"containerPath"`
	ReadOnly      bool   `json:"readOnly,omitempty"`
}

// ContainerProperties is what a job definition runs.
type ContainerProperties struct {
	Image                  string                `json:"image,omitempty"`
	Command                []string              `json:"command,omitempty"`
	Vcpus                  int                   `json:"vcpus,omitempty"`
	Memory                 int64                 `json:"memory,omitempty"`
	Environment            []KeyValue            `json:"environment,omitempty"`
	ResourceRequirements   []ResourceRequirement `json:"resourceRequirements,omitempty"`
	User                   string                `json:"user,omitempty"`
	Volumes                []Volume              `json:"volumes,omitempty"`
	MountPoints            []MountPoint          `json:"mountPoints,omitempty"`
	ReadonlyRootFilesystem bool                  `json:"readonlyRootFilesystem,omitempty"`
}

// RetryStrategy retries a failed job up to Attempts attempts in all (1-10),
// when EvaluateOnExit (first match wins; none matching: retry) allows.
type RetryStrategy struct {
	Attempts       int         `json:"attempts,omitempty"`
	EvaluateOnExit []RetryRule `json:"evaluateOnExit,omitempty"`
}

// JobTimeout stops an attempt that runs longer than AttemptDurationSeconds.
type JobTimeout struct {
	AttemptDurationSeconds int64 `json:"attemptDurationSeconds,omitempty"`
}

// JobDefinition is one revision of a named job template.
type JobDefinition struct {
	Name     string `json:"jobDefinitionName"`
	Revision int    `json:"revision"`
	Status   string `json:"status"` // ACTIVE or INACTIVE
	// Type is "container" (runs an image) or "script" (runs on the node's
	// host filesystem, as a Slurm job does).
	Type                string               `json:"type"`
	Parameters          map[string]string    `json:"parameters,omitempty"`
	ContainerProperties *ContainerProperties `json:"containerProperties,omitempty"`
	RetryStrategy       *RetryStrategy       `json:"retryStrategy,omitempty"`
	Timeout             *JobTimeout          `json:"timeout,omitempty"`
	Tags                map[string]string    `json:"tags,omitempty"`
	Owner               string               `json:"owner,omitempty"`
	CreatedAt           int64                `json:"createdAt,omitempty"`
	// ConsumableResourceProperties are what each job of the definition
	// holds while it runs (api/licenses.go).
	ConsumableResourceProperties *ConsumableResourceProperties `json:"consumableResourceProperties,omitempty"`
	// SchedulingPriority (0-9999) orders its jobs within their share of a
	// fair-share queue (a submit's schedulingPriorityOverride wins).
	SchedulingPriority *int64 `json:"schedulingPriority,omitempty"`
}

// ComputeEnvironment is a set of nodes that job queues send jobs to: the
// nodes named in Nodes, those carrying every label of NodeLabels, or, with
// neither, every node.
type ComputeEnvironment struct {
	Name       string            `json:"computeEnvironmentName"`
	Type       string            `json:"type"`  // MANAGED or UNMANAGED
	State      string            `json:"state"` // ENABLED or DISABLED
	Status     string            `json:"status"`
	Nodes      []string          `json:"nodes,omitempty"`
	NodeLabels map[string]string `json:"nodeLabels,omitempty"`
	MaxVcpus   int               `json:"maxvCpus,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	CreatedAt  int64             `json:"createdAt,omitempty"`
}

// Includes reports whether node n belongs to ce.
func (ce *ComputeEnvironment) Includes(n *Node) bool {
	if len(ce.Nodes) > 0 {
		for _, name := range ce.Nodes {
			if name == n.Name {
				return true
			}
		}
		return false
	}
	for k, v := range ce.NodeLabels {
		if n.Labels[k] != v {
			return false
		}
	}
	return true
}

// ComputeEnvironmentOrder places a compute environment in a queue's order.
type ComputeEnvironmentOrder struct {
	Order              int    `json:"order"`
	ComputeEnvironment string `json:"computeEnvironment"`
}

// JobStateTimeLimitAction ends jobs stuck in State (RUNNABLE) with a
// statusReason starting with Reason for MaxTimeSeconds: Action CANCEL.
type JobStateTimeLimitAction struct {
	Reason         string `json:"reason"`
	State          string `json:"state"`
	MaxTimeSeconds int64  `json:"maxTimeSeconds"`
	Action         string `json:"action"`
}

// JobQueue sends its jobs, highest Priority first across queues, to the
// first of its compute environments (in Order) that can run them.
type JobQueue struct {
	Name                     string                    `json:"jobQueueName"`
	Priority                 int                       `json:"priority"`
	State                    string                    `json:"state"` // ENABLED or DISABLED
	Status                   string                    `json:"status"`
	ComputeEnvironmentOrder  []ComputeEnvironmentOrder `json:"computeEnvironmentOrder"`
	JobStateTimeLimitActions []JobStateTimeLimitAction `json:"jobStateTimeLimitActions,omitempty"`
	Tags                     map[string]string         `json:"tags,omitempty"`
	CreatedAt                int64                     `json:"createdAt,omitempty"`
	// RAMSpace is how the memory of the queue's jobs is enforced.
	RAMSpace
	// PreemptMode is what becomes of the queue's running jobs when a job
	// of a higher-priority queue (Slurm's PriorityTier, which is the
	// queue's Priority) cannot start for want of their room: OFF (or "")
	// never preempted, CANCEL ended PREEMPTED, REQUEUE run again later
	// (Slurm's partition PreemptMode under preempt/partition_prio).
	PreemptMode string `json:"preemptMode,omitempty"`
	// GraceTimeSeconds is how long a preempted job of the queue has
	// between SIGTERM and SIGKILL (Slurm's partition GraceTime); 0: the
	// node's -grace.
	GraceTimeSeconds int `json:"graceTimeSeconds,omitempty"`
	// SchedulingPolicyArn makes the queue a fair-share queue
	// (api/schedpolicy.go); empty: a FIFO queue.
	SchedulingPolicyArn string `json:"schedulingPolicyArn,omitempty"`
}

// Preempt modes of a queue.
const (
	PreemptOff     = "OFF"
	PreemptCancel  = "CANCEL"
	PreemptRequeue = "REQUEUE"
)

// Preemptable reports whether q's running jobs may be preempted.
func (q *JobQueue) Preemptable() bool {
	return q.PreemptMode == PreemptCancel || q.PreemptMode == PreemptRequeue
}

// RAMSpace is how a queue's jobs' memory is enforced on their nodes, as
// Slurm's cgroup.conf ConstrainRAMSpace and AllowedRAMSpace (per partition
// here, and set by operators with the queue). The scheduler always counts
// the memory a job asked for; these change only the cgroup limit the node
// sets.
type RAMSpace struct {
	// ConstrainRAMSpace: whether the job's memory is limited at all (nil:
	// yes). false leaves a job's memory unlimited (the node's, shared).
	ConstrainRAMSpace *bool `json:"constrainRAMSpace,omitempty"`
	// AllowedRAMSpace is the limit as a percentage of the memory the job
	// asked for, above 0 and at most MaxAllowedRAMSpace (0: 100, the
	// request itself). E.g. 150 lets a job that asked 100 MB use 150 MB
	// before the OOM killer acts.
	AllowedRAMSpace float64 `json:"allowedRAMSpace,omitempty"`
}

// MaxAllowedRAMSpace bounds RAMSpace.AllowedRAMSpace (percent).
const MaxAllowedRAMSpace = 10000

// LimitBytes is the memory limit of a job that asked for requestBytes (0:
// none) under r; 0 means no limit.
func (r RAMSpace) LimitBytes(requestBytes int64) int64 {
	if requestBytes <= 0 || (r.ConstrainRAMSpace != nil && !*r.ConstrainRAMSpace) {
		return 0
	}
	if r.AllowedRAMSpace <= 0 || r.AllowedRAMSpace == 100 {
		return requestBytes
	}
	return max(int64(float64(requestBytes)*r.AllowedRAMSpace/100), 1<<20)
}

// Check reports a RAMSpace that cannot be applied, naming what would be right.
func (r RAMSpace) Check() error {
	if r.AllowedRAMSpace < 0 || r.AllowedRAMSpace > MaxAllowedRAMSpace || r.AllowedRAMSpace != r.AllowedRAMSpace {
		return fmt.Errorf("allowedRAMSpace %v: give a percentage of the job's memory request above 0 and at most %d (100: the request itself)",
			r.AllowedRAMSpace, MaxAllowedRAMSpace)
	}
	return nil
}

// DefaultQueueObject is the queue every cluster has: it sends jobs to the
// default compute environment, which holds every node.
func DefaultQueueObject() (*JobQueue, *ComputeEnvironment) {
	ce := &ComputeEnvironment{Name: DefaultQueue, Type: "UNMANAGED", State: Enabled, Status: Valid}
	q := &JobQueue{Name: DefaultQueue, State: Enabled, Status: Valid,
		ComputeEnvironmentOrder: []ComputeEnvironmentOrder{{Order: 1, ComputeEnvironment: DefaultQueue}}}
	return q, ce
}

// AccessKey lets its user sign AWS API requests (SigV4).
type AccessKey struct {
	ID        string `json:"accessKeyId"`
	Secret    string `json:"secretAccessKey,omitempty"`
	User      string `json:"user"`
	UID       uint32 `json:"uid"`
	GID       uint32 `json:"gid"`
	CreatedAt int64  `json:"createdAt"`
}

// QueueEnvironments returns the ENABLED compute environments of q in its
// order, looked up with ce (which returns nil for an unknown name).
func QueueEnvironments(q *JobQueue, ce func(name string) *ComputeEnvironment) []*ComputeEnvironment {
	order := append([]ComputeEnvironmentOrder(nil), q.ComputeEnvironmentOrder...)
	sortByOrder(order)
	var out []*ComputeEnvironment
	for _, o := range order {
		if c := ce(o.ComputeEnvironment); c != nil && c.State == Enabled {
			out = append(out, c)
		}
	}
	return out
}

func sortByOrder(o []ComputeEnvironmentOrder) {
	for i := 1; i < len(o); i++ { // insertion sort: a queue has a handful
		for k := i; k > 0 && o[k].Order < o[k-1].Order; k-- {
			o[k], o[k-1] = o[k-1], o[k]
		}
	}
}
