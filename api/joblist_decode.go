package api

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// A job list decoded without reflection: squeue over 20,000 jobs spent
// most of its time in encoding/json (a validating pass over the whole
// answer, then reflection over every key of every job). DecodeJobList
// reads the list the controller writes ({"count":N,"jobs":[{...},...]},
// projected or not) with a hand-written scanner that sets the job's
// fields by key; a value it does not read itself (a key it does not
// know, an escaped string, null, a nested value of a rarer shape) goes
// through encoding/json into the same field, so the result is what
// json.Unmarshal gives. Input it cannot scan is handed to encoding/json
// whole, for its error.

// errSlow says the fast scanner met something it leaves to encoding/json.
var errSlow = errors.New("job list: not in the fast form")

// DecodeJobList decodes a ListJobsResponse as json.Unmarshal would.
func DecodeJobList(data []byte) (ListJobsResponse, error) {
	s := &scan{b: data}
	r, err := s.list()
	if err == nil {
		return r, nil
	}
	type plain ListJobsResponse
	var out plain
	if err := json.Unmarshal(data, &out); err != nil {
		return ListJobsResponse{}, err
	}
	return ListJobsResponse(out), nil
}

// JobDecoder decodes jobs' JSON one at a time as json.Unmarshal would,
// with DecodeJobList's scanner (a fifth of encoding/json's allocations):
// the job archive reads its records so. The strings that many jobs share
// (queue, user, state, reason, node) are made once per decoder.
type JobDecoder struct {
	// SkipEnv leaves the jobs' environments out, unread (a list that does
	// not send them): most of a submitted job's bytes.
	SkipEnv bool
	s       scan
}

// Decode sets *j to the job data holds, as json.Unmarshal into a zero Job
// would; no string of j shares data's memory.
func (d *JobDecoder) Decode(data []byte, j *Job) error {
	*j = Job{}
	d.s.b, d.s.i, d.s.skipEnv = data, 0, d.SkipEnv
	err := d.s.job(j)
	if err == nil {
		err = d.s.end()
	}
	d.s.b = nil // not kept: data may be a database's mapped page
	if err != nil {
		*j = Job{}
		err = json.Unmarshal(data, j)
	}
	if d.SkipEnv {
		j.Env = nil // a key in another case ("Environment") reaches it too
	}
	return err
}

// scan reads JSON from b at i.
type scan struct {
	b []byte
	i int
	// common holds the values of fields that many jobs share (queue,
	// user, state, reason, node): one string each, not one per job.
	common map[string]string
	// skipEnv reads past a job's environment (JobDecoder.SkipEnv).
	skipEnv bool
}

func (s *scan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte (0 at the end).
func (s *scan) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scan) eat(c byte) error {
	if s.peek() != c {
		return errSlow
	}
	s.i++
	return nil
}

// list reads {"count":N,"jobs":[...]} (keys in any order, others skipped).
func (s *scan) list() (ListJobsResponse, error) {
	var r ListJobsResponse
	if err := s.eat('{'); err != nil {
		return r, err
	}
	if s.peek() == '}' {
		s.i++
		return r, s.end()
	}
	for {
		key, ok, err := s.str()
		if err != nil || !ok {
			return r, errSlow
		}
		if err := s.eat(':'); err != nil {
			return r, err
		}
		switch key {
		case "count":
			n, err := s.int(64)
			if err != nil {
				return r, err
			}
			r.Count = int(n)
		case "jobs":
			if s.peek() == 'n' {
				if raw, err := s.value(); err != nil || string(raw) != "null" {
					return r, errSlow
				}
				r.Jobs = nil
				break
			}
			if err := s.eat('['); err != nil {
				return r, err
			}
			// Trust the count only as far as the bytes could hold that
			// many jobs ({"jobId":1} is the smallest).
			n := r.Count
			if n < 0 || n > (len(s.b)-s.i)/len(`{"jobId":1},`) {
				n = 0
			}
			r.Jobs = make([]Job, 0, n)
			if s.peek() == ']' {
				s.i++
				break
			}
			for {
				r.Jobs = append(r.Jobs, Job{})
				if err := s.job(&r.Jobs[len(r.Jobs)-1]); err != nil {
					return r, err
				}
				c := s.peek()
				s.i++
				if c == ']' {
					break
				}
				if c != ',' {
					return r, errSlow
				}
			}
		default:
			if strings.EqualFold(key, "count") || strings.EqualFold(key, "jobs") {
				return r, errSlow // encoding/json matches keys case-insensitively
			}
			raw, err := s.value()
			if err != nil {
				return r, err
			}
			if !json.Valid(raw) {
				return r, errSlow // skipped, but encoding/json checks it
			}
		}
		c := s.peek()
		s.i++
		if c == '}' {
			return r, s.end()
		}
		if c != ',' {
			return r, errSlow
		}
	}
}

