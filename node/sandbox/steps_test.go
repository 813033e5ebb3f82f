package sandbox

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A step scope reaches one step's processes alone: those started with
// SLURM_STEP_ID=N (as srun starts its tasks) and their descendants, even
// one that cleared its environment; another step's processes and the
// batch script (PID 1) go on (scancel JOB.STEP).
func TestSignalOneStep(t *testing.T) {
	r := newRunner(t)
	j, spec, _ := startWithFifo(t, r, `
SLURM_STEP_ID=0 sh -c 'env -i sleep 3600 & echo $! > "$PWD/gc"; wait' & s0=$!
SLURM_STEP_ID=1 sh -c 'echo $$ > "$PWD/s1"; exec sleep 3600' & s1=$!
SLURM_STEP_ID=10 sh -c 'echo $$ > "$PWD/s10"; exec sleep 3600' & s10=$!
while [ ! -s "$PWD/gc" ] || [ ! -s "$PWD/s1" ] || [ ! -s "$PWD/s10" ]; do sleep 0.01; done
sleep 0.1 # the grandchild has exec'd env -i and sleep
echo ready > "$FIFO"
wait $s0; echo "step0=$?"
gc=$(cat "$PWD/gc")
sleep 0.1
if [ -e /proc/$gc ] && ! grep -q '^State:.*Z' /proc/$gc/status; then echo gc-alive; else echo gc-gone; fi
kill -0 $s1 && echo step1-alive
kill -0 $s10 && echo step10-alive
kill $s1 $s10
echo script-done`)
	if err := j.Signal(unix.SIGKILL, StepScope(0)); err != nil {
		t.Fatal(err)
	}
	res, err := j.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if res != (Result{}) {
		t.Errorf("result = %+v, want zero: the batch script goes on (stderr %q)", res, readFile(t, spec.Stderr))
	}
	want := "step0=137\ngc-gone\nstep1-alive\nstep10-alive\nscript-done\n"
	if out := readFile(t, spec.Stdout); out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
	assertGone(t, r, spec.ID)
}

func TestStepScope(t *testing.T) {
	for _, step := range []uint32{0, 1, 4294967295} {
		s := StepScope(step)
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
