package node

import (
	"context"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/node/gpu"
	"github.com/shoal-batch/shoal/node/sandbox"
)

// recordingExecutor hands each Spec it is asked to start to started and
// runs nothing: a job ends when the test ends it.
type recordingExecutor struct {
	started chan sandbox.Spec
	mu      sync.Mutex
	procs   map[string]*heldProc // by SHOAL_JOB_ID
}

var _ Executor = (*recordingExecutor)(nil)

func (e *recordingExecutor) Start(spec sandbox.Spec) (Process, error) {
	p := &heldProc{done: make(chan struct{})}
	e.mu.Lock()
	e.procs[envOf(spec, "SHOAL_JOB_ID")] = p
	e.mu.Unlock()
	e.started <- spec
	return p, nil
}

func (e *recordingExecutor) Recover() (map[string]Process, error) { return nil, nil }

// endAll ends every job it started (before its daemon closes).
func (e *recordingExecutor) endAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.procs {
		p.end()
	}
}

// end ends the job whose SHOAL_JOB_ID is id, as an exit 0.
func (e *recordingExecutor) end(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.procs[id].end()
}

type heldProc struct {
	once sync.Once
	done chan struct{}
}

func (p *heldProc) end()                                       { p.once.Do(func() { close(p.done) }) }
func (p *heldProc) Wait() (sandbox.Result, error)              { <-p.done; return sandbox.Result{}, nil }
func (p *heldProc) Stop(time.Duration) error                   { p.end(); return nil }
func (p *heldProc) Signal(syscall.Signal, sandbox.Scope) error { return nil }
func (p *heldProc) Forget() error                              { return nil }

// envOf returns the value of key in a spec's environment, "" if unset.
func envOf(spec sandbox.Spec, key string) string {
	for _, kv := range spec.Env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// TestGPUJobs runs a real controller and node daemon whose node has two
// fake GPUs: two 1-GPU jobs get one GPU each, different ones, with their
// device nodes and variables; a job without GPUs gets none of either
// (even the variables it brought); a third 1-GPU job waits until a GPU is
// given back and then gets that one.
func TestGPUJobs(t *testing.T) {
	usage := make(chan string, 16)
	log := slog.New(slog.NewTextHandler(usageLines(usage), nil))
	exec := &recordingExecutor{started: make(chan sandbox.Spec, 8), procs: map[string]*heldProc{}}
	gpus := gpu.FakeGPUs(2)
	_, cl, dev := startTestNode(t, Config{
		Name: "gpu-node", Executor: exec, Capacity: api.Resources{CPUs: 8, MemoryMB: 8192, GPUs: 2}, GPUs: gpus,
		GPULib: &gpu.Fake{GPUs: gpus, SampleFunc: func(i int) (gpu.Sample, error) {
			return gpu.Sample{SMPercent: 80 + i, MemoryUsedMiB: 1234}, nil
		}},
		Log: log,
	}, "nvidiactl", "nvidia-uvm")
	t.Cleanup(exec.endAll)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	submit := func(name string, ngpus int) string {
		t.Helper()
		resp, err := cl.Submit(ctx, api.SubmitJobRequest{JobSpec: api.JobSpec{
			Name: name, Command: []string{"true"}, Dir: "/",
			Env:       map[string]string{"CUDA_VISIBLE_DEVICES": "0,1", "NVIDIA_VISIBLE_DEVICES": "all"}, // as a submitter's
			Resources: api.Resources{CPUs: 1, MemoryMB: 64, GPUs: ngpus},
		}})
		if err != nil {
			t.Fatalf("submit %s: %v", name, err)
		}
		return api.FormatID(resp.ID)
	}
	next := func() sandbox.Spec {
		t.Helper()
		select {
		case s := <-exec.started:
			return s
		case <-ctx.Done():
			t.Fatal("no job started within a minute")
			return sandbox.Spec{}
		}
	}

	specs := map[string]sandbox.Spec{}
	a, b, none := submit("a", 1), submit("b", 1), submit("none", 0)
	for range 3 {
		s := next()
		specs[envOf(s, "SHOAL_JOB_ID")] = s
	}
	byGPU := map[string]string{} // SLURM_JOB_GPUS -> job
	for _, id := range []string{a, b} {
		s := specs[id]
		idx := envOf(s, "SLURM_JOB_GPUS")
		g := gpus[slices.IndexFunc(gpus, func(g gpu.GPU) bool { return idx == strconv.Itoa(g.Index) })]
		wantDevs := []string{filepath.Join(dev, "nvidia"+idx), filepath.Join(dev, "nvidiactl"), filepath.Join(dev, "nvidia-uvm")}
		if !slices.Equal(s.Devices, wantDevs) {
			t.Errorf("job %s (GPU %s) devices %q, want %q", id, idx, s.Devices, wantDevs)
		}
		for _, k := range []string{"CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL"} {
			if v := envOf(s, k); v != g.UUID {
				t.Errorf("job %s: %s=%q, want GPU %s's UUID %s", id, k, v, idx, g.UUID)
			}
		}
		if other, ok := byGPU[idx]; ok {
			t.Errorf("jobs %s and %s both got GPU %s", other, id, idx)
		}
		byGPU[idx] = id
	}
	if s := specs[none]; s.Devices != nil || slices.ContainsFunc(s.Env, func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.Contains(gpu.EnvVars, k)
	}) {
		t.Errorf("job without GPUs: devices %q, env %q; want no devices and none of %q", s.Devices, s.Env, gpu.EnvVars)
	}

	// Both GPUs are taken: a third GPU job waits for one.
	c := submit("c", 1)
	if j, err := cl.WaitJob(ctx, parseID(t, c), api.StateRunnable); err != nil || j.State != api.StateRunnable {
		t.Fatalf("third GPU job: %v, state %s; want it RUNNABLE while both GPUs are held", err, j.State)
	}
	exec.end(a)
	select {
	case line := <-usage:
		idx := envOf(specs[a], "SLURM_JOB_GPUS")
		// One sample at least: at the job's end (more if it ran past a period).
		want := regexp.MustCompile(` job=` + a + ` gpu.count=1 gpu.samples=[1-9][0-9]* gpu.meanSmPercent=8` + idx +
			` gpu.maxSmPercent=8` + idx + ` gpu.maxMemoryMiB=1234 gpu.gpuSeconds=[0-9.e-]+\n`)
		if !want.MatchString(line) {
			t.Errorf("usage logged at job %s's end: %s\nwant it to match %s", a, line, want)
		}
	case <-ctx.Done():
		t.Fatalf("no usage logged at job %s's end", a)
	}
	s := next()
	if got, want := envOf(s, "SHOAL_JOB_ID"), c; got != want {
		t.Fatalf("started job %s, want %s", got, want)
	}
	if got, want := envOf(s, "SLURM_JOB_GPUS"), envOf(specs[a], "SLURM_JOB_GPUS"); got != want {
		t.Errorf("job %s got GPU %s, want %s, the one job %s gave back", c, got, want, a)
	}
}

// usageLines is a log destination that passes on the "job usage" lines.
type usageLines chan string

func (u usageLines) Write(p []byte) (int, error) {
	if line := string(p); strings.Contains(line, `msg="job usage"`) {
		u <- line
	}
	return len(p), nil
}

func parseID(t *testing.T, s string) uint64 {
	t.Helper()
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