// end checks that only white space follows.
func (s *scan) end() error {
	if s.peek() != 0 || s.i != len(s.b) {
		return errSlow
	}
	return nil
}

// str reads a string; ok is false for one with escapes or bytes that
// encoding/json would change (invalid UTF-8), whose raw text is then
// read past: the caller hands it to encoding/json.
func (s *scan) str() (v string, ok bool, err error) {
	raw, ok, err := s.strRaw()
	if err != nil || !ok {
		return "", ok, err
	}
	return string(raw), true, nil
}

// strRaw is str without making the string: it returns the bytes between
// the quotes.
func (s *scan) strRaw() (raw []byte, ok bool, err error) {
	if s.peek() != '"' {
		return nil, false, errSlow
	}
	start := s.i + 1
	ascii := true
	for i := start; i < len(s.b); i++ {
		c := s.b[i]
		switch {
		case c == '"':
			s.i = i + 1
			raw := s.b[start:i]
			if !ascii && !utf8.Valid(raw) {
				return nil, false, nil
			}
			return raw, true, nil
		case c == '\\':
			// Read past the escaped string; encoding/json decodes it.
			// s.b[i+1] is escaped: it ends nothing, whatever it is.
			for i += 2; i < len(s.b); i++ {
				switch s.b[i] {
				case '\\':
					i++
				case '"':
					s.i = i + 1
					return nil, false, nil
				}
			}
			return nil, false, errSlow
		case c < 0x20:
			return nil, false, errSlow
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false, errSlow
}

// number reads past a number's text and returns it.
func (s *scan) number() ([]byte, error) {
	s.ws()
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			s.i++
			continue
		}
		break
	}
	t := s.b[start:s.i]
	d := t
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || (len(d) > 1 && d[0] == '0' && d[1] >= '0' && d[1] <= '9') {
		return nil, errSlow // JSON has no leading zeros
	}
	return t, nil
}

// int reads an integer that fits bits.
func (s *scan) int(bits int) (int64, error) {
	t, err := s.number()
	if err != nil {
		return 0, err
	}
	neg := t[0] == '-'
	if neg {
		t = t[1:]
	}
	u, ok := digits(t)
	limit := uint64(1) << (bits - 1)
	switch {
	case !ok, !neg && u >= limit, neg && u > limit:
		return 0, errSlow
	case neg:
		return -int64(u), nil
	}
	return int64(u), nil
}

// uint reads an unsigned integer that fits bits.
func (s *scan) uint(bits int) (uint64, error) {
	t, err := s.number()
	if err != nil {
		return 0, err
	}
	u, ok := digits(t)
	if !ok || (bits < 64 && u >= 1<<bits) {
		return 0, errSlow
	}
	return u, nil
}

