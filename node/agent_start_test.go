package node

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/node/sandbox"
)

// fakeExecutor records what it is asked to start.
type fakeExecutor struct {
	started chan sandbox.Spec
}

var _ Executor = (*fakeExecutor)(nil)

func (f *fakeExecutor) Start(spec sandbox.Spec) (Process, error) {
	f.started <- spec
	return nil, errors.New("fake executor starts nothing")
}

func (f *fakeExecutor) Recover() (map[string]Process, error) { return nil, nil }

// startingAgent is an Agent with a fake executor and no controller, whose
// events the test reads.
func startingAgent(t *testing.T) (*Agent, *fakeExecutor) {
	t.Helper()
	dir := t.TempDir()
	fe := &fakeExecutor{started: make(chan sandbox.Spec, 4)}
	a := &Agent{
		cfg: Config{Name: "n1", DataDir: dir, Executor: fe, Log: slog.New(slog.DiscardHandler),
			Client: client.New(filepath.Join(dir, "no-controller.sock"), "")},
		logDir: filepath.Join(dir, "logs"), scriptDir: filepath.Join(dir, "scripts"),
		tasks: map[uint64]*task{}, events: make(chan api.JobEvent, 16), unreported: map[uint64]Process{}, ended: map[uint64]int{},
	}
	a.log = a.cfg.Log
	for _, d := range []string{a.logDir, a.scriptDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return a, fe
}

func nextEvent(t *testing.T, a *Agent) api.JobEvent {
	t.Helper()
	select {
	case ev := <-a.events:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no job event within 10s")
	}
	return api.JobEvent{}
}

// A job the controller already wants stopped when the node first sees it
// STARTING is never started; one stopped while it waits for its image
// (here: for another start's fetch of the same image) gives up at once.
// Either ends FAILED (the controller puts the user's reason on it).
func TestStopWhileStarting(t *testing.T) {
	a, fe := startingAgent(t)
	a.reconcile(&api.Job{ID: 1, State: api.StateStarting, StopRequested: true, UID: uint32(syscall.Getuid()),
		JobSpec: api.JobSpec{Command: []string{"true"}, Dir: "/"}})
	if ev := nextEvent(t, a); ev.ID != 1 || ev.State != api.StateFailed || !strings.Contains(ev.Reason, "stopped before it started") {
		t.Errorf("job stopped before its start: event %+v, want FAILED 'stopped before it started'", ev)
	}

	// Another start holds the image's lock, as a long fetch would.
	unlock, err := a.images().lock(context.Background(), "name:busybox")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	j := api.Job{ID: 2, State: api.StateStarting, UID: uint32(syscall.Getuid()),
		JobSpec: api.JobSpec{Command: []string{"true"}, Dir: "/", Image: "busybox"}}
	a.reconcile(&j)
	j.StopRequested = true
	a.reconcile(&j)
	if ev := nextEvent(t, a); ev.ID != 2 || ev.State != api.StateFailed || !strings.Contains(ev.Reason, context.Canceled.Error()) {
		t.Errorf("image job stopped while waiting for its image: event %+v, want FAILED (canceled)", ev)
	}
	select {
	case spec := <-fe.started:
		t.Errorf("a stopped job was started: %+v", spec)
	default:
	}
}

// A daemon that shuts down gives back a job it has not started (here: one
// waiting for its image): it goes back to RUNNABLE, not FAILED.
func TestLeaveHandsBackUnstarted(t *testing.T) {
	a, fe := startingAgent(t)
	unlock, err := a.images().lock(context.Background(), "name:busybox")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	a.reconcile(&api.Job{ID: 3, State: api.StateStarting, UID: uint32(syscall.Getuid()),
		JobSpec: api.JobSpec{Command: []string{"true"}, Dir: "/", Image: "busybox"}})
	a.leave()
	if ev := nextEvent(t, a); ev.ID != 3 || ev.State != api.StateRunnable || !strings.Contains(ev.Reason, "shut down before the job started") {
		t.Errorf("job not started when its node shut down: event %+v, want RUNNABLE 'shut down before the job started'", ev)
	}
	select {
	case spec := <-fe.started:
		t.Errorf("a job was started by a leaving daemon: %+v", spec)
	default:
	}
}

// A job that ended here is not started again by a work list that still
// gives it STARTING at the same attempt (one answered from a state that
// predates the end's report: a lagging controller after a failover); a
// list that no longer gives it ends that, and a new attempt starts.
func TestEndedJobNotStartedAgain(t *testing.T) {
	a, fe := startingAgent(t)
	j := api.Job{ID: 7, Attempt: 1, State: api.StateStarting, UID: uint32(syscall.Getuid()),
		JobSpec: api.JobSpec{Command: []string{"true"}, Dir: "/"}}
	a.reconcile(&j)
	<-fe.started
	if ev := nextEvent(t, a); ev.ID != 7 || ev.State != api.StateFailed {
		t.Fatalf("first start: event %+v, want FAILED (the fake starts nothing)", ev)
	}
	a.reconcile(&j) // the stale list
	a.mu.Lock()
	again := a.tasks[7]
	a.mu.Unlock()
	if again != nil {
		t.Fatal("an ended attempt was started again")
	}
	a.stopUnassigned(&api.NodeWorkResponse{Index: 5})
	j.Attempt = 2
	a.reconcile(&j)
	select {
	case <-fe.started:
	case <-time.After(10 * time.Second):
		t.Fatal("a new attempt was not started")
	}
}
