package slurm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/cli/internal/termsafe"
)

// Sbatch is sbatch: it submits a batch script (a file, stdin, or --wrap's
// command) with the options of its command line, the SBATCH_* variables
// and its #SBATCH lines, in that order of precedence, and prints
// "Submitted batch job N".
func Sbatch(c *Ctx, args []string) int {
	cliOpts, operands, err := sbatchGetopt.Parse(args)
	if err != nil {
		return report(c, "sbatch", err)
	}
	// The command line is checked on its own first, as Slurm does, so
	// that a bad option is named before the script is read.
	first := &jobOpts{prog: "sbatch"}
	for _, opt := range cliOpts {
		if err := first.apply(opt, levelCLI); err != nil {
			return report(c, "sbatch", err)
		}
	}
	switch {
	case first.help:
		fmt.Fprint(c.Stdout, sbatchHelp)
		return 0
	case first.usage:
		fmt.Fprint(c.Stdout, sbatchUsage)
		return 0
	case first.version:
		fmt.Fprintln(c.Stdout, VersionLine)
		return 0
	}
	cwd, err := c.Getwd()
	if err != nil {
		return report(c, "sbatch", errorf(1, "Unable to find the current directory: %v (give --chdir)", err))
	}
	var text, name string
	var scriptArgs []string
	if first.wrapSet {
		if len(operands) > 0 {
			return report(c, "sbatch", errorf(1, "Script arguments not permitted with --wrap option"))
		}
		text, name = wrapScript(first.wrap), "wrap"
	} else {
		text, name, err = readScript(c, operands, cwd)
		if err == nil {
			err = checkScript(text)
		}
		if err != nil {
			return report(c, "sbatch", err)
		}
		if len(operands) > 1 {
			scriptArgs = operands[1:]
		}
	}
	scriptOpts, err := directiveOpts(text)
	if err != nil {
		return report(c, "sbatch", err)
	}
	o := &jobOpts{prog: "sbatch"}
	for _, level := range []struct {
		opts  []Opt
		level int
	}{{scriptOpts, levelScript}, {envOpts(c), levelEnv}, {cliOpts, levelCLI}} {
		for _, opt := range level.opts {
			if err := o.apply(opt, level.level); err != nil {
				return report(c, "sbatch", err)
			}
		}
	}
	ctx := context.Background()
	req, err := o.request(ctx, c, cwd)
	if err != nil {
		return report(c, "sbatch", err)
	}
	if req.Name == "" {
		req.Name = name
	}
	req.Script, req.Command = text, scriptArgs
	if req.Stdout == "" {
		req.Stdout = "slurm-%j.out"
		if len(req.ArrayIndexes) > 0 {
			req.Stdout = "slurm-%A_%a.out"
		}
	}
	if req.Stderr == "" {
		req.Stderr = req.Stdout
	}
	o.dumpOptions(c.Stderr)
	o.debugf(c.Stderr, "submitting %s: %d CPUs, %s memory, partition %s", req.Name, req.Resources.CPUs,
		memOrDefault(req.Resources.MemoryMB), orDefaultQueue(req.Queue))
	resp, err := c.Client.Submit(ctx, req)
	if err != nil {
		if o.verbose > 0 {
			fmt.Fprintf(c.Stderr, "sbatch: controller: %s\n", safeErr(err))
		}
		return report(c, "sbatch", submitFailure(err, invalidPartition(ctx, c, req.JobSpec)))
	}
	if o.testOnly {
		return testOnlyReport(ctx, c, "sbatch", req)
	}
	switch {
	case o.parsable:
		fmt.Fprintf(c.Stdout, "%d\n", resp.ID)
	case !o.quiet:
		fmt.Fprintf(c.Stdout, "Submitted batch job %d\n", resp.ID)
	}
	if !o.wait {
		return 0
	}
	return waitForJobs(ctx, c, "sbatch", resp.ID, len(req.ArrayIndexes) > 0)
}

// VersionLine is what the Slurm commands print for --version: the Slurm
// release whose behaviour shoal follows.
const VersionLine = "slurm " + slurmRelease + " (shoal)"

// slurmRelease is the Slurm release whose commands shoal's follow, as
// scontrol show node's Version= and show config's SLURM_VERSION name it.
const slurmRelease = "22.05.8"

