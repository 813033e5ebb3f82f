package slurm

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// saRow is one line of sacct: a job, its batch step (step "batch"), or
// one of its recorded steps (st; v is then the job as that step ran:
// stepJobView).
type saRow struct {
	v    *jobView
	step string
	st   *api.Step
}

// saField is one sacct column: its name as Slurm prints it, default
// width (negative: left-justified) and value (nil: a field Slurm has and
// shoal keeps nothing for, printed empty).
type saField struct {
	name  string
	width int
	value func(r *saRow) string
}

// account is the job's account: the one it was submitted with, else the
// user's default, which shoal's sacctmgr reports as the user's name.
func (r *saRow) account() string {
	if r.v.j.Account != "" {
		return r.v.j.Account
	}
	return r.v.userName()
}

// jobOnly shows f on the job's line and leaves step lines empty.
func jobOnly(f func(r *saRow) string) func(r *saRow) string {
	return func(r *saRow) string {
		if r.step != "" {
			return ""
		}
		return f(r)
	}
}

// saStepState is the state of a job's batch step: how the script ended
// (a script killed by a signal, cancelled or timed out is CANCELLED).
func saStepState(j *api.Job) string {
	switch st := JobState(j); st {
	case Running, Completing, Completed, OutOfMemory, NodeFail, Stopped:
		return st.Long
	case Failed:
		if j.ExitSignal != 0 {
			return Cancelled.Long
		}
		return Failed.Long
	}
	return Cancelled.Long
}

// saStart is Start: when the job started; "Unknown" while it waits,
// "None" when it ended without starting.
func saStart(r *saRow) string {
	if s := r.v.started(); !s.IsZero() {
		return stamp(s, "")
	}
	if r.v.j.State.Terminal() {
		return "None"
	}
	return "Unknown"
}

// saEligible is when the job could first run: never while held or
// waiting on a dependency.
func saEligible(v *jobView) time.Time {
	j := v.j
	if j.StartedAt == 0 && (j.Held || v.reason == "JobArrayTaskLimit" || j.State == api.StatePending || j.State == api.StateSubmitted ||
		(j.State.Terminal() && (j.Cause == api.CauseDependency || j.Cause == api.CauseCancelled))) {
		return time.Time{}
	}
	if b := epochTime(j.BeginAt, v.loc()); !b.IsZero() && b.After(v.submitted()) {
		if j.StartedAt == 0 && b.After(v.now) {
			return time.Time{}
		}
		return b
	}
	return v.submitted()
}

