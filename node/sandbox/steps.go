package sandbox

import (
	"bytes"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// A job step's processes (scancel JOB.STEP, scancel --signal JOB.STEP).
// srun starts a step's tasks with SLURM_STEP_ID=N in their environment
// (and a task's children inherit it); the step's processes are those of
// the job's cgroup whose initial environment says so, those the step's
// srun started (a task that execs a program with a clean environment at
// once, as `srun env -i prog` does, keeps nothing else to know it by),
// and every descendant of one of them. srun itself and PID 1, the batch
// script, are never the step's. Only the job's own processes are looked
// at, so what a job writes in its environment, or says its srun is, can
// at most point a signal at another of its own.

// StepScope is the scope of one step's processes; launcher is the step's
// srun, by its pid in the job's PID namespace (0: not known).
func StepScope(step uint32, launcher int) Scope {
	return Scope{kind: scopeStep, step: step, launcher: max(launcher, 0)}
}

// Step returns the step a step scope names.
func (s Scope) Step() (uint32, bool) { return s.step, s.kind == scopeStep }

// stepPids picks, among pids (the job's processes, host pids), those of
// step and their descendants, PID 1 (initPid) and the step's launcher
// (its pid in the job, 0: none) left out.
func stepPids(pids []int, initPid int, step uint32, launcher int) []int {
	want := []byte("SLURM_STEP_ID=" + strconv.FormatUint(uint64(step), 10))
	parent := make(map[int]int, len(pids))
	in := make(map[int]bool, len(pids))
	launcherHost := -1 // the launcher's host pid, once found
	if launcher == 1 {
		launcherHost = initPid // the batch script exec'd srun (sbatch --wrap 'srun prog')
	}
	for _, pid := range pids {
		if pid == initPid {
			continue
		}
		parent[pid] = ppidOf(pid)
		if launcher > 0 && launcherHost < 0 && innerPid(pid) == launcher {
			launcherHost = pid
			continue
		}
		env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil {
			continue // gone, or a kernel thread: nothing to signal
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if bytes.Equal(kv, want) {
				in[pid] = true
				break
			}
		}
	}
	var out []int
	for _, pid := range pids {
		if pid == initPid || pid == launcherHost {
			continue
		}
		// A process is the step's if it or an ancestor within the job is,
		// or if it or an ancestor is a child of the launcher.
		for p, hops := pid, 0; p > 0 && hops <= len(pids); p, hops = parent[p], hops+1 {
			if in[p] || parent[p] == launcherHost {
				out = append(out, pid)
				break
			}
			if _, ok := parent[p]; !ok {
				break
			}
		}
	}
	return out
}

// innerPid reads a process's pid in its innermost PID namespace (the
// job's) from the NSpid line of /proc/PID/status (0: unknown).
func innerPid(pid int) int {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(status) {
		if rest, ok := bytes.CutPrefix(line, []byte("NSpid:")); ok {
			fields := bytes.Fields(rest)
			if len(fields) == 0 {
				return 0
			}
			n, _ := strconv.Atoi(string(fields[len(fields)-1]))
			return n
		}
	}
	return 0
}

// ppidOf reads a process's parent pid from /proc/PID/stat (0: unknown).
func ppidOf(pid int) int {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	fields := bytes.Fields(stat[i+1:])
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(string(fields[1]))
	return ppid
}

// signalStep sends sig to step's processes; the cgroup is frozen by the
// caller, so none forks past the list.
func (j *Job) signalStep(sig unix.Signal, scope Scope) error {
	pids, err := j.c.Processes()
	if err != nil {
		return fmt.Errorf("list processes: %w", err)
	}
	for _, pid := range stepPids(pids, j.initPid, scope.step, scope.launcher) {
		if err := unix.Kill(pid, sig); err != nil && err != unix.ESRCH {
			return fmt.Errorf("signal %d: %w", pid, err)
		}
	}
	return nil
}
