package sandbox

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// abandon makes a second Runner on r's directories, as a daemon that
// starts after r's has died does; r's Jobs are never waited for.
func abandon(r *Runner) *Runner {
	return &Runner{Root: r.Root, TmpRoot: r.TmpRoot, CgroupParent: r.CgroupParent}
}

// recoverAll runs Recover on a fresh Runner and checks it found ids.
func recoverAll(t *testing.T, r *Runner, ids ...string) map[string]*Job {
	t.Helper()
	r2 := abandon(r)
	jobs, err := r2.Recover()
	if err != nil {
		t.Fatalf("Recover: %v", err)
	}
	for _, id := range ids {
		if jobs[id] == nil {
			t.Fatalf("Recover found %v, want %s among them", keys(jobs), id)
		}
	}
	if len(jobs) != len(ids) {
		t.Fatalf("Recover found %v, want %v", keys(jobs), ids)
	}
	return jobs
}

func keys(m map[string]*Job) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// waitForget waits for a recovered job and forgets it, checking that
// nothing of it is left.
func waitForget(t *testing.T, r *Runner, j *Job) (Result, Usage) {
	t.Helper()
	res, err := j.Wait()
	if err != nil {
		t.Errorf("Wait %s: %v", j.ID(), err)
	}
	if err := j.Forget(); err != nil {
		t.Error(err)
	}
	assertGone(t, r, j.ID())
	if _, err := os.Stat(r.shimDir(j.ID())); !os.IsNotExist(err) {
		t.Errorf("supervisor directory of %s left after Forget (stat: %v)", j.ID(), err)
	}
	return res, j.Usage()
}

// Jobs outlive their daemon: a second Runner finds them running and gets
// their real exit code and signal when they end, usage included.
func TestRecoverRunning(t *testing.T) {
	r := newRunner(t)
	exits, spec, _ := startWithFifo(t, r, `echo ready > "$FIFO"; read x < "$FIFO"; exit 7`)
	killed, _, _ := startWithFifo(t, r, `echo ready > "$FIFO"; exec sleep 3600`)

	jobs := recoverAll(t, r, exits.ID(), killed.ID())
	// The first daemon's Jobs are abandoned; the second's take over.
	e, k := jobs[exits.ID()], jobs[killed.ID()]
	if e.Pid() != exits.Pid() || k.Pid() != killed.Pid() {
		t.Fatalf("recovered PID 1s %d, %d; want %d, %d", e.Pid(), k.Pid(), exits.Pid(), killed.Pid())
	}
	// Release the first: its script reads the fifo, then exits 7.
	w, err := os.OpenFile(filepath.Join(spec.Dir, "fifo"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString("go\n")
	w.Close()
	if res, _ := waitForget(t, r, e); res != (Result{ExitCode: 7}) {
		t.Errorf("recovered job that exits 7: %+v", res)
	}
	// Stop reaches a recovered job: sleep ignores nothing, so SIGTERM
	// (to PID 1, which drops it) becomes SIGSTOP and SIGKILL.
	if err := k.Stop(0); err != nil {
		t.Fatal(err)
	}
	if res, _ := waitForget(t, r, k); res.Signal != int(unix.SIGKILL) || res.ExitCode != 137 {
		t.Errorf("recovered job stopped: %+v, want signal 9, exit 137", res)
	}
}

// A job that ends while no daemon runs: its supervisor records the exit,
// OOM kills and usage; the next daemon reports them.
func TestRecoverEnded(t *testing.T) {
	r := newRunner(t)
	spec := baseSpec(t, "sh", "-c", "exit 3")
	j := start(t, r, spec)
	<-j.Done() // never waited for by this "daemon"
	var ids = []string{j.ID()}
	var oom *Job
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err == nil {
		spec := baseSpec(t, python, "-c", "a = b'x' * (200 << 20)")
		spec.MemoryBytes = 32 << 20
		oom = start(t, r, spec)
		<-oom.Done()
		ids = append(ids, oom.ID())
	}
	jobs := recoverAll(t, r, ids...)
	if res, use := waitForget(t, r, jobs[j.ID()]); res != (Result{ExitCode: 3}) || use.CPU <= 0 {
		t.Errorf("recovered ended job: %+v, usage %+v; want exit 3 and some CPU time", res, use)
	}
	if oom == nil {
		t.Logf("no %s: OOM case skipped", python)
		return
	}
	if res, use := waitForget(t, r, jobs[oom.ID()]); res != (Result{ExitCode: 137, Signal: 9, OOMKilled: true}) || use.MaxRSSBytes < 16<<20 {
		t.Errorf("recovered OOM-killed job: %+v, usage %+v; want 137, signal 9, OOMKilled, MaxRSS near 32 MiB", res, use)
	}
}

// A job whose end was reported (Forget) is not found again; one whose
// supervisor died without a record is destroyed, not recovered.
func TestRecoverForgottenAndLost(t *testing.T) {
	r := newRunner(t)
	done := start(t, r, baseSpec(t, "true"))
	if _, err := done.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := done.Forget(); err != nil {
		t.Fatal(err)
	}
	lost, spec, _ := startWithFifo(t, r, `echo ready > "$FIFO"; exec sleep 3600`)
	var st shimState
	if err := readJSON(filepath.Join(r.shimDir(lost.ID()), shimStateFile), &st); err != nil {
		t.Fatal(err)
	}
	unix.Kill(st.ShimPid, unix.SIGKILL)
	<-lost.Done()
	recoverAll(t, r) // finds nothing
	assertGone(t, r, spec.ID)
	if _, err := os.Stat(r.shimDir(spec.ID)); !os.IsNotExist(err) {
		t.Errorf("supervisor directory of a lost job left (stat: %v)", err)
	}
	// Gone, or a zombie its new parent (the host's init) has yet to reap.
	if b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(lost.Pid()), "stat")); err == nil {
		if _, rest, _ := strings.Cut(string(b), ") "); !strings.HasPrefix(rest, "Z") {
			t.Errorf("PID 1 of a job whose supervisor died still runs: %s", b)
		}
	}
}

