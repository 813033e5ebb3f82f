package node

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/node/gpu"
	"github.com/shoal-batch/shoal/node/sandbox"
)

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// logPaths returns where a job's stdout and stderr go: the paths the job
// asked for (relative to its working directory), else the node's log dir.
func (a *Agent) logPaths(j *api.Job) (stdout, stderr string) {
	stdout, stderr = expandPattern(j.Stdout, j, a.cfg.Name), expandPattern(j.Stderr, j, a.cfg.Name)
	if stdout == "" {
		stdout = filepath.Join(a.logDir, api.FormatID(j.ID)+".out")
	}
	if stderr == "" {
		stderr = filepath.Join(a.logDir, api.FormatID(j.ID)+".err")
	}
	if !filepath.IsAbs(stdout) {
		stdout = filepath.Join(j.Dir, stdout)
	}
	if !filepath.IsAbs(stderr) {
		stderr = filepath.Join(j.Dir, stderr)
	}
	return stdout, stderr
}

// stdinPath is the file the job reads as its stdin (Job.Stdin, patterns
// expanded, relative to its working directory), "" for none.
func (a *Agent) stdinPath(j *api.Job) string {
	in := expandPattern(j.Stdin, j, a.cfg.Name)
	if in != "" && !filepath.IsAbs(in) {
		in = filepath.Join(j.Dir, in)
	}
	return in
}

// prepareLogs creates the log files of a job given no output file in the
// node's own log dir (root's, 0700, on the disk the node's state is on):
// owned by the job's user (their quota) but out of their reach, opened by
// the sandbox as root, and each bounded at MaxLogBytes, so no job fills
// that disk. A path the job named is never touched here, even one in the
// log dir: the sandbox opens it as the user, who cannot reach it.
func (a *Agent) prepareLogs(j *api.Job, spec *sandbox.Spec) error {
	for _, l := range []struct {
		named bool
		path  string
		node  *bool
		limit *int64
	}{{j.Stdout != "", spec.Stdout, &spec.NodeStdout, &spec.StdoutLimit}, {j.Stderr != "", spec.Stderr, &spec.NodeStderr, &spec.StderrLimit}} {
		if l.named {
			continue
		}
		*l.node, *l.limit = true, a.cfg.MaxLogBytes
		if err := os.Remove(l.path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("remove old log %s: %w", l.path, err)
		}
		f, err := os.OpenFile(l.path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("create log %s: %w", l.path, err)
		}
		err = f.Chown(int(spec.UID), int(spec.GID))
		f.Close()
		if err != nil {
			return fmt.Errorf("give log %s to uid %d: %w", l.path, spec.UID, err)
		}
	}
	return nil
}

