package api

import "slices"

// Job is one batch job as the controller stores and reports it.
// Times are Unix epoch milliseconds, as in AWS Batch.
type Job struct {
	ID uint64 `json:"jobId"`
	// JobSpec is what was asked for at submit (some of it updatable later).
	JobSpec
	User         string     `json:"user"`
	UID          uint32     `json:"uid"`
	GID          uint32     `json:"gid"`
	Groups       []uint32   `json:"groups,omitempty"`
	State        JobState   `json:"status"`
	StatusReason string     `json:"statusReason,omitempty"`
	Array        *ArrayTask `json:"array,omitempty"`

	// WaitReason is why the job, while it waits, has not started, as the
	// scheduler last recorded it (Slurm's reason codes: Resources,
	// Priority, Dependency, BeginTime, ...); "" until a pass considered
	// it. Left as it was once the job starts: read it only while the job
	// is SUBMITTED, PENDING or RUNNABLE.
	WaitReason string `json:"waitReason,omitempty"`
	// EstimatedStartAt is when the scheduler expects the waiting job to
	// start (epoch ms), from its backfill plan; 0: unknown.
	EstimatedStartAt int64 `json:"estimatedStartAt,omitempty"`
	// HeldByAdmin: root held the job, and not its own (JobHeldAdmin).
	HeldByAdmin bool `json:"heldByAdmin,omitempty"`
	// PriorityFixed: the priority was given (at submit, or by scontrol
	// update Priority=), not derived (Slurm's direct_set_prio): a release
	// and a nice change leave it as it is.
	PriorityFixed bool `json:"priorityFixed,omitempty"`

	// SignalRequests are the signals users asked to send to the running
	// attempt (scancel --signal; at most MaxJobSignals, oldest first);
	// the node delivers each once. Not ExitSignal: what ended the job.
	SignalRequests []JobSignal `json:"signals,omitempty"`
	// Steps are the job's steps (srun inside the job; api/steps.go), in
	// id order, at most MaxJobSteps; NextStep is the id the next one
	// gets.
	Steps    []Step `json:"steps,omitempty"`
	NextStep uint32 `json:"nextStep,omitempty"`
	// ComputeEnvironment is where the job was placed.
	ComputeEnvironment string `json:"computeEnvironment,omitempty"`
	// AttemptsDropped counts the recorded attempts dropped from Attempts
	// (below) beyond MaxJobAttempts, the oldest first: AttemptsDropped +
	// len(Attempts) attempts were recorded, and the current one was
	// placed when Attempt counts more than that (AttemptHistory).
	AttemptsDropped int `json:"attemptsDropped,omitempty"`
	// Attempts records every finished attempt but the current one's, the
	// last MaxJobAttempts of them (Attempt counts them all).
	Attempts []Attempt `json:"attempts,omitempty"`
	Node     string    `json:"node,omitempty"`
	Attempt  int       `json:"attempt,omitempty"`
	ExitCode *int      `json:"exitCode,omitempty"`
	// ExitSignal is the signal that ended the last attempt (0: it
	// exited, or has not ended); JSON "signal".
	ExitSignal int `json:"signal,omitempty"`
	// Cause says why a job ended FAILED, for views that name it (Slurm's
	// CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL).
	Cause Cause `json:"cause,omitempty"`
	// StopRequested is the controller's wish that a placed job stop; the
	// job stays STARTING/RUNNING until its node reports the exit.
	StopRequested bool   `json:"stopRequested,omitempty"`
	StopReason    string `json:"stopReason,omitempty"`
	StopCause     Cause  `json:"stopCause,omitempty"`
	// StopGraceSeconds is the stop's SIGTERM -> SIGKILL delay when it is
	// not the node's (a preempting queue's GraceTime); 0: the node's.
	StopGraceSeconds int `json:"stopGraceSeconds,omitempty"`
	// RequeueRequested: when the node reports the stop, run the job again.
	RequeueRequested bool  `json:"requeueRequested,omitempty"`
	CreatedAt        int64 `json:"createdAt"`
	// RunnableAt is when the job last became RUNNABLE (epoch ms): what a
	// queue's jobStateTimeLimitActions count from.
	RunnableAt int64 `json:"runnableAt,omitempty"`
	StartedAt  int64 `json:"startedAt,omitempty"`
	StoppedAt  int64 `json:"stoppedAt,omitempty"`
	// Usage is what the job's last attempt used, as its node measured it
	// when it ended; nil until then, and for a job whose node was lost.
	Usage *JobUsage `json:"usage,omitempty"`
	// RAMSpace is how its node enforces the job's memory: its queue's,
	// filled in on the node's work list only (never stored, never taken
	// from a submit).
	RAMSpace *RAMSpace `json:"ramSpace,omitempty"`
	// Redacted: the job is another user's, so its private fields (command,
	// script, environment, working directory, output paths, parameters,
	// mounts) were left out of this answer. Only the owner and operators
	// see them.
	Redacted bool `json:"redacted,omitempty"`
}

