package api

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestGPUCounts(t *testing.T) {
	c := MakeGPUCounts(map[string]int{"h200": 1, "a100": 2, "v100": 0})
	if c != "a100:2,h200:1" {
		t.Fatalf("MakeGPUCounts = %q, want a100:2,h200:1 (sorted, zero left out)", c)
	}
	if c.Total() != 3 || c.Get("a100") != 2 || c.Get("h100") != 0 {
		t.Errorf("Total/Get of %q = %d/%d/%d, want 3/2/0", c, c.Total(), c.Get("a100"), c.Get("h100"))
	}
	if got := c.Add("h200:2,l40s:1"); got != "a100:2,h200:3,l40s:1" {
		t.Errorf("Add = %q", got)
	}
	if got := c.Sub("a100:2"); got != "h200:1" {
		t.Errorf("Sub = %q, want h200:1 (a type at zero dropped)", got)
	}
	b, err := json.Marshal(Resources{GPUs: 3, GPUTypes: c})
	if err != nil || string(b) != `{"cpus":0,"memoryMiB":0,"gpus":3,"gpuTypes":{"a100":2,"h200":1}}` {
		t.Fatalf("marshal = %s, %v", b, err)
	}
	var r Resources
	if err := json.Unmarshal(b, &r); err != nil || r.GPUTypes != c {
		t.Fatalf("unmarshal = %+v, %v; want the same counts back", r, err)
	}
	if b, _ := json.Marshal(Resources{GPUs: 1}); strings.Contains(string(b), "gpuTypes") {
		t.Errorf("untyped resources marshal with gpuTypes: %s", b)
	}
	many := `{"gpuTypes":{`
	for i := range MaxGPUTypes + 1 {
		if i > 0 {
			many += ","
		}
		many += `"t` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `":1`
	}
	many += "}}"
	for _, bad := range []string{many, `{"gpuTypes":{"H200":1}}`, `{"gpuTypes":{"h200":0}}`, `{"gpuTypes":{"":1}}`, `{"gpuTypes":["h200"]}`} {
		if err := json.Unmarshal([]byte(bad), &r); err == nil || !strings.Contains(err.Error(), "gpuTypes") {
			t.Errorf("unmarshal %s: err %v, want a gpuTypes error", bad, err)
		}
	}
}

func TestFitsOn(t *testing.T) {
	mixed := Resources{CPUs: 8, MemoryMB: 1000, GPUs: 3, GPUTypes: "a100:2,h200:1"}
	one := Resources{CPUs: 8, MemoryMB: 1000, GPUs: 2, GPUTypes: "h200:2"}
	plain := Resources{CPUs: 8, MemoryMB: 1000, GPUs: 2} // model without a type name
	for _, c := range []struct {
		name       string
		ask        Resources
		cap, alloc Resources
		want       bool
	}{
		{"untyped on a typed node", Resources{GPUs: 2}, one, Resources{}, true},
		{"typed, its type", Resources{GPUs: 2, GPUTypes: "h200:2"}, one, Resources{}, true},
		{"typed, another type", Resources{GPUs: 1, GPUTypes: "a100:1"}, one, Resources{}, false},
		{"typed on an untyped node", Resources{GPUs: 1, GPUTypes: "h200:1"}, plain, Resources{}, false},
		{"typed, too many", Resources{GPUs: 3, GPUTypes: "a100:3"}, mixed, Resources{}, false},
		{"typed beside untyped, one type", Resources{GPUs: 1, GPUTypes: "h200:1"}, one, Resources{GPUs: 1}, true},
		{"typed beside typed, one type, full", Resources{GPUs: 1, GPUTypes: "h200:1"}, one, Resources{GPUs: 2, GPUTypes: "h200:2"}, false},
		{"mixed: typed a100 beside typed h200", Resources{GPUs: 2, GPUTypes: "a100:2"}, mixed, Resources{GPUs: 1, GPUTypes: "h200:1"}, true},
		// An untyped GPU already given may be the only h200: a typed h200 job must wait.
		{"mixed: h200 beside an untyped job", Resources{GPUs: 1, GPUTypes: "h200:1"}, mixed, Resources{GPUs: 1}, false},
		{"mixed: a100 beside an untyped job", Resources{GPUs: 1, GPUTypes: "a100:1"}, mixed, Resources{GPUs: 1}, true},
		{"mixed: untyped beside an h200 job", Resources{GPUs: 1}, mixed, Resources{GPUs: 1, GPUTypes: "h200:1"}, false},
		{"mixed: untyped beside an a100 job", Resources{GPUs: 1}, mixed, Resources{GPUs: 1, GPUTypes: "a100:1"}, true},
		{"mixed: untyped on an idle node", Resources{GPUs: 3}, mixed, Resources{}, true},
		{"cpus short", Resources{CPUs: 9}, mixed, Resources{}, false},
		{"no GPUs beside typed", Resources{CPUs: 1}, mixed, Resources{GPUs: 1, GPUTypes: "h200:1"}, true},
	} {
		if got := c.ask.FitsOn(c.cap, c.alloc); got != c.want {
			t.Errorf("%s: %+v FitsOn(%+v, %+v) = %v, want %v", c.name, c.ask, c.cap, c.alloc, got, c.want)
		}
	}
}