// digits reads a decimal number of at most 19 digits (larger ones, and
// anything but digits, are left to encoding/json).
func digits(t []byte) (uint64, bool) {
	if len(t) == 0 || len(t) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range t {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	return u, true
}

// bool reads true or false.
func (s *scan) bool() (bool, error) {
	s.ws()
	switch {
	case hasPrefixAt(s.b, s.i, "true"):
		s.i += 4
		return true, nil
	case hasPrefixAt(s.b, s.i, "false"):
		s.i += 5
		return false, nil
	}
	return false, errSlow
}

func hasPrefixAt(b []byte, i int, p string) bool {
	return len(b)-i >= len(p) && string(b[i:i+len(p)]) == p
}

// value reads past any one value and returns its text (not checked
// beyond its extent: encoding/json checks what it is given).
func (s *scan) value() ([]byte, error) {
	s.ws()
	start := s.i
	if s.i >= len(s.b) {
		return nil, errSlow
	}
	switch s.b[s.i] {
	case '"':
		if _, _, err := s.strRaw(); err != nil {
			return nil, err
		}
		return s.b[start:s.i], nil
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if _, _, err := s.strRaw(); err != nil {
					return nil, err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					s.i++
					return s.b[start:s.i], nil
				}
			}
			s.i++
		}
		return nil, errSlow
	}
	// A number, true, false or null.
	for s.i < len(s.b) {
		c := s.b[s.i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			break
		}
		s.i++
	}
	if s.i == start {
		return nil, errSlow
	}
	return s.b[start:s.i], nil
}

// commonField is strField for a value many jobs share.
func (s *scan) commonField(p *string) error {
	if s.peek() != '"' {
		return s.slowInto(p)
	}
	at := s.i
	_, ok, err := s.strRaw()
	if err != nil {
		return err
	}
	if !ok {
		s.i = at
		return s.slowInto(p)
	}
	raw := s.b[at+1 : s.i-1]
	if v, ok := s.common[string(raw)]; ok {
		*p = v
		return nil
	}
	if s.common == nil {
		s.common = map[string]string{}
	}
	v := string(raw)
	if len(s.common) < 4096 {
		s.common[v] = v
	}
	*p = v
	return nil
}

// strField reads a string value into *p.
func (s *scan) strField(p *string) error {
	if s.peek() != '"' {
		return s.slowInto(p)
	}
	at := s.i
	v, ok, err := s.str()
	if err != nil {
		return err
	}
	if !ok {
		s.i = at
		return s.slowInto(p)
	}
	*p = v
	return nil
}

// slowInto reads one value into p with encoding/json.
func (s *scan) slowInto(p any) error {
	raw, err := s.value()
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, p); err != nil {
		return errSlow
	}
	return nil
}

// num reads a number into an integer field; anything else (null, a
// fraction, an overflow) goes to encoding/json.
func num[T int | int64 | uint32 | uint64](s *scan, p *T, bits int, signed bool) error {
	c := s.peek()
	if c != '-' && (c < '0' || c > '9') {
		return s.slowInto(p)
	}
	at := s.i
	if signed {
		if n, err := s.int(bits); err == nil {
			*p = T(n)
			return nil
		}
	} else if n, err := s.uint(bits); err == nil {
		*p = T(n)
		return nil
	}
	s.i = at
	return s.slowInto(p)
}

// floatField reads a number into *p as encoding/json does (with
// strconv.ParseFloat, once the text is a JSON number, which ParseFloat
// alone does not check: it takes ".5", "1." and "+1").
func (s *scan) floatField(p *float64) error {
	at := s.i
	if t, err := s.number(); err == nil && jsonNumber(t) {
		if f, err := strconv.ParseFloat(unsafeString(t), 64); err == nil {
			*p = f
			return nil
		}
	}
	s.i = at
	return s.slowInto(p)
}