// jobSpec turns an assignment into a sandbox spec: the job's command as its
// owner, in its working directory, with a login-like environment, the job's
// own variables and the variables shoal, Slurm and AWS Batch define for
// every job (later ones win).
func (a *Agent) jobSpec(j *api.Job) sandbox.Spec {
	home, shell := "/", "/bin/sh"
	if u, err := user.LookupId(strconv.FormatUint(uint64(j.UID), 10)); err == nil {
		home = u.HomeDir
	}
	dir := j.Dir
	if dir == "" {
		dir = home
	}
	id, cpus := api.FormatID(j.ID), strconv.Itoa(j.Resources.CPUs)
	env := map[string]string{
		"PATH": defaultPath, "HOME": home, "USER": j.User, "LOGNAME": j.User, "SHELL": shell,
		// Slurm's defaults for what the submitter may have set (sbatch sets
		// SLURM_CPUS_PER_TASK and SLURM_NTASKS when it was asked for them).
		"SLURM_NTASKS": "1", "SLURM_NPROCS": "1",
	}
	for k, v := range j.Env {
		env[k] = v
	}
	set := func(kv ...string) {
		for i := 0; i+1 < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
	}
	set("SHOAL_JOB_ID", id, "SHOAL_JOB_NAME", j.Name, "SHOAL_NODE", a.cfg.Name,
		"AWS_BATCH_JOB_ID", id, "AWS_BATCH_JOB_ATTEMPT", strconv.Itoa(max(j.Attempt, 1)),
		"AWS_BATCH_JQ_NAME", j.Queue, "AWS_BATCH_CE_NAME", j.ComputeEnvironment,
		"SLURM_JOB_ID", id, "SLURM_JOBID", id, "SLURM_JOB_NAME", j.Name,
		"SLURM_JOB_USER", j.User, "SLURM_JOB_UID", strconv.FormatUint(uint64(j.UID), 10),
		"SLURM_JOB_GID", strconv.FormatUint(uint64(j.GID), 10),
		"SLURM_JOB_PARTITION", j.Queue, "SLURM_JOB_ACCOUNT", j.Account, "SLURM_CLUSTER_NAME", "shoal",
		"SLURM_JOB_NUM_NODES", "1", "SLURM_NNODES", "1",
		"SLURM_JOB_NODELIST", a.cfg.Name, "SLURM_NODELIST", a.cfg.Name, "SLURMD_NODENAME", a.cfg.Name,
		"SLURM_TOPOLOGY_ADDR", a.cfg.Name, "SLURM_NODEID", "0", "SLURM_PROCID", "0", "SLURM_LOCALID", "0",
		"SLURM_CPUS_ON_NODE", cpus, "SLURM_JOB_CPUS_PER_NODE", cpus,
		"SLURM_MEM_PER_NODE", strconv.FormatInt(j.Resources.MemoryMB, 10),
		"SLURM_SUBMIT_DIR", dir, "SLURM_SUBMIT_HOST", j.SubmitHost,
		"SLURM_RESTART_COUNT", strconv.Itoa(max(j.Attempt-1, 0)))
	// One node: its tasks are all of them. The batch script is the init
	// of the sandbox's own PID namespace, so its pid there is 1.
	set("SLURM_TASKS_PER_NODE", env["SLURM_NTASKS"], "SLURM_TASK_PID", "1")
	if j.Account == "" {
		delete(env, "SLURM_JOB_ACCOUNT")
	}
	if j.Array != nil {
		set("SLURM_ARRAY_JOB_ID", api.FormatID(j.Array.JobID), "SLURM_ARRAY_TASK_ID", strconv.Itoa(j.Array.Index),
			"SLURM_ARRAY_TASK_MIN", strconv.Itoa(j.Array.Min), "SLURM_ARRAY_TASK_MAX", strconv.Itoa(j.Array.Max),
			"SLURM_ARRAY_TASK_COUNT", strconv.Itoa(j.Array.Count), "AWS_BATCH_JOB_ARRAY_INDEX", strconv.Itoa(j.Array.Index))
		if j.Array.Count > 1 && j.Array.Max-j.Array.Min+1 == j.Array.Count {
			set("SLURM_ARRAY_TASK_STEP", "1")
		}
	}
	if j.Resources.GPUs > 0 {
		set("SLURM_GPUS", strconv.Itoa(j.Resources.GPUs), "SLURM_GPUS_ON_NODE", strconv.Itoa(j.Resources.GPUs))
	}
	envList := make([]string, 0, len(env))
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	sort.Strings(envList)
	stdout, stderr := a.logPaths(j)
	tmp := a.cfg.JobTmpBytes
	if j.TmpMB > 0 {
		tmp = j.TmpMB << 20
	}
	if tmp == 0 {
		tmp = j.Resources.MemoryMB << 20 // 0 too if unlimited: the kernel's default
	}
	return sandbox.Spec{
		ID:          sandboxID(j),
		Argv:        j.Command,
		Env:         envList,
		Dir:         dir,
		UID:         j.UID,
		GID:         j.GID,
		Groups:      j.Groups,
		MemoryBytes: memoryLimit(j),
		CPUs:        float64(j.Resources.CPUs),
		PidsMax:     a.cfg.JobPidsMax,
		TmpBytes:    tmp,
		Stdout:      stdout,
		Stderr:      stderr,
		Stdin:       a.stdinPath(j),
		// Appending keeps what earlier attempts of a requeued job wrote.
		AppendOutput: j.AppendOutput,
		// Slurm 22.05's task/cgroup plugin's words (slurmstepd writes
		// them into the job's stderr; users and tools grep for them).
		OOMNote: stepdPrefix + "Detected %d oom-kill event(s) in StepId=" + id +
			".batch. Some of your processes may have been killed by the cgroup out-of-memory handler.",
		Mounts: sandboxMounts(j.Mounts), // an image job's Rootfs: imageSpec
	}
}

// gpuSpec gives a job its GPUs: the device nodes the sandbox lets it open
// (none for no GPUs), the variables that name them and, for an image job,
// the driver's libraries and programs (sandbox.DriverMounts). Variables of
// those names that came with the job or its image are dropped first: they
// would name GPUs that are not the job's.
func (a *Agent) gpuSpec(spec *sandbox.Spec, gpus []gpu.GPU) {
	spec.Env = slices.DeleteFunc(spec.Env, func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.Contains(gpu.EnvVars, k)
	})
	env := gpu.Env(gpus)
	for _, k := range gpu.EnvVars { // in a fixed order
		if v, ok := env[k]; ok {
			spec.Env = append(spec.Env, k+"="+v)
		}
	}
	spec.Devices = gpu.DevicePaths(a.devDir(), gpus)
	if len(gpus) > 0 {
		mounts := make([]sandbox.Mount, len(a.cfg.Driver))
		for i, f := range a.cfg.Driver {
			mounts[i] = sandbox.Mount{Source: f.Source, Target: f.Target}
		}
		sandbox.DriverMounts(spec, mounts, gpu.LibDir)
	}
}

