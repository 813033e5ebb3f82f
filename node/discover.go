package node

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/node/gpu"
)

// Discover reads the host's CPU count and memory, and its GPUs through gpus
// (gpu.NVML{} for the host's driver; nil for none). It returns the node's
// capacity and the devices it can hand to jobs (gpu.Info.Schedulable:
// GPUs, and the MIG instances of GPUs in MIG mode, whose capability
// devices it reads from gpu.MIGCapsProcDir), whose
// number is the capacity's GPUs and whose types its GPUTypes. A host
// without the driver or without GPUs has none: gpu.Discover logs it and
// is never an error.
func Discover(gpus gpu.Library, log *slog.Logger) (api.Resources, []gpu.GPU, error) {
	mem, err := memTotalMiB("/proc/meminfo")
	if err != nil {
		return api.Resources{}, nil, err
	}
	info := gpu.Discover(gpus, log)
	gpu.ResolveMIGCaps(gpu.MIGCapsProcDir, info.GPUs, log)
	devs := info.Schedulable()
	return api.Resources{CPUs: runtime.NumCPU(), MemoryMB: mem, GPUs: len(devs), GPUTypes: gpu.Counts(devs)}, devs, nil
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
