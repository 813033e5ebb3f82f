package daemon

import (
	"bytes"
	"io"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/shoal-batch/shoal/api"
)

// A submit's body read without reflection. encoding/json reads a
// SubmitJobRequest through reflection, field by field and name by name
// (a tenth of the controller's CPU per sbatch, and much of its garbage);
// fastSubmit reads the shape clients send (sbatch, the Go client, the
// AWS-style tools) directly: exact field names, each once, strings with
// the usual escapes, integers. Anything else (a name in other case, an
// unknown field, a null, a \u escape, a number with a fraction, a
// duplicate key, GPU types, malformed JSON) is left to encoding/json,
// which decodes it, or refuses it, as it always has: what fastSubmit
// accepts it reads exactly as encoding/json would (FuzzFastSubmit holds
// it to that).

// bodyPool holds the buffers request bodies are read into.
var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody: larger buffers are not kept.
const maxPooledBody = 1 << 20

// decodeSubmitBody decodes a submit's (or a batch's) body into v, as
// decodeBody does.
func decodeSubmitBody(body io.Reader, v any, path string) error {
	buf := bodyPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBody {
			buf.Reset()
			bodyPool.Put(buf)
		}
	}()
	buf.Reset()
	_, readErr := buf.ReadFrom(body)
	data := buf.Bytes()
	if readErr == nil {
		d := fastDec{b: data}
		var ok bool
		switch v := v.(type) {
		case *api.SubmitJobRequest:
			ok = d.request(v)
		case *api.SubmitBatchRequest:
			ok = d.batch(v)
		}
		if ok {
			return nil
		}
		// Not read: v may hold part of it; encoding/json starts afresh.
		switch v := v.(type) {
		case *api.SubmitJobRequest:
			*v = api.SubmitJobRequest{}
		case *api.SubmitBatchRequest:
			*v = api.SubmitBatchRequest{}
		}
	}
	// encoding/json sees the body as it would have: the bytes read, then
	// the error reading stopped at.
	var rest io.Reader = bytes.NewReader(data)
	if readErr != nil {
		rest = io.MultiReader(rest, errReader{readErr})
	}
	return decodeBody(rest, v, true, path)
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// fastDec reads JSON from b at i; a method returning false means "not the
// common shape": the caller leaves the body to encoding/json.
type fastDec struct {
	b []byte
	i int
}

func (d *fastDec) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// next skips white space and reports whether the next byte is c (and
// takes it).
func (d *fastDec) next(c byte) bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *fastDec) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// str reads a string: plain bytes (valid UTF-8, no control characters)
// and the escapes other than \u.
func (d *fastDec) str() (string, bool) {
	if !d.next('"') {
		return "", false
	}
	start := d.i
	plain := true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			raw := d.b[start:d.i]
			d.i++
			if plain {
				if !utf8.Valid(raw) {
					return "", false
				}
				return string(raw), true
			}
			return unescape(raw)
		case c == '\\':
			plain = false
			d.i += 2
		case c < 0x20:
			return "", false
		default:
			d.i++
		}
	}
	return "", false
}