// A stop's escalation to SIGKILL is the supervisor's (Job.killAfter): it
// happens with no daemon there. Here no Runner is asked to stop anything:
// only the supervisor is, and it kills the job once the grace has passed.
// A job whose supervisor has gone cannot be asked (the daemon then
// escalates itself).
func TestSupervisorKillsAfterGrace(t *testing.T) {
	r := newRunner(t)
	j, _, _ := startWithFifo(t, r, `echo ready > "$FIFO"; exec sleep 3600`)
	jobs := recoverAll(t, r, j.ID()) // the daemon that started it is gone
	const grace = 300 * time.Millisecond
	asked := time.Now()
	if err := j.askSupervisor(killRequest{GraceMs: grace.Milliseconds()}); err != nil {
		t.Fatal(err)
	}
	res, _ := waitForget(t, r, jobs[j.ID()])
	if took := time.Since(asked); took < grace {
		t.Errorf("killed %v after the request, before its grace of %v", took, grace)
	}
	if res != (Result{ExitCode: 137, Signal: 9}) {
		t.Errorf("result = %+v, want SIGKILL (exit 137)", res)
	}
	if err := j.askSupervisor(killRequest{}); err == nil {
		t.Error("a job whose supervisor has gone was asked to be killed, without an error")
	}
}

// A negative grace (an agent's -grace of -1s) kills at once, as the
// daemon's own timer did, whoever escalates: the supervisor must not
// drop the request as bad.
func TestStopNegativeGrace(t *testing.T) {
	r := newRunner(t)
	j, _, _ := startWithFifo(t, r, `sh -c 'trap "" TERM; echo ready > "$FIFO"; exec sleep 3600' & wait`)
	if err := j.Stop(-time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-j.Done():
	case <-time.After(30 * time.Second):
		j.c.Signal(unix.SIGKILL)
		<-j.Done()
		t.Fatal("a job stopped with a negative grace was not killed within 30 s")
	}
	if res, err := j.Wait(); err != nil || res.Signal != int(unix.SIGKILL) {
		t.Errorf("result %+v, %v; want SIGKILL", res, err)
	}
}
