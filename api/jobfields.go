package api

import (
	"reflect"
	"slices"
	"strings"
	"sync"
)

// JobField is one of Job's JSON fields, as encoding/json names it: what
// ListJobsRequest.Fields chooses from.
type JobField struct {
	Name      string       // the JSON key
	Index     []int        // the reflect field index path (through the embedded JobSpec)
	OmitEmpty bool         // left out when zero
	Kind      reflect.Kind // the Go kind of the field
}

// JobFields lists Job's JSON fields, those of the embedded JobSpec
// included, in the order encoding/json writes them.
func JobFields() []JobField { return jobFields() }

var jobFields = sync.OnceValue(func() []JobField {
	var out []JobField
	seen := map[string]bool{}
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			idx := append(slices.Clip(index), i)
			tag := f.Tag.Get("json")
			if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type, idx)
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if seen[name] { // the shallower field wins, as in encoding/json
				continue
			}
			seen[name] = true
			out = append(out, JobField{Name: name, Index: idx, Kind: f.Type.Kind(),
				OmitEmpty: strings.Contains(","+opts+",", ",omitempty,")})
		}
	}
	walk(reflect.TypeFor[Job](), nil)
	return out
})
