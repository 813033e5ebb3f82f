package slurm

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/cli/internal/termsafe"
	"github.com/shoal-batch/shoal/internal/arraylimit"
)

// record prints a key=value block as scontrol does: the first line, then
// each further line indented three spaces, then a blank line; with -o
// everything on one line. Every line passes through termsafe.String: a
// name with a newline cannot add a "key=value" line of its own.
func (r *scontrolRun) record(b *strings.Builder, first string, lines []string) {
	b.WriteString(termsafe.String(first))
	sep := "\n   "
	if r.oneliner {
		sep = " "
	}
	for _, l := range lines {
		b.WriteString(sep)
		b.WriteString(termsafe.String(l))
	}
	if r.oneliner {
		b.WriteString("\n")
		return
	}
	b.WriteString("\n\n")
}

// showJob prints one job (every task, for an array's id) or all of them.
func (r *scontrolRun) showJob(idText string) int {
	now := r.c.Now()
	var jobs []api.Job
	var err error
	task, anyArray := anyArrayTask(idText)
	switch {
	case anyArray:
		// "0_N": task N of every array, as Slurm 22.05 reads job id 0.
		jobs, err = r.c.Client.ListJobs(r.ctx, api.ListJobsRequest{})
		kept := jobs[:0]
		for i := range jobs {
			if a := jobs[i].Array; a != nil && a.Index == task {
				kept = append(kept, jobs[i])
			}
		}
		jobs = kept
	case idText == "":
		jobs, err = r.c.Client.ListJobs(r.ctx, api.ListJobsRequest{})
	default:
		refs, perr := parseJobRefs(idText)
		if perr != nil || len(refs) != 1 {
			fmt.Fprintln(r.c.Stderr, "scontrol_print_job error: Invalid job id specified")
			return 1
		}
		jobs, err = fetchRefs(r.ctx, r.c.Client, refs)
		if err == nil {
			kept := jobs[:0]
			for i := range jobs {
				if refs[0].matches(&jobs[i]) {
					kept = append(kept, jobs[i])
				}
			}
			jobs = kept
		}
	}
	if err != nil {
		fmt.Fprintf(r.c.Stderr, "slurm_load_jobs error: %s\n", safeErr(err))
		return 1
	}
	known, shown := visibleJobs(jobs, now)
	if len(shown) == 0 {
		if idText == "" {
			fmt.Fprintln(r.c.Stdout, "No jobs in the system")
			return 0
		}
		if anyArray {
			fmt.Fprintf(r.c.Stdout, "Job %s not found\n", idText)
			return 1
		}
		fmt.Fprintln(r.c.Stderr, "slurm_load_jobs error: Invalid job id specified")
		return 1
	}
	views := collapseArrays(viewJobs(shown, now, r.c.groupName))
	// A collapsed array line first, then the rest by id, as scontrol
	// shows an array's pending record before its split-off tasks.
	sort.SliceStable(views, func(a, b int) bool {
		x, y := views[a], views[b]
		if x.arrayID != y.arrayID {
			return x.arrayID < y.arrayID
		}
		if (x.tasks != nil) != (y.tasks != nil) {
			return x.tasks != nil
		}
		return x.rawID < y.rawID
	})
	if r.json {
		return squeueJSON(r.c, views, known)
	}
	r.lastUpdate(len(views))
	var b strings.Builder
	for _, v := range views {
		first, lines := r.jobRecord(v, known)
		r.record(&b, first, lines)
	}
	fmt.Fprint(r.c.Stdout, b.String())
	return 0
}

// anyArrayTask reads scontrol's "0_N" (task N of any array job).
func anyArrayTask(id string) (int, bool) {
	rest, ok := strings.CutPrefix(id, "0_")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n >= 0
}

