package sandbox

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/runc/libcontainer"
)

// A daemon killed while it had a job's cgroup frozen (inside Stop or
// Signal) leaves the job frozen: the next daemon's Recover thaws it, and
// the job can then be stopped and ends.
func TestRecoverThawsJobLeftFrozen(t *testing.T) {
	r := newRunner(t)
	j, _, _ := startWithFifo(t, r, `echo ready > "$FIFO"; exec sleep 3600`)
	// What a daemon dying between freeze and thaw leaves behind.
	if err := j.c.Pause(); err != nil {
		t.Fatalf("freeze: %v", err)
	}
	if st, err := j.c.Status(); err != nil || st != libcontainer.Paused {
		t.Fatalf("status after freeze: %v, %v; want paused", st, err)
	}
	jobs := recoverAll(t, r, j.ID())
	k := jobs[j.ID()]
	if st, err := k.c.Status(); err != nil || st != libcontainer.Running {
		t.Fatalf("status of the recovered job: %v, %v; want running (thawed)", st, err)
	}
	if err := k.Stop(time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	res, _ := waitForget(t, r, k)
	if res.Signal != int(syscall.SIGTERM) && res.Signal != int(syscall.SIGKILL) {
		t.Errorf("result %+v, want killed by SIGTERM or SIGKILL", res)
	}
}

// A job found frozen by Stop itself (a dead daemon froze it, no Recover
// ran) is stopped and thawed, not refused as "not running".
func TestStopThawsJobLeftFrozen(t *testing.T) {
	r := newRunner(t)
	j, _, _ := startWithFifo(t, r, `echo ready > "$FIFO"; exec sleep 3600`)
	if err := j.c.Pause(); err != nil {
		t.Fatalf("freeze: %v", err)
	}
	if err := j.Stop(time.Second); err != nil {
		t.Fatalf("Stop of a frozen job: %v", err)
	}
	res, err := j.Wait()
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if res.Signal != int(syscall.SIGTERM) && res.Signal != int(syscall.SIGKILL) {
		t.Errorf("result %+v, want killed by SIGTERM or SIGKILL", res)
	}
	if err := j.Forget(); err != nil {
		t.Error(err)
	}
}

// Quiesce waits for a freezing section in progress to thaw its job, and
// refuses later ones: a daemon that exits after it leaves nothing frozen.
func TestQuiesceWaitsForThaw(t *testing.T) {
	r := newRunner(t)
	j, _, _ := startWithFifo(t, r, `echo ready > "$FIFO"; exec sleep 3600`)
	thaw, err := j.freeze()
	if err != nil {
		t.Fatalf("freeze: %v", err)
	}
	quiesced := make(chan struct{})
	go func() { r.Quiesce(); close(quiesced) }()
	select {
	case <-quiesced:
		t.Fatal("Quiesce returned while the job was frozen")
	case <-time.After(100 * time.Millisecond):
	}
	if err := thaw(); err != nil {
		t.Fatalf("thaw: %v", err)
	}
	<-quiesced
	if st, err := j.c.Status(); err != nil || st != libcontainer.Running {
		t.Fatalf("status after Quiesce: %v, %v; want running", st, err)
	}
	if err := j.Signal(syscall.SIGTERM, ScopeFull); !errors.Is(err, ErrQuiesced) {
		t.Fatalf("Signal after Quiesce: %v, want ErrQuiesced", err)
	}
	// The job is left running, as a leaving daemon leaves it: end it
	// the way the next daemon would.
	_ = j.c.Signal(syscall.SIGKILL)
	if _, err := j.Wait(); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if err := j.Forget(); err != nil {
		t.Error(err)
	}
}
