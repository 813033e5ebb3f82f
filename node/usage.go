package node

import (
	"log/slog"
	"time"

	"github.com/shoal-batch/shoal/api"
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

// jobUsage gathers what an ended job used, for its end report: peak
// memory and CPU time from its cgroups (a Process that cannot say leaves
// them zero), and its GPUs' efficiency from watch (nil: no readings; the
// GPUs it had are still named and their GPU-seconds counted from start).
// It stops watch. It also logs the
// figures: at Info for GPU jobs, at Debug for the others (a line per
// short job would crowd the log).
func (a *Agent) jobUsage(id uint64, proc Process, gpus []gpu.GPU, watch *gpu.Watch, start time.Time) *api.JobUsage {
	u := &api.JobUsage{}
	attrs := []any{"job", id}
	if r, ok := proc.(usageReader); ok {
		use := r.Usage()
		u.MaxRSSBytes, u.CPUSeconds = use.MaxRSSBytes, use.CPU.Seconds()
		attrs = append(attrs, "maxRSSBytes", u.MaxRSSBytes, "cpuSeconds", u.CPUSeconds)
	}
	for _, g := range gpus {
		u.GPUs = append(u.GPUs, api.UsedGPU{Index: g.Index, UUID: g.UUID})
	}
	if watch == nil {
		if len(gpus) > 0 {
			u.GPUSeconds = float64(len(gpus)) * time.Since(start).Seconds()
		}
		a.log.Debug("job usage", attrs...)
		return u
	}
	e := watch.Stop()
	fillGPUUsage(u, e)
	attrs = append(attrs, slog.Group("gpu", "count", e.GPUs, "samples", e.Samples,
		"meanSmPercent", e.MeanSMPercent, "maxSmPercent", e.MaxSMPercent,
		"maxMemoryMiB", e.MaxMemoryMiB, "gpuSeconds", e.GPUSeconds))
	a.log.Info("job usage", attrs...)
	return u
}

// fillGPUUsage copies a job's GPU efficiency into its usage record.
func fillGPUUsage(u *api.JobUsage, e gpu.Efficiency) {
	u.GPUSeconds = e.GPUSeconds
	u.GPUSamples = e.Samples
	u.GPUUtilMeanPercent = e.MeanSMPercent
	u.GPUUtilMaxPercent = e.MaxSMPercent
	u.GPUMemMaxBytes = e.MaxMemoryMiB << 20
}
