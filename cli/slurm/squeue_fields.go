package slurm

import (
	"strconv"
	"sync"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// sqEnv is what squeue's fields may look at besides the job: every job
// fetched (for dependencies) and the clock.
type sqEnv struct {
	// jobs are every job fetched, for a format that shows a dependency
	// (needsEveryJob) or a -j list; nil when the jobs were read one at a
	// time and not kept.
	jobs  []api.Job
	known map[uint64]*api.Job
	now   time.Time
	// reason and paren: the last reason %R showed, and how: made once
	// for the thousands of jobs that wait for the same one.
	reason, paren string
}

// knownJobs indexes e.jobs by id, on first use: only a dependency reads
// it, and squeue's usual formats show none.
func (e *sqEnv) knownJobs() map[uint64]*api.Job {
	if e.known == nil {
		e.known = indexJobs(e.jobs)
	}
	return e.known
}

// sqField is one thing squeue can print about a job.
type sqField struct {
	header string
	value  func(v *jobView, e *sqEnv) string
}

// sqNoCut are the fields whose right-justified values are printed whole
// when wider than their column (Slurm's times and node lists); others
// are cut to the width.
var sqNoCut = sync.OnceValue(func() map[string]bool {
	return map[string]bool{
		"l": true, "L": true, "M": true, "N": true,
		"timeleft": true, "timelimit": true, "timeused": true, "nodelist": true,
	}
})

func sqStr(f func(v *jobView) string) func(*jobView, *sqEnv) string {
	return func(v *jobView, _ *sqEnv) string { return f(v) }
}

// Field values shared by -o letters and -O names.
var (
	sqJobID       = func(v *jobView, _ *sqEnv) string { return v.id }
	sqRawID       = func(v *jobView, _ *sqEnv) string { return api.FormatID(v.rawID) }
	sqAccount     = func(v *jobView, _ *sqEnv) string { return orNull(v.j.Account) }
	sqName        = func(v *jobView, _ *sqEnv) string { return v.j.Name }
	sqUser        = func(v *jobView, _ *sqEnv) string { return v.userName() }
	sqUID         = func(v *jobView, _ *sqEnv) string { return strconv.FormatUint(uint64(v.j.UID), 10) }
	sqGroup       = func(v *jobView, _ *sqEnv) string { return v.groupName() }
	sqGID         = func(v *jobView, _ *sqEnv) string { return strconv.FormatUint(uint64(v.j.GID), 10) }
	sqStateShort  = func(v *jobView, _ *sqEnv) string { return v.state.Short }
	sqStateLong   = func(v *jobView, _ *sqEnv) string { return v.state.Long }
	sqTimeUsed    = func(v *jobView, _ *sqEnv) string { return clockDuration(v.runSecs()) }
	sqTimeLimit   = func(v *jobView, _ *sqEnv) string { return limitClock(v.j.TimeLimit) }
	sqTimeLeft    = func(v *jobView, _ *sqEnv) string { return sqLeft(v) }
	sqNodes       = func(v *jobView, _ *sqEnv) string { return "1" }
	sqReason      = func(v *jobView, _ *sqEnv) string { return v.reason }
	sqReasonList  = func(v *jobView, e *sqEnv) string { return e.reasonOrNodes(v) }
	sqPartition   = func(v *jobView, _ *sqEnv) string { return partitionOf(v.j) }
	sqCPUs        = func(v *jobView, _ *sqEnv) string { return strconv.Itoa(v.cpus()) }
	sqMinMemory   = func(v *jobView, _ *sqEnv) string { return memString(v.j.Resources.MemoryMB) }
	sqTresPerNode = func(v *jobView, _ *sqEnv) string { return v.tresPerNode() }
	sqNodeList    = func(v *jobView, _ *sqEnv) string { return v.nodeList() }
	sqPrioLong    = func(v *jobView, _ *sqEnv) string { return strconv.FormatInt(v.priority(), 10) }
	sqPrio        = func(v *jobView, _ *sqEnv) string { return v.priorityFraction() }
	sqComment     = func(v *jobView, _ *sqEnv) string { return orNull(v.j.Comment) }
	sqNice        = func(v *jobView, _ *sqEnv) string { return strconv.FormatInt(v.nice(), 10) }
	sqNull        = func(v *jobView, _ *sqEnv) string { return "(null)" }
	sqLicenses    = func(v *jobView, _ *sqEnv) string { return jobLicenses(v.j) }
	sqArrayJobID  = func(v *jobView, _ *sqEnv) string { return api.FormatID(v.arrayID) }
	sqArrayTaskID = func(v *jobView, _ *sqEnv) string { return v.taskStr }
	sqSubmit      = func(v *jobView, _ *sqEnv) string { return stamp(v.submitted(), "N/A") }
	sqStart       = func(v *jobView, _ *sqEnv) string { return sqStartTime(v) }
	sqEnd         = func(v *jobView, _ *sqEnv) string { return sqEndTime(v) }
	sqWorkDir     = func(v *jobView, _ *sqEnv) string { return v.j.Dir }
	sqCommand     = func(v *jobView, _ *sqEnv) string { return v.command() }
	sqQOS         = func(v *jobView, _ *sqEnv) string { return orNull(v.j.QOS) }
	sqExecHost    = func(v *jobView, _ *sqEnv) string {
		if n := v.nodeList(); n != "" {
			return n
		}
		return "n/a"
	}
	sqDependency = func(v *jobView, e *sqEnv) string { return v.dependency(e.knownJobs()) }
	sqStdout     = func(v *jobView, _ *sqEnv) string { return v.outputPath(v.j.Stdout) }
	sqStderr     = func(v *jobView, _ *sqEnv) string { return v.outputPath(v.j.Stderr) }
	sqExitCode   = func(v *jobView, _ *sqEnv) string { return strconv.Itoa(v.rawExit()) }
	sqConst      = func(s string) func(*jobView, *sqEnv) string {
		return func(*jobView, *sqEnv) string { return s }
	}
)

// sqLeft is %L: what remains of the time limit.
func sqLeft(v *jobView) string {
	if v.j.TimeLimit <= 0 {
		return "UNLIMITED"
	}
	left := v.j.TimeLimit - v.runSecs()
	if left < 0 {
		left = 0
	}
	return clockDuration(left)
}

// sqReasonOrNodes is %R: the reason in parentheses while the job waits or
// when it failed, else its node list.
func sqReasonOrNodes(v *jobView) string {
	if sqShowsReason(v) {
		return "(" + v.reason + ")"
	}
	return v.nodeList()
}

// sqShowsReason reports whether %R shows v's reason rather than its nodes:
// while it waits, or when it failed.
func sqShowsReason(v *jobView) bool {
	return v.state == Pending || (v.state.Finished() && v.reason != "None")
}

// reasonOrNodes is sqReasonOrNodes, each reason put in parentheses once.
func (e *sqEnv) reasonOrNodes(v *jobView) string {
	if e == nil || !sqShowsReason(v) {
		return sqReasonOrNodes(v)
	}
	if e.paren == "" || v.reason != e.reason {
		e.reason, e.paren = v.reason, "("+v.reason+")"
	}
	return e.paren
}

// sqStartTime is %S: when the job started, or is expected to.
func sqStartTime(v *jobView) string {
	return stamp(v.expectedStart(), "N/A")
}

// sqEndTime is %e: when the job ended, or is expected to.
func sqEndTime(v *jobView) string {
	if e, ok := v.expectedEnd(); ok {
		return stamp(e, "N/A")
	}
	if !v.started().IsZero() || !v.beginAt().IsZero() {
		return "NONE"
	}
	return "N/A"
}

// sqLetters are squeue -o's field letters (jobs).
var sqLetters = sync.OnceValue(func() map[byte]sqField {
	return map[byte]sqField{
		'a': {"ACCOUNT", sqAccount},
		'A': {"JOBID", sqRawID},
		'b': {"TRES_PER_NODE", sqTresPerNode},
		'B': {"EXEC_HOST", sqExecHost},
		'c': {"MIN_CPUS", sqCPUs},
		'C': {"CPUS", sqCPUs},
		'd': {"MIN_TMP_DISK", sqConst("0")},
		'D': {"NODES", sqNodes},
		'e': {"END_TIME", sqEnd},
		'E': {"DEPENDENCY", sqDependency},
		'f': {"FEATURES", sqNull},
		'F': {"ARRAY_JOB_ID", sqArrayJobID},
		'g': {"GROUP", sqGroup},
		'G': {"GROUP", sqGID},
		'h': {"OVER_SUBSCRIBE", sqConst("OK")},
		'H': {"SOCKETS_PER_NODE", sqConst("*")},
		'i': {"JOBID", sqJobID},
		'I': {"CORES_PER_SOCKET", sqConst("*")},
		'j': {"NAME", sqName},
		'J': {"THREADS_PER_CORE", sqConst("*")},
		'k': {"COMMENT", sqComment},
		'K': {"ARRAY_TASK_ID", sqArrayTaskID},
		'l': {"TIME_LIMIT", sqTimeLimit},
		'L': {"TIME_LEFT", sqTimeLeft},
		'm': {"MIN_MEMORY", sqMinMemory},
		'M': {"TIME", sqTimeUsed},
		'n': {"REQ_NODES", sqConst("")},
		'N': {"NODELIST", sqNodeList},
		'o': {"COMMAND", sqCommand},
		'O': {"CONTIGUOUS", sqConst("0")},
		'p': {"PRIORITY", sqPrio},
		'P': {"PARTITION", sqPartition},
		'q': {"QOS", sqQOS},
		'Q': {"PRIORITY", sqPrioLong},
		'r': {"REASON", sqReason},
		'R': {"NODELIST(REASON)", sqReasonList},
		's': {"SELECT_JOBINFO", sqConst("")},
		'S': {"START_TIME", sqStart},
		't': {"ST", sqStateShort},
		'T': {"STATE", sqStateLong},
		'u': {"USER", sqUser},
		'U': {"UID", sqUID},
		'v': {"RESERVATION", sqNull},
		'V': {"SUBMIT_TIME", sqSubmit},
		'w': {"WCKEY", sqNull},
		'W': {"LICENSES", sqLicenses},
		'x': {"EXC_NODES", sqConst("")},
		'X': {"CORE_SPEC", sqConst("N/A")},
		'y': {"NICE", sqNice},
		'Y': {"SCHEDNODES", sqNull},
		'z': {"S:C:T", sqConst("*:*:*")},
		'Z': {"WORK_DIR", sqWorkDir},
	}
})

// sqNames are squeue -O's field names (lower case).
var sqNames = sync.OnceValue(func() map[string]sqField {
	return map[string]sqField{
		"account":       {"ACCOUNT", sqAccount},
		"accruetime":    {"ACCRUE_TIME", sqSubmit},
		"allocnodes":    {"ALLOC_NODES", sqConst("")},
		"arrayjobid":    {"ARRAY_JOB_ID", sqArrayJobID},
		"arraytaskid":   {"ARRAY_TASK_ID", sqArrayTaskID},
		"batchflag":     {"BATCH_FLAG", sqConst("1")},
		"batchhost":     {"EXEC_HOST", sqExecHost},
		"command":       {"COMMAND", sqCommand},
		"comment":       {"COMMENT", sqComment},
		"contiguous":    {"CONTIGUOUS", sqConst("0")},
		"cores":         {"CORES_PER_SOCKET", sqConst("*")},
		"corespec":      {"CORE_SPEC", sqConst("N/A")},
		"cpus-per-task": {"CPUS_PER_TASK", sqCPUs},
		"dependency":    {"DEPENDENCY", sqDependency},
		"derivedec":     {"DERIVED_EC", sqConst("0:0")},
		"eligibletime":  {"ELIGIBLE_TIME", sqSubmit},
		"endtime":       {"END_TIME", sqEnd},
		"exit_code":     {"EXIT_CODE", sqExitCode},
		"feature":       {"FEATURES", sqNull},
		"groupid":       {"GROUP", sqGID},
		"groupname":     {"GROUP", sqGroup},
		"jobarrayid":    {"JOBID", sqJobID},
		"jobid":         {"JOBID", sqRawID},
		"licenses":      {"LICENSES", sqLicenses},
		"mincpus":       {"MIN_CPUS", sqCPUs},
		"minmemory":     {"MIN_MEMORY", sqMinMemory},
		"mintmpdisk":    {"MIN_TMP_DISK", sqConst("0")},
		"name":          {"NAME", sqName},
		"nice":          {"NICE", sqNice},
		"nodelist":      {"NODELIST", sqNodeList},
		"numcpus":       {"CPUS", sqCPUs},
		"numnodes":      {"NODES", sqNodes},
		"numtasks":      {"TASKS", sqConst("1")},
		"oversubscribe": {"OVER_SUBSCRIBE", sqConst("OK")},
		"partition":     {"PARTITION", sqPartition},
		"priority":      {"PRIORITY", sqPrio},
		"prioritylong":  {"PRIORITY", sqPrioLong},
		"qos":           {"QOS", sqQOS},
		"reason":        {"REASON", sqReason},
		"reasonlist":    {"NODELIST(REASON)", sqReasonList},
		"reqnodes":      {"REQ_NODES", sqConst("")},
		"requeue":       {"REQUEUE", sqStr(func(v *jobView) string { return map[bool]string{true: "0", false: "1"}[v.j.NoRequeue] })},
		"reservation":   {"RESERVATION", sqNull},
		"restartcnt":    {"RESTARTCNT", sqStr(func(v *jobView) string { return strconv.Itoa(restarts(v.j)) })},
		"schednodes":    {"SCHEDNODES", sqNull},
		"sct":           {"S:C:T", sqConst("*:*:*")},
		"sockets":       {"SOCKETS_PER_NODE", sqConst("*")},
		"starttime":     {"START_TIME", sqStart},
		"state":         {"STATE", sqStateLong},
		"statecompact":  {"ST", sqStateShort},
		"stderr":        {"STDERR", sqStderr},
		"stdin":         {"STDIN", sqConst("/dev/null")},
		"stdout":        {"STDOUT", sqStdout},
		"submittime":    {"SUBMIT_TIME", sqSubmit},
		"threads":       {"THREADS_PER_CORE", sqConst("*")},
		"timeleft":      {"TIME_LEFT", sqTimeLeft},
		"timelimit":     {"TIME_LIMIT", sqTimeLimit},
		"timeused":      {"TIME", sqTimeUsed},
		"tres-alloc":    {"TRES_ALLOC", sqStr(func(v *jobView) string { return v.tres() })},
		"tres-per-node": {"TRES_PER_NODE", sqTresPerNode},
		"userid":        {"UID", sqUID},
		"username":      {"USER", sqUser},
		"wckey":         {"WCKEY", sqNull},
		"workdir":       {"WORK_DIR", sqWorkDir},
	}
})
