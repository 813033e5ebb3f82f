package gpu

import (
	"fmt"
	"sync"
)

// Fake is a Library with made-up GPUs, for tests. A nil error field means
// success; InitErr wrapping ErrNoDriver plays a host without the driver.
type Fake struct {
	GPUs     []GPU
	Driver   string
	CUDA     int // NVML's encoding: 12040 is 12.4
	InitErr  error
	CountErr error
	// DeviceErr, if set, fails Device for the indexes it has.
	DeviceErr map[int]error
	// SampleFunc, if set, answers Sample; otherwise GPUs read idle.
	SampleFunc func(index int) (Sample, error)

	mu    sync.Mutex
	inits int // successful Inits not yet shut down, as NVML counts them
}

var _ Library = (*Fake)(nil)

// FakeGPUs returns n made-up H200s with indexes and minors 0 to n-1.
func FakeGPUs(n int) []GPU {
	out := make([]GPU, n)
	for i := range out {
		out[i] = GPU{Index: i, Minor: i, UUID: fmt.Sprintf("GPU-fa4e0000-0000-0000-0000-%012d", i),
			Name: "NVIDIA H200", Type: "h200", MemoryMiB: 143771, ComputeCapability: "9.0"}
	}
	return out
}

// Init implements Library. Like NVML's, Inits are counted: the library
// stays up until as many Shutdowns.
func (f *Fake) Init() error {
	if f.InitErr != nil {
		return f.InitErr
	}
	f.mu.Lock()
	f.inits++
	f.mu.Unlock()
	return nil
}

// Shutdown implements Library.
func (f *Fake) Shutdown() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inits == 0 {
		return fmt.Errorf("nvml shutdown: %s", "Uninitialized")
	}
	f.inits--
	return nil
}

// Inited reports whether the fake library is up (more Inits than
// Shutdowns so far).
func (f *Fake) Inited() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inits > 0
}

func (f *Fake) check() error {
	if !f.Inited() {
		return fmt.Errorf("fake nvml: called before Init")
	}
	return nil
}

// DriverVersion implements Library.
func (f *Fake) DriverVersion() (string, error) { return f.Driver, f.check() }

// CUDAVersion implements Library.
func (f *Fake) CUDAVersion() (int, error) { return f.CUDA, f.check() }

// DeviceCount implements Library.
func (f *Fake) DeviceCount() (int, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	if f.CountErr != nil {
		return 0, f.CountErr
	}
	return len(f.GPUs), nil
}

// Device implements Library.
func (f *Fake) Device(index int) (GPU, error) {
	if err := f.check(); err != nil {
		return GPU{}, err
	}
	if err := f.DeviceErr[index]; err != nil {
		return GPU{}, err
	}
	if index < 0 || index >= len(f.GPUs) {
		return GPU{}, fmt.Errorf("fake nvml: no GPU %d", index)
	}
	return f.GPUs[index], nil
}

// Sample implements Library.
func (f *Fake) Sample(index int) (Sample, error) {
	if err := f.check(); err != nil {
		return Sample{}, err
	}
	if f.SampleFunc != nil {
		return f.SampleFunc(index)
	}
	return Sample{}, nil
}

// FakeMIG turns g into a GPU in MIG mode with one instance per profile
// given, GPU instances 1, 2, ... each with compute instance 0, and made-up
// UUIDs and capability minors (as ResolveMIGCaps would have read them).
func FakeMIG(g GPU, profiles ...string) GPU {
	g.MIG = true
	g.MIGInstances = nil
	for i, p := range profiles {
		g.MIGInstances = append(g.MIGInstances, MIGInstance{
			UUID:        fmt.Sprintf("MIG-fa4e%04d-0000-0000-0000-%012d", g.Index, i+1),
			GPUInstance: i + 1, ComputeInstance: 0, MemoryMiB: 16384, Profile: p,
			GICap: 100*g.Minor + 10*(i+1), CICap: 100*g.Minor + 10*(i+1) + 1,
		})
	}
	return g
}
