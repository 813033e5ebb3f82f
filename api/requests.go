package api

// PathHealth is the one route that answers callers who do not say who they
// are (GET or POST): load balancers and monitors probe it.
const PathHealth = "/shoal/v1/health"

// HealthResponse says that the controller serves, its version, and which
// raft member leads.
type HealthResponse struct {
	Status  string `json:"status"` // "ok"
	Version string `json:"version"`
	Leader  string `json:"leader"`
	// IsLeader: this controller leads (writes go to the leader).
	IsLeader bool `json:"isLeader"`
}

// SubmitJobRequest asks for one job. The owner is never part of it: the
// controller takes it from the connection (peer uid, signed request).
type SubmitJobRequest struct {
	JobSpec
	// ArrayIndexes makes the request an array of one task per index.
	ArrayIndexes    []int `json:"arrayIndexes,omitempty"`
	ArrayMaxRunning int   `json:"arrayMaxRunning,omitempty"`
	// TestOnly validates the request and stores nothing (sbatch --test-only).
	TestOnly bool `json:"testOnly,omitempty"`
}

// SubmitJobResponse names the new job (an array's first task).
type SubmitJobResponse struct {
	ID   uint64 `json:"jobId"`
	Name string `json:"jobName"`
}

// ListJobsRequest filters the job list; empty fields match everything.
type ListJobsRequest struct {
	States []JobState `json:"states,omitempty"`
	User   string     `json:"user,omitempty"`
	Queue  string     `json:"queue,omitempty"`
	IDs    []uint64   `json:"ids,omitempty"`
	// ArrayJobID lists the tasks of one array.
	ArrayJobID uint64 `json:"arrayJobId,omitempty"`
	// Full includes each job's environment, most of a job's size (a
	// submitter's exported environment); lists leave it out otherwise.
	Full bool `json:"full,omitempty"`
	// History adds the finished jobs that have left the live state (after
	// the controller's retention window, Slurm's MinJobAge) from its
	// archive: sacct asks for it, squeue does not. Lookups by id (IDs,
	// ArrayJobID) find archived jobs always.
	History bool `json:"history,omitempty"`
	// Accounts keeps the jobs of these accounts (a job's account, else its
	// user's name, as sacct shows it).
	Accounts []string `json:"accounts,omitempty"`
	// EndedAfter leaves out jobs that ended before it (epoch ms; jobs that
	// have not ended stay). SubmittedBefore leaves out jobs submitted
	// after it (epoch ms). sacct's -S/-E window is the two together.
	EndedAfter      int64 `json:"endedAfter,omitempty"`
	SubmittedBefore int64 `json:"submittedBefore,omitempty"`
	// Fields, if set, keeps only these of each job's JSON fields in the
	// answer ("jobId" always; names as Job's JSON has them, "command",
	// "jobName", ...): squeue asks for what its format prints, so the
	// controller encodes and sends a fraction of each job. An unknown
	// name is refused.
	Fields []string `json:"fields,omitempty"`
	// AfterID and Limit page a list in id order (not one by IDs or
	// ArrayJobID): the jobs with ids after AfterID, at most Limit of them
	// (0: all). A page with fewer than Limit jobs is the last: sacct
	// walks a long history a page at a time, asking for the jobs after
	// the last one it has.
	AfterID uint64 `json:"afterId,omitempty"`
	Limit   int    `json:"limit,omitempty"`
	// Form is the answer's form: "" for JSON (a ListJobsResponse), or
	// ListFormRows for the row form (DecodeJobRows, joblist_rows.go) that
	// squeue and sacct read, the same jobs in a fraction of the bytes.
	Form string `json:"form,omitempty"`
	// GroupTasks lets a list in the row form send one job for a run of
	// pending tasks of one array, as collapsed squeue shows them: tasks
	// of consecutive ids that have never started and whose fields are the
	// same but for their ids, indexes, priorities and estimated starts.
	// The job sent is the first task of the run, its Array.Tasks naming
	// them all. Not with paging (AfterID, Limit), nor in JSON.
	GroupTasks bool `json:"groupTasks,omitempty"`
}

// ListJobsResponse holds jobs in id order. Count comes first on the wire
// so that a client can size the list before decoding it.
type ListJobsResponse struct {
	Count int   `json:"count"`
	Jobs  []Job `json:"jobs"`
}

// UnmarshalJSON decodes a list as encoding/json would, without its
// reflection (DecodeJobList): the slice is sized from Count up front, and
// each job's fields are set by key.
func (r *ListJobsResponse) UnmarshalJSON(data []byte) error {
	out, err := DecodeJobList(data)
	if err != nil {
		return err
	}
	*r = out
	return nil
}

// StopJobRequest cancels or terminates a job with a reason.
type StopJobRequest struct {
	ID     uint64 `json:"jobId"`
	Reason string `json:"reason"`
	// Requeue (terminate only): run the job again once it has stopped.
	Requeue bool `json:"requeue,omitempty"`
	// Hold (with Requeue): the job is held once queued again.
	Hold bool `json:"hold,omitempty"`
}