// jsonNumber reports whether t is a number by JSON's grammar.
func jsonNumber(t []byte) bool {
	i := 0
	digits := func() int {
		start := i
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		return i - start
	}
	if i < len(t) && t[i] == '-' {
		i++
	}
	switch {
	case i < len(t) && t[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(t) && t[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(t) && (t[i] == 'e' || t[i] == 'E') {
		i++
		if i < len(t) && (t[i] == '+' || t[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(t)
}

// boolField reads true or false into *p.
func (s *scan) boolField(p *bool) error {
	at := s.i
	if v, err := s.bool(); err == nil {
		*p = v
		return nil
	}
	s.i = at
	return s.slowInto(p)
}

// object reads an object, calling field for each key with the scanner at
// its value; a key with escapes goes to encoding/json, into whole.
func (s *scan) object(whole any, field func(key string) error) error {
	if s.peek() != '{' {
		return s.slowInto(whole)
	}
	start := s.i
	s.i++
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		rawKey, ok, err := s.strRaw()
		if err != nil {
			return err
		}
		key := unsafeString(rawKey)
		if !ok {
			// An escaped key: encoding/json reads the whole object.
			s.i = start
			return s.slowInto(whole)
		}
		if err := s.eat(':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		c := s.peek()
		s.i++
		if c == '}' {
			return nil
		}
		if c != ',' {
			return errSlow
		}
	}
}

// other reads one key's value into j with encoding/json: into the field
// whose name the key is, else as if it were the object's only key (its
// case-insensitive match, unknown keys skipped). Decoding into the field
// alone spares a short list (one squeue -j, one sacct row) encoding/json's
// walk of all of Job's fields, a quarter of a millisecond.
func (s *scan) other(j *Job, key string) error {
	raw, err := s.value()
	if err != nil {
		return err
	}
	if idx, ok := jobFieldIndex()[key]; ok {
		if err := json.Unmarshal(raw, reflect.ValueOf(j).Elem().FieldByIndex(idx).Addr().Interface()); err != nil {
			return errSlow
		}
		return nil
	}
	obj := oneKey(key, raw)
	if err := json.Unmarshal(obj, j); err != nil {
		return errSlow
	}
	return nil
}

// jobFieldIndex maps each JSON name of Job's fields (JobSpec's included)
// to the field.
var jobFieldIndex = sync.OnceValue(func() map[string][]int {
	out := map[string][]int{}
	var walk func(t reflect.Type, at []int)
	walk = func(t reflect.Type, at []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			idx := append(append([]int(nil), at...), i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch {
			case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
				walk(f.Type, idx)
			case name != "" && name != "-" && f.IsExported():
				if prev, ok := out[name]; !ok || len(idx) < len(prev) {
					out[name] = idx // the shallower field wins, as in encoding/json
				}
			}
		}
	}
	walk(reflect.TypeOf(Job{}), nil)
	return out
})

// job reads one job object.
func (s *scan) job(j *Job) error {
	return s.object(j, func(key string) error { return s.jobField(j, key) })
}

// jobField reads the value of j's field key, the scanner at the value.
func (s *scan) jobField(j *Job, key string) error {
	switch key {
	case "jobId":
		return num(s, &j.ID, 64, false)
	case "jobName":
		return s.strField(&j.Name)
	case "jobQueue":
		return s.commonField(&j.Queue)
	case "command":
		return s.strings(&j.Command)
	case "jobQueues":
		return s.strings(&j.Queues)
	case "script":
		return s.strField(&j.Script)
	case "workingDir":
		return s.strField(&j.Dir)
	case "stdout":
		return s.strField(&j.Stdout)
	case "stderr":
		return s.strField(&j.Stderr)
	case "stdin":
		return s.strField(&j.Stdin)
	case "resources":
		return s.resources(&j.Resources)
	case "priority":
		return num(s, &j.Priority, 64, true)
	case "nice":
		return num(s, &j.Nice, 64, true)
	case "dependAny":
		return s.boolField(&j.DependAny)
	case "held":
		return s.boolField(&j.Held)
	case "beginAt":
		return num(s, &j.BeginAt, 64, true)
	case "timeLimitSeconds":
		return num(s, &j.TimeLimit, 64, true)
	case "noRequeue":
		return s.boolField(&j.NoRequeue)
	case "deadlineAt":
		return num(s, &j.DeadlineAt, 64, true)
	case "account":
		return s.commonField(&j.Account)
	case "qos":
		return s.commonField(&j.QOS)
	case "comment":
		return s.strField(&j.Comment)
	case "user":
		return s.commonField(&j.User)
	case "uid":
		return num(s, &j.UID, 32, false)
	case "gid":
		return num(s, &j.GID, 32, false)
	case "status":
		return s.commonField((*string)(&j.State))
	case "statusReason":
		return s.commonField(&j.StatusReason)
	case "array":
		if s.peek() != '{' {
			return s.slowInto(&j.Array)
		}
		a := &ArrayTask{}
		j.Array = a
		return s.arrayTask(a)
	case "waitReason":
		return s.commonField(&j.WaitReason)
	case "estimatedStartAt":
		return num(s, &j.EstimatedStartAt, 64, true)
	case "heldByAdmin":
		return s.boolField(&j.HeldByAdmin)
	case "node":
		return s.commonField(&j.Node)
	case "attempt":
		return num(s, &j.Attempt, 64, true)
	case "attemptsDropped":
		return num(s, &j.AttemptsDropped, 64, true)
	case "exitCode":
		c := s.peek()
		if c != '-' && (c < '0' || c > '9') {
			return s.slowInto(&j.ExitCode)
		}
		n := 0
		j.ExitCode = &n
		return num(s, &n, 64, true)
	case "signal":
		return num(s, &j.ExitSignal, 64, true)
	case "cause":
		return s.commonField((*string)(&j.Cause))
	case "stopRequested":
		return s.boolField(&j.StopRequested)
	case "createdAt":
		return num(s, &j.CreatedAt, 64, true)
	case "runnableAt":
		return num(s, &j.RunnableAt, 64, true)
	case "startedAt":
		return num(s, &j.StartedAt, 64, true)
	case "stoppedAt":
		return num(s, &j.StoppedAt, 64, true)
	case "submitHost":
		return s.commonField(&j.SubmitHost)
	case "computeEnvironment":
		return s.commonField(&j.ComputeEnvironment)
	case "usage":
		if s.peek() != '{' {
			return s.slowInto(&j.Usage)
		}
		if j.Usage == nil { // else into it, as encoding/json does with a key met twice
			j.Usage = &JobUsage{}
		}
		return s.usage(j.Usage)
	case "environment":
		if s.skipEnv {
			_, err := s.value()
			return err
		}
		return s.strMap(&j.Env)
	}
	return s.other(j, key)
}

// strMap reads an object of strings into *p as encoding/json does: into
// the map *p holds (a new one if nil), the last of a key's values kept;
// null makes it nil. A job's environment is most of an archived job's
// bytes, and encoding/json's map through reflection most of its time.
func (s *scan) strMap(p *map[string]string) error {
	if done, err := openOrNull(s, p, '{'); done {
		return err
	}
	if *p == nil {
		*p = map[string]string{}
	}
	at := s.i
	var slow error // encoding/json's, once it has read the object
	err := s.object(p, func(key string) error {
		v, ok, err := s.str()
		if err != nil {
			return err
		}
		if !ok {
			// Escapes: encoding/json reads it whole, into the same
			// map (what was set here it sets the same).
			s.i = at
			slow = s.slowInto(p)
			return errReadWhole
		}
		(*p)[strings.Clone(key)] = v // key views the input
		return nil
	})
	if errors.Is(err, errReadWhole) {
		return slow
	}
	return err
}

// errReadWhole stops the scan of an object that encoding/json has read.
var errReadWhole = errors.New("read whole")

// openOrNull starts reading an array or object (open is its first
// byte) into *p: null sets *p to nil, anything else but open is left to
// encoding/json; done says whether that was all, with its error.
func openOrNull[T any](s *scan, p *T, open byte) (done bool, err error) {
	switch s.peek() {
	case 'n':
		if !hasPrefixAt(s.b, s.i, "null") {
			return true, errSlow
		}
		s.i += 4
		var zero T
		*p = zero
		return true, nil
	case open:
		return false, nil
	}
	return true, s.slowInto(p)
}

// strings reads an array of strings, or null, into *p.
func (s *scan) strings(p *[]string) error {
	if done, err := openOrNull(s, p, '['); done {
		return err
	}
	at := s.i
	s.i++
	out := []string{}
	if s.peek() == ']' {
		s.i++
		*p = out
		return nil
	}
	for {
		v, ok, err := s.str()
		if err != nil {
			return err
		}
		if !ok {
			s.i = at
			return s.slowInto(p)
		}
		out = append(out, v)
		c := s.peek()
		s.i++
		if c == ']' {
			*p = out
			return nil
		}
		if c != ',' {
			return errSlow
		}
	}
}

// resources reads a job's resources; GPU types go to encoding/json.
func (s *scan) resources(r *Resources) error {
	return s.object(r, func(key string) error {
		switch key {
		case "cpus":
			return num(s, &r.CPUs, 64, true)
		case "memoryMiB":
			return num(s, &r.MemoryMB, 64, true)
		case "gpus":
			return num(s, &r.GPUs, 64, true)
		}
		return s.otherInto(r, key)
	})
}

// usage reads what a job's run used; GPUs go to encoding/json.
func (s *scan) usage(u *JobUsage) error {
	return s.object(u, func(key string) error {
		switch key {
		case "maxRSSBytes":
			return num(s, &u.MaxRSSBytes, 64, true)
		case "cpuSeconds":
			return s.floatField(&u.CPUSeconds)
		case "gpuSeconds":
			return s.floatField(&u.GPUSeconds)
		case "gpuSamples":
			return num(s, &u.GPUSamples, 64, true)
		case "gpuUtilMeanPercent":
			return s.floatField(&u.GPUUtilMeanPercent)
		case "gpuUtilMaxPercent":
			return num(s, &u.GPUUtilMaxPercent, 64, true)
		case "gpuMemMaxBytes":
			return num(s, &u.GPUMemMaxBytes, 64, true)
		}
		return s.otherInto(u, key)
	})
}

// arrayTask reads a job's place in its array.
func (s *scan) arrayTask(a *ArrayTask) error {
	return s.object(a, func(key string) error {
		switch key {
		case "jobId":
			return num(s, &a.JobID, 64, false)
		case "index":
			return num(s, &a.Index, 64, true)
		case "min":
			return num(s, &a.Min, 64, true)
		case "max":
			return num(s, &a.Max, 64, true)
		case "count":
			return num(s, &a.Count, 64, true)
		case "maxRunning":
			return num(s, &a.MaxRunning, 64, true)
		case "tasks":
			return s.strField(&a.Tasks)
		}
		return s.otherInto(a, key)
	})
}

// otherInto is other for any struct pointer p.
func (s *scan) otherInto(p any, key string) error {
	raw, err := s.value()
	if err != nil {
		return err
	}
	obj := oneKey(key, raw)
	if err := json.Unmarshal(obj, p); err != nil {
		return errSlow
	}
	return nil
}

// oneKey makes {"key":raw}; key is as it was read (no escapes).
func oneKey(key string, raw []byte) []byte {
	obj := make([]byte, 0, len(key)+len(raw)+5)
	obj = append(append(append(obj, '{', '"'), key...), '"', ':')
	return append(append(obj, raw...), '}')
}

// unsafeString views b as a string without copying: the keys, which are
// compared and never kept (b is the answer, not changed while decoding).
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
