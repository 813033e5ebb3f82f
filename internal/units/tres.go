package units

import (
	"fmt"
	"strconv"
	"strings"
)

// TRES is what a TRES limit (an association's or a QOS's MaxTRES or
// GrpTRES) bounds: CPUs, memory in MiB and GPUs, each -1 where it sets
// no bound.
type TRES struct{ CPUs, MemMiB, GPUs int64 }

// NoTRES bounds nothing.
var NoTRES = TRES{-1, -1, -1}

// tresKeys are the TRES a limit may name: cpu, mem and gres/gpu are
// enforced, node, billing and energy are taken and not enforced (a
// single-node job's node=1 always holds; shoal has no billing or energy
// TRES).
var tresKeys = map[string]bool{"cpu": true, "mem": true, "gres/gpu": true, "node": true, "billing": true, "energy": true}

// ParseTRES reads a TRES limit as sacctmgr takes it, the one parser of
// them (sacctmgr, the registry's check of a write, and the enforcement
// at submit and in the scheduler): KEY=VALUE items separated by commas,
// KEY one of cpu, mem, gres/gpu, node, billing, energy (any case);
// VALUE a whole number, for mem a size as ParseMemoryMiB reads it (2G,
// 1024MB, 512: MiB), or -1 for no bound. "" bounds nothing. An item it
// cannot read is an error naming it: a limit is never half read.
func ParseTRES(s string) (TRES, error) {
	t := NoTRES
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, found := strings.Cut(item, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !found || !tresKeys[k] || v == "" {
			return NoTRES, fmt.Errorf("TRES %q: give cpu=N, mem=SIZE, gres/gpu=N, node=N or billing=N, separated by commas", item)
		}
		n := int64(-1)
		if v != "-1" {
			var err error
			if k == "mem" {
				if n, err = ParseMemoryMiB(v); err != nil {
					return NoTRES, fmt.Errorf("TRES %q: %v", item, err)
				}
			} else if n, err = strconv.ParseInt(v, 10, 64); err != nil || n < 0 {
				return NoTRES, fmt.Errorf("TRES %q: give a whole number, or -1 for no limit", item)
			}
		}
		switch k {
		case "cpu":
			t.CPUs = n
		case "mem":
			t.MemMiB = n
		case "gres/gpu":
			t.GPUs = n
		}
	}
	return t, nil
}