// request turns the options into a submit request (without the script,
// its arguments and the default name and output, which depend on how
// the script was given). cwd is the submitting directory.
func (o *jobOpts) request(ctx context.Context, c *Ctx, cwd string) (api.SubmitJobRequest, error) {
	req := api.SubmitJobRequest{
		JobSpec: api.JobSpec{
			Name: o.name, Held: o.hold, TimeLimit: o.timeLimit,
			NoRequeue: o.noRequeue, Account: o.account, QOS: o.qos, Comment: o.comment,
			SubmitHost: c.Hostname, Stdout: o.output, Stderr: o.errPath, Stdin: o.input,
			Licenses: o.licenses,
		},
		TestOnly: o.testOnly,
	}
	setPartitions(&req.JobSpec, o.partition)
	if o.prioritySet {
		req.Priority = o.priority
	}
	req.Nice = o.nice
	// Only a job with dependencies says it (keeps the request small).
	req.KeepOnInvalidDep = o.dependency != "" && !o.killInvalidDep
	if o.warn != nil {
		req.LimitWarnSignal, req.LimitWarnSeconds, req.LimitWarnBatch = o.warn.Signal, o.warn.Seconds, o.warn.Batch
	}
	if err := o.checkNodes(); err != nil {
		return req, err
	}
	cpt := max(o.cpusPerTask, 1)
	nodeCPUs := 0
	if o.exclusive {
		var err error
		if nodeCPUs, err = o.exclusiveCPUs(ctx, c); err != nil {
			return req, err
		}
	}
	ntasks := o.ntasks
	if ntasks == 0 {
		ntasks = max(o.ntasksPerNode, 1)
	}
	gpus, gpuTypes := o.gpuRequest(ntasks)
	cpus := max(ntasks*cpt, o.mincpus, o.cpusPerGPU*gpus)
	if o.overcommit { // tasks share CPUs: one task's worth for the job
		cpus = max(cpt, o.mincpus, o.cpusPerGPU*gpus)
	}
	cpus = max(cpus, nodeCPUs)
	req.Resources = api.Resources{CPUs: cpus, GPUs: gpus, GPUTypes: gpuTypes}
	mem, err := o.memory(cpus, gpus)
	if err != nil {
		return req, err
	}
	req.Resources.MemoryMB = mem
	req.TmpMB = o.tmp

	req.Dir = cwd
	if o.chdir != "" {
		req.Dir = o.chdir
		if !filepath.IsAbs(req.Dir) {
			req.Dir = filepath.Join(cwd, req.Dir)
		}
	}
	if o.array != "" {
		req.ArrayIndexes, req.ArrayMaxRunning, err = parseArray(o.array)
		if err != nil {
			return req, err
		}
	}
	if o.begin != "" {
		at, err := parseBegin(o.begin, c.Now())
		if err != nil {
			return req, err
		}
		req.BeginAt = at.UnixMilli()
	}
	if o.deadline != "" {
		at, err := parseDeadline(o.deadline, c.Now())
		if err != nil {
			return req, err
		}
		req.DeadlineAt = at.UnixMilli()
		if req.BeginAt > req.DeadlineAt {
			return req, errorf(1, "Incompatible begin and deadline time specification")
		}
	}
	if o.dependency != "" {
		spec, err := parseDependency(o.dependency)
		if err != nil {
			return req, err
		}
		if req.DependsOn, err = resolveDeps(ctx, c, spec); err != nil {
			return req, err
		}
		req.DependAny = spec.Any && len(req.DependsOn) > 1
	}

	req.Env = exportEnv(o.export, c.Env)
	set := func(k string, n int64, when bool) {
		if when {
			req.Env[k] = strconv.FormatInt(n, 10)
		}
	}
	// What sbatch itself tells the job about its request, as Slurm does.
	set("SLURM_CPUS_PER_TASK", int64(o.cpusPerTask), o.cpusPerTask > 0)
	set("SLURM_NTASKS", int64(ntasks), o.ntasks > 0 || o.ntasksPerNode > 0)
	set("SLURM_NPROCS", int64(ntasks), o.ntasks > 0 || o.ntasksPerNode > 0)
	set("SLURM_NTASKS_PER_NODE", int64(o.ntasksPerNode), o.ntasksPerNode > 0)
	set("SLURM_OVERCOMMIT", 1, o.overcommit)
	set("SLURM_MEM_PER_CPU", o.memPerCPU, o.memPerCPU > 0 && mem > 0 && o.memPerCPULevel >= max(o.memLevel, o.memPerGPULevel))
	set("SLURM_GPUS_PER_NODE", int64(gpus), gpus > 0)
	if o.exportSet {
		req.Env["SLURM_EXPORT_ENV"] = o.export
	}
	if o.openMode != "" {
		req.Env["SLURM_OPEN_MODE"] = o.openMode
		req.AppendOutput = o.openMode == "a"
	}
	return req, nil
}

