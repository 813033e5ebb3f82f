package sandbox

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A step scope reaches one step's processes alone: those started with
// SLURM_STEP_ID=N (as srun starts its tasks) and their descendants, even
// one that cleared its environment, and those the step's srun started,
// even one that cleared its environment as it started (srun env -i
// prog); srun itself, another step's processes and the batch script
// (PID 1) go on (scancel JOB.STEP).
func TestSignalOneStep(t *testing.T) {
	r := newRunner(t)
	j, spec, _ := startWithFifo(t, r, `
SLURM_STEP_ID=0 sh -c 'env -i sleep 3600 & echo $! > "$PWD/gc"; wait' & s0=$!
SLURM_STEP_ID=1 sh -c 'echo $$ > "$PWD/s1"; exec sleep 3600' & s1=$!
SLURM_STEP_ID=10 sh -c 'echo $$ > "$PWD/s10"; exec sleep 3600' & s10=$!
sh -c 'echo $$ > "$PWD/srun.pid"; env -i sleep 3600 & wait $!; echo "srun: task $?" > "$PWD/srun.out"; exec sleep 3600' & srun=$!
while [ ! -s "$PWD/gc" ] || [ ! -s "$PWD/s1" ] || [ ! -s "$PWD/s10" ] || [ ! -s "$PWD/srun.pid" ]; do sleep 0.01; done
sleep 0.1 # the grandchildren have exec'd env -i and sleep
echo ready > "$FIFO"
wait $s0; echo "step0=$?"
for _ in $(seq 300); do [ -s "$PWD/srun.out" ] && break; sleep 0.01; done
cat "$PWD/srun.out" 2>/dev/null || echo "srun: task not signalled"
gc=$(cat "$PWD/gc")
sleep 0.1
if [ -e /proc/$gc ] && ! grep -q '^State:.*Z' /proc/$gc/status; then echo gc-alive; else echo gc-gone; fi
kill -0 $s1 && echo step1-alive
kill -0 $s10 && echo step10-alive
kill -0 $srun && echo srun-alive
kill $s1 $s10 $srun
echo script-done`)
	if err := j.Signal(unix.SIGKILL, StepScope(0, 0)); err != nil {
		t.Fatal(err)
	}
	srun, err := strconv.Atoi(strings.TrimSpace(readFile(t, filepath.Join(spec.Dir, "srun.pid"))))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Signal(unix.SIGKILL, StepScope(2, srun)); err != nil {
		t.Fatal(err)
	}
	res, err := j.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if res != (Result{}) {
		t.Errorf("result = %+v, want zero: the batch script goes on (stderr %q)", res, readFile(t, spec.Stderr))
	}
	want := "step0=137\nsrun: task 137\ngc-gone\nstep1-alive\nstep10-alive\nsrun-alive\nscript-done\n"
	if out := readFile(t, spec.Stdout); out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
	assertGone(t, r, spec.ID)
}

func TestStepScope(t *testing.T) {
	for _, step := range []uint32{0, 1, 4294967295} {
		s := StepScope(step, 7)
		if got, ok := s.Step(); !ok || got != step {
			t.Errorf("StepScope(%d).Step() = %d, %v", step, got, ok)
		}
		if !strings.HasPrefix(s.String(), "step ") {
			t.Errorf("StepScope(%d) prints %q", step, s)
		}
	}
	for _, s := range []Scope{ScopeSteps, ScopeBatch, ScopeFull} {
		if _, ok := s.Step(); ok {
			t.Errorf("%v is a step scope", s)
		}
	}
}

// A step whose srun is PID 1 (the batch script exec'd it: sbatch --wrap
// 'srun prog') reaches PID 1's children, not PID 1.
func TestSignalStepOfInitSrun(t *testing.T) {
	r := newRunner(t)
	j, spec, _ := startWithFifo(t, r, `env -i sleep 3600 & task=$!
echo ready > "$FIFO"
wait $task; echo "task $?"`)
	if err := j.Signal(unix.SIGKILL, StepScope(0, 1)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-j.Done():
	case <-time.After(20 * time.Second):
		j.Stop(0)
		t.Fatal("the task was not killed: PID 1 still waits for it")
	}
	res, err := j.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if out := readFile(t, spec.Stdout); res != (Result{}) || out != "task 137\n" {
		t.Errorf("result %+v, stdout %q; want PID 1 to see its task killed and exit 0", res, out)
	}
}
