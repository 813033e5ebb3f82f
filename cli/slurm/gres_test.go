package slurm

import (
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// A node's GPUs by type, as sinfo %G / scontrol Gres= and GresUsed print them.
func TestGresStrings(t *testing.T) {
	for _, c := range []struct {
		name             string
		cap, alloc       api.Resources
		gres, used, tres string
	}{
		{"none", api.Resources{}, api.Resources{}, "(null)", "gpu:0", ""},
		{"untyped", api.Resources{GPUs: 2}, api.Resources{GPUs: 1}, "gpu:2", "gpu:1", ",gres/gpu=2"},
		{"one type, any-GPU job counted as it", api.Resources{GPUs: 1, GPUTypes: "h200:1"}, api.Resources{GPUs: 1},
			"gpu:h200:1", "gpu:h200:1", ",gres/gpu=1,gres/gpu:h200=1"},
		{"mixed", api.Resources{GPUs: 3, GPUTypes: "a100:2,h200:1"}, api.Resources{GPUs: 2, GPUTypes: "h200:1"},
			"gpu:a100:2,gpu:h200:1", "gpu:a100:0,gpu:h200:1,gpu:1", ",gres/gpu=3,gres/gpu:a100=2,gres/gpu:h200=1"},
		{"MIG", api.Resources{GPUs: 3, GPUTypes: "1g.18gb:2,3g.71gb:1"}, api.Resources{},
			"gpu:1g.18gb:2,gpu:3g.71gb:1", "gpu:1g.18gb:0,gpu:3g.71gb:0", ",gres/gpu=3,gres/gpu:1g.18gb=2,gres/gpu:3g.71gb=1"},
	} {
		n := &api.Node{Capacity: c.cap, Allocated: c.alloc}
		if got := gresString(c.cap); got != c.gres {
			t.Errorf("%s: Gres=%s, want %s", c.name, got, c.gres)
		}
		if got := gresUsed(n); got != c.used {
			t.Errorf("%s: GresUsed=%s, want %s", c.name, got, c.used)
		}
		if got := gpuTres(c.cap); got != c.tres {
			t.Errorf("%s: TRES %q, want %q", c.name, got, c.tres)
		}
	}
	job := api.Resources{GPUs: 3, GPUTypes: "a100:2"}
	if got := gresItems("gres:", job); len(got) != 2 || got[0] != "gres:gpu:a100:2" || got[1] != "gres:gpu:1" {
		t.Errorf("TresPerNode items of a100:2 + 1 any = %q", got)
	}
}
