package daemon

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/shoal-batch/shoal/api"
)

// A job list projected on the fields a client asked for
// (api.ListJobsRequest.Fields): squeue over 20,000 jobs wants a tenth of
// each job, and encoding/json's reflection over every field of every job
// was most of what the list cost the controller. Each field is written by
// a small encoder chosen once per field; values of other shapes than
// strings, numbers and bools go through encoding/json.

// jobFields maps api.Job's JSON keys to their fields.
var jobFields = sync.OnceValue(func() map[string]api.JobField {
	out := map[string]api.JobField{}
	for _, f := range api.JobFields() {
		out[f.Name] = f
	}
	return out
})

// projection writes the chosen fields of jobs.
type projection []projField

// projField is one field of a projection: written by its direct encoder
// (listfields_direct.go) if it has one, else through reflection.
type projField struct {
	api.JobField
	direct *directField
}

// projFieldOf gives f its direct encoder, if it has one.
func projFieldOf(f api.JobField) projField {
	pf := projField{JobField: f}
	if d, ok := directFields[f.Name]; ok {
		pf.direct = &d
	}
	return pf
}

// newProjection checks names against api.Job's JSON fields; "jobId" is
// always written, first.
func newProjection(names []string) (projection, error) {
	all := jobFields()
	p := projection{projFieldOf(all["jobId"])}
	seen := map[string]bool{"jobId": true}
	for _, n := range names {
		f, ok := all[n]
		if !ok {
			known := make([]string, 0, len(all))
			for k := range all {
				known = append(known, k)
			}
			slices.Sort(known)
			return nil, api.Errorf(api.CodeInvalid, "list jobs: no job field %q: fields are the job's JSON keys (%s)",
				n, strings.Join(known, ", ")).WithField("fields")
		}
		if !seen[n] {
			seen[n] = true
			p = append(p, projFieldOf(f))
		}
	}
	return p, nil
}

// appendJob appends j as a JSON object of p's fields.
func (p projection) appendJob(buf []byte, j *api.Job) ([]byte, error) {
	var v reflect.Value // j's, for the fields without a direct encoder
	buf = append(buf, '{')
	first := true
	for i := range p {
		f := &p[i]
		if f.omit(j, &v) {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(buf, '"')
		buf = append(buf, f.Name...)
		buf = append(buf, '"', ':')
		var err error
		if buf, err = f.appendValue(buf, j, &v); err != nil {
			return buf, err
		}
	}
	return append(buf, '}'), nil
}

// omit reports whether f is left out of j's object (omitempty, and zero);
// v is j's reflect value, made on first use.
func (f *projField) omit(j *api.Job, v *reflect.Value) bool {
	if !f.OmitEmpty {
		return false
	}
	if d := f.direct; d != nil {
		return d.zero(j)
	}
	return isEmptyValue(f.field(j, v))
}

// field is f's value in j through reflection.
func (f *projField) field(j *api.Job, v *reflect.Value) reflect.Value {
	if !v.IsValid() {
		*v = reflect.ValueOf(j).Elem()
	}
	return v.FieldByIndex(f.Index)
}

// appendValue appends f's JSON value in j.
func (f *projField) appendValue(buf []byte, j *api.Job, v *reflect.Value) ([]byte, error) {
	if d := f.direct; d != nil {
		return d.append(buf, j)
	}
	fv := f.field(j, v)
	switch f.Kind {
	case reflect.String:
		return appendJSONString(buf, fv.String()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(buf, fv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.AppendUint(buf, fv.Uint(), 10), nil
	case reflect.Bool:
		return strconv.AppendBool(buf, fv.Bool()), nil
	}
	b, err := json.Marshal(fv.Interface())
	if err != nil {
		return buf, fmt.Errorf("encode job %d field %s: %w", j.ID, f.Name, err)
	}
	return append(buf, b...), nil
}

// isEmptyValue is encoding/json's omitempty test: an empty slice or map
// is left out whether nil or not, a struct never is.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Struct:
		return false
	}
	return v.IsZero()
}

// allJobFields are every field of api.Job, in the order encoding/json
// writes them: a list without Fields is this projection, the same bytes
// as encoding/json writes without its reflection on the common fields.
var allJobFields = sync.OnceValue(func() []string {
	var names []string
	for _, f := range api.JobFields() {
		names = append(names, f.Name)
	}
	return names
})

// appendJSONString appends s as a JSON string, as encoding/json writes it
// (HTML characters escaped, invalid UTF-8 replaced).
func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always encodes
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// listFieldsJSON is listJobsJSON for a request with Fields: buf holds the
// room for the head.
func (c *Controller) listFieldsJSON(who caller, req api.ListJobsRequest, buf []byte) (jobListJSON, error) {
	switch req.Form {
	case "":
	case api.ListFormRows:
		return c.listFieldsRows(who, req) // listfields_rows.go
	default:
		return jobListJSON{}, api.Errorf(api.CodeInvalid, "list jobs: no answer form %q: leave it out for JSON, or %q for rows",
			req.Form, api.ListFormRows).WithField("form")
	}
	p, err := newProjection(req.Fields)
	if err != nil {
		return jobListJSON{}, err
	}
	n, live := 0, 0
	start := len(buf)
	gate := c.bigLists.gate() // biganswer.go
	err = c.eachListedCounted(who, req, func(k int) { live = k }, func(j *api.Job) error {
		if n > 0 {
			buf = append(buf, ',')
		}
		n++
		if buf, err = p.appendJob(buf, j); err != nil {
			return err
		}
		if err := gate.grew(len(buf)); err != nil {
			return err
		}
		if n == 8 && live > n {
			// Size the answer once from its first jobs, with a quarter
			// to spare, rather than doubling it up to 20,000 of them.
			per := (len(buf) - start) / n
			buf = slices.Grow(buf, min((live-n)*per*5/4, c.bigLists.max))
		}
		return nil
	})
	if err != nil {
		gate.done()
		return jobListJSON{}, err
	}
	return jobListJSON{buf: buf, count: n, c: c, gate: gate}, nil
}
