package node

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// GPUDiscoverer counts the node's GPUs. The NVML-backed one arrives with
// GPU scheduling; without it (or without a driver) a node has no GPUs.
type GPUDiscoverer interface {
	CountGPUs() (int, error)
}

// Discover reads the host's CPU count and memory, and GPUs from gpus if set.
func Discover(gpus GPUDiscoverer) (api.Resources, error) {
	mem, err := memTotalMiB("/proc/meminfo")
	if err != nil {
		return api.Resources{}, err
	}
	res := api.Resources{CPUs: runtime.NumCPU(), MemoryMB: mem}
	if gpus != nil {
		if res.GPUs, err = gpus.CountGPUs(); err != nil {
			return api.Resources{}, fmt.Errorf("discover gpus: %w", err)
		}
	}
	return res, nil
}

// memTotalMiB reads MemTotal from a meminfo file.
func memTotalMiB(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read memory size: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kib, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse MemTotal %q: %w", fields[1], err)
			}
			return kib / 1024, nil
		}
	}
	return 0, fmt.Errorf("read memory size: no MemTotal in %s", path)
}
