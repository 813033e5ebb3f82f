package gpu

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestAccumulator(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a := NewAccumulator(2, t0)
	for _, s := range []Sample{{SMPercent: 90, MemoryUsedMiB: 1000}, {SMPercent: 10, MemoryUsedMiB: 40000}, {SMPercent: 50, MemoryUsedMiB: 2000}} {
		a.Add(s)
	}
	got := a.Result(t0.Add(90 * time.Second))
	want := Efficiency{GPUs: 2, Samples: 3, MeanSMPercent: 50, MaxSMPercent: 90, MaxMemoryMiB: 40000, GPUSeconds: 180}
	if got != want {
		t.Errorf("Result = %+v, want %+v", got, want)
	}
	if got := NewAccumulator(1, t0).Result(t0.Add(time.Second)); got != (Efficiency{GPUs: 1, GPUSeconds: 1}) {
		t.Errorf("no samples: %+v, want only the GPU-seconds", got)
	}
}

// A Watch reads each of the job's GPUs (and no other) every period and
// once more at Stop, and leaves NVML as it found it.
func TestWatch(t *testing.T) {
	gpus := FakeGPUs(4)
	var reads [4]atomic.Int32
	enough := make(chan struct{})
	var once atomic.Bool
	f := &Fake{GPUs: gpus, SampleFunc: func(i int) (Sample, error) {
		n := reads[i].Add(1)
		if i == 3 && n >= 3 && once.CompareAndSwap(false, true) {
			close(enough)
		}
		return Sample{SMPercent: 20 * i, MemoryUsedMiB: int64(100 * i)}, nil
	}}
	log, _ := testLog()
	w := StartWatch(f, []GPU{gpus[1], gpus[3]}, time.Millisecond, log)
	<-enough
	e := w.Stop()
	if f.Inited() {
		t.Error("NVML left initialised after Stop")
	}
	if reads[0].Load() != 0 || reads[2].Load() != 0 {
		t.Errorf("GPUs 0 and 2, not the job's, were read %d and %d times", reads[0].Load(), reads[2].Load())
	}
	if e.GPUs != 2 || e.Samples < 6 || e.Samples%2 != 0 || e.MeanSMPercent != 40 || e.MaxSMPercent != 60 || e.MaxMemoryMiB != 300 || e.GPUSeconds <= 0 {
		t.Errorf("Efficiency = %+v; want 2 GPUs, an even number ≥ 6 of samples, mean 40%%, max 60%%, 300 MiB, some GPU-seconds", e)
	}
}

// Without NVML a Watch still counts the GPU-seconds; a GPU that fails to
// read is left out of the figures.
func TestWatchFailures(t *testing.T) {
	log, buf := testLog()
	w := StartWatch(&Fake{InitErr: errors.New("nvml init: Unknown Error")}, FakeGPUs(1), time.Hour, log)
	if e := w.Stop(); e.GPUs != 1 || e.Samples != 0 {
		t.Errorf("Efficiency without NVML = %+v, want 1 GPU and no samples", e)
	}
	if logLines(buf) != 1 {
		t.Errorf("log = %q, want one warning", buf)
	}
	gpus := FakeGPUs(2)
	f := &Fake{GPUs: gpus, SampleFunc: func(i int) (Sample, error) {
		if i == 0 {
			return Sample{}, errors.New("GPU is lost")
		}
		return Sample{SMPercent: 70}, nil
	}}
	e := StartWatch(f, gpus, time.Hour, log).Stop() // the one sample at Stop
	if e.Samples != 1 || e.MeanSMPercent != 70 {
		t.Errorf("Efficiency with GPU 0 lost = %+v, want GPU 1's one sample at 70%%", e)
	}
}

// A MIG instance is not sampled (its GPU's readings are shared with the
// other instances' jobs) but still counts GPU-seconds.
func TestWatchSkipsMIG(t *testing.T) {
	gpus := FakeGPUs(2)
	gpus[1] = FakeMIG(gpus[1], "1g.18gb")
	devs := Info{GPUs: gpus}.Schedulable()
	var reads [2]atomic.Int32
	f := &Fake{GPUs: gpus, SampleFunc: func(i int) (Sample, error) {
		reads[i].Add(1)
		return Sample{SMPercent: 50}, nil
	}}
	log, _ := testLog()
	e := StartWatch(f, devs, time.Hour, log).Stop()
	if reads[1].Load() != 0 || reads[0].Load() != 1 || e.GPUs != 2 || e.Samples != 1 {
		t.Errorf("reads %d/%d, Efficiency %+v; want GPU 0 read once, the MIG instance's GPU never, 2 GPUs counted",
			reads[0].Load(), reads[1].Load(), e)
	}
}
