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
	v := reflect.ValueOf(j).Elem()
	buf = append(buf, '{')
	first := true
	for i := range p {
		f := &p[i]
		if d := f.direct; d != nil {
			if f.OmitEmpty && d.zero(j) {
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
			if buf, err = d.append(buf, j); err != nil {
				return buf, err
			}
			continue
		}
		fv := v.FieldByIndex(f.Index)
		if f.OmitEmpty && isEmptyValue(fv) {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(buf, '"')
		buf = append(buf, f.Name...)
		buf = append(buf, '"', ':')
		switch f.Kind {
		case reflect.String:
			buf = appendJSONString(buf, fv.String())
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			buf = strconv.AppendInt(buf, fv.Int(), 10)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			buf = strconv.AppendUint(buf, fv.Uint(), 10)
		case reflect.Bool:
			buf = strconv.AppendBool(buf, fv.Bool())
		default:
			b, err := json.Marshal(fv.Interface())
			if err != nil {
				return buf, fmt.Errorf("encode job %d field %s: %w", j.ID, f.Name, err)
			}
			buf = append(buf, b...)
		}
	}
	return append(buf, '}'), nil
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
	p, err := newProjection(req.Fields)
	if err != nil {
		return jobListJSON{}, err
	}
	n, live := 0, 0
	start := len(buf)
	err = c.eachListedCounted(who, req, func(k int) { live = k }, func(j *api.Job) error {
		if n > 0 {
			buf = append(buf, ',')
		}
		n++
		buf, err = p.appendJob(buf, j)
		if n == 8 && live > n {
			// Size the answer once from its first jobs, with a quarter
			// to spare, rather than doubling it up to 20,000 of them.
			per := (len(buf) - start) / n
			buf = slices.Grow(buf, (live-n)*per*5/4)
		}
		return err
	})
	if err != nil {
		return jobListJSON{}, err
	}
	return jobListJSON{buf: buf, count: n, c: c}, nil
}
