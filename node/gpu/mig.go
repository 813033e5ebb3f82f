package gpu

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// MIGCapsProcDir is where the driver describes the MIG capability devices:
// gpu<minor>/mig/gi<GI>/access and gpu<minor>/mig/gi<GI>/ci<CI>/access,
// each with a "DeviceFileMinor: N" line naming /dev/nvidia-caps/nvidia-capN.
const MIGCapsProcDir = "/proc/driver/nvidia/capabilities"

// ResolveMIGCaps fills in the capability minors (GICap, CICap) of the MIG
// instances of gpus from procDir (MIGCapsProcDir on a host), as
// nvidia-container-toolkit does; it changes gpus in place. An instance
// whose files cannot be read keeps 0s, so Schedulable leaves it out, and
// is named in a warning. GPUs with MIG off are untouched.
func ResolveMIGCaps(procDir string, gpus []GPU, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	for gi := range gpus {
		g := &gpus[gi]
		if !g.MIG {
			continue
		}
		for k := range g.MIGInstances {
			m := &g.MIGInstances[k]
			dir := filepath.Join(procDir, "gpu"+strconv.Itoa(g.Minor), "mig", "gi"+strconv.Itoa(m.GPUInstance))
			giCap, err := capMinor(filepath.Join(dir, "access"))
			var ciCap int
			if err == nil {
				ciCap, err = capMinor(filepath.Join(dir, "ci"+strconv.Itoa(m.ComputeInstance), "access"))
			}
			if err != nil {
				log.Warn("MIG instance not offered to jobs: its capability devices are unknown",
					"gpu", g.Index, "uuid", m.UUID, "err", err)
				m.GICap, m.CICap = 0, 0
				continue
			}
			m.GICap, m.CICap = giCap, ciCap
		}
	}
}

// capMinor reads the DeviceFileMinor of a capability's access file.
func capMinor(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read MIG capability: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "DeviceFileMinor:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("read MIG capability %s: bad DeviceFileMinor %q", path, v)
			}
			return n, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read MIG capability %s: %w", path, err)
	}
	return 0, fmt.Errorf("read MIG capability %s: no DeviceFileMinor line", path)
}
