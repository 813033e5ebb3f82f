package gpu

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// NVML is the Library of the host's driver, through go-nvml: Init loads
// libnvidia-ml.so.1 (from the loader's path) and starts NVML, about 11 ms
// on an H200 host.
type NVML struct{}

var _ Library = NVML{}

// nvmlErr turns an NVML return code into an error (nil for SUCCESS).
func nvmlErr(what string, r nvml.Return) error {
	if r == nvml.SUCCESS {
		return nil
	}
	return fmt.Errorf("%s: %w", what, r)
}

// Init implements Library.
func (NVML) Init() error {
	switch r := nvml.Init(); r {
	case nvml.SUCCESS:
		return nil
	case nvml.ERROR_LIBRARY_NOT_FOUND, nvml.ERROR_DRIVER_NOT_LOADED:
		return fmt.Errorf("nvml init: %w (%v)", ErrNoDriver, r)
	default:
		return nvmlErr("nvml init", r)
	}
}

// Shutdown implements Library.
func (NVML) Shutdown() error { return nvmlErr("nvml shutdown", nvml.Shutdown()) }

// DriverVersion implements Library.
func (NVML) DriverVersion() (string, error) {
	v, r := nvml.SystemGetDriverVersion()
	return v, nvmlErr("read driver version", r)
}

// CUDAVersion implements Library.
func (NVML) CUDAVersion() (int, error) {
	v, r := nvml.SystemGetCudaDriverVersion()
	return v, nvmlErr("read CUDA version", r)
}

// DeviceCount implements Library.
func (NVML) DeviceCount() (int, error) {
	n, r := nvml.DeviceGetCount()
	return n, nvmlErr("count GPUs", r)
}

// Device implements Library.
func (NVML) Device(index int) (GPU, error) {
	g := GPU{Index: index}
	d, r := nvml.DeviceGetHandleByIndex(index)
	if err := nvmlErr("get GPU handle", r); err != nil {
		return g, err
	}
	var err error
	if g.UUID, r = d.GetUUID(); r != nvml.SUCCESS {
		err = errors.Join(err, nvmlErr("read UUID", r))
	}
	if g.Name, r = d.GetName(); r != nvml.SUCCESS {
		err = errors.Join(err, nvmlErr("read name", r))
	}
	if g.Minor, r = d.GetMinorNumber(); r != nvml.SUCCESS {
		err = errors.Join(err, nvmlErr("read device minor number", r))
	}
	if m, r := d.GetMemoryInfo(); r == nvml.SUCCESS {
		g.MemoryMiB = int64(m.Total >> 20)
	} else {
		err = errors.Join(err, nvmlErr("read memory size", r))
	}
	if major, minor, r := d.GetCudaComputeCapability(); r == nvml.SUCCESS {
		g.ComputeCapability = strconv.Itoa(major) + "." + strconv.Itoa(minor)
	} else {
		err = errors.Join(err, nvmlErr("read compute capability", r))
	}
	// GPUs without MIG answer NOT_SUPPORTED: MIG off.
	if cur, _, r := d.GetMigMode(); r == nvml.SUCCESS && cur == nvml.DEVICE_MIG_ENABLE {
		g.MIG = true
		g.MIGInstances, r = migInstances(d)
		if r != nvml.SUCCESS {
			err = errors.Join(err, nvmlErr("list MIG instances", r))
		}
	} else if r != nvml.SUCCESS && r != nvml.ERROR_NOT_SUPPORTED {
		err = errors.Join(err, nvmlErr("read MIG mode", r))
	}
	if err != nil {
		return g, fmt.Errorf("read GPU %d: %w", index, err)
	}
	return g, nil
}

// migInstances lists the MIG devices of a GPU in MIG mode.
func migInstances(d nvml.Device) ([]MIGInstance, nvml.Return) {
	n, r := d.GetMaxMigDeviceCount()
	if r != nvml.SUCCESS {
		return nil, r
	}
	var out []MIGInstance
	for i := range n {
		m, r := d.GetMigDeviceHandleByIndex(i)
		if r == nvml.ERROR_NOT_FOUND || r == nvml.ERROR_INVALID_ARGUMENT {
			continue // no MIG device in this slot
		}
		if r != nvml.SUCCESS {
			return out, r
		}
		var inst MIGInstance
		if inst.UUID, r = m.GetUUID(); r != nvml.SUCCESS {
			return out, r
		}
		if inst.GPUInstance, r = m.GetGpuInstanceId(); r != nvml.SUCCESS {
			return out, r
		}
		if inst.ComputeInstance, r = m.GetComputeInstanceId(); r != nvml.SUCCESS {
			return out, r
		}
		if name, r := m.GetName(); r == nvml.SUCCESS {
			inst.Profile = MIGProfile(name)
		}
		if mem, r := m.GetMemoryInfo(); r == nvml.SUCCESS {
			inst.MemoryMiB = int64(mem.Total >> 20)
		}
		out = append(out, inst)
	}
	return out, nvml.SUCCESS
}

// Sample implements Library: about 5 µs on an H200.
func (NVML) Sample(index int) (Sample, error) {
	d, r := nvml.DeviceGetHandleByIndex(index)
	if err := nvmlErr("get GPU handle", r); err != nil {
		return Sample{}, err
	}
	u, r := d.GetUtilizationRates()
	if err := nvmlErr("read utilisation", r); err != nil {
		return Sample{}, err
	}
	m, r := d.GetMemoryInfo()
	if err := nvmlErr("read memory use", r); err != nil {
		return Sample{}, err
	}
	return Sample{SMPercent: int(u.Gpu), MemoryUsedMiB: int64(m.Used >> 20)}, nil
}
