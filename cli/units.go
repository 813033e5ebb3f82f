package cli

import (
	"fmt"
	"strconv"
	"strings"
)

var memoryUnits = map[byte]int64{'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}

// ParseMemoryMiB reads a memory size as Slurm does: a number of MiB, or a
// number with a K, M, G or T suffix (either case). It rounds up to whole MiB.
func ParseMemoryMiB(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	unit := int64(1 << 20)
	if t != "" {
		if u, ok := memoryUnits[t[len(t)-1]]; ok {
			unit, t = u, t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/unit {
		return 0, fmt.Errorf("invalid memory size %q: give MiB, e.g. 512, or a size with a unit K, M, G or T, e.g. 2G", s)
	}
	return (n*unit + (1<<20 - 1)) >> 20, nil
}
