package api

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// GPUCounts counts GPUs by type, Slurm's typed gres: a node's "h200:1"
// (Gres=gpu:h200:1), a job's ask for "a100:2". Its text is canonical (types
// sorted, each once, counts above zero, "" for none) so that Resources stay
// comparable and the FSM's records equal on every replica; on the wire it is
// a JSON object, {"a100":2,"h200":1}. Type names are lower case: letters,
// digits and ".", "_", "-" (MIG profiles such as "1g.18gb").
type GPUCounts string

// MaxGPUTypeLen bounds a GPU type name; MaxGPUTypes the types of one
// GPUCounts (a node's models and MIG profiles are a handful).
const (
	MaxGPUTypeLen = 64
	MaxGPUTypes   = 32
)

// CheckGPUType reports whether t can name a GPU type, and if not why.
func CheckGPUType(t string) error {
	if t == "" || len(t) > MaxGPUTypeLen {
		return fmt.Errorf("GPU type %q: give a name of 1 to %d characters, e.g. h200 or 1g.18gb", t, MaxGPUTypeLen)
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("GPU type %q: use lower-case letters, digits, '.', '_' and '-', e.g. h200 or 1g.18gb", t)
		}
	}
	return nil
}

// MakeGPUCounts writes counts canonically; zero and negative counts are left
// out. It does not check the names (CheckGPUType does).
func MakeGPUCounts(counts map[string]int) GPUCounts {
	types := make([]string, 0, len(counts))
	for t, n := range counts {
		if n > 0 {
			types = append(types, t)
		}
	}
	slices.Sort(types)
	var b strings.Builder
	for i, t := range types {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(t)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(counts[t]))
	}
	return GPUCounts(b.String())
}

// Each calls fn for every type and its count, in type order.
func (c GPUCounts) Each(fn func(t string, n int)) {
	s := string(c)
	for s != "" {
		var item string
		item, s, _ = strings.Cut(s, ",")
		i := strings.LastIndexByte(item, ':')
		if i < 0 {
			continue
		}
		n, _ := strconv.Atoi(item[i+1:])
		fn(item[:i], n)
	}
}

// Map returns the counts as a map (nil for none).
func (c GPUCounts) Map() map[string]int {
	if c == "" {
		return nil
	}
	m := map[string]int{}
	c.Each(func(t string, n int) { m[t] += n })
	return m
}

// Get is the count of type t.
func (c GPUCounts) Get(t string) int {
	n := 0
	c.Each(func(u string, k int) {
		if u == t {
			n = k
		}
	})
	return n
}

// Total is the sum of the counts.
func (c GPUCounts) Total() int {
	n := 0
	c.Each(func(_ string, k int) { n += k })
	return n
}

// Types lists the types, sorted.
func (c GPUCounts) Types() []string {
	var out []string
	c.Each(func(t string, _ int) { out = append(out, t) })
	return out
}

// Add returns c+o per type.
func (c GPUCounts) Add(o GPUCounts) GPUCounts {
	if o == "" {
		return c
	}
	if c == "" {
		return o
	}
	m := c.Map()
	o.Each(func(t string, n int) { m[t] += n })
	return MakeGPUCounts(m)
}

// Sub returns c-o per type; types that reach zero are dropped.
func (c GPUCounts) Sub(o GPUCounts) GPUCounts {
	if o == "" {
		return c
	}
	m := c.Map()
	if m == nil {
		m = map[string]int{}
	}
	o.Each(func(t string, n int) { m[t] -= n })
	return MakeGPUCounts(m)
}

// MarshalJSON writes the counts as an object, {"h200":1}.
func (c GPUCounts) MarshalJSON() ([]byte, error) {
	m := c.Map()
	if m == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads an object of type names and counts; it refuses a bad
// name or a count below one.
func (c *GPUCounts) UnmarshalJSON(b []byte) error {
	var m map[string]int
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("gpuTypes: give an object of GPU type names and counts, e.g. {\"h200\":1}: %w", err)
	}
	if len(m) > MaxGPUTypes {
		return fmt.Errorf("gpuTypes: %d types: give at most %d", len(m), MaxGPUTypes)
	}
	for t, n := range m {
		if err := CheckGPUType(t); err != nil {
			return fmt.Errorf("gpuTypes: %w", err)
		}
		if n < 1 {
			return fmt.Errorf("gpuTypes: %s: %d GPUs: give a count of at least 1", t, n)
		}
	}
	*c = MakeGPUCounts(m)
	return nil
}

// untypedGPUs is how many of r's GPUs are of no particular type: a job's
// "any GPU", a node's GPUs whose model has no type name.
func (r Resources) untypedGPUs() int { return r.GPUs - r.GPUTypes.Total() }

// FitsOn reports whether r fits on a node of capacity cap that has alloc
// allocated: CPUs, memory and GPUs in all, and GPUs by type. Which GPUs a
// job without a type gets is its node's choice, made when it starts, so
// on a node with several GPU types r fits only if every type that typed
// jobs ask for has room for them even were all untyped GPUs taken from it:
// then the node can start the jobs in any order. On a node of one GPU type
// this is the plain count.
func (r Resources) FitsOn(cap, alloc Resources) bool {
	if r.CPUs > cap.CPUs-alloc.CPUs || r.MemoryMB > cap.MemoryMB-alloc.MemoryMB || r.GPUs > cap.GPUs-alloc.GPUs {
		return false
	}
	if r.GPUTypes == "" && alloc.GPUTypes == "" {
		return true
	}
	after := alloc.Add(r)
	untyped := after.untypedGPUs()
	ok := true
	after.GPUTypes.Each(func(t string, n int) {
		if n+untyped > cap.GPUTypes.Get(t) {
			ok = false
		}
	})
	return ok
}

// Fits reports whether r fits on n now (FitsOn its capacity and allocation).
func (n Node) Fits(r Resources) bool { return r.FitsOn(n.Capacity, n.Allocated) }
