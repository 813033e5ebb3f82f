package node

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/node/gpu"
	"github.com/shoal-batch/shoal/node/sandbox"
)

// TestTypedAndMIGJobs runs a real controller and node daemon whose node has
// a fake H200 and a fake GPU in MIG mode with two instances: the node
// registers them by type (h200:1, 1g.18gb:1, 3g.71gb:1); a job asking for
// 1g.18gb gets that instance (its GPU's device node, its two capability
// devices, its MIG UUID), one asking for h200 the H200, one for any GPU
// waits while they run, then gets the lowest free; a type the node lacks
// is refused at submit.
func TestTypedAndMIGJobs(t *testing.T) {
	gpus := gpu.FakeGPUs(2)
	gpus[1] = gpu.FakeMIG(gpus[1], "1g.18gb", "3g.71gb")
	devs := gpu.Info{GPUs: gpus}.Schedulable()
	capacity := api.Resources{CPUs: 8, MemoryMB: 8192, GPUs: len(devs), GPUTypes: gpu.Counts(devs)}
	if capacity.GPUTypes != "1g.18gb:1,3g.71gb:1,h200:1" {
		t.Fatalf("capacity types %q, want 1g.18gb:1,3g.71gb:1,h200:1", capacity.GPUTypes)
	}
	exec := &recordingExecutor{started: make(chan sandbox.Spec, 8), procs: map[string]*heldProc{}}
	_, cl, dev := startTestNode(t, Config{
		Name: "mig-node", Executor: exec, Capacity: capacity, GPUs: devs, Driver: []gpu.DriverFile{},
	}, "nvidiactl")
	t.Cleanup(exec.endAll)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nodes, err := cl.Nodes(ctx)
	if err != nil || len(nodes) != 1 || nodes[0].Capacity.GPUTypes != capacity.GPUTypes {
		t.Fatalf("nodes = %+v, %v; want the node registered with its GPU types", nodes, err)
	}
	submit := func(name string, r api.Resources) (string, error) {
		resp, err := cl.Submit(ctx, api.SubmitJobRequest{JobSpec: api.JobSpec{
			Name: name, Command: []string{"true"}, Dir: "/", Resources: r}})
		return api.FormatID(resp.ID), err
	}
	if _, err := submit("v100", api.Resources{GPUs: 1, GPUTypes: "v100:1"}); err == nil ||
		!strings.Contains(err.Error(), "gpu:1g.18gb:1,gpu:3g.71gb:1,gpu:h200:1") {
		t.Errorf("submit v100:1: %v, want a refusal naming the node's types", err)
	}
	// In an order the node's "lowest index first" would not give them.
	mig, _ := submit("mig", api.Resources{CPUs: 1, MemoryMB: 64, GPUs: 1, GPUTypes: "1g.18gb:1"})
	h200, _ := submit("h200", api.Resources{CPUs: 1, MemoryMB: 64, GPUs: 1, GPUTypes: "h200:1"})
	specs := map[string]sandbox.Spec{}
	next := func() sandbox.Spec {
		t.Helper()
		select {
		case s := <-exec.started:
			specs[envOf(s, "SHOAL_JOB_ID")] = s
			return s
		case <-ctx.Done():
			t.Fatalf("no job started within a minute (started: %d)", len(specs))
			return sandbox.Spec{}
		}
	}
	next()
	next()
	// A job for any GPU could be started first and take the GPU a typed
	// job waits for: on a node of several types it waits while the typed
	// jobs of a full type run (api.Resources.FitsOn).
	anyGPU, _ := submit("any", api.Resources{CPUs: 1, MemoryMB: 64, GPUs: 1})
	if j, err := cl.WaitJob(ctx, parseID(t, anyGPU), api.StateRunnable); err != nil || j.State != api.StateRunnable {
		t.Fatalf("job for any GPU: %v, state %s; want RUNNABLE while typed jobs fill their types", err, j.State)
	}
	exec.end(mig)
	exec.end(h200)
	next()
	inst := gpus[1].MIGInstances
	for _, c := range []struct {
		id, uuid string
		devs     []string
	}{
		{mig, inst[0].UUID, []string{dev + "/nvidia1", dev + "/nvidia-caps/nvidia-cap110", dev + "/nvidia-caps/nvidia-cap111", dev + "/nvidiactl"}},
		{h200, gpus[0].UUID, []string{dev + "/nvidia0", dev + "/nvidiactl"}},
		{anyGPU, gpus[0].UUID, []string{dev + "/nvidia0", dev + "/nvidiactl"}},
	} {
		s := specs[c.id]
		if got := envOf(s, "CUDA_VISIBLE_DEVICES"); got != c.uuid {
			t.Errorf("job %s: CUDA_VISIBLE_DEVICES=%s, want %s", c.id, got, c.uuid)
		}
		if !slices.Equal(s.Devices, c.devs) {
			t.Errorf("job %s: devices %q, want %q", c.id, s.Devices, c.devs)
		}
	}
}

// An image job given GPUs gets the node's driver files, read-only, chosen
// by the node; a host job or a job without GPUs gets none.
func TestGPUSpecDriver(t *testing.T) {
	dev := t.TempDir()
	a := &Agent{cfg: Config{DevDir: dev, Driver: []gpu.DriverFile{
		{Source: "/drv/libcuda.so.1", Target: gpu.LibDir + "/libcuda.so.1"},
		{Source: "/drv/nvidia-smi", Target: "/usr/bin/nvidia-smi"},
	}}}
	g := gpu.FakeGPUs(1)
	for _, c := range []struct {
		name   string
		rootfs string
		gpus   []gpu.GPU
		want   []sandbox.Mount
	}{
		{"image job with a GPU", "/img", g, []sandbox.Mount{
			{Source: "/drv/libcuda.so.1", Target: gpu.LibDir + "/libcuda.so.1", ReadOnly: true, NodeSource: true},
			{Source: "/drv/nvidia-smi", Target: "/usr/bin/nvidia-smi", ReadOnly: true, NodeSource: true}}},
		{"image job without", "/img", nil, nil},
		{"host job with a GPU", "", g, nil},
	} {
		spec := sandbox.Spec{Rootfs: c.rootfs, Env: []string{"PATH=/bin"}}
		a.gpuSpec(&spec, c.gpus)
		if !slices.Equal(spec.Mounts, c.want) {
			t.Errorf("%s: mounts %+v, want %+v", c.name, spec.Mounts, c.want)
		}
		if ld := envOf(spec, "LD_LIBRARY_PATH"); (ld == gpu.LibDir) != (c.want != nil) {
			t.Errorf("%s: LD_LIBRARY_PATH=%q", c.name, ld)
		}
	}
}
