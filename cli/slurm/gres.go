package slurm

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// gresItems writes GPU counts as Slurm's gres items, prefix and name then
// each type ("gpu:a100:2", "gpu:h200:1") and, for GPUs of no type, the
// plain count ("gpu:1"); none for no GPUs.
func gresItems(prefix string, r api.Resources) []string {
	var out []string
	r.GPUTypes.Each(func(t string, n int) { out = append(out, prefix+"gpu:"+t+":"+strconv.Itoa(n)) })
	if u := r.GPUs - r.GPUTypes.Total(); u > 0 {
		out = append(out, prefix+"gpu:"+strconv.Itoa(u))
	}
	return out
}

// gresString writes a node's GPUs as Slurm's Gres= and sinfo %G do: one
// item per GPU type (Gres=gpu:h200:1; gpu:a100:2,gpu:h200:1 on a node of
// two models), "(null)" for none.
func gresString(capacity api.Resources) string {
	if capacity.GPUs <= 0 {
		return "(null)"
	}
	return strings.Join(gresItems("", capacity), ",")
}

// nodeGPUsInUse is what of a node's GPUs is allocated, by type as far as
// the controller knows: a job that asked for any GPU has one of the node's
// type when the node has one type only; on a node of several types its
// GPUs stay of no type here (the node picked them).
func nodeGPUsInUse(n *api.Node) api.Resources {
	used := n.Allocated
	c := n.Capacity
	if types := c.GPUTypes.Types(); len(types) == 1 && c.GPUTypes.Total() == c.GPUs {
		used.GPUTypes = api.MakeGPUCounts(map[string]int{types[0]: used.GPUs})
	}
	return used
}

// gresUsed writes what of a node's GPUs is in use as sinfo's GresUsed
// does: each type the node has with the count in use ("gpu:h200:0"), and
// GPUs in use of no known type; "gpu:0" for a node without GPUs.
func gresUsed(n *api.Node) string {
	if n.Capacity.GPUs <= 0 {
		return "gpu:0"
	}
	used := nodeGPUsInUse(n)
	var out []string
	n.Capacity.GPUTypes.Each(func(t string, _ int) {
		out = append(out, fmt.Sprintf("gpu:%s:%d", t, used.GPUTypes.Get(t)))
	})
	if u := used.GPUs - used.GPUTypes.Total(); u > 0 || len(out) == 0 {
		out = append(out, "gpu:"+strconv.Itoa(u))
	}
	return strings.Join(out, ",")
}

// gpuTres writes GPUs as TRES entries after the others: ",gres/gpu=N" and
// one ",gres/gpu:TYPE=N" per type, as Slurm does where the types are
// tracked (AccountingStorageTRES=gres/gpu,gres/gpu:h200); "" for none.
func gpuTres(r api.Resources) string {
	if r.GPUs <= 0 {
		return ""
	}
	s := ",gres/gpu=" + strconv.Itoa(r.GPUs)
	r.GPUTypes.Each(func(t string, n int) { s += ",gres/gpu:" + t + "=" + strconv.Itoa(n) })
	return s
}