// devDir is where the host's GPU device nodes are.
func (a *Agent) devDir() string {
	if a.cfg.DevDir != "" {
		return a.cfg.DevDir
	}
	return "/dev"
}

// memoryLimit is the cgroup memory limit of a job: what it asked for,
// as its queue's RAMSpace (ConstrainRAMSpace, AllowedRAMSpace) says.
func memoryLimit(j *api.Job) int64 {
	req := j.Resources.MemoryMB << 20
	if j.RAMSpace == nil {
		return req
	}
	return j.RAMSpace.LimitBytes(req)
}

// stepdPrefix starts the lines Slurm's slurmstepd writes into a job's
// stderr, and shoal's in its place (Spec.OOMNote, noteStop).
const stepdPrefix = "slurmstepd: error: "

// stepdTime is how slurmstepd writes a time: local, to the second.
const stepdTime = "2006-01-02T15:04:05"

// noteStop records, for the job's supervisor to write into its stderr
// once it has ended, that the task was stopped and why (why is Slurm's
// " DUE TO TIME LIMIT", or "" for a user's cancel): "*** JOB 7 ON n1
// CANCELLED AT 2026-12-04T21:03:05 DUE TO TIME LIMIT ***". A task that
// never started gets nothing. Waits for the task's start.
func (a *Agent) noteStop(t *task, at time.Time, why string) {
	<-t.started
	n, ok := t.proc.(interface{ Note(string) error })
	if !ok { // not started, or an executor without notes
		return
	}
	line := fmt.Sprintf("%s*** JOB %d ON %s CANCELLED AT %s%s ***", stepdPrefix, t.id, a.cfg.Name, at.Format(stepdTime), why)
	if err := n.Note(line); err != nil {
		a.log.Warn("note why the job was stopped", "job", t.id, "err", err)
	}
}

// stopNote is how slurmstepd words why a job the controller stops was
// stopped (noteStop's why), and whether it writes anything.
func stopNote(j *api.Job) (why string, ok bool) {
	switch {
	case j.RequeueRequested:
		return " DUE TO JOB REQUEUE", true
	case j.StopCause == api.CauseTerminated: // scancel, shoal terminate
		return "", true
	case j.StopCause == api.CauseNodeLost:
		return " DUE TO NODE FAILURE, SEE SLURMCTLD LOG FOR DETAILS", true
	case j.StopCause == api.CausePreempted:
		return " DUE TO PREEMPTION", true
	}
	return "", false
}

// placeScripts resolves the script directory and checks that jobs can see
// it. A host job runs in the host's file system but with a private /tmp
// and /dev/shm: a script kept under the host's /tmp (a data dir there,
// e.g. `shoal agent -dev` in a checkout under /tmp) is bound into each
// job at its own path; one under /dev/shm cannot be (a job's /dev holds
// no mounts but the sandbox's), so the daemon refuses to start.
func (a *Agent) placeScripts() error {
	dir, err := filepath.EvalSymlinks(a.scriptDir)
	if err != nil {
		return fmt.Errorf("script dir: %w", err)
	}
	a.scriptDir = dir
	switch {
	case dir == "/tmp" || strings.HasPrefix(dir, "/tmp/"):
		a.bindScripts = true
	case dir == "/dev/shm" || strings.HasPrefix(dir, "/dev/shm/"):
		return fmt.Errorf("data dir %s: batch scripts would be kept in %s, which jobs cannot see (each job has its own /dev/shm): give -data-dir on a disk, e.g. /var/lib/shoal", a.cfg.DataDir, dir)
	}
	return nil
}

// scriptPath is where the node keeps a job's batch script while it runs.
func (a *Agent) scriptPath(j *api.Job) string {
	return filepath.Join(a.scriptDir, fmt.Sprintf("job-%d-%d", j.ID, j.Attempt))
}

// writeScript stores a job's batch script as a file its user owns and may
// execute, and makes it the command (the kernel honours its #! line).
func (a *Agent) writeScript(j *api.Job, spec *sandbox.Spec) error {
	if j.Script == "" {
		return nil
	}
	path := a.scriptPath(j)
	os.Remove(path)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o500)
	if err != nil {
		return fmt.Errorf("write batch script: %w", err)
	}
	_, err = f.WriteString(j.Script)
	if err == nil {
		err = f.Chown(int(j.UID), int(j.GID))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write batch script: %w", err)
	}
	spec.Argv = append([]string{path}, j.Command...)
	if a.bindScripts && j.Image == "" {
		// Under the host's /tmp: the job's own /tmp would hide it.
		// (An image job gets it at scriptTarget instead, imageSpec.)
		spec.Mounts = append(spec.Mounts, sandbox.Mount{Source: path, Target: path, ReadOnly: true})
	}
	return nil
}