// exclusiveCPUs is how many CPUs --exclusive asks for: those of the node
// -w names, else of the largest node that is up in the job's partition.
func (o *jobOpts) exclusiveCPUs(ctx context.Context, c *Ctx) (int, error) {
	nodes, err := c.Client.Nodes(ctx)
	if err != nil {
		return 0, errorf(1, "Unable to read the nodes for --exclusive: %v", err)
	}
	var want []string
	if o.nodelist != "" {
		if want, err = expandHosts(o.nodelist); err != nil {
			return 0, errorf(1, "Invalid node name specified: %s", o.nodelist)
		}
	}
	parts, err := loadPartitions(ctx, c, nodes)
	if err != nil {
		return 0, errorf(1, "Unable to read the partitions for --exclusive: %v", err)
	}
	queue := orDefaultQueue(o.partition)
	best := 0
	for _, p := range parts {
		if p.name != queue {
			continue
		}
		for _, n := range p.nodes {
			if n.State == api.NodeUp && (len(want) == 0 || slices.Contains(want, n.Name)) {
				best = max(best, n.Capacity.CPUs)
			}
		}
	}
	if best == 0 && len(want) > 0 {
		return 0, errorf(1, "Invalid node name specified: %s", o.nodelist)
	}
	return best, nil
}

// checkNodes accepts --nodes=1 (or a range that allows one node): shoal
// runs every job on one node.
func (o *jobOpts) checkNodes() error {
	if o.nodes == "" {
		return nil
	}
	lo, hi, isRange := strings.Cut(o.nodes, "-")
	if !isRange {
		lo, hi, isRange = strings.Cut(o.nodes, ",")
	}
	minN, err := strconv.Atoi(lo)
	if err != nil || minN < 0 {
		return errorf(255, "invalid number of nodes (-N %s)", o.nodes)
	}
	if isRange {
		if maxN, err := strconv.Atoi(hi); err != nil || maxN < minN {
			return errorf(255, "invalid number of nodes (-N %s)", o.nodes)
		}
	}
	if minN > 1 {
		return &exitError{RC: 1, Lines: []string{
			fmt.Sprintf("shoal runs each job on one node: --nodes=%s asks for at least %d (use --nodes=1 and --ntasks/--cpus-per-task)", o.nodes, minN),
			"Batch job submission failed: Node count specification invalid",
		}}
	}
	return nil
}

// memory returns the MiB the options ask for (0: the controller's
// default). --mem, --mem-per-cpu and --mem-per-gpu exclude each other at
// one level; one given at a higher level replaces the others.
func (o *jobOpts) memory(cpus, gpus int) (int64, error) {
	top := max(o.memLevel, o.memPerCPULevel, o.memPerGPULevel)
	if top == 0 {
		return 0, nil
	}
	n := 0
	for _, l := range []int{o.memLevel, o.memPerCPULevel, o.memPerGPULevel} {
		if l == top {
			n++
		}
	}
	if n > 1 {
		return 0, &exitError{RC: 1, Fatal: true, Lines: []string{"--mem, --mem-per-cpu, and --mem-per-gpu are mutually exclusive."}}
	}
	switch top {
	case o.memLevel:
		return o.mem, nil
	case o.memPerCPULevel:
		return o.memPerCPU * int64(cpus), nil
	}
	return o.memPerGPU * int64(max(gpus, 1)), nil
}

// resolveDeps turns a parsed --dependency into the API's dependencies: an
// array task A_i becomes the task's own job id (aftercorr's, the array's:
// it pairs tasks by index); a bare array id A stays, meaning every task of
// the array.
func resolveDeps(ctx context.Context, c *Ctx, spec depSpec) ([]api.Dependency, error) {
	var deps []api.Dependency
	tasks := map[uint64][]api.Job{}
	for _, d := range spec.Deps {
		dep := api.Dependency{JobID: d.Ref.JobID, Type: d.Type}
		if d.Ref.HasTask {
			list, ok := tasks[d.Ref.JobID]
			if !ok {
				var err error
				list, err = c.Client.ListJobs(ctx, api.ListJobsRequest{ArrayJobID: d.Ref.JobID})
				if err != nil {
					return nil, submitFailure(err, "")
				}
				tasks[d.Ref.JobID] = list
			}
			dep.JobID = 0
			for _, j := range list {
				if j.Array != nil && j.Array.JobID == d.Ref.JobID && j.Array.Index == d.Ref.Task {
					dep.JobID = j.ID
				}
			}
			if dep.JobID == 0 {
				return nil, errDependency
			}
			if d.Type == api.AfterCorr {
				// Slurm pairs tasks by index in the array A of
				// aftercorr:A_I too (its job id): as aftercorr:A.
				dep.JobID = d.Ref.JobID
			}
		}
		deps = append(deps, dep)
	}
	return deps, nil
}

