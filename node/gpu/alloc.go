package gpu

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Schedulable returns the GPUs that jobs can be given, in index order:
// those with MIG off. A GPU in MIG mode is usable only through its MIG
// instances, which shoal does not hand out yet (Discover's log names them).
func (i Info) Schedulable() []GPU {
	var out []GPU
	for _, g := range i.GPUs {
		if !g.MIG {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b GPU) int { return a.Index - b.Index })
	return out
}

// ErrNotEnough is wrapped by Allocate's error when fewer GPUs are free than
// a job asks for.
var ErrNotEnough = errors.New("not enough free GPUs")

// Allocator hands a node's GPUs to jobs, each GPU to at most one job at a
// time. Its methods are safe for concurrent use.
type Allocator struct {
	mu    sync.Mutex
	gpus  []GPU
	owner map[int]uint64 // position in gpus -> the job holding it
}

// NewAllocator returns an Allocator of gpus, all free.
func NewAllocator(gpus []GPU) *Allocator {
	return &Allocator{gpus: slices.Clone(gpus), owner: map[int]uint64{}}
}

// Len is the number of GPUs the Allocator hands out.
func (a *Allocator) Len() int {
	if a == nil {
		return 0
	}
	return len(a.gpus)
}

// Allocate gives job n free GPUs, the lowest free indexes first, and
// returns them in index order. Asking for 0 gives none. A job holds at
// most one allocation: Release it before allocating again. A nil
// Allocator has no GPUs.
func (a *Allocator) Allocate(job uint64, n int) ([]GPU, error) {
	if n <= 0 {
		return nil, nil
	}
	if a == nil {
		return nil, fmt.Errorf("allocate %d GPUs to job %d: %w: this node has none", n, job, ErrNotEnough)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var free []int
	for i := range a.gpus {
		switch a.owner[i] {
		case 0:
			free = append(free, i)
		case job:
			return nil, fmt.Errorf("allocate GPUs to job %d: it holds GPU %d already (release it first)", job, a.gpus[i].Index)
		}
	}
	if len(free) < n {
		var held []string
		for i, j := range a.owner {
			held = append(held, fmt.Sprintf("%d (job %d)", a.gpus[i].Index, j))
		}
		slices.Sort(held)
		return nil, fmt.Errorf("allocate %d GPUs to job %d: %w: %d of %d free, held: %s",
			n, job, ErrNotEnough, len(free), len(a.gpus), strings.Join(held, ", "))
	}
	out := make([]GPU, n)
	for k, i := range free[:n] {
		a.owner[i] = job
		out[k] = a.gpus[i]
	}
	return out, nil
}

// Release frees the GPUs job holds; it does nothing if it holds none.
func (a *Allocator) Release(job uint64) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, j := range a.owner {
		if j == job {
			delete(a.owner, i)
		}
	}
}

// ControlDevices are the driver's device nodes that every GPU job needs
// besides its GPUs' own: the control device, unified memory (and its
// tools interface) and modeset. No job without GPUs is given them.
var ControlDevices = []string{"nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset"}

// DevicePaths returns the device nodes in devDir (the host's /dev) that a
// job given gpus may open: each GPU's nvidia<Minor> and those of
// ControlDevices that exist (nvidia-uvm appears only once the module is
// loaded; nvidia-modeset not on every host). None for no GPUs.
func DevicePaths(devDir string, gpus []GPU) []string {
	if len(gpus) == 0 {
		return nil
	}
	var out []string
	for _, g := range gpus {
		out = append(out, filepath.Join(devDir, "nvidia"+strconv.Itoa(g.Minor)))
	}
	for _, name := range ControlDevices {
		p := filepath.Join(devDir, name)
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// EnvVars are the variables Env sets; a job without GPUs has none of them.
var EnvVars = []string{"CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL", "SLURM_JOB_GPUS"}

// Env returns the variables that tell a job's programs which GPUs are its
// own. CUDA_VISIBLE_DEVICES (and GPU_DEVICE_ORDINAL, which Slurm sets to
// the same) and NVIDIA_VISIBLE_DEVICES name them by UUID, which means the
// same GPU whatever order CUDA enumerates the GPUs the job can open;
// SLURM_JOB_GPUS lists their host indexes, as Slurm does. None for no GPUs.
func Env(gpus []GPU) map[string]string {
	if len(gpus) == 0 {
		return nil
	}
	var uuids, idx []string
	for _, g := range gpus {
		uuids = append(uuids, g.UUID)
		idx = append(idx, strconv.Itoa(g.Index))
	}
	u := strings.Join(uuids, ",")
	return map[string]string{
		"CUDA_VISIBLE_DEVICES":   u,
		"NVIDIA_VISIBLE_DEVICES": u,
		"GPU_DEVICE_ORDINAL":     u,
		"SLURM_JOB_GPUS":         strings.Join(idx, ","),
	}
}
