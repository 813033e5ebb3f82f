package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shoal-batch/shoal/internal/testwait"
)

// ignoredSignalsEnv marks TestJobSignalsDefault's re-run of this test
// binary with SIGHUP and SIGINT ignored, as under nohup.
const ignoredSignalsEnv = "SHOAL_TEST_SIGNALS_IGNORED"

// A job starts with every signal at its default even when the process
// that starts it was started with SIGHUP and SIGINT ignored (a node
// daemon under nohup): its shell's HUP trap runs, and nothing in it
// ignores either signal. The test runs itself again under a shell that
// ignores them, as nohup would.
func TestJobSignalsDefault(t *testing.T) {
	if os.Getenv(ignoredSignalsEnv) == "" {
		cmd := exec.Command("sh", "-c", `trap '' HUP INT; exec "$0" -test.run '^TestJobSignalsDefault$' -test.count 1 -test.v`, os.Args[0])
		cmd.Env = append(os.Environ(), ignoredSignalsEnv+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestJobSignalsDefault") {
			t.Fatalf("the test run with SIGHUP and SIGINT ignored: %v\n%s", err, out)
		}
		return
	}
	if !signal.Ignored(unix.SIGHUP) || !signal.Ignored(unix.SIGINT) {
		t.Fatal("SIGHUP and SIGINT are not ignored in the re-run")
	}
	r := newRunner(t)
	res, out := run(t, r, baseSpec(t, "sh", "-c", `trap 'echo trapped; exit 0' HUP; grep SigIgn /proc/self/status; kill -HUP $$; echo not trapped`))
	f := strings.Fields(out)
	if len(f) < 2 || f[0] != "SigIgn:" {
		t.Fatalf("the job printed %q, want its SigIgn line first", out)
	}
	if mask, err := strconv.ParseUint(f[1], 16, 64); err != nil || mask&(1<<(unix.SIGHUP-1)|1<<(unix.SIGINT-1)) != 0 {
		t.Errorf("the job ignores signals %s (%v), want neither SIGHUP nor SIGINT", f[1], err)
	}
	if !strings.Contains(out, "trapped\n") || strings.Contains(out, "not trapped") || res.ExitCode != 0 {
		t.Errorf("the job's HUP trap: printed %q, exit %d; want it trapped", out, res.ExitCode)
	}
}

// Default dispositions on PID 1: WINCH (ignored by default) does nothing,
// TSTP (stops by default) stops it, CONT resumes it; a script that traps
// a signal gets it even with ScopeFull.
func TestSignalBatchDefaults(t *testing.T) {
	r := newRunner(t)
	j, spec, _ := startWithFifo(t, r, `trap 'echo hup >> "$PWD/hup"' HUP
echo ready > "$FIFO"; while :; do sleep 0.05; done`)
	state := func() string {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", j.Pid()))
		if err != nil {
			t.Fatalf("read PID 1's stat: %v", err)
		}
		_, rest, _ := strings.Cut(string(b), ") ")
		return rest[:1]
	}
	// PID 1 is the child of the job's supervisor, not of this process,
	// so nothing here can waitid for its stops: read its state until it
	// is the one wanted (the kernel sets it as the signal is handled).
	waitState := func(want string, ok func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok(state()) {
			if time.Now().After(deadline) {
				t.Fatalf("PID 1 is in state %s after 10s, want %s", state(), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if err := j.Signal(unix.SIGWINCH, ScopeBatch); err != nil {
		t.Fatal(err)
	}
	if err := j.Signal(unix.SIGTSTP, ScopeBatch); err != nil {
		t.Fatal(err)
	}
	waitState("stopped (T)", func(s string) bool { return s == "T" })
	if err := j.Signal(unix.SIGCONT, ScopeBatch); err != nil {
		t.Fatal(err)
	}
	waitState("continued", func(s string) bool { return s != "T" })
	if err := j.Signal(unix.SIGHUP, ScopeFull); err != nil {
		t.Fatal(err)
	}
	hup := filepath.Join(spec.Dir, "hup")
	if err := testwait.File(hup, 10*time.Second, func(s string) bool { return s == "hup\n" }); err != nil {
		t.Fatalf("the script's HUP trap did not run: %v (stderr %q; %s)", err, readFile(t, spec.Stderr), jobProcesses(j))
	}
	select {
	case <-j.Done():
		res, _ := j.Wait()
		t.Fatalf("the job ended (%+v); WINCH, TSTP, CONT and a trapped HUP must not end it", res)
	default:
	}
	if err := j.Signal(unix.SIGKILL, ScopeBatch); err != nil {
		t.Fatal(err)
	}
	res, err := j.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Result{ExitCode: 137, Signal: 9}); res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	if err := j.Signal(unix.SIGUSR1, ScopeFull); err != nil {
		t.Errorf("Signal of an ended job: %v", err)
	}
}

// jobProcesses describes the job's processes for a failure message: each
// one's state and name, and its signal masks (pending, blocked, ignored,
// caught), and the container's status.
func jobProcesses(j *Job) string {
	var b strings.Builder
	st, err := j.c.Status()
	fmt.Fprintf(&b, "container %v (%v)", st, err)
	pids, err := j.c.Processes()
	if err != nil {
		fmt.Fprintf(&b, "; processes: %v", err)
	}
	for _, pid := range pids {
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		fmt.Fprintf(&b, "; pid %d:", pid)
		for line := range strings.Lines(string(status)) {
			if k, _, _ := strings.Cut(line, ":"); slices.Contains([]string{"Name", "State", "SigQ", "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt"}, k) {
				b.WriteString(" " + strings.Join(strings.Fields(line), ""))
			}
		}
	}
	return b.String()
}