// submitFailure words a refused submission as Slurm does, keyed on the
// API error's code and field.
func submitFailure(err error, queue string) error {
	var e *api.Error
	if !errors.As(err, &e) {
		var ne *net.OpError
		if errors.As(err, &ne) {
			return errorf(1, "Batch job submission failed: Unable to contact slurm controller (connect failure): %v", err)
		}
		return errorf(1, "Batch job submission failed: %v", err)
	}
	if queue == "" {
		queue = api.DefaultQueue
	}
	failed := func(why string) error { return errorf(1, "Batch job submission failed: %s", why) }
	switch {
	case e.Field == "queue":
		return &exitError{RC: 1, Lines: []string{
			"invalid partition specified: " + queue,
			"Batch job submission failed: Invalid partition name specified"}}
	case e.Code == api.CodeUnsatisfiable && e.Field == "memory":
		return &exitError{RC: 1, Lines: []string{
			"Memory specification can not be satisfied",
			"Batch job submission failed: Requested node configuration is not available"}}
	case e.Code == api.CodeUnsatisfiable && e.Field == "gpuTypes":
		return &exitError{RC: 1, Lines: []string{e.Message, // names the types the partition has
			"Batch job submission failed: Invalid generic resource (gres) specification"}}
	case e.Code == api.CodeUnsatisfiable:
		return failed("Requested node configuration is not available")
	case e.Field == "account":
		return failed(api.ErrInvalidAccount)
	case e.Field == "policy": // "REASON: detail" (the controller's accounts.go)
		lines := []string{"Batch job submission failed: Job violates accounting/QOS policy (job submit limit, user's size and/or time limits)"}
		if reason, _, _ := strings.Cut(e.Message, ":"); strings.Contains(reason, "Submit") {
			lines = append([]string{reason}, lines...)
		}
		return &exitError{RC: 1, Lines: lines}
	case e.Field == "qos":
		return failed("Invalid qos specification")
	case e.Field == "dependency":
		return failed("Job dependency problem")
	case e.Field == "deadline":
		return failed("Requested time limit is invalid (missing or exceeds some limit)")
	case e.Field == "array":
		return failed("Invalid job array specification")
	case e.Field == "licenses":
		return failed(errInvalidLicenses)
	case e.Field == "timeLimit":
		return failed("Requested time limit is invalid (missing or exceeds some limit)")
	}
	return failed(e.Message)
}

// testOnlyReport prints what sbatch --test-only prints for a request the
// controller accepted: where and when it could start. shoal's controller
// validates without planning, so the node is the first up node with room
// for the job (else the first big enough), whichever queue it serves, and
// the time is now.
func testOnlyReport(ctx context.Context, c *Ctx, prog string, req api.SubmitJobRequest) int {
	queue := req.Queue
	if queue == "" {
		queue = api.DefaultQueue
	}
	node := "(null)"
	if nodes, err := c.Client.Nodes(ctx); err == nil {
		fits := ""
		for _, n := range nodes {
			if n.State != api.NodeUp {
				continue
			}
			if req.Resources.Fits(n.Free()) {
				node = n.Name
				break
			}
			if fits == "" && req.Resources.Fits(n.Capacity) {
				fits = n.Name
			}
		}
		if node == "(null)" && fits != "" {
			node = fits
		}
	}
	cpus := max(req.Resources.CPUs, 1)
	fmt.Fprintf(c.Stderr, "%s: Job 0 to start at %s using %d processors on nodes %s in partition %s\n",
		prog, c.Now().Format("2006-01-02T15:04:05"), cpus, termsafe.String(node), termsafe.String(queue))
	return 0
}

// waitForJobs waits until job id (every task, for an array) has ended and
// returns sbatch --wait's exit status: 0 if all completed, else the
// highest exit code (128+N for a signal), or 1.
func waitForJobs(ctx context.Context, c *Ctx, prog string, id uint64, array bool) int {
	ids := []uint64{id}
	if array {
		tasks, err := c.Client.ListJobs(ctx, api.ListJobsRequest{ArrayJobID: id})
		if err != nil {
			c.Errorf(prog, "Unable to wait for job %d: %v", id, err)
			return 1
		}
		ids = ids[:0]
		for _, t := range tasks {
			ids = append(ids, t.ID)
		}
	}
	rc := 0
	for _, id := range ids {
		j, err := c.Client.WaitJob(ctx, id)
		if err != nil {
			c.Errorf(prog, "Unable to wait for job %d: %v", id, err)
			return 1
		}
		rc = max(rc, exitStatus(&j))
	}
	return rc
}