// SignalJobRequest sends a signal (1..64) to the processes of a STARTING or
// RUNNING job that Scope names (default: all but the batch script).
type SignalJobRequest struct {
	ID     uint64      `json:"jobId"`
	Signal int         `json:"signal"`
	Scope  SignalScope `json:"scope,omitempty"`
}

// HoldJobsRequest holds (Hold true) or releases jobs that have not started.
type HoldJobsRequest struct {
	IDs  []uint64 `json:"jobIds"`
	Hold bool     `json:"hold"`
}

// TopJobsRequest puts the waiting jobs IDs, in that order, ahead of their
// owner's other waiting jobs of the same queue (scontrol top).
type TopJobsRequest struct {
	IDs []uint64 `json:"jobIds"`
}

// UpdateJobRequest changes a job; nil fields stay as they are. Queue and
// begin time change only before the job starts; priority, nice and the
// time limit until it ends.
type UpdateJobRequest struct {
	ID    uint64  `json:"jobId"`
	Name  *string `json:"jobName,omitempty"`
	Queue *string `json:"jobQueue,omitempty"`
	// Queues moves a waiting job to several queues it may start in
	// (Slurm's scontrol update Partition=a,b), as JobSpec.Queues; Queue,
	// if given too, must be their first.
	Queues    []string `json:"jobQueues,omitempty"`
	Priority  *int64   `json:"priority,omitempty"`
	TimeLimit *int64   `json:"timeLimitSeconds,omitempty"`
	// Nice replaces the job's nice, moving its priority by the difference
	// (scontrol update Nice=); negative values: root only.
	Nice *int64 `json:"nice,omitempty"`
	// BeginAt moves when a pending job may start (epoch ms, stamped by
	// the client; 0 or a past time: now), as scontrol update StartTime=.
	BeginAt *int64 `json:"beginAt,omitempty"`
}

// UpdateNodeRequest drains, downs or resumes a node (root only).
type UpdateNodeRequest struct {
	Name   string    `json:"name"`
	State  NodeState `json:"state"`
	Reason string    `json:"reason,omitempty"`
}

// RegisterNodeRequest is sent by a node daemon when it starts.
type RegisterNodeRequest struct {
	Name     string            `json:"name"`
	Capacity Resources         `json:"capacity"`
	Boot     string            `json:"boot"`
	LogAddr  string            `json:"logAddr,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	// LogCertHash and LogToken say how the controller reaches the log
	// server this boot: the pin of its TLS key and the token it takes.
	LogCertHash string `json:"logCertHash,omitempty"`
	LogToken    string `json:"logToken,omitempty"`
	// Load is the node's 1-minute load average, as a heartbeat's.
	Load *float64 `json:"load,omitempty"`
}

// RegisterNodeResponse tells a node daemon how often to send heartbeats
// (well inside the controller's deadline for them, its -node-ttl).
type RegisterNodeResponse struct {
	HeartbeatMillis int64 `json:"heartbeatMillis"`
	// Credential is the node's new secret, given once: on the
	// registration that made it (a name registered with the join token
	// for the first time, or one the state knew without a credential).
	// The daemon keeps it and from then on presents
	// FormatNodeCredential(name, Credential) instead of the join token.
	Credential string `json:"credential,omitempty"`
}

// NodeHeartbeatRequest says a node daemon is alive and which jobs it runs.
// Heartbeats stay in the leader's memory: only a change of the node's
// status (it stopped answering, it answers again) reaches the raft log.
type NodeHeartbeatRequest struct {
	Name string `json:"name"`
	Boot string `json:"boot"`
	// Running is every job (and attempt) the daemon has started or is
	// starting and has not yet seen end.
	Running []RunningJob `json:"running"`
	// Load is the node's 1-minute load average (/proc/loadavg), when it
	// could read it.
	Load *float64 `json:"load,omitempty"`
}

// RunningJob names one attempt of a job on a node.
type RunningJob struct {
	ID      uint64 `json:"jobId"`
	Attempt int    `json:"attempt"`
}

// NodeHeartbeatResponse answers a heartbeat. A node that was declared not
// responding stays so while it runs jobs the controller no longer assigns
// to it (Stray): it must stop them, and is UP again once they are gone.
type NodeHeartbeatResponse struct {
	HeartbeatMillis int64        `json:"heartbeatMillis"`
	NotResponding   bool         `json:"notResponding,omitempty"`
	Stray           []RunningJob `json:"stray,omitempty"`
}

// NodeWorkRequest is a node's blocking query for its assignments: it
// returns once they differ from the answer whose Digest the node sends
// (or, without one, once the state index passes AfterIndex), or the wait
// ends.
type NodeWorkRequest struct {
	Name       string `json:"name"`
	Boot       string `json:"boot"`
	AfterIndex uint64 `json:"afterIndex"`
	// AfterDigest is the Digest of the node's last answer.
	AfterDigest string `json:"afterDigest,omitempty"`
	WaitMillis  int64  `json:"waitMillis"`
}

// NodeWorkResponse lists the jobs placed on the node that are not finished
// (STARTING: start it; RUNNING with StopRequested: stop it). It is the
// whole truth: a job the node runs that is not listed (at this index or
// later) was given up by the controller, and the node must stop it.
type NodeWorkResponse struct {
	Index uint64 `json:"index"`
	Jobs  []Job  `json:"jobs"`
	// Digest identifies the list's content, for the next AfterDigest.
	Digest string `json:"digest,omitempty"`
}

// JobEvent is a node's report about one job it runs.
type JobEvent struct {
	ID        uint64   `json:"jobId"`
	Node      string   `json:"node"`
	State     JobState `json:"status"` // RUNNING, SUCCEEDED or FAILED
	ExitCode  *int     `json:"exitCode,omitempty"`
	Signal    int      `json:"signal,omitempty"`
	OOMKilled bool     `json:"oomKilled,omitempty"`
	TimedOut  bool     `json:"timedOut,omitempty"`
	Cause     Cause    `json:"cause,omitempty"` // set by the node for failures it names (start_failed)
	// Attempt is the job's attempt the report is about; the controller
	// ignores reports of an attempt that is no longer the job's (0: the
	// current one, from a node that does not say).
	Attempt int    `json:"attempt,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Usage is what the attempt used, on an end report (SUCCEEDED or
	// FAILED) of a job that ran.
	Usage *JobUsage `json:"usage,omitempty"`
}

