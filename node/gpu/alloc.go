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

	"github.com/shoal-batch/shoal/api"
)

// Schedulable returns the devices that jobs can be given, in index order:
// each GPU with MIG off, and each MIG instance of a GPU with MIG on, as its
// own device (Instance set; its UUID, memory and Type, the profile, are
// the instance's), as Slurm's gres/nvml offers them. A GPU in MIG mode is
// never given whole. A MIG instance whose capability devices are unknown
// (ResolveMIGCaps could not read them) is left out: a job could not open it.
func (i Info) Schedulable() []GPU {
	var out []GPU
	for _, g := range i.GPUs {
		if !g.MIG {
			g.Instance = nil
			out = append(out, g)
			continue
		}
		for _, m := range g.MIGInstances {
			if m.GICap == 0 || m.CICap == 0 {
				continue
			}
			d := g
			d.MIGInstances, d.UUID, d.MemoryMiB, d.Type = nil, m.UUID, m.MemoryMiB, m.Profile
			d.Instance = &m
			out = append(out, d)
		}
	}
	slices.SortStableFunc(out, func(a, b GPU) int { return a.Index - b.Index })
	return out
}

// Counts is how many of devs there are of each type (devices without a
// type are not counted): a node's api.Resources.GPUTypes.
func Counts(devs []GPU) api.GPUCounts {
	m := map[string]int{}
	for _, d := range devs {
		if d.Type != "" {
			m[d.Type]++
		}
	}
	return api.MakeGPUCounts(m)
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

// Allocate gives job n free devices, of which typed (by type) are of
// those types, the rest of any type: for each type the lowest free indexes
// of it, then the lowest free others. It returns them in index order, or
// nothing and an error wrapping ErrNotEnough. Asking for 0 gives none. A
// job holds at most one allocation: Release it before allocating again. A
// nil Allocator has no GPUs.
func (a *Allocator) Allocate(job uint64, n int, typed api.GPUCounts) ([]GPU, error) {
	if n <= 0 {
		return nil, nil
	}
	if a == nil {
		return nil, fmt.Errorf("allocate %d GPUs to job %d: %w: this node has none", n, job, ErrNotEnough)
	}
	if t := typed.Total(); t > n {
		return nil, fmt.Errorf("allocate %d GPUs to job %d: it asks for %d of given types (%s), more than in all", n, job, t, typed)
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
	taken := map[int]bool{}
	take := func(want int, ok func(GPU) bool) int {
		for _, i := range free {
			if want == 0 {
				break
			}
			if !taken[i] && ok(a.gpus[i]) {
				taken[i] = true
				want--
			}
		}
		return want
	}
	var short []string
	typed.Each(func(t string, c int) {
		if left := take(c, func(g GPU) bool { return g.Type == t }); left > 0 {
			short = append(short, fmt.Sprintf("%d of type %s", left, t))
		}
	})
	if left := take(n-typed.Total(), func(GPU) bool { return true }); left > 0 {
		short = append(short, fmt.Sprintf("%d of any type", left))
	}
	if len(short) > 0 {
		var held []string
		for i, j := range a.owner {
			held = append(held, fmt.Sprintf("%d (%s, job %d)", a.gpus[i].Index, a.gpus[i].Type, j))
		}
		slices.Sort(held)
		return nil, fmt.Errorf("allocate %d GPUs to job %d: %w: %s missing; %d of %d free, held: %s",
			n, job, ErrNotEnough, strings.Join(short, ", "), len(free), len(a.gpus), strings.Join(held, ", "))
	}
	out := make([]GPU, 0, n)
	for _, i := range free { // index order
		if taken[i] {
			a.owner[i] = job
			out = append(out, a.gpus[i])
		}
	}
	return out, nil
}

// Claim gives job exactly the devices with the given UUIDs (those a job
// held before a daemon restart), in index order. It refuses, changing
// nothing, a UUID the node does not have or another job holds.
func (a *Allocator) Claim(job uint64, uuids []string) ([]GPU, error) {
	if len(uuids) == 0 {
		return nil, nil
	}
	if a == nil {
		return nil, fmt.Errorf("claim GPUs %v for job %d: this node has none", uuids, job)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var claim []int
	for i, g := range a.gpus {
		if slices.Contains(uuids, g.UUID) {
			if j := a.owner[i]; j != 0 && j != job {
				return nil, fmt.Errorf("claim GPU %d (%s) for job %d: job %d holds it", g.Index, g.UUID, job, j)
			}
			claim = append(claim, i)
		}
	}
	if len(claim) != len(uuids) {
		return nil, fmt.Errorf("claim GPUs %v for job %d: this node has only %d of them", uuids, job, len(claim))
	}
	out := make([]GPU, len(claim))
	for k, i := range claim {
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

// MIGCapsDevDir is where the MIG capability device nodes are, under the
// host's /dev: nvidia-caps/nvidia-cap<N>.
const MIGCapsDevDir = "nvidia-caps"

// DevicePaths returns the device nodes in devDir (the host's /dev) that a
// job given gpus may open: each GPU's nvidia<Minor> (for a MIG instance,
// its GPU's, once however many instances of it the job has, and the
// instance's two capability devices nvidia-caps/nvidia-cap<GICap> and
// <CICap>, as nvidia-container-toolkit and Slurm's gres/nvml give them),
// and those of ControlDevices that exist (nvidia-uvm appears only once
// the module is loaded; nvidia-modeset not on every host). None for no GPUs.
func DevicePaths(devDir string, gpus []GPU) []string {
	if len(gpus) == 0 {
		return nil
	}
	var out []string
	add := func(p string) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for _, g := range gpus {
		add(filepath.Join(devDir, "nvidia"+strconv.Itoa(g.Minor)))
	}
	for _, g := range gpus {
		if m := g.Instance; m != nil {
			add(filepath.Join(devDir, MIGCapsDevDir, "nvidia-cap"+strconv.Itoa(m.GICap)))
			add(filepath.Join(devDir, MIGCapsDevDir, "nvidia-cap"+strconv.Itoa(m.CICap)))
		}
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
// same GPU whatever order CUDA enumerates the GPUs the job can open (a MIG
// instance's is "MIG-<uuid>", which CUDA takes as it is); SLURM_JOB_GPUS
// lists their host indexes, as Slurm does (a MIG instance's GPU's, once).
// None for no GPUs.
func Env(gpus []GPU) map[string]string {
	if len(gpus) == 0 {
		return nil
	}
	var uuids, idx []string
	for _, g := range gpus {
		uuids = append(uuids, g.UUID)
		if i := strconv.Itoa(g.Index); !slices.Contains(idx, i) {
			idx = append(idx, i)
		}
	}
	u := strings.Join(uuids, ",")
	return map[string]string{
		"CUDA_VISIBLE_DEVICES":   u,
		"NVIDIA_VISIBLE_DEVICES": u,
		"GPU_DEVICE_ORDINAL":     u,
		"SLURM_JOB_GPUS":         strings.Join(idx, ","),
	}
}