// JobSpec is a job as asked for: what SubmitJobRequest carries and Job
// keeps. One definition serves both, so a new option is added once.
type JobSpec struct {
	Name  string `json:"jobName"`
	Queue string `json:"jobQueue,omitempty"`
	// Queues are the queues the job may run in when it names more than
	// one (Slurm's sbatch --partition=a,b), in the order given: it starts
	// in whichever of them can start it first. Queue is the first of them
	// until it starts, then the one it started in. Empty: Queue alone.
	Queues  []string `json:"jobQueues,omitempty"`
	Command []string `json:"command"`
	// Script, if set, is a batch script stored at submit (as sbatch does):
	// the node writes it to a file the user owns and runs it with Command as
	// its arguments.
	Script string            `json:"script,omitempty"`
	Env    map[string]string `json:"environment,omitempty"`
	Dir    string            `json:"workingDir,omitempty"`
	Stdout string            `json:"stdout,omitempty"` // host path; empty: the node's log dir
	Stderr string            `json:"stderr,omitempty"`
	// Stdin is a file the job reads as its standard input (sbatch
	// --input; patterns and a relative path as Stdout's), opened as the
	// job's user on the node; empty: /dev/null.
	Stdin string `json:"stdin,omitempty"`
	// AppendOutput appends to Stdout/Stderr rather than truncating them
	// (Slurm's --open-mode=append).
	AppendOutput bool      `json:"appendOutput,omitempty"`
	Resources    Resources `json:"resources"`
	// Priority orders a queue's waiting jobs, higher first (then by id).
	// A job submitted without one (0) and not through the AWS Batch API
	// gets DefaultPriority(id) less its Nice, as Slurm's priority/basic
	// gives each new job one less than the last; an explicit priority is
	// kept as given (Slurm's --priority, scontrol update Priority=).
	Priority int64 `json:"priority,omitempty"`
	// Nice is Slurm's --nice: subtracted from the default priority, and
	// moved by scontrol update Nice= (negative: root only).
	Nice      int64        `json:"nice,omitempty"`
	DependsOn []Dependency `json:"dependsOn,omitempty"`
	// DependAny: one satisfied dependency suffices (Slurm's "?"); else all must be.
	DependAny bool `json:"dependAny,omitempty"`
	// KeepOnInvalidDep: a dependency that can never be satisfied leaves
	// the job PENDING with statusReason ReasonDependencyNever until it is
	// cancelled, as Slurm 22.05 does by default (sbatch without
	// --kill-on-invalid-dep=yes); false fails it (ReasonDependencyFailed),
	// as AWS Batch does.
	KeepOnInvalidDep bool `json:"keepOnInvalidDependency,omitempty"`
	// Held jobs stay PENDING until released.
	Held bool `json:"held,omitempty"`
	// BeginAt: not placed before this time (epoch ms), Slurm's --begin.
	BeginAt int64 `json:"beginAt,omitempty"`
	// TmpMB sizes the job's private /tmp, a tmpfs charged to its memory
	// (Slurm's --tmp), MiB; 0: the node's default.
	TmpMB int64 `json:"tmpMB,omitempty"`
	// TimeLimit: the node stops an attempt that runs longer (seconds; 0 = none).
	TimeLimit int64 `json:"timeLimitSeconds,omitempty"`
	// NoRequeue refuses scontrol requeue (Slurm's --no-requeue).
	NoRequeue bool `json:"noRequeue,omitempty"`
	// LimitWarnSignal, if set, is sent LimitWarnSeconds before the time
	// limit (only when there is one), to the batch script alone if
	// LimitWarnBatch, else to every other process of the job (Slurm's
	// sbatch --signal=[B:]SIG@TIME; JSON warnSignal, warnSeconds,
	// warnBatch). Not a signal request (Job.SignalRequests) nor the
	// signal that ended the job (Job.ExitSignal).
	LimitWarnSignal  int  `json:"warnSignal,omitempty"`
	LimitWarnSeconds int  `json:"warnSeconds,omitempty"`
	LimitWarnBatch   bool `json:"warnBatch,omitempty"`
	// The AWS Batch side: the definition (NAME:REV) and parameters the job
	// came from, its image (empty: the host's filesystem), mounts, retries.
	JobDefinition  string            `json:"jobDefinition,omitempty"`
	Parameters     map[string]string `json:"parameters,omitempty"`
	Image          string            `json:"image,omitempty"`
	Mounts         []Mount           `json:"mounts,omitempty"`
	ReadonlyRootfs bool              `json:"readonlyRootFilesystem,omitempty"`
	RetryAttempts  int               `json:"retryAttempts,omitempty"` // attempts in all; 0 or 1 = no retry
	// RetryRules decide, first match wins, whether a failed attempt runs
	// again while attempts are left (AWS Batch's evaluateOnExit); with
	// none, every failure is retried.
	RetryRules []RetryRule `json:"retryRules,omitempty"`
	// DeadlineAt: a job still waiting at this time (epoch ms) ends
	// DEADLINE (Slurm's --deadline); 0 = none.
	DeadlineAt int64             `json:"deadlineAt,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	Account    string            `json:"account,omitempty"`
	QOS        string            `json:"qos,omitempty"`
	Comment    string            `json:"comment,omitempty"`
	SubmitHost string            `json:"submitHost,omitempty"`
	// Licenses are the named consumable resources the job holds while it
	// runs (Slurm's -L NAME:COUNT, AWS Batch's
	// consumableResourceProperties): it starts only when each has its
	// quantity free.
	Licenses []LicenseUse `json:"licenses,omitempty"`
	// ShareIdentifier is the job's share of its fair-share queue (AWS
	// Batch's), SchedulingPriority its priority within that share
	// (higher first); both unset outside fair-share queues.
	ShareIdentifier    string `json:"shareIdentifier,omitempty"`
	SchedulingPriority int64  `json:"schedulingPriority,omitempty"`
}

// SignalScope says which processes of a running job a signal reaches.
type SignalScope string

// Signal scopes (Slurm's scancel without -b/-f, with -b, with -f). The
// batch script is the job's own first process, PID 1 of its sandbox.
const (
	SignalSteps SignalScope = "steps" // every process but the batch script (also "")
	SignalBatch SignalScope = "batch" // the batch script alone
	SignalFull  SignalScope = "full"  // every process, the batch script too
)

// Valid reports whether s is a known scope ("" means SignalSteps).
func (s SignalScope) Valid() bool {
	switch s {
	case "", SignalSteps, SignalBatch, SignalFull:
		return true
	}
	return false
}

// MaxSignal is the highest signal number (Linux's SIGRTMAX).
const MaxSignal = 64

// MaxJobSignals bounds Job.SignalRequests: older requests are dropped (a node
// has delivered them long before).
const MaxJobSignals = 8

// MaxJobAttempts bounds Job.Attempts: beyond it the oldest recorded
// attempts are dropped. Job.Attempt still counts every attempt
// (AWS_BATCH_JOB_ATTEMPT and SLURM_RESTART_COUNT come from it).
const MaxJobAttempts = 100

// JobSignal is one request to signal a running job. Seq increases by one
// per request within an attempt.
type JobSignal struct {
	Seq    uint64      `json:"seq"`
	Signal int         `json:"signal"`
	Scope  SignalScope `json:"scope,omitempty"`
	// Step is the step whose processes get the signal (Scope SignalStep).
	Step uint32 `json:"step,omitempty"`
	// SrunPID is that step's srun, by its pid in the job (Step.SrunPID):
	// the processes it started are the step's too.
	SrunPID int `json:"srunPid,omitempty"`
}

// Mount makes a host path visible in a job's container.
type Mount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// Attempt is one try at running a job.
type Attempt struct {
	Node     string `json:"node,omitempty"`
	ExitCode *int   `json:"exitCode,omitempty"`
	// ExitSignal is the signal that ended the attempt (0: it exited).
	ExitSignal   int    `json:"signal,omitempty"`
	StatusReason string `json:"statusReason,omitempty"`
	// Reason is the container's reason (AWS's attempts[].container.reason):
	// why the attempt failed, "" for one that succeeded or was stopped.
	Reason string `json:"reason,omitempty"`
	// Cause is why it failed, as Job.Cause says of a job's end;
	// CauseRequeued for an attempt stopped to run the job again.
	Cause     Cause `json:"cause,omitempty"`
	StartedAt int64 `json:"startedAt,omitempty"`
	StoppedAt int64 `json:"stoppedAt,omitempty"`
	// Usage is what the attempt used, if its node said.
	Usage *JobUsage `json:"usage,omitempty"`
}

// JobUsage is what one attempt of a job used, measured by its node: peak
// memory and CPU time from the job's cgroups (memory.peak and cpu.stat on
// cgroup v2, memory.max_usage_in_bytes and cpuacct.usage on v1), and, for
// a job given GPUs, NVML readings of those GPUs taken while it ran. A
// figure the node could not read is zero.
type JobUsage struct {
	// MaxRSSBytes is the peak of the job's memory use, page cache included
	// (what the kernel charges to its memory limit).
	MaxRSSBytes int64 `json:"maxRSSBytes"`
	// CPUSeconds is the CPU time of all the job's processes, user and
	// system together.
	CPUSeconds float64 `json:"cpuSeconds"`
	// GPUs are the GPUs the job had (empty for a job without).
	GPUs []UsedGPU `json:"gpus,omitempty"`
	// GPUSeconds is the number of GPUs × how long the job held them.
	GPUSeconds float64 `json:"gpuSeconds,omitempty"`
	// GPUSamples is how many readings (one per GPU per sample period) the
	// GPU figures below come from; 0: none could be taken.
	GPUSamples int `json:"gpuSamples,omitempty"`
	// GPUUtilMeanPercent and GPUUtilMaxPercent are the SM utilisation over
	// all readings of all its GPUs.
	GPUUtilMeanPercent float64 `json:"gpuUtilMeanPercent,omitempty"`
	GPUUtilMaxPercent  int     `json:"gpuUtilMaxPercent,omitempty"`
	// GPUMemMaxBytes is the most memory one of its GPUs had in use.
	GPUMemMaxBytes int64 `json:"gpuMemMaxBytes,omitempty"`
}

// UsedGPU names a GPU a job had: NVML's index and its UUID.
type UsedGPU struct {
	Index int    `json:"index"`
	UUID  string `json:"uuid"`
}

// ArrayTask places a job in an array: the tasks of one array have
// consecutive ids, and the array's id is its first task's.
type ArrayTask struct {
	JobID uint64 `json:"jobId"`
	Index int    `json:"index"`
	// Min, Max and Count describe the whole array's indexes.
	Min        int `json:"min"`
	Max        int `json:"max"`
	Count      int `json:"count"`
	MaxRunning int `json:"maxRunning,omitempty"` // Slurm's %N throttle; 0 = no limit
	// Tasks is set only in a list that groups pending tasks
	// (ListJobsRequest.GroupTasks): the job listed stands for these
	// tasks of its array, written as IndexRanges writes them ("0-4,7"):
	// the k-th of them is the job with the k-th id from this one's
	// (itself the first). A job itself never has it.
	Tasks string `json:"tasks,omitempty"`
}

// DependencyType says what a dependency waits for.
type DependencyType string

// Dependency types: Slurm's names; AWS Batch's plain dependency is afterok.
const (
	AfterOK    DependencyType = "afterok"    // the job SUCCEEDED (default)
	AfterAny   DependencyType = "afterany"   // the job ended, any way
	AfterNotOK DependencyType = "afternotok" // the job FAILED
	After      DependencyType = "after"      // the job started (or ended without starting)
	// Singleton: every earlier unfinished job of the same user and name.
	Singleton DependencyType = "singleton"
	// NToN: array task i waits for task i of the array JobID (AWS N_TO_N).
	NToN DependencyType = "N_TO_N"
	// AfterCorr: Slurm's aftercorr: the array task of index N waits for the
	// task of index N of the array JobID to succeed; a task with no such
	// counterpart, or a job that is no array task, waits for every task of
	// JobID (afterok on the array, or on JobID when it is no array).
	AfterCorr DependencyType = "aftercorr"
	// Sequential: array task i waits for task i-1 of its own array (AWS SEQUENTIAL; JobID unused).
	Sequential DependencyType = "SEQUENTIAL"
)

// Dependency is one thing a job waits for. A dependency on an array's id
// waits for every task of the array.
type Dependency struct {
	JobID uint64         `json:"jobId,omitempty"`
	Type  DependencyType `json:"type,omitempty"`
}

// Cause is why a job ended FAILED.
type Cause string

// Causes.
const (
	CauseExitCode    Cause = "exit_code"    // the job exited non-zero or was killed by a signal
	CauseCancelled   Cause = "cancelled"    // cancelled before it started
	CauseTerminated  Cause = "terminated"   // terminated while it ran
	CauseTimeout     Cause = "timeout"      // ran past its time limit
	CauseOOM         Cause = "oom"          // killed by the OOM killer
	CauseNodeLost    Cause = "node_lost"    // its node went away
	CauseDependency  Cause = "dependency"   // a dependency can never be satisfied
	CauseStartFailed Cause = "start_failed" // the sandbox could not start it
	CauseDeadline    Cause = "deadline"     // still waiting at its deadline (Slurm's DEADLINE)
	// CauseRequeued marks an attempt (never a job) that was stopped or
	// had ended when scontrol requeue asked for the job to run again.
	CauseRequeued Cause = "requeued"
	// CausePreempted: stopped to make room for a job of a higher-priority
	// queue (Slurm's PREEMPTED).
	CausePreempted Cause = "preempted"
)

// Retry actions of a RetryRule (AWS's are not case-sensitive).
const (
	RetryActionRetry = "RETRY"
	RetryActionExit  = "EXIT"
)

// MaxRetryRules bounds a retry strategy's rules (AWS: up to 5).
const MaxRetryRules = 5

// RetryRule is one of AWS Batch's evaluateOnExit conditions: when every
// pattern given matches the attempt that ended (its exit code in decimal,
// its container reason, its statusReason), Action says whether the job
// runs again (RETRY) or ends (EXIT). A pattern matches exactly, or, ending
// in *, any value that starts with what comes before it.
type RetryRule struct {
	OnExitCode     string `json:"onExitCode,omitempty"`
	OnStatusReason string `json:"onStatusReason,omitempty"`
	OnReason       string `json:"onReason,omitempty"`
	Action         string `json:"action"`
}

// AttemptHistory returns every attempt of j that is kept: those recorded
// in Attempts, then the current one if it was placed (STARTING, RUNNING,
// or ended since), from the job's own fields. Attempt counts the
// attempts dropped beyond MaxJobAttempts too (AttemptsDropped): the
// current one was placed when it counts more than were recorded.
func (j *Job) AttemptHistory() []Attempt {
	out := append([]Attempt(nil), j.Attempts...)
	if j.Attempt <= j.AttemptsDropped+len(j.Attempts) || j.Node == "" || j.State.Cancellable() {
		return out
	}
	cur := Attempt{Node: j.Node, StartedAt: j.StartedAt, Usage: j.Usage}
	if j.State.Terminal() {
		cur.ExitCode, cur.ExitSignal, cur.StatusReason, cur.StoppedAt, cur.Cause = j.ExitCode, j.ExitSignal, j.StatusReason, j.StoppedAt, j.Cause
		if j.Cause != "" {
			cur.Reason = j.StatusReason
		}
	}
	return append(out, cur)
}

// Resources is what a job asks of one node (or what a node has).
type Resources struct {
	CPUs     int   `json:"cpus"`
	MemoryMB int64 `json:"memoryMiB"`
	GPUs     int   `json:"gpus,omitempty"`
	// GPUTypes are those of the GPUs that are of a given type (Slurm's
	// --gres=gpu:h200:1; a node's models): at most GPUs in all. A job's
	// other GPUs may be of any type.
	GPUTypes GPUCounts `json:"gpuTypes,omitempty"`
}

// Fits reports whether r fits inside free, GPUs by type too. A node's
// room for a job is Node.Fits, which also minds the GPUs of no type.
func (r Resources) Fits(free Resources) bool {
	if r.CPUs > free.CPUs || r.MemoryMB > free.MemoryMB || r.GPUs > free.GPUs {
		return false
	}
	ok := true
	r.GPUTypes.Each(func(t string, n int) { ok = ok && n <= free.GPUTypes.Get(t) })
	return ok
}

// Add returns r+o.
func (r Resources) Add(o Resources) Resources {
	return Resources{CPUs: r.CPUs + o.CPUs, MemoryMB: r.MemoryMB + o.MemoryMB, GPUs: r.GPUs + o.GPUs,
		GPUTypes: r.GPUTypes.Add(o.GPUTypes)}
}

// Sub returns r-o.
func (r Resources) Sub(o Resources) Resources {
	return Resources{CPUs: r.CPUs - o.CPUs, MemoryMB: r.MemoryMB - o.MemoryMB, GPUs: r.GPUs - o.GPUs,
		GPUTypes: r.GPUTypes.Sub(o.GPUTypes)}
}

// NodeState is an admin's or the controller's view of a node.
type NodeState string

// Node states.
const (
	NodeUp    NodeState = "UP"    // takes jobs
	NodeDrain NodeState = "DRAIN" // runs what it has, takes no more
	NodeDown  NodeState = "DOWN"  // takes nothing
)

// Node is a machine that runs jobs.
type Node struct {
	Name      string    `json:"name"`
	State     NodeState `json:"state"`
	Capacity  Resources `json:"capacity"`
	Allocated Resources `json:"allocated"`
	Reason    string    `json:"reason,omitempty"` // why an admin drained or downed it
	// ReasonBy and ReasonUID name who set Reason, ReasonAt when (epoch ms).
	ReasonBy  string `json:"reasonBy,omitempty"`
	ReasonUID uint32 `json:"reasonUid,omitempty"`
	ReasonAt  int64  `json:"reasonAt,omitempty"`
	// NotResponding: the node's daemon missed its heartbeat deadline (the
	// controller's -node-ttl); its jobs were ended or requeued. It is
	// cleared once the daemon answers again and runs nothing the
	// controller gave up on (Slurm's NOT_RESPONDING, the * of sinfo).
	NotResponding bool              `json:"notResponding,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	RegisteredAt  int64             `json:"registeredAt"`
	// LastHeartbeat is when the node was last heard from (epoch ms): the
	// leader's memory of its heartbeats where it has one, else the last
	// registration (heartbeats are not written to the replicated state).
	LastHeartbeat int64 `json:"lastHeartbeat"`
	// Boot identifies one run of the node daemon; a new boot means the
	// jobs the old one ran are gone.
	Boot string `json:"boot"`
	// LogAddr is where the node daemon serves job logs ("unix:/path" or "host:port").
	LogAddr string `json:"logAddr,omitempty"`
	// LogCertHash pins the key of the node's TLS log server ("sha256:HEX",
	// as CAHash); "" where it serves on a unix socket or plain HTTP.
	LogCertHash string `json:"logCertHash,omitempty"`
	// LogToken is the bearer token the node's log server takes this boot.
	// Only the controller reads it: it never leaves the controller's state.
	LogToken string `json:"logToken,omitempty"`
	// SecretHash is the hex SHA-256 of the node's credential, the secret
	// its daemon got when it registered its name with the join token
	// (api.FormatNodeCredential); "" for a node that has none yet (one
	// from an older state: it gets one at its next registration). Only
	// the controller reads it: listings never carry it.
	SecretHash string `json:"secretHash,omitempty"`
	// CPULoad is the node's 1-minute load average as its last heartbeat
	// reported it (the leader keeps heartbeats in memory: nil from a
	// follower, or before the first heartbeat).
	CPULoad *float64 `json:"cpuLoad,omitempty"`
}

// Free is what remains to allocate on n.
func (n Node) Free() Resources { return n.Capacity.Sub(n.Allocated) }

// DefaultQueue is the queue a job goes to when none is named.
const DefaultQueue = "default"

// WaitingQueues are the queues j waits in (Queues, or Queue alone); once
// it has started, Queue alone: the one it runs in.
func (j *Job) WaitingQueues() []string {
	if len(j.Queues) > 1 && j.State.Cancellable() {
		return j.Queues
	}
	return []string{j.Queue}
}

// InQueue reports whether j is a job of queue q: the one it runs in, or,
// while it waits, any of those it may start in.
func (j *Job) InQueue(q string) bool {
	return j.Queue == q || slices.Contains(j.WaitingQueues(), q)
}
