package node

import (
	"log/slog"
	"time"

	"github.com/shoal-batch/shoal/node/gpu"
	"github.com/shoal-batch/shoal/node/sandbox"
)

// gpuSampleEvery is how often a GPU job's GPUs are read while it runs.
const gpuSampleEvery = 5 * time.Second

// usageReader is a Process that can say what its job used (the sandbox's
// Job, from its cgroups).
type usageReader interface{ Usage() sandbox.Usage }

// watchGPUs starts sampling a job's GPUs, if it has any and the node has
// a library to read them with; nil otherwise.
func (a *Agent) watchGPUs(id uint64, gpus []gpu.GPU) *gpu.Watch {
	if len(gpus) == 0 || a.cfg.GPULib == nil {
		return nil
	}
	return gpu.StartWatch(a.cfg.GPULib, gpus, gpuSampleEvery, a.log.With("job", id))
}

// logUsage logs what an ended job used: peak memory and CPU time from its
// cgroups, and its GPUs' efficiency. The job record has no fields for
// these yet, so the node's log is where they are: at Info for GPU jobs,
// at Debug for the others (a line per short job would crowd the log).
func (a *Agent) logUsage(id uint64, proc Process, watch *gpu.Watch) {
	attrs := []any{"job", id}
	if u, ok := proc.(usageReader); ok {
		use := u.Usage()
		attrs = append(attrs, "maxRSSBytes", use.MaxRSSBytes, "cpuSeconds", use.CPU.Seconds())
	}
	if watch == nil {
		a.log.Debug("job usage", attrs...)
		return
	}
	e := watch.Stop()
	attrs = append(attrs, slog.Group("gpu", "count", e.GPUs, "samples", e.Samples,
		"meanSmPercent", e.MeanSMPercent, "maxSmPercent", e.MaxSMPercent,
		"maxMemoryMiB", e.MaxMemoryMiB, "gpuSeconds", e.GPUSeconds))
	a.log.Info("job usage", attrs...)
}
