package raftfsm_test

import (
	"reflect"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// gpuUsage is a GPU job's usage as a node reports it.
func gpuUsage() *api.JobUsage {
	return &api.JobUsage{MaxRSSBytes: 50 << 20, CPUSeconds: 3.5,
		GPUs:       []api.UsedGPU{{Index: 0, UUID: "GPU-aaaa"}, {Index: 1, UUID: "GPU-bbbb"}},
		GPUSeconds: 20, GPUSamples: 4, GPUUtilMeanPercent: 62.5, GPUUtilMaxPercent: 97, GPUMemMaxBytes: 3 << 30}
}

// TestJobUsageStored: the usage a node reports with a job's end is stored
// on the job as it came in the command, survives a snapshot, and is the
// same on a replica that applied the same log.
func TestJobUsageStored(t *testing.T) {
	run := func(h *harness) {
		h.register(1, api.Node{Name: "n1", Boot: "b", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096, GPUs: 2}})
		h.submit(2, withRes(newJob("gpu"), api.Resources{CPUs: 1, MemoryMB: 512, GPUs: 2}), newJob("cpu"), newJob("norep"))
		if got := h.place(3, raftfsm.Placement{JobID: 1, Node: "n1"}, raftfsm.Placement{JobID: 2, Node: "n1"},
			raftfsm.Placement{JobID: 3, Node: "n1"}); got != 3 {
			t.Fatalf("placed %d jobs, want 3", got)
		}
		h.events(4, api.JobEvent{ID: 1, Node: "n1", State: api.StateRunning},
			api.JobEvent{ID: 2, Node: "n1", State: api.StateRunning})
		h.events(5,
			api.JobEvent{ID: 1, Node: "n1", State: api.StateSucceeded, ExitCode: intp(0), Usage: gpuUsage()},
			api.JobEvent{ID: 2, Node: "n1", State: api.StateFailed, ExitCode: intp(1),
				Usage: &api.JobUsage{MaxRSSBytes: 4096, CPUSeconds: 0.002}},
			api.JobEvent{ID: 3, Node: "n1", State: api.StateSucceeded, ExitCode: intp(0)})
	}
	h := newHarness(t)
	run(h)
	if got := h.wantJob(1, api.StateSucceeded, "").Usage; !reflect.DeepEqual(got, gpuUsage()) {
		t.Errorf("job 1 usage: got %+v, want %+v", got, gpuUsage())
	}
	if got := h.wantJob(2, api.StateFailed, api.ReasonNonZeroExit).Usage; got == nil || got.MaxRSSBytes != 4096 || got.CPUSeconds != 0.002 || got.GPUs != nil {
		t.Errorf("job 2 usage: got %+v, want maxRSS 4096, cpu 0.002 s, no GPUs", got)
	}
	if got := h.wantJob(3, api.StateSucceeded, "").Usage; got != nil {
		t.Errorf("job 3 (ended without a usage report): usage %+v, want none", got)
	}

	r := &harness{t: t, fsm: restored(t, snapshotBytes(t, h.fsm), h.idx), idx: h.idx}
	wantSameState(t, r.fsm, h.fsm)
	if got := r.job(1).Usage; !reflect.DeepEqual(got, gpuUsage()) {
		t.Errorf("job 1 usage after restore: got %+v, want %+v", got, gpuUsage())
	}

	replica := newHarness(t)
	run(replica)
	wantSameState(t, replica.fsm, h.fsm)
}

// TestJobUsagePerAttempt: a failed attempt that is retried keeps its usage
// in Attempts, the job's Usage is cleared for the next attempt, and the
// last attempt's usage is the job's.
func TestJobUsagePerAttempt(t *testing.T) {
	h := newHarness(t)
	h.register(1, api.Node{Name: "n1", Boot: "b", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}})
	j := newJob("retry")
	j.RetryAttempts = 2
	h.submit(2, j)
	first := &api.JobUsage{MaxRSSBytes: 1 << 20, CPUSeconds: 1}
	second := &api.JobUsage{MaxRSSBytes: 2 << 20, CPUSeconds: 2}

	h.place(3, raftfsm.Placement{JobID: 1, Node: "n1"})
	h.events(4, api.JobEvent{ID: 1, Node: "n1", State: api.StateFailed, ExitCode: intp(2), Usage: first})
	if got := h.wantJob(1, api.StateRunnable, ""); got.Usage != nil || len(got.Attempts) != 1 ||
		!reflect.DeepEqual(got.Attempts[0].Usage, first) {
		t.Fatalf("after the first attempt: usage %+v, attempts %+v; want no usage and one attempt with %+v",
			got.Usage, got.Attempts, first)
	}
	h.place(5, raftfsm.Placement{JobID: 1, Node: "n1"})
	h.events(6, api.JobEvent{ID: 1, Node: "n1", State: api.StateSucceeded, ExitCode: intp(0), Usage: second})
	got := h.wantJob(1, api.StateSucceeded, "")
	if !reflect.DeepEqual(got.Usage, second) || !reflect.DeepEqual(got.Attempts[0].Usage, first) {
		t.Errorf("after the second attempt: usage %+v, first attempt's %+v; want %+v and %+v",
			got.Usage, got.Attempts[0].Usage, second, first)
	}
}
