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
// the job's cgroup whose initial environment says so, and every
// descendant of one of them (a task that started a program with a clean
// environment still takes it along). PID 1, the batch script, is never
// one. Only the job's own processes are looked at, so what a job writes
// in its environment can at most point a signal at another of its own.

// StepScope is the scope of one step's processes.
func StepScope(step uint32) Scope { return Scope(-1 - int64(step)) }

// Step returns the step a step scope names.
func (s Scope) Step() (uint32, bool) {
	if s >= 0 {
		return 0, false
	}
	return uint32(-1 - int64(s)), true
}

// stepPids picks, among pids (the job's processes, host pids), those of
// step and their descendants, PID 1 (initPid) left out.
func stepPids(pids []int, initPid int, step uint32) []int {
	want := []byte("SLURM_STEP_ID=" + strconv.FormatUint(uint64(step), 10))
	parent := make(map[int]int, len(pids))
	in := make(map[int]bool, len(pids))
	for _, pid := range pids {
		if pid == initPid {
			continue
		}
		parent[pid] = ppidOf(pid)
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
		if pid == initPid {
			continue
		}
		// A process is the step's if it or an ancestor within the job is.
		for p, hops := pid, 0; p > 0 && hops <= len(pids); p, hops = parent[p], hops+1 {
			if in[p] {
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
func (j *Job) signalStep(sig unix.Signal, step uint32) error {
	pids, err := j.c.Processes()
	if err != nil {
		return fmt.Errorf("list processes: %w", err)
	}
	for _, pid := range stepPids(pids, j.initPid, step) {
		if err := unix.Kill(pid, sig); err != nil && err != unix.ESRCH {
			return fmt.Errorf("signal %d: %w", pid, err)
		}
	}
	return nil
}