// unescape reads a string's bytes with escapes (no \u).
func unescape(raw []byte) (string, bool) {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(raw) {
			return "", false
		}
		switch raw[i] {
		case '"', '\\', '/':
			out = append(out, raw[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		default: // \u, or not an escape
			return "", false
		}
	}
	if !utf8.Valid(out) {
		return "", false
	}
	return string(out), true
}

// int reads an integer: no fraction, no exponent, no leading zero.
func (d *fastDec) int() (int64, bool) {
	d.ws()
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	n := d.i - digits
	if n == 0 || n > 18 || (n > 1 && d.b[digits] == '0') {
		return 0, false
	}
	if d.i < len(d.b) {
		switch d.b[d.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	v, err := strconv.ParseInt(string(d.b[start:d.i]), 10, 64)
	return v, err == nil
}

// null takes a null if one is next.
func (d *fastDec) null() bool {
	d.ws()
	if bytes.HasPrefix(d.b[d.i:], []byte("null")) {
		d.i += 4
		return true
	}
	return false
}

// requestFields are the names request reads (a null for one of them is
// read as encoding/json reads it: the field left zero).
var requestFields = map[string]bool{"jobName": true, "jobQueue": true, "jobQueues": true, "command": true, "script": true, "environment": true, "workingDir": true, "stdout": true, "stderr": true, "stdin": true, "appendOutput": true, "resources": true, "priority": true, "nice": true, "dependsOn": true, "dependAny": true, "keepOnInvalidDependency": true, "held": true, "beginAt": true, "tmpMB": true, "timeLimitSeconds": true, "noRequeue": true, "warnSignal": true, "warnSeconds": true, "warnBatch": true, "jobDefinition": true, "parameters": true, "image": true, "mounts": true, "readonlyRootFilesystem": true, "retryAttempts": true, "retryRules": true, "deadlineAt": true, "tags": true, "account": true, "qos": true, "comment": true, "submitHost": true, "licenses": true, "shareIdentifier": true, "schedulingPriority": true, "arrayIndexes": true, "arrayMaxRunning": true, "testOnly": true}

func (d *fastDec) bool() (bool, bool) {
	d.ws()
	switch {
	case bytes.HasPrefix(d.b[d.i:], []byte("true")):
		d.i += 4
		return true, true
	case bytes.HasPrefix(d.b[d.i:], []byte("false")):
		d.i += 5
		return false, true
	}
	return false, false
}

// object reads an object's members, calling field with each name (the
// value still to read); a name seen twice is not the common shape.
func (d *fastDec) object(field func(name string) bool) bool {
	return d.members(true, field)
}

// members is object; with dups false, field checks for repeated names.
func (d *fastDec) members(dups bool, field func(name string) bool) bool {
	if !d.next('{') {
		return false
	}
	if d.next('}') {
		return true
	}
	var seen [16]string
	names := seen[:0]
	for {
		name, ok := d.str()
		if !ok || !d.next(':') {
			return false
		}
		if dups {
			for _, n := range names {
				if n == name {
					return false
				}
			}
			names = append(names, name)
		}
		if !field(name) {
			return false
		}
		if d.next('}') {
			return true
		}
		if !d.next(',') {
			return false
		}
	}
}

// array reads an array, calling item for each element.
func (d *fastDec) array(item func() bool) bool {
	if !d.next('[') {
		return false
	}
	if d.next(']') {
		return true
	}
	for {
		if !item() {
			return false
		}
		if d.next(']') {
			return true
		}
		if !d.next(',') {
			return false
		}
	}
}

func (d *fastDec) strs() ([]string, bool) {
	out := []string{}
	ok := d.array(func() bool {
		s, ok := d.str()
		out = append(out, s)
		return ok
	})
	return out, ok
}

func (d *fastDec) strMap() (map[string]string, bool) {
	m := map[string]string{}
	ok := d.members(false, func(k string) bool {
		if _, dup := m[k]; dup {
			return false
		}
		v, ok := d.str()
		m[k] = v
		return ok
	})
	return m, ok
}

func (d *fastDec) setStr(p *string) bool {
	s, ok := d.str()
	*p = s
	return ok
}

func (d *fastDec) setInt64(p *int64) bool {
	v, ok := d.int()
	*p = v
	return ok
}

func (d *fastDec) setInt(p *int) bool {
	v, ok := d.int()
	*p = int(v)
	return ok
}

func (d *fastDec) setBool(p *bool) bool {
	v, ok := d.bool()
	*p = v
	return ok
}

// batch reads a SubmitBatchRequest.
func (d *fastDec) batch(r *api.SubmitBatchRequest) bool {
	return d.object(func(name string) bool {
		if name != "jobs" {
			return false
		}
		if d.null() {
			return true
		}
		// Made at about its size (the Go client names every job), not
		// grown by doubling: a batch of 1,000 requests is 1 MB.
		r.Jobs = make([]api.SubmitJobRequest, 0, min(bytes.Count(d.b[d.i:], []byte(`"jobName"`)), MaxBatchJobs))
		return d.array(func() bool {
			r.Jobs = append(r.Jobs, api.SubmitJobRequest{})
			return d.request(&r.Jobs[len(r.Jobs)-1])
		})
	})
}

// request reads a SubmitJobRequest.
func (d *fastDec) request(r *api.SubmitJobRequest) bool {
	if d.peek() != '{' {
		return false
	}
	return d.object(func(name string) bool {
		if d.null() { // null leaves a field as it is: zero here
			return requestFields[name]
		}
		s := &r.JobSpec
		switch name {
		case "jobName":
			return d.setStr(&s.Name)
		case "jobQueue":
			return d.setStr(&s.Queue)
		case "jobQueues":
			v, ok := d.strs()
			s.Queues = v
			return ok
		case "command":
			v, ok := d.strs()
			s.Command = v
			return ok
		case "script":
			return d.setStr(&s.Script)
		case "environment":
			v, ok := d.strMap()
			s.Env = v
			return ok
		case "workingDir":
			return d.setStr(&s.Dir)
		case "stdout":
			return d.setStr(&s.Stdout)
		case "stderr":
			return d.setStr(&s.Stderr)
		case "stdin":
			return d.setStr(&s.Stdin)
		case "appendOutput":
			return d.setBool(&s.AppendOutput)
		case "resources":
			return d.object(func(name string) bool {
				switch name {
				case "cpus":
					return d.setInt(&s.Resources.CPUs)
				case "memoryMiB":
					return d.setInt64(&s.Resources.MemoryMB)
				case "gpus":
					return d.setInt(&s.Resources.GPUs)
				}
				return false // gpuTypes (its own decoder), or unknown
			})
		case "priority":
			return d.setInt64(&s.Priority)
		case "nice":
			return d.setInt64(&s.Nice)
		case "dependsOn":
			s.DependsOn = []api.Dependency{}
			return d.array(func() bool {
				var dep api.Dependency
				ok := d.object(func(name string) bool {
					switch name {
					case "jobId":
						v, ok := d.int()
						dep.JobID = uint64(v)
						return ok && v >= 0
					case "type":
						var t string
						ok := d.setStr(&t)
						dep.Type = api.DependencyType(t)
						return ok
					}
					return false
				})
				s.DependsOn = append(s.DependsOn, dep)
				return ok
			})
		case "dependAny":
			return d.setBool(&s.DependAny)
		case "keepOnInvalidDependency":
			return d.setBool(&s.KeepOnInvalidDep)
		case "held":
			return d.setBool(&s.Held)
		case "beginAt":
			return d.setInt64(&s.BeginAt)
		case "tmpMB":
			return d.setInt64(&s.TmpMB)
		case "timeLimitSeconds":
			return d.setInt64(&s.TimeLimit)
		case "noRequeue":
			return d.setBool(&s.NoRequeue)
		case "warnSignal":
			return d.setInt(&s.LimitWarnSignal)
		case "warnSeconds":
			return d.setInt(&s.LimitWarnSeconds)
		case "warnBatch":
			return d.setBool(&s.LimitWarnBatch)
		case "jobDefinition":
			return d.setStr(&s.JobDefinition)
		case "parameters":
			v, ok := d.strMap()
			s.Parameters = v
			return ok
		case "image":
			return d.setStr(&s.Image)
		case "mounts":
			s.Mounts = []api.Mount{}
			return d.array(func() bool {
				var m api.Mount
				ok := d.object(func(name string) bool {
					switch name {
					case "source":
						return d.setStr(&m.Source)
					case "target":
						return d.setStr(&m.Target)
					case "readOnly":
						return d.setBool(&m.ReadOnly)
					}
					return false
				})
				s.Mounts = append(s.Mounts, m)
				return ok
			})
		case "readonlyRootFilesystem":
			return d.setBool(&s.ReadonlyRootfs)
		case "retryAttempts":
			return d.setInt(&s.RetryAttempts)
		case "retryRules":
			s.RetryRules = []api.RetryRule{}
			return d.array(func() bool {
				var rr api.RetryRule
				ok := d.object(func(name string) bool {
					switch name {
					case "onExitCode":
						return d.setStr(&rr.OnExitCode)
					case "onStatusReason":
						return d.setStr(&rr.OnStatusReason)
					case "onReason":
						return d.setStr(&rr.OnReason)
					case "action":
						return d.setStr(&rr.Action)
					}
					return false
				})
				s.RetryRules = append(s.RetryRules, rr)
				return ok
			})
		case "deadlineAt":
			return d.setInt64(&s.DeadlineAt)
		case "tags":
			v, ok := d.strMap()
			s.Tags = v
			return ok
		case "account":
			return d.setStr(&s.Account)
		case "qos":
			return d.setStr(&s.QOS)
		case "comment":
			return d.setStr(&s.Comment)
		case "submitHost":
			return d.setStr(&s.SubmitHost)
		case "licenses":
			s.Licenses = []api.LicenseUse{}
			return d.array(func() bool {
				var l api.LicenseUse
				ok := d.object(func(name string) bool {
					switch name {
					case "consumableResource":
						return d.setStr(&l.Name)
					case "quantity":
						return d.setInt64(&l.Quantity)
					}
					return false
				})
				s.Licenses = append(s.Licenses, l)
				return ok
			})
		case "shareIdentifier":
			return d.setStr(&s.ShareIdentifier)
		case "schedulingPriority":
			return d.setInt64(&s.SchedulingPriority)
		case "arrayIndexes":
			r.ArrayIndexes = []int{}
			return d.array(func() bool {
				v, ok := d.int()
				r.ArrayIndexes = append(r.ArrayIndexes, int(v))
				return ok
			})
		case "arrayMaxRunning":
			return d.setInt(&r.ArrayMaxRunning)
		case "testOnly":
			return d.setBool(&r.TestOnly)
		}
		return false // another name, or case: encoding/json's to decide
	})
}