// jobRecord is the key=value block of one job.
func (r *scontrolRun) jobRecord(v *jobView, known map[uint64]*api.Job) (string, []string) {
	j := v.j
	first := fmt.Sprintf("JobId=%d", v.rawID)
	if j.Array != nil {
		first += fmt.Sprintf(" ArrayJobId=%d ArrayTaskId=%s", v.arrayID, v.taskStr)
		if j.Array.MaxRunning > 0 {
			first += fmt.Sprintf(" ArrayTaskThrottle=%d", j.Array.MaxRunning)
		}
	}
	first += " JobName=" + j.Name
	requeue := 1
	if j.NoRequeue {
		requeue = 0
	}
	batch := 0
	if j.Script != "" {
		batch = 1
	}
	start, end := v.started(), v.ended()
	startText, endText := stamp(start, "Unknown"), stamp(end, "Unknown")
	switch {
	case start.IsZero() && !end.IsZero():
		startText = endText // cancelled before it started
	case start.IsZero() && !v.expectedStart().IsZero():
		startText = stamp(v.expectedStart(), "Unknown") // the scheduler's estimate, or the begin time
	}
	if e, ok := v.expectedEnd(); ok && end.IsZero() {
		endText = stamp(e, "Unknown")
	}
	deadline := "N/A"
	if j.DeadlineAt != 0 {
		deadline = stamp(time.UnixMilli(j.DeadlineAt), "N/A")
	}
	eligible := stamp(v.submitted(), "Unknown")
	switch {
	case !v.beginAt().IsZero():
		eligible = stamp(v.beginAt(), "Unknown")
	case v.state == Pending && (v.reason == "Dependency" || v.reason == "JobHeldUser" || v.reason == "JobHeldAdmin"):
		eligible = "Unknown"
	}
	lastEval := v.submitted()
	if !start.IsZero() {
		lastEval = start
	}
	host := j.SubmitHost
	if host == "" {
		host = "(null)"
	}
	lines := []string{
		fmt.Sprintf("UserId=%s(%d) GroupId=%s(%d) MCS_label=N/A", v.userName(), j.UID, v.groupName(), j.GID),
		fmt.Sprintf("Priority=%d Nice=%d Account=%s QOS=%s", v.priority(), v.nice(), orNull(j.Account), orNull(j.QOS)),
		fmt.Sprintf("JobState=%s Reason=%s Dependency=%s", v.state.Long, v.reason, v.dependency(known)),
		fmt.Sprintf("Requeue=%d Restarts=%d BatchFlag=%d Reboot=0 ExitCode=%s", requeue, restarts(j), batch, ExitCode(j)),
	}
	if r.details > 0 {
		lines = append(lines, "DerivedExitCode=0:0")
	}
	lines = append(lines,
		fmt.Sprintf("RunTime=%s TimeLimit=%s TimeMin=N/A", fullDuration(v.runSecs()), limitFull(j.TimeLimit)),
		fmt.Sprintf("SubmitTime=%s EligibleTime=%s", stamp(v.submitted(), "Unknown"), eligible),
		"AccrueTime="+eligible,
		fmt.Sprintf("StartTime=%s EndTime=%s Deadline=%s", startText, endText, deadline),
		fmt.Sprintf("SuspendTime=None SecsPreSuspend=0 LastSchedEval=%s Scheduler=Main", stamp(lastEval, "Unknown")),
		fmt.Sprintf("Partition=%s AllocNode:Sid=%s:0", partitionOf(j), host),
		"ReqNodeList=(null) ExcNodeList=(null)",
		"NodeList="+v.nodeList(),
	)
	if n := v.nodeList(); n != "" {
		lines = append(lines, "BatchHost="+n)
	}
	cpus := v.cpus()
	lines = append(lines,
		fmt.Sprintf("NumNodes=1 NumCPUs=%d NumTasks=1 CPUs/Task=%d ReqB:S:C:T=0:0:*:*", cpus, cpus),
		"TRES="+v.tres(),
		"Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=*",
	)
	if r.details > 0 && v.nodeList() != "" {
		gres := "(null)"
		if j.Resources.GPUs > 0 {
			gres = strings.Join(gresItems("", j.Resources), ",")
		}
		lines = append(lines, "JOB_GRES="+gres,
			fmt.Sprintf("  Nodes=%s CPU_IDs=N/A Mem=%d GRES=", v.nodeList(), j.Resources.MemoryMB))
	}
	lines = append(lines,
		fmt.Sprintf("MinCPUsNode=%d MinMemoryNode=%s MinTmpDiskNode=%s", cpus, memString(j.Resources.MemoryMB), memString(j.TmpMB)),
		"Features=(null) DelayBoot=00:00:00",
		"OverSubscribe=OK Contiguous=0 Licenses="+jobLicenses(j)+" Network=(null)",
		"Command="+v.command(),
		"WorkDir="+j.Dir,
	)
	if j.Comment != "" {
		lines = append(lines, "Comment="+j.Comment+" ")
	}
	stdin := "/dev/null"
	if j.Stdin != "" {
		stdin = v.outputPath(j.Stdin)
	}
	lines = append(lines,
		"StdErr="+v.outputPath(j.Stderr),
		"StdIn="+stdin,
		"StdOut="+v.outputPath(j.Stdout),
		"Power=",
	)
	last := ""
	if j.Resources.GPUs > 0 {
		last = "TresPerNode=" + strings.Join(gresItems("gres:", j.Resources), ",")
	}
	return first, append(lines, last)
}

