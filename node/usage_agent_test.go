package node

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/node/gpu"
	"github.com/shoal-batch/shoal/node/sandbox"
)

// usageExecutor starts nothing: each job's process ends when the test
// says, and then reports the usage the test gave it, as a sandbox Job
// reads its cgroups.
type usageExecutor struct {
	started chan string // SHOAL_JOB_ID of each started job
	procs   chan *usageProc
	use     sandbox.Usage
}

var _ Executor = (*usageExecutor)(nil)

func (e *usageExecutor) Start(spec sandbox.Spec) (Process, error) {
	p := &usageProc{heldProc: heldProc{done: make(chan struct{})}, use: e.use}
	e.procs <- p
	e.started <- envOf(spec, "SHOAL_JOB_ID")
	return p, nil
}

func (e *usageExecutor) Recover() (map[string]Process, error) { return nil, nil }

type usageProc struct {
	heldProc
	use sandbox.Usage
}

var _ usageReader = (*usageProc)(nil)

func (p *usageProc) Usage() sandbox.Usage { return p.use }

// TestJobUsageReported runs a real controller and a node daemon with two
// fake GPUs and a fake sampler: a GPU job's end report carries its peak
// memory, CPU time, GPUs and their utilisation, and the controller's job
// record holds them; a job without GPUs has the cgroup figures only.
func TestJobUsageReported(t *testing.T) {
	exec := &usageExecutor{started: make(chan string, 4), procs: make(chan *usageProc, 4),
		use: sandbox.Usage{MaxRSSBytes: 52 << 20, CPU: 1500 * time.Millisecond}}
	gpus := gpu.FakeGPUs(2)
	_, cl, _ := startTestNode(t, Config{
		Name: "gpu-node", Executor: exec, Capacity: api.Resources{CPUs: 8, MemoryMB: 8192, GPUs: 2}, GPUs: gpus,
		GPULib: &gpu.Fake{GPUs: gpus, SampleFunc: func(i int) (gpu.Sample, error) {
			return gpu.Sample{SMPercent: 60 + 10*i, MemoryUsedMiB: 2048 + int64(i)}, nil
		}},
	}, "nvidiactl", "nvidia-uvm")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run := func(name string, ngpus int) api.Job {
		t.Helper()
		resp, err := cl.Submit(ctx, api.SubmitJobRequest{JobSpec: api.JobSpec{
			Name: name, Command: []string{"true"}, Dir: "/",
			Resources: api.Resources{CPUs: 1, MemoryMB: 64, GPUs: ngpus},
		}})
		if err != nil {
			t.Fatalf("submit %s: %v", name, err)
		}
		var p *usageProc
		select {
		case p = <-exec.procs:
			<-exec.started
		case <-ctx.Done():
			t.Fatalf("job %s did not start within a minute", name)
		}
		if _, err := cl.WaitJob(ctx, resp.ID, api.StateRunning); err != nil {
			t.Fatalf("wait for job %s to run: %v", name, err)
		}
		p.end()
		j, err := cl.WaitJob(ctx, resp.ID)
		if err != nil || j.State != api.StateSucceeded {
			t.Fatalf("job %s: %v, state %s; want SUCCEEDED", name, err, j.State)
		}
		return j
	}

	j := run("gpu", 2)
	u := j.Usage
	if u == nil {
		t.Fatalf("GPU job %d: no usage on the record", j.ID)
	}
	if u.MaxRSSBytes != 52<<20 || u.CPUSeconds != 1.5 {
		t.Errorf("GPU job usage: maxRSS %d, cpu %v s; want %d and 1.5 (the cgroup figures)", u.MaxRSSBytes, u.CPUSeconds, 52<<20)
	}
	wantGPUs := []api.UsedGPU{{Index: 0, UUID: gpus[0].UUID}, {Index: 1, UUID: gpus[1].UUID}}
	if !slices.Equal(u.GPUs, wantGPUs) {
		t.Errorf("GPU job's GPUs: %+v, want %+v", u.GPUs, wantGPUs)
	}
	// One reading per GPU at the end at least (more if it ran past a period).
	if u.GPUSamples < 2 || u.GPUSamples%2 != 0 || u.GPUUtilMeanPercent != 65 || u.GPUUtilMaxPercent != 70 ||
		u.GPUMemMaxBytes != 2049<<20 || u.GPUSeconds <= 0 {
		t.Errorf("GPU job's GPU usage: %+v; want an even number ≥ 2 of samples, mean 65%%, max 70%%, %d bytes, some GPU-seconds",
			u, 2049<<20)
	}

	j = run("cpu", 0)
	if u := j.Usage; u == nil || u.MaxRSSBytes != 52<<20 || u.CPUSeconds != 1.5 || u.GPUs != nil || u.GPUSeconds != 0 || u.GPUSamples != 0 {
		t.Errorf("CPU job usage: %+v; want maxRSS %d, cpu 1.5 s and no GPU figures", u, 52<<20)
	}
}