// saTres writes trackable resources as sacct does: keys sorted.
func saTres(v *jobView, withMem bool) string {
	r := v.j.Resources
	parts := []string{fmt.Sprintf("billing=%d", v.cpus()), fmt.Sprintf("cpu=%d", v.cpus())}
	if r.GPUs > 0 {
		parts = append(parts, strings.Split(gpuTres(r)[1:], ",")...)
	}
	if withMem && r.MemoryMB > 0 {
		parts = append(parts, "mem="+memString(r.MemoryMB))
	}
	parts = append(parts, "node=1")
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// saLimit is Timelimit: a pending job without a limit of its own runs
// under its partition's (Partition_Limit), as sacct says.
func saLimit(raw bool) func(r *saRow) string {
	return jobOnly(func(r *saRow) string {
		j := r.v.j
		if j.TimeLimit <= 0 {
			if r.v.state == Pending {
				return "Partition_Limit"
			}
			return "UNLIMITED"
		}
		if raw {
			return strconv.FormatInt((j.TimeLimit+59)/60, 10)
		}
		return fullDuration(j.TimeLimit)
	})
}

var saFieldList = sync.OnceValue(func() []saField {
	return []saField{
		{"Account", 10, func(r *saRow) string { return r.account() }},
		{"AdminComment", 15, nil},
		{"AllocCPUS", 10, func(r *saRow) string { return strconv.Itoa(r.v.cpus()) }},
		{"AllocNodes", 10, func(r *saRow) string {
			if r.v.started().IsZero() {
				return "0"
			}
			return "1"
		}},
		{"AllocTRES", 10, func(r *saRow) string {
			if r.v.started().IsZero() {
				return ""
			}
			return saTres(r.v, r.step != "")
		}},
		{"AssocID", 7, nil},
		{"AveCPU", 10, usageField(usageCPU)},
		{"AveCPUFreq", 10, nil},
		{"AveDiskRead", 14, nil},
		{"AveDiskWrite", 14, nil},
		{"AvePages", 10, nil},
		{"AveRSS", 10, usageField(usageRSS)},
		{"AveVMSize", 10, nil},
		{"BlockID", 16, nil},
		{"Cluster", 10, func(*saRow) string { return shoalCluster }},
		{"Comment", 14, jobOnly(func(r *saRow) string { return r.v.j.Comment })},
		{"Constraints", 19, nil},
		{"ConsumedEnergy", 14, nil},
		{"ConsumedEnergyRaw", 17, nil},
		{"Container", 19, nil},
		{"CPUTime", 10, func(r *saRow) string { return fullDuration(r.v.runSecs() * int64(r.v.cpus())) }},
		{"CPUTimeRAW", 10, func(r *saRow) string { return strconv.FormatInt(r.v.runSecs()*int64(r.v.cpus()), 10) }},
		{"DBIndex", -21, nil},
		{"DerivedExitCode", 15, jobOnly(func(*saRow) string { return "0:0" })},
		{"Elapsed", 10, func(r *saRow) string { return fullDuration(r.v.runSecs()) }},
		{"ElapsedRaw", 10, func(r *saRow) string { return strconv.FormatInt(r.v.runSecs(), 10) }},
		{"Eligible", 19, func(r *saRow) string {
			if r.step != "" {
				return stamp(r.v.started(), "Unknown")
			}
			return stamp(saEligible(r.v), "Unknown")
		}},
		{"End", 19, func(r *saRow) string { return stamp(r.v.ended(), "Unknown") }},
		{"ExitCode", 8, func(r *saRow) string { return ExitCode(r.v.j) }},
		{"Flags", 19, nil},
		{"GID", 6, jobOnly(func(r *saRow) string { return strconv.FormatUint(uint64(r.v.j.GID), 10) })},
		{"Group", 9, jobOnly(func(r *saRow) string { return r.v.groupName() })},
		{"JobID", -12, func(r *saRow) string {
			if r.step != "" {
				return r.v.id + "." + r.step
			}
			return r.v.id
		}},
		{"JobIDRaw", -12, func(r *saRow) string {
			id := api.FormatID(r.v.rawID)
			if r.step != "" {
				return id + "." + r.step
			}
			return id
		}},
		{"JobName", 10, func(r *saRow) string {
			if r.st != nil {
				return r.st.Name
			}
			if r.step != "" {
				return r.step
			}
			return r.v.j.Name
		}},
		{"Layout", 9, nil},
		{"MaxDiskRead", 12, nil},
		{"MaxDiskReadNode", 15, nil},
		{"MaxDiskReadTask", 15, nil},
		{"MaxDiskWrite", 12, nil},
		{"MaxDiskWriteNode", 16, nil},
		{"MaxDiskWriteTask", 16, nil},
		{"MaxPages", 8, nil},
		{"MaxPagesNode", 12, nil},
		{"MaxPagesTask", 14, nil},
		{"MaxRSS", 10, usageField(usageRSS)},
		{"MaxRSSNode", 10, usageField(usageNode)},
		{"MaxRSSTask", 10, usageField(usageTask)},
		{"MaxVMSize", 10, nil},
		{"MaxVMSizeNode", 14, nil},
		{"MaxVMSizeTask", 14, nil},
		{"McsLabel", 12, nil},
		{"MinCPU", 10, usageField(usageCPU)},
		{"MinCPUNode", 10, usageField(usageNode)},
		{"MinCPUTask", 10, usageField(usageTask)},
		{"NCPUS", 10, func(r *saRow) string { return strconv.Itoa(r.v.cpus()) }},
		{"NNodes", 8, func(*saRow) string { return "1" }},
		{"NodeList", 15, func(r *saRow) string {
			if n := r.v.nodeList(); n != "" {
				return n
			}
			return "None assigned"
		}},
		{"NTasks", 8, func(r *saRow) string {
			if r.st != nil {
				return strconv.Itoa(r.st.NTasks)
			}
			if r.step != "" {
				return "1"
			}
			return ""
		}},
		{"Partition", 10, jobOnly(func(r *saRow) string { return partitionOf(r.v.j) })},
		{"Priority", 10, jobOnly(func(r *saRow) string { return strconv.FormatInt(r.v.priority(), 10) })},
		{"QOS", 10, jobOnly(func(r *saRow) string { return r.v.j.QOS })},
		{"QOSRAW", 6, nil},
		{"Reason", 22, jobOnly(func(r *saRow) string {
			if r.v.state == Pending {
				return r.v.reason
			}
			return "None"
		})},
		{"ReqCPUFreq", 10, jobOnly(func(*saRow) string { return "Unknown" })},
		{"ReqCPUFreqGov", 13, jobOnly(func(*saRow) string { return "Unknown" })},
		{"ReqCPUFreqMax", 13, jobOnly(func(*saRow) string { return "Unknown" })},
		{"ReqCPUFreqMin", 13, jobOnly(func(*saRow) string { return "Unknown" })},
		{"ReqCPUS", 8, func(r *saRow) string { return strconv.Itoa(r.v.cpus()) }},
		{"ReqMem", 10, jobOnly(func(r *saRow) string { return memString(r.v.j.Resources.MemoryMB) })},
		{"ReqNodes", 8, jobOnly(func(*saRow) string { return "1" })},
		{"ReqTRES", 10, jobOnly(func(r *saRow) string { return saTres(r.v, true) })},
		{"Reservation", 20, nil},
		{"ReservationId", 8, nil},
		{"Reserved", 10, nil},
		{"ResvCPU", 10, nil},
		{"ResvCPURAW", 10, nil},
		{"Start", 19, saStart},
		{"State", 10, func(r *saRow) string {
			if r.st != nil {
				return string(r.st.State)
			}
			if r.step != "" {
				return saStepState(r.v.j)
			}
			return r.v.state.Long
		}},
		{"Submit", 19, func(r *saRow) string {
			if r.step != "" {
				return stamp(r.v.started(), "Unknown")
			}
			return stamp(r.v.submitted(), "Unknown")
		}},
		{"SubmitLine", 20, nil},
		{"Suspended", 10, func(*saRow) string { return "00:00:00" }},
		{"SystemComment", 15, nil},
		{"SystemCPU", 10, nil},
		{"Timelimit", 10, saLimit(false)},
		{"TimelimitRaw", 10, saLimit(true)},
		{"TotalCPU", 10, saTotalCPU},
		{"TRESUsageInAve", 14, saTresUsage(tresAve)},
		{"TRESUsageInMax", 14, saTresUsage(tresMax)},
		{"TRESUsageInMaxNode", 18, saTresUsage(tresNode)},
		{"TRESUsageInMaxTask", 18, saTresUsage(tresTask)},
		{"TRESUsageInMin", 14, saTresUsage(tresMax)},
		{"TRESUsageInMinNode", 18, saTresUsage(tresNode)},
		{"TRESUsageInMinTask", 18, saTresUsage(tresTask)},
		{"TRESUsageInTot", 14, saTresUsage(tresTot)},
		{"TRESUsageOutAve", 15, nil},
		{"TRESUsageOutMax", 15, nil},
		{"TRESUsageOutMaxNode", 19, nil},
		{"TRESUsageOutMaxTask", 19, nil},
		{"TRESUsageOutMin", 15, nil},
		{"TRESUsageOutMinNode", 19, nil},
		{"TRESUsageOutMinTask", 19, nil},
		{"TRESUsageOutTot", 15, nil},
		{"UID", 6, jobOnly(func(r *saRow) string { return strconv.FormatUint(uint64(r.v.j.UID), 10) })},
		{"User", 9, jobOnly(func(r *saRow) string { return r.v.userName() })},
		{"UserCPU", 10, nil},
		{"WCKey", 10, nil},
		{"WCKeyID", 10, nil},
		{"WorkDir", 20, jobOnly(func(r *saRow) string { return r.v.j.Dir })},
	}
})

// saAliases are other names sacct accepts for a field.
var saAliases = sync.OnceValue(func() map[string]string {
	return map[string]string{
		"nodes": "nodelist", "reqcpus": "reqcpus", "cputimeraw": "cputimeraw", "jobidraw": "jobidraw",
		"alloccpus": "alloccpus", "timelimitraw": "timelimitraw", "tresusageinmaxn": "tresusageinmaxnode",
		"tresusageinmaxt": "tresusageinmaxtask", "tresusageinminn": "tresusageinminnode",
		"tresusageinmint": "tresusageinmintask", "tresusageoutmaxn": "tresusageoutmaxnode",
		"tresusageoutmaxt": "tresusageoutmaxtask", "tresusageoutminn": "tresusageoutminnode",
		"tresusageoutmint": "tresusageoutmintask", "vsize": "maxvmsize", "rss": "maxrss", "pages": "maxpages",
		"avevsize": "avevmsize",
	}
})

// saLookup finds a field by name, case-insensitively.
func saLookup(name string) (saField, bool) {
	n := strings.ToLower(name)
	if a, ok := saAliases()[n]; ok {
		n = a
	}
	for _, f := range saFieldList() {
		if strings.ToLower(f.name) == n {
			return f, true
		}
	}
	return saField{}, false
}
