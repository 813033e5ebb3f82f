// Package units reads sizes as Slurm's commands do, for every front door
// that takes one (shoal submit --mem, sbatch --mem, shoal agent's sizes).
package units

import (
	"fmt"
	"strconv"
	"strings"
)

var memoryUnits = map[byte]int64{'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}

// ParseMemoryMiB reads a memory size by Slurm 22.05's rules (sbatch
// --mem, checked against the real sbatch): a whole number of MiB, or a
// whole number with a unit K, M, G or T (either case), which may be
// followed by a B (2G, 2GB, 512kb; not 2B, 2GiB or 1.5G). Spaces around
// it are ignored. It rounds up to whole MiB (1K is 1).
func ParseMemoryMiB(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	unit := int64(1 << 20)
	if n := len(t); n >= 2 && t[n-1] == 'B' && memoryUnits[t[n-2]] != 0 {
		t = t[:n-1] // the B of KB, MB, GB, TB
	}
	if t != "" {
		if u, ok := memoryUnits[t[len(t)-1]]; ok {
			unit, t = u, t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/unit {
		return 0, fmt.Errorf("invalid memory size %q: give MiB, e.g. 512, or a whole number with a unit K, M, G or T, e.g. 2G or 2GB", s)
	}
	return (n*unit + (1<<20 - 1)) >> 20, nil
}

// FormatBytes writes a size in the binary units ParseMemoryMiB reads (a
// K is 1024), with one decimal: 512 B, 1.5 KiB, 32.0 GiB.
func FormatBytes(n int64) string {
	if n < 1<<10 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n)/(1<<10), "KiB"
	for _, u := range []string{"MiB", "GiB", "TiB", "PiB"} {
		if v < 1<<10 {
			break
		}
		v, unit = v/(1<<10), u
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}
