package api

import (
	"strconv"
)

// DefaultSocket is where a controller listens unless told otherwise.
const DefaultSocket = "/run/shoal/shoal.sock"

// Native API paths.
const (
	PathSubmit       = "/shoal/v1/jobs/submit"
	PathSubmitBatch  = "/shoal/v1/jobs/submit-batch"
	PathListJobs     = "/shoal/v1/jobs/list"
	PathCancel       = "/shoal/v1/jobs/cancel"
	PathTerminate    = "/shoal/v1/jobs/terminate"
	PathStopJobs     = "/shoal/v1/jobs/stop"
	PathSignal       = "/shoal/v1/jobs/signal"
	PathLogs         = "/shoal/v1/jobs/logs"
	PathWait         = "/shoal/v1/jobs/wait"
	PathHold         = "/shoal/v1/jobs/hold"
	PathUpdateJob    = "/shoal/v1/jobs/update"
	PathTopJobs      = "/shoal/v1/jobs/top"
	PathUpdateNode   = "/shoal/v1/nodes/update"
	PathDeleteNode   = "/shoal/v1/nodes/delete"
	PathClusterInfo  = "/shoal/v1/cluster"
	PathKeys         = "/shoal/v1/keys"
	PathNodes        = "/shoal/v1/nodes/list"
	PathNodeRegister = "/shoal/v1/nodes/register"
	PathNodeWork     = "/shoal/v1/nodes/work"
	PathNodeBeat     = "/shoal/v1/nodes/heartbeat"
	PathNodeEvents   = "/shoal/v1/nodes/events"
	PathNodeLogs     = "/shoal/v1/node/logs" // served by a node daemon
)

// ClusterInfo describes the controller (for scontrol ping / show config).
type ClusterInfo struct {
	Leader    string   `json:"leader"`
	Members   []string `json:"members"`
	Index     uint64   `json:"index"`
	StartedAt int64    `json:"startedAt"`
	Version   string   `json:"version"`
	Queues    []string `json:"queues"`
	// PreemptType is the controller's preemption (Slurm's PreemptType
	// without "preempt/": partition_prio, qos or none; "" from a
	// controller that predates it), PreemptMode its cluster-wide mode
	// (CANCEL, REQUEUE or OFF).
	PreemptType string `json:"preemptType,omitempty"`
	PreemptMode string `json:"preemptMode,omitempty"`
}

// LogsRequest names a job's output stream.
type LogsRequest struct {
	ID     uint64 `json:"jobId"`
	Stream string `json:"stream"` // "stdout" or "stderr"
}

// LogsResponse carries (the tail of) a log.
type LogsResponse struct {
	Data []byte `json:"data"`
}

// FormatID prints a job id.
func FormatID(id uint64) string { return strconv.FormatUint(id, 10) }

// NodeLogsRequest asks a node daemon for one stream of a job it ran.
type NodeLogsRequest struct {
	Job    Job    `json:"job"`
	Stream string `json:"stream"`
}
