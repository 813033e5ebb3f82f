package gpu

import (
	"log/slog"
	"time"
)

// Efficiency sums up how a job used its GPUs. NVML reads whole GPUs; a
// job's GPUs are its own, so what they did is what the job did.
type Efficiency struct {
	GPUs int `json:"gpus"`
	// Samples is how many readings went into the figures (one per GPU per
	// sample period).
	Samples int `json:"samples"`
	// MeanSMPercent and MaxSMPercent are over all readings of all its GPUs.
	MeanSMPercent float64 `json:"meanSmPercent"`
	MaxSMPercent  int     `json:"maxSmPercent"`
	// MaxMemoryMiB is the most memory one of its GPUs had in use.
	MaxMemoryMiB int64 `json:"maxMemoryMiB"`
	// GPUSeconds is GPUs × how long the job held them.
	GPUSeconds float64 `json:"gpuSeconds"`
}

// Accumulator folds a job's samples into its Efficiency.
type Accumulator struct {
	start time.Time
	sumSM int64
	e     Efficiency
}

// NewAccumulator starts the account of a job that got gpus GPUs at start.
func NewAccumulator(gpus int, start time.Time) *Accumulator {
	return &Accumulator{start: start, e: Efficiency{GPUs: gpus}}
}

// Add takes one reading of one of the job's GPUs.
func (a *Accumulator) Add(s Sample) {
	a.e.Samples++
	a.sumSM += int64(s.SMPercent)
	a.e.MaxSMPercent = max(a.e.MaxSMPercent, s.SMPercent)
	a.e.MaxMemoryMiB = max(a.e.MaxMemoryMiB, s.MemoryUsedMiB)
}

// Result is the job's Efficiency if it gave its GPUs back at end.
func (a *Accumulator) Result(end time.Time) Efficiency {
	e := a.e
	if e.Samples > 0 {
		e.MeanSMPercent = float64(a.sumSM) / float64(e.Samples)
	}
	e.GPUSeconds = float64(e.GPUs) * max(end.Sub(a.start), 0).Seconds()
	return e
}

// Watch samples one job's GPUs while it runs.
type Watch struct {
	stop chan struct{}
	done chan Efficiency
}

// StartWatch samples gpus through lib every period, from now until Stop.
// It initialises lib for itself (NVML counts its users: cheap while the
// library is up anyway) in its own goroutine, so the job's start does
// not wait for it. A GPU that cannot be read is logged once and left out;
// so are MIG instances, whose GPU's readings are not theirs alone (their
// GPU-seconds still count).
func StartWatch(lib Library, gpus []GPU, every time.Duration, log *slog.Logger) *Watch {
	w := &Watch{stop: make(chan struct{}), done: make(chan Efficiency, 1)}
	acc := NewAccumulator(len(gpus), time.Now())
	go func() {
		if err := lib.Init(); err != nil {
			log.Warn("GPU sampling: NVML did not start; only GPU-seconds are recorded", "err", err)
			<-w.stop
			w.done <- acc.Result(time.Now())
			return
		}
		defer func() {
			if err := lib.Shutdown(); err != nil {
				log.Warn("GPU sampling: stop NVML", "err", err)
			}
		}()
		failed := map[int]bool{}
		sample := func() {
			for _, g := range gpus {
				if g.Instance != nil {
					// NVML's utilisation and memory are the whole GPU's, which
					// other jobs' MIG instances share: not this job's.
					continue
				}
				s, err := lib.Sample(g.Index)
				if err != nil {
					if !failed[g.Index] {
						log.Warn("GPU sampling: read GPU", "index", g.Index, "err", err)
						failed[g.Index] = true
					}
					continue
				}
				acc.Add(s)
			}
		}
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				sample()
			case <-w.stop:
				sample() // the last period: up to the job's end
				w.done <- acc.Result(time.Now())
				return
			}
		}
	}()
	return w
}

// Stop ends the sampling and returns the job's Efficiency. Call it once.
func (w *Watch) Stop() Efficiency {
	close(w.stop)
	return <-w.done
}