// loadNodesAndPartitions reads the nodes and the partitions they make up,
// reporting a failure as Slurm's load calls do.
func (r *scontrolRun) loadNodesAndPartitions() ([]api.Node, []*partition, bool) {
	nodes, err := r.c.Client.Nodes(r.ctx)
	if err != nil {
		fmt.Fprintf(r.c.Stderr, "slurm_load_node error: %s\n", safeErr(err))
		return nil, nil, false
	}
	parts, err := loadPartitions(r.ctx, r.c, nodes)
	if err != nil {
		fmt.Fprintf(r.c.Stderr, "slurm_load_partitions error: %s\n", safeErr(err))
		return nil, nil, false
	}
	return nodes, parts, true
}

// showNode prints one node or all of them.
func (r *scontrolRun) showNode(name string) int {
	nodes, parts, ok := r.loadNodesAndPartitions()
	if !ok {
		return 1
	}
	var sel []*api.Node
	want := map[string]bool{}
	if name != "" {
		names, err := expandHosts(name)
		if err != nil {
			fmt.Fprintf(r.c.Stderr, "Node %s not found\n", name)
			return 1
		}
		for _, n := range names {
			want[n] = true
		}
	}
	for i := range nodes {
		if name == "" || want[nodes[i].Name] {
			sel = append(sel, &nodes[i])
		}
	}
	sortNodes(sel)
	if len(sel) == 0 {
		if name == "" {
			fmt.Fprintln(r.c.Stdout, "No nodes in the system")
			return 0
		}
		fmt.Fprintf(r.c.Stderr, "Node %s not found\n", name)
		return 1
	}
	loc := r.c.Now().Location()
	r.lastUpdate(len(sel))
	var b strings.Builder
	for _, n := range sel {
		st := stateOfNode(n)
		var in []string
		for _, p := range parts {
			for _, pn := range p.nodes {
				if pn.Name == n.Name {
					in = append(in, p.name)
				}
			}
		}
		cfg := fmt.Sprintf("cpu=%d,mem=%s,billing=%d", n.Capacity.CPUs, memString(n.Capacity.MemoryMB), n.Capacity.CPUs)
		cfg += gpuTres(n.Capacity)
		var alloc []string
		if n.Allocated.CPUs > 0 {
			alloc = append(alloc, fmt.Sprintf("cpu=%d", n.Allocated.CPUs))
		}
		if n.Allocated.MemoryMB > 0 {
			alloc = append(alloc, "mem="+memString(n.Allocated.MemoryMB))
		}
		if n.Allocated.GPUs > 0 {
			alloc = append(alloc, gpuTres(nodeGPUsInUse(n))[1:])
		}
		lines := []string{
			fmt.Sprintf("CPUAlloc=%d CPUEfctv=%d CPUTot=%d CPULoad=%s", n.Allocated.CPUs, n.Capacity.CPUs, n.Capacity.CPUs, cpuLoad(n)),
			"AvailableFeatures=" + labelsString(n.Labels),
			"ActiveFeatures=" + labelsString(n.Labels),
			"Gres=" + gresString(n.Capacity),
			fmt.Sprintf("NodeAddr=%s NodeHostName=%s Version=%s", n.Name, n.Name, slurmRelease),
			fmt.Sprintf("RealMemory=%d AllocMem=%d FreeMem=%d Sockets=%d Boards=1",
				n.Capacity.MemoryMB, n.Allocated.MemoryMB, n.Capacity.MemoryMB-n.Allocated.MemoryMB, n.Capacity.CPUs),
			fmt.Sprintf("State=%s ThreadsPerCore=1 TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A", st.upper),
			"Partitions=" + strings.Join(in, ",") + " ",
			fmt.Sprintf("BootTime=None SlurmdStartTime=%s", stamp(epochTime(n.RegisteredAt, loc), "None")),
			"LastBusyTime=Unknown", // shoal does not track when a node last ran a job
			"CfgTRES=" + cfg,
			"AllocTRES=" + strings.Join(alloc, ","),
			"CapWatts=n/a",
			"CurrentWatts=0 AveWatts=0",
			"ExtSensorsJoules=n/s ExtSensorsWatts=0 ExtSensorsTemp=n/s",
		}
		if n.Reason != "" {
			line := "Reason=" + n.Reason
			if n.ReasonBy != "" {
				line += fmt.Sprintf(" [%s@%s]", n.ReasonBy, stamp(epochTime(n.ReasonAt, r.c.Now().Location()), "Unknown"))
			}
			lines = append(lines, line)
		}
		// The first line keeps Slurm's trailing space (two spaces with -o).
		r.record(&b, fmt.Sprintf("NodeName=%s Arch=(null) CoresPerSocket=1 ", n.Name), lines)
	}
	fmt.Fprint(r.c.Stdout, b.String())
	return 0
}

