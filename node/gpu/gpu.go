package gpu

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// GPU is one physical GPU as NVML describes it.
type GPU struct {
	// Index is NVML's index of the GPU (nvidia-smi's), what Slurm's
	// SLURM_JOB_GPUS lists.
	Index int `json:"index"`
	// Minor is the minor number of its device node, /dev/nvidia<Minor>.
	Minor int `json:"minor"`
	// UUID is "GPU-" and a UUID: what CUDA_VISIBLE_DEVICES may name.
	UUID string `json:"uuid"`
	// Name is the model, e.g. "NVIDIA H200".
	Name string `json:"name"`
	// MemoryMiB is the GPU's memory.
	MemoryMiB int64 `json:"memoryMiB"`
	// ComputeCapability is CUDA's major.minor, e.g. "9.0".
	ComputeCapability string `json:"computeCapability"`
	// Type is the Slurm GPU type jobs ask for (--gres=gpu:h200:1): TypeName
	// of Name, set by Discover; for a MIG instance of Schedulable, its
	// profile ("1g.18gb"). "": a model without a type name.
	Type string `json:"type,omitempty"`
	// MIG is whether MIG mode is on; MIGInstances are then its instances.
	MIG          bool          `json:"mig,omitempty"`
	MIGInstances []MIGInstance `json:"migInstances,omitempty"`
	// Instance is set on the devices of Schedulable that are a MIG
	// instance of this GPU (UUID, Type and MemoryMiB are then the
	// instance's): a job given one gets the GPU's device node and the
	// instance's capability devices, and sees the instance alone.
	Instance *MIGInstance `json:"instance,omitempty"`
}

// MIGInstance is one MIG device (a compute instance of a GPU instance) of
// a GPU in MIG mode.
type MIGInstance struct {
	UUID            string `json:"uuid"` // "MIG-..."
	GPUInstance     int    `json:"gpuInstance"`
	ComputeInstance int    `json:"computeInstance"`
	MemoryMiB       int64  `json:"memoryMiB"`
	// Profile is the MIG profile, e.g. "1g.18gb" (MIGProfile of the MIG
	// device's NVML name): the instance's Slurm type.
	Profile string `json:"profile,omitempty"`
	// GICap and CICap are the minor numbers of the capability device
	// nodes (/dev/nvidia-caps/nvidia-cap<N>) that grant access to the GPU
	// instance and the compute instance; 0 until ResolveMIGCaps reads them.
	GICap int `json:"giCap,omitempty"`
	CICap int `json:"ciCap,omitempty"`
}

// Info is what Discover found.
type Info struct {
	Driver string `json:"driver,omitempty"` // the kernel driver's version, e.g. "580.159.04"
	CUDA   string `json:"cuda,omitempty"`   // the newest CUDA the driver runs, e.g. "13.0"
	GPUs   []GPU  `json:"gpus,omitempty"`
}

// Library is the part of NVML that Discover uses. Init must come first and
// Shutdown last; the other methods are valid only in between.
type Library interface {
	// Init loads and starts NVML. It returns an error wrapping
	// ErrNoDriver where the NVIDIA driver or its library is missing.
	Init() error
	// Shutdown stops NVML; safe to call only after a successful Init.
	Shutdown() error
	// DriverVersion is the kernel driver's version.
	DriverVersion() (string, error)
	// CUDAVersion is the newest CUDA version the driver supports, as
	// NVML encodes it: 1000*major + 10*minor (12040 is 12.4).
	CUDAVersion() (int, error)
	// DeviceCount is the number of GPUs.
	DeviceCount() (int, error)
	// Device describes GPU index (0 to DeviceCount-1).
	Device(index int) (GPU, error)
	// Sample reads GPU index's utilisation now.
	Sample(index int) (Sample, error)
}

// Sample is one reading of a GPU: what share of the last sample period
// its SMs ran a kernel (NVML's GPU utilisation) and the memory in use.
type Sample struct {
	SMPercent     int
	MemoryUsedMiB int64
}

// ErrNoDriver is wrapped by Library.Init's error when the host has no
// NVIDIA driver (libnvidia-ml.so.1 not found, or the kernel module not
// loaded): a host without GPUs, not a failure.
var ErrNoDriver = errors.New("no NVIDIA driver")

// Discover reads the GPUs through lib. A nil lib, a host without the
// driver, a driver without GPUs and an NVML that fails to start all give
// an Info without GPUs and one log line; a GPU that cannot be read is
// left out, with a warning. It never fails: a node without usable GPUs
// still runs CPU jobs.
func Discover(lib Library, log *slog.Logger) Info {
	if log == nil {
		log = slog.Default()
	}
	if lib == nil {
		return Info{}
	}
	if err := lib.Init(); err != nil {
		if errors.Is(err, ErrNoDriver) {
			log.Info("no NVIDIA driver: this node offers no GPUs", "err", err)
		} else {
			log.Warn("NVML did not start: this node offers no GPUs", "err", err)
		}
		return Info{}
	}
	defer func() {
		if err := lib.Shutdown(); err != nil {
			log.Warn("stop NVML", "err", err)
		}
	}()
	var info Info
	var err error
	if info.Driver, err = lib.DriverVersion(); err != nil {
		log.Warn("read the NVIDIA driver version", "err", err)
	}
	if v, err := lib.CUDAVersion(); err != nil {
		log.Warn("read the driver's CUDA version", "err", err)
	} else {
		info.CUDA = FormatCUDAVersion(v)
	}
	n, err := lib.DeviceCount()
	if err != nil {
		log.Warn("count GPUs: this node offers no GPUs", "err", err)
		return info
	}
	for i := range n {
		g, err := lib.Device(i)
		if err != nil {
			log.Warn("read GPU: it is not offered to jobs", "index", i, "err", err)
			continue
		}
		if g.Type == "" {
			g.Type = TypeName(g.Name)
		}
		info.GPUs = append(info.GPUs, g)
	}
	if len(info.GPUs) == 0 {
		log.Info("NVIDIA driver without GPUs: this node offers no GPUs", "driver", info.Driver)
		return info
	}
	var models []string
	for _, g := range info.GPUs {
		m := fmt.Sprintf("%d:%s(type %s, %s, %d MiB, cc %s", g.Index, g.Name, g.Type, g.UUID, g.MemoryMiB, g.ComputeCapability)
		if g.MIG {
			m += fmt.Sprintf(", MIG on, %d instances", len(g.MIGInstances))
		}
		models = append(models, m+")")
	}
	log.Info("GPUs found", "count", len(info.GPUs), "driver", info.Driver, "cuda", info.CUDA, "gpus", strings.Join(models, " "))
	return info
}

// FormatCUDAVersion writes NVML's CUDA version number as major.minor.
func FormatCUDAVersion(v int) string {
	return strconv.Itoa(v/1000) + "." + strconv.Itoa(v%1000/10)
}