// exitStatus is the status a command waiting for an ended job exits with:
// 0 if it completed, its exit code, 128+N if signal N killed it, or 1.
func exitStatus(j *api.Job) int {
	switch {
	case j.State == api.StateSucceeded:
		return 0
	case j.ExitSignal > 0:
		return 128 + j.ExitSignal
	case j.ExitCode != nil && *j.ExitCode > 0:
		return *j.ExitCode
	}
	return 1
}

const sbatchUsage = `Usage: sbatch [-N nnodes] [-n ntasks]
              [-c ncpus] [-p partition] [--hold] [--parsable] [-t minutes]
              [-D path] [--output file] [--error file]
              [--chdir=directory] [-J jobname] [--verbose]
              [--mem=MB] [--mem-per-cpu=MB] [--account=name]
              [--dependency=type:jobid] [--comment=name] [--nice[=value]]
              [--wait] [--requeue] [--no-requeue] [--ntasks-per-node=n]
              [--qos=qos] [--gres=list] [--gpus=n] [--gpus-per-node=n]
              [--array=index_values] [--export[=names]] [--begin=time]
              [--test-only] [--wrap=command]
              executable [args...]
`

const sbatchHelp = `Usage: sbatch [OPTIONS...] executable [args...]

shoal's sbatch: Slurm 22.05's options, run by shoal. Options shoal does not
act on are accepted and listed with -v.

Parallel run options:
  -a, --array=indexes         job array index values (0-15, 1,3,5, 1-9:2, 0-99%10)
  -A, --account=name          charge job to specified account
  -b, --begin=time            defer job until HH:MM MM/DD/YY, now+N, ...
  -c, --cpus-per-task=ncpus   number of cpus required per task
      --comment=name          arbitrary comment
      --deadline=time         remove the job if no ending possible before
                              this deadline (start > (deadline - time[-min]))
  -d, --dependency=type:jobid[:jobid]  defer job until condition on jobid is
                              satisfied (after, afterany, afterok, afternotok,
                              singleton; "," all, "?" any)
  -D, --chdir=directory       set working directory for batch script
  -e, --error=err             file for batch script's standard error
      --export[=names]        specify environment variables to export
  -H, --hold                  submit job in held state
  -J, --job-name=jobname      name of job
  -n, --ntasks=ntasks         number of tasks to run
      --nice[=value]          decrease scheduling priority by value
  -N, --nodes=N               number of nodes on which to run (shoal: 1)
  -o, --output=out            file for batch script's standard output
  -p, --partition=partition   partition requested
      --parsable              outputs only the jobid
  -q, --qos=qos               quality of service
  -Q, --quiet                 quiet mode (suppress informational messages)
      --requeue               if set, permit the job to be requeued
  -t, --time=minutes          time limit
      --test-only             validate the request, submit nothing
  -W, --wait                  wait for completion of submitted job
      --wrap[=command string] wrap command string in a sh script and submit

Constraint options:
      --mincpus=n             minimum number of logical processors per node
      --tmp=MB                minimum amount of temporary disk (shoal: the
                              size of the job's private /tmp)
  -O, --overcommit            overcommit resources: the tasks share one
                              task's CPUs

Consumable resources related options:
      --mem=MB                minimum amount of real memory
      --mem-per-cpu=MB        maximum amount of real memory per allocated cpu
      --mem-per-gpu=MB        real memory required per allocated GPU
  -G, --gpus=n                count of GPUs required for the job
      --gpus-per-node=n       number of GPUs required per allocated node
      --gpus-per-task=n       number of GPUs required per spawned task
      --gres=list             required generic resources (gpu[:type]:count)

Help options:
  -h, --help                  show this help message
      --usage                 display brief usage message

Other options:
  -V, --version               output version information and exit
`

// memOrDefault names a memory request for -vv: "N MiB", or "default".
func memOrDefault(mb int64) string {
	if mb <= 0 {
		return "default"
	}
	return strconv.FormatInt(mb, 10) + " MiB"
}

// orDefaultQueue is the partition a request goes to.
func orDefaultQueue(q string) string {
	if q == "" {
		return api.DefaultQueue
	}
	return q
}