// showPartition prints one partition or all of them.
func (r *scontrolRun) showPartition(name string) int {
	_, parts, ok := r.loadNodesAndPartitions()
	if !ok {
		return 1
	}
	var b strings.Builder
	found := 0
	for _, p := range parts {
		if name != "" && p.name != name {
			continue
		}
		found++
		cpus := 0
		var mem int64
		var gpus api.Resources
		for _, n := range p.nodes {
			cpus += n.Capacity.CPUs
			mem += n.Capacity.MemoryMB
			gpus = gpus.Add(api.Resources{GPUs: n.Capacity.GPUs, GPUTypes: n.Capacity.GPUTypes})
		}
		tres := fmt.Sprintf("cpu=%d,mem=%s,node=%d,billing=%d", cpus, memString(mem), len(p.nodes), cpus) + gpuTres(gpus)
		def, state := "NO", "UP"
		if p.isDefault {
			def = "YES"
		}
		if p.avail == "drain" {
			state = "DRAIN"
		}
		r.record(&b, "PartitionName="+p.name, []string{
			"AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL",
			fmt.Sprintf("AllocNodes=ALL Default=%s QoS=N/A", def),
			fmt.Sprintf("DefaultTime=NONE DisableRootJobs=NO ExclusiveUser=NO GraceTime=%d Hidden=NO", p.graceTime),
			"MaxNodes=1 MaxTime=UNLIMITED MinNodes=1 LLN=NO MaxCPUsPerNode=UNLIMITED",
			"Nodes=" + orNull(compressHosts(nodeNames(p.nodes))),
			fmt.Sprintf("PriorityJobFactor=1 PriorityTier=%d RootOnly=NO ReqResv=NO OverSubscribe=NO", p.priorityTier()),
			"OverTimeLimit=NONE PreemptMode=" + p.preemptModeName(),
			fmt.Sprintf("State=%s TotalCPUs=%d TotalNodes=%d SelectTypeParameters=NONE", state, cpus, len(p.nodes)),
			"JobDefaults=(null)",
			"DefMemPerNode=UNLIMITED MaxMemPerNode=UNLIMITED",
			"TRES=" + tres,
		})
	}
	if found == 0 {
		if name == "" {
			fmt.Fprintln(r.c.Stdout, "No partitions in the system")
			return 0
		}
		fmt.Fprintf(r.c.Stderr, "Partition %s not found\n", name)
		return 1
	}
	r.lastUpdate(found)
	fmt.Fprint(r.c.Stdout, b.String())
	return 0
}