// JobEventsRequest carries a batch of job reports from one node.
type JobEventsRequest struct {
	Events []JobEvent `json:"events"`
}

// NodesResponse lists nodes by name.
type NodesResponse struct {
	Nodes []Node `json:"nodes"`
}

// WaitJobRequest blocks until a job is in one of States (default: any
// terminal state) or WaitMillis pass; the answer is the job as it is then.
type WaitJobRequest struct {
	ID         uint64     `json:"jobId"`
	States     []JobState `json:"states,omitempty"`
	WaitMillis int64      `json:"waitMillis"`
}

// SubmitBatchRequest submits several jobs that are stored together or not
// at all, in one raft entry.
type SubmitBatchRequest struct {
	Jobs []SubmitJobRequest `json:"jobs"`
}

// SubmitBatchResponse lists the new ids in request order.
type SubmitBatchResponse struct {
	IDs []uint64 `json:"jobIds"`
}

// KeysRequest creates (Create with User), lists, or deletes (Delete) access
// keys for the AWS-compatible API. Root only. A key for a user of uid 0
// runs jobs as root: it is made only with AllowRoot.
type KeysRequest struct {
	Create    bool   `json:"create,omitempty"`
	User      string `json:"user,omitempty"`
	AllowRoot bool   `json:"allowRoot,omitempty"`
	Delete    string `json:"delete,omitempty"`
}

// KeysResponse holds the keys; a created key carries its secret, once.
type KeysResponse struct {
	Keys []AccessKey `json:"keys"`
}

// StopJobsRequest ends many jobs at once, as scancel does: each that has
// not started is cancelled, each started one terminated. They are stopped
// in one commit; a job the caller may not stop, or that has ended, does
// not keep the others from stopping.
type StopJobsRequest struct {
	IDs []uint64 `json:"jobIds"`
	// ArrayJobIDs stops every task of these arrays (by the array's id,
	// its first task's) that has not ended and is not ending, as the
	// controller has them: scancel of a whole array names it, not its
	// 10,000 tasks. A task that has ended is not asked, and no failure;
	// a task named in IDs too is asked with its array.
	ArrayJobIDs []uint64 `json:"arrayJobIds,omitempty"`
	Reason      string   `json:"reason,omitempty"`
	// Requeue queues the jobs to run again instead, as StopJobRequest's
	// Requeue does each (scontrol requeue): a finished one at once, a
	// running one once it has stopped. A job that has not started is
	// refused (it is queued already), as Slurm's requeue refuses it; of
	// an array asked whole, the tasks that have started or ended are
	// asked, the waiting ones not, and no failure. Hold holds each job
	// requeued too (scontrol requeuehold); only with Requeue.
	Requeue bool `json:"requeue,omitempty"`
	Hold    bool `json:"hold,omitempty"`
}

// The Field of a requeue's refusal that says why in Slurm's terms: the
// job has not started, it is queued already (Slurm's "Job is pending
// execution"), or it was submitted with --no-requeue ("Requested
// operation is presently disabled").
const (
	RequeueFieldWaiting   = "status"
	RequeueFieldNoRequeue = "noRequeue"
)

// StopJobsResponse lists the jobs that were not stopped, and why. The
// tasks of an array asked by ArrayJobIDs that were not stopped are one
// failure, by the array's id, with the first one's error (the tasks of an
// array have one owner).
type StopJobsResponse struct {
	Failed []JobFailure `json:"failed,omitempty"`
}

// JobFailure is why a command on many jobs did not apply to one of them.
type JobFailure struct {
	ID    uint64 `json:"jobId"`
	Error *Error `json:"error"`
}
