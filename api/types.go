package api

// Job is one batch job as the controller stores and reports it.
// Times are Unix epoch milliseconds, as in AWS Batch.
type Job struct {
	ID           uint64            `json:"jobId"`
	Name         string            `json:"jobName"`
	User         string            `json:"user"`
	UID          uint32            `json:"uid"`
	GID          uint32            `json:"gid"`
	Groups       []uint32          `json:"groups,omitempty"`
	Queue        string            `json:"jobQueue"`
	State        JobState          `json:"status"`
	StatusReason string            `json:"statusReason,omitempty"`
	Command      []string          `json:"command"`
	Env          map[string]string `json:"environment,omitempty"`
	Dir          string            `json:"workingDir,omitempty"`
	Stdout       string            `json:"stdout,omitempty"` // host path; empty: the node's log dir
	Stderr       string            `json:"stderr,omitempty"`
	Resources    Resources         `json:"resources"`
	Priority     int64             `json:"priority"`
	DependsOn    []uint64          `json:"dependsOn,omitempty"`
	Node         string            `json:"node,omitempty"`
	Attempt      int               `json:"attempt,omitempty"`
	ExitCode     *int              `json:"exitCode,omitempty"`
	Signal       int               `json:"signal,omitempty"`
	// StopRequested is the controller's wish that a placed job stop; the
	// job stays STARTING/RUNNING until its node reports the exit.
	StopRequested bool   `json:"stopRequested,omitempty"`
	StopReason    string `json:"stopReason,omitempty"`
	CreatedAt     int64  `json:"createdAt"`
	StartedAt     int64  `json:"startedAt,omitempty"`
	StoppedAt     int64  `json:"stoppedAt,omitempty"`
}

// Resources is what a job asks of one node (or what a node has).
type Resources struct {
	CPUs     int   `json:"cpus"`
	MemoryMB int64 `json:"memoryMiB"`
	GPUs     int   `json:"gpus,omitempty"`
}

// Fits reports whether r fits inside free.
func (r Resources) Fits(free Resources) bool {
	return r.CPUs <= free.CPUs && r.MemoryMB <= free.MemoryMB && r.GPUs <= free.GPUs
}

// Add returns r+o.
func (r Resources) Add(o Resources) Resources {
	return Resources{CPUs: r.CPUs + o.CPUs, MemoryMB: r.MemoryMB + o.MemoryMB, GPUs: r.GPUs + o.GPUs}
}

// Sub returns r-o.
func (r Resources) Sub(o Resources) Resources {
	return Resources{CPUs: r.CPUs - o.CPUs, MemoryMB: r.MemoryMB - o.MemoryMB, GPUs: r.GPUs - o.GPUs}
}

// NodeState is an admin's or the controller's view of a node.
type NodeState string

// Node states.
const (
	NodeUp   NodeState = "UP"
	NodeDown NodeState = "DOWN"
)

// Node is a machine that runs jobs.
type Node struct {
	Name          string    `json:"name"`
	State         NodeState `json:"state"`
	Capacity      Resources `json:"capacity"`
	Allocated     Resources `json:"allocated"`
	Queues        []string  `json:"queues,omitempty"`
	RegisteredAt  int64     `json:"registeredAt"`
	LastHeartbeat int64     `json:"lastHeartbeat"`
	// Boot identifies one run of the node daemon; a new boot means the
	// jobs the old one ran are gone.
	Boot string `json:"boot"`
	// LogAddr is where the node daemon serves job logs ("unix:/path" or "host:port").
	LogAddr string `json:"logAddr,omitempty"`
}

// Free is what remains to allocate on n.
func (n Node) Free() Resources { return n.Capacity.Sub(n.Allocated) }

// Serves reports whether n runs jobs of queue q; a node that names no queues
// serves the default queue.
func (n Node) Serves(q string) bool {
	if len(n.Queues) == 0 {
		return q == DefaultQueue
	}
	for _, s := range n.Queues {
		if s == q {
			return true
		}
	}
	return false
}

// DefaultQueue is the queue a job goes to when none is named.
const DefaultQueue = "default"