// showConfig prints the settings shoal has in Slurm's terms, as
// "Key = value" lines ("=" its own token, units after numbers: toil
// parses SchedulerTimeSlice and AcctGatherNodeFreq), then a ping line.
func (r *scontrolRun) showConfig() int {
	info, err := r.c.Client.Cluster(r.ctx)
	if err != nil {
		fmt.Fprintf(r.c.Stderr, "slurm_load_ctl_conf error: %s\n", safeErr(err))
		return 1
	}
	now := r.c.Now()
	leader := controllerHost(info.Leader)
	boot := "Unknown"
	if info.StartedAt > 0 {
		boot = stamp(epochTime(info.StartedAt, now.Location()), "Unknown")
	}
	version := info.Version
	if version == "" {
		version = "(null)"
	}
	// SlurmctldPort: the TCP port commands reach the controller on (0
	// over a unix socket).
	ctldPort := "0"
	if addr := r.c.Getenv("SHOAL_ADDR"); addr != "" && !strings.HasPrefix(addr, "/") {
		if i := strings.LastIndexByte(addr, ':'); i >= 0 && allDigits(addr[i+1:]) {
			ctldPort = addr[i+1:]
		}
	}
	settings := [][2]string{
		{"AccountingStorageEnforce", "none"},
		{"AccountingStorageType", "accounting_storage/shoal"},
		{"AccountingStoreFlags", "(null)"},
		{"AcctGatherEnergyType", "acct_gather_energy/none"},
		{"AcctGatherNodeFreq", "0 sec"},
		{"AuthType", "auth/shoal"},
		{"BatchStartTimeout", "10 sec"},
		{"BOOT_TIME", boot},
		{"ClusterName", shoalCluster},
		{"CompleteWait", "0 sec"},
		{"DefMemPerNode", "UNLIMITED"},
		{"DependencyParameters", "(null)"},
		{"EnforcePartLimits", "NO"},
		{"FirstJobId", "1"},
		{"GresTypes", "gpu"},
		{"InactiveLimit", "0 sec"},
		{"JobAcctGatherType", "jobacct_gather/none"},
		{"JobCompType", "jobcomp/none"},
		{"JobRequeue", "1"},
		{"KillWait", "30 sec"},
		{"MaxArraySize", strconv.Itoa(arraylimit.MaxArraySize)}, // what the controller enforces: indexes 0 to MaxArraySize-1
		{"MaxJobCount", "UNLIMITED"},
		{"MaxMemPerNode", "UNLIMITED"},
		{"MessageTimeout", "10 sec"},
		{"MinJobAge", fmt.Sprintf("%d sec", int(MinJobAge/time.Second))},
		{"MpiDefault", "none"},
		{"OverTimeLimit", "0 min"},
		{"PreemptMode", preemptModeOf(info)},
		{"PreemptType", preemptTypeOf(info)},
		{"PriorityType", "priority/basic"},
		{"ProctrackType", "proctrack/cgroup"},
		{"ReturnToService", "2"},
		{"SchedulerParameters", "(null)"},
		{"SchedulerTimeSlice", "30 sec"},
		{"SchedulerType", "sched/shoal"},
		{"SelectType", "select/cons_tres"},
		{"SelectTypeParameters", "CR_CPU_MEMORY"},
		{"SHOAL_VERSION", version},
		{"SlurmctldHost[0]", leader},
		{"SlurmctldPort", ctldPort},
		{"SlurmctldTimeout", "120 sec"},
		{"SlurmdPort", "0"}, // nodes reach the controller; no daemon listens on a node
		{"SlurmdTimeout", "300 sec"},
		{"SlurmUser", "root(0)"}, // the agent runs as root: its sandboxes need it
		{"SLURM_CONF", nullIfEmpty(r.c.Getenv("SLURM_CONF"))},
		{"SLURM_VERSION", slurmRelease},
		{"TaskPlugin", "task/cgroup"},
		{"TmpFS", "/tmp"},
		{"TrackWCKey", "No"},
		{"WaitTime", "0 sec"},
	}
	for i, m := range info.Members {
		if controllerHost(m) != leader {
			settings = append(settings, [2]string{"SlurmctldHost[" + strconv.Itoa(i+1) + "]", controllerHost(m)})
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Configuration data as of %s\n", stamp(now, "Unknown"))
	for _, kv := range settings {
		fmt.Fprintf(&b, "%-23s = %s\n", kv[0], kv[1])
	}
	b.WriteString("\n")
	fmt.Fprint(r.c.Stdout, b.String())
	return r.ping()
}

// cpuLoad prints a node's load average as Slurm does (two decimals), or
// N/A when the controller has none for it.
func cpuLoad(n *api.Node) string {
	if n.CPULoad == nil {
		return "N/A"
	}
	return strconv.FormatFloat(*n.CPULoad, 'f', 2, 64)
}
