package raftfsm

import (
	"fmt"
	"maps"
	"slices"

	"github.com/shoal-batch/shoal/api"
)

// jobRec is how the state holds a job: an api.Job is some 950 bytes of
// fields, most of them what was asked at submit and the same for every
// job of a sweep, or set only in rare cases (signals, steps, requeues,
// stops). A record keeps the fields that differ from job to job and
// change as it runs, points at one shared copy of the rest of its spec
// (jobSpec: equal specs are one object), and keeps the rarely set fields
// behind a pointer that is nil for most jobs: 208 bytes a job.
//
// Records are read-only once stored, as every go-memdb object is;
// readers get an api.Job made from one (load), writers store a changed
// api.Job as a new record (newJobRec). Where the bytes live changes no
// value the state holds: the FSM stays deterministic, and snapshots hold
// api.Jobs as before.
type jobRec struct {
	spec  *jobSpec
	rare  *jobRare  // nil: every field of jobRare is zero
	place *jobPlace // nil: not placed (Node and ComputeEnvironment "")

	ID   uint64
	Name string
	// Env is the job's environment, shared (shared.env), unless it is a
	// small one: then envSmall holds it packed (packEnv) and Env is nil.
	// A job that sets a variable or two of its own (AWS Batch's
	// containerOverrides) costs a string of their bytes, not a map.
	// With both set, the environment is Env (another job's, shared) with
	// the variables envSmall holds set on top (envDelta): a sweep's
	// `sbatch --export=ALL,TASK=$i` costs each job its TASK, not a copy
	// of the shell's hundred variables.
	Env       map[string]string
	envSmall  string
	DependsOn []api.Dependency
	Priority  int64

	StatusReason string
	WaitReason   string
	Array        *api.ArrayTask
	Cause        api.Cause
	ExitCode     *int
	Usage        *api.JobUsage

	CreatedAt, RunnableAt, StartedAt, StoppedAt, EstimatedStartAt int64

	Attempt                          int32
	state                            byte // stateCodes
	Held, HeldByAdmin, PriorityFixed bool
}

// State is the job's state.
func (r *jobRec) State() api.JobState { return stateNames[r.state] }

// Node is the node the job was placed on ("": none).
func (r *jobRec) Node() string {
	if r.place == nil {
		return ""
	}
	return r.place.Node
}

// jobPlace is where a job was placed: a node and compute environment,
// shared by the jobs placed the same way.
type jobPlace struct {
	Node, ComputeEnvironment string
}

// jobSpec is the part of a job's spec and owner that the jobs of a sweep
// share: api.JobSpec with the fields jobRec keeps itself (Name, Env,
// Priority, DependsOn, Held) left zero.
type jobSpec struct {
	api.JobSpec
	User   string
	UID    uint32
	GID    uint32
	Groups []uint32
}

// jobRare holds the fields of a job that most jobs never set.
type jobRare struct {
	SignalRequests   []api.JobSignal
	Steps            []api.Step
	Attempts         []api.Attempt
	AttemptsDropped  int
	StopReason       string
	StopCause        api.Cause
	RAMSpace         *api.RAMSpace
	ExitSignal       int
	StopGraceSeconds int
	NextStep         uint32
	StopRequested    bool
	RequeueRequested bool
	Redacted         bool
}

// specCache keeps the last specs stored, so that the jobs of a sweep (or
// an array's tasks) share one: a new job's spec is compared with these
// (pointers first: scripts and environments are already shared), a
// changed job's with the one it had.
type specCache struct {
	recent [8]*jobSpec
	next   int
	// places are the placements stored (a few per node; forgotten
	// all at once past maxPlaces), and deps and name the last
	// dependencies and name a new job had.
	places map[jobPlace]*jobPlace
	deps   []api.Dependency
	name   string
	// env is the last large environment a job stored whole: the base
	// of the next ones that differ from it in a few variables.
	env map[string]string
	// groups are the last task groups stored (arraytasks.go); with
	// noGroups set (tests that compare), tasks are never grouped.
	groups    [4]*jobRec
	nextGroup int
	noGroups  bool
	// taskArray and taskLinks are the array and links of the last task
	// groupTask was given.
	taskArray uint64
	taskLinks []api.Dependency
}

const maxPlaces = 4096

// place returns the shared placement p.
func (c *specCache) place(p jobPlace) *jobPlace {
	if q := c.places[p]; q != nil {
		return q
	}
	if c.places == nil || len(c.places) >= maxPlaces {
		c.places = map[jobPlace]*jobPlace{}
	}
	q := new(jobPlace) // not &p: p on the heap at every call, found or not
	*q = p
	c.places[p] = q
	return q
}

func (c *specCache) find(s *jobSpec) *jobSpec {
	for _, r := range c.recent {
		if r != nil && r.equal(s) {
			return r
		}
	}
	return nil
}

func (c *specCache) add(s *jobSpec) {
	c.recent[c.next] = s
	c.next = (c.next + 1) % len(c.recent)
}

// newJobRec makes the record of j, sharing its spec with was (the record
// it replaces; nil for a new job) or with one in cache (nil: none).
func newJobRec(j *api.Job, was *jobRec, cache *specCache) *jobRec {
	var s jobSpec
	s.JobSpec = j.JobSpec
	s.Name, s.Env, s.Priority, s.DependsOn, s.Held = "", nil, 0, nil, false
	s.User, s.UID, s.GID, s.Groups = j.User, j.UID, j.GID, j.Groups
	var spec *jobSpec
	switch {
	case was != nil && was.spec.equal(&s):
		spec = was.spec
	case cache != nil:
		spec = cache.find(&s)
	}
	if spec == nil {
		spec = new(jobSpec)
		*spec = s
		if cache != nil {
			cache.add(spec)
		}
	}
	code, ok := stateCodes[j.State]
	if !ok {
		panic(fmt.Sprintf("raftfsm: job %d in unknown state %q", j.ID, j.State))
	}
	if int(int32(j.Attempt)) != j.Attempt {
		panic(fmt.Sprintf("raftfsm: job %d at attempt %d", j.ID, j.Attempt))
	}
	r := &jobRec{
		spec: spec, ID: j.ID, Name: j.Name, DependsOn: j.DependsOn, Priority: j.Priority,
		state: code, StatusReason: j.StatusReason, WaitReason: j.WaitReason, Array: j.Array,
		Cause: j.Cause, ExitCode: j.ExitCode,
		Usage: j.Usage, Attempt: int32(j.Attempt), CreatedAt: j.CreatedAt, RunnableAt: j.RunnableAt,
		StartedAt: j.StartedAt, StoppedAt: j.StoppedAt, EstimatedStartAt: j.EstimatedStartAt,
		Held: j.Held, HeldByAdmin: j.HeldByAdmin, PriorityFixed: j.PriorityFixed,
	}
	switch {
	case was != nil && j.Env == nil:
		// A writer's copy, made without its environment (writer.job):
		// a job's environment never changes once it is submitted.
		r.Env, r.envSmall = was.Env, was.envSmall
	case was != nil && was.envSmall != "" && was.envEquals(j.Env):
		r.Env, r.envSmall = was.Env, was.envSmall
	case small(j.Env):
		r.envSmall = packEnv(j.Env)
	case cache != nil && len(j.Env) > 0:
		r.Env = j.Env
		if sameMap(j.Env, cache.env) {
			break
		}
		if d, ok := envDelta(cache.env, j.Env); ok {
			r.Env, r.envSmall = cache.env, d
		} else {
			cache.env = j.Env
		}
	default:
		r.Env = j.Env
	}
	if j.ExitCode != nil && *j.ExitCode >= 0 && *j.ExitCode < len(exitCodes) {
		r.ExitCode = &exitCodes[*j.ExitCode]
	}
	switch p := (jobPlace{j.Node, j.ComputeEnvironment}); {
	case p == jobPlace{}:
	case was != nil && was.place != nil && *was.place == p:
		r.place = was.place
	case cache != nil:
		r.place = cache.place(p)
	default:
		q := p // p itself on the heap would be an allocation for every record
		r.place = &q
	}
	if was == nil && cache != nil { // a new job: like the last one?
		if r.Name == cache.name {
			r.Name = cache.name
		}
		cache.name = r.Name
		if slices.Equal(r.DependsOn, cache.deps) && (r.DependsOn == nil) == (cache.deps == nil) {
			r.DependsOn = cache.deps
		}
		cache.deps = r.DependsOn
	}
	rare := jobRare{
		SignalRequests: j.SignalRequests, Steps: j.Steps, Attempts: j.Attempts, AttemptsDropped: j.AttemptsDropped, StopReason: j.StopReason,
		StopCause: j.StopCause, RAMSpace: j.RAMSpace, ExitSignal: j.ExitSignal, StopGraceSeconds: j.StopGraceSeconds,
		NextStep: j.NextStep, StopRequested: j.StopRequested, RequeueRequested: j.RequeueRequested, Redacted: j.Redacted,
	}
	if !rare.zero() {
		if was != nil && was.rare != nil && was.rare.equal(&rare) {
			r.rare = was.rare
		} else {
			// A copy: rare itself on the heap was an allocation of 150
			// bytes for every record, most of which have no rare field.
			r.rare = new(jobRare)
			*r.rare = rare
		}
	}
	return r
}

// load writes the job r holds into j (all of it: j's fields are
// overwritten). j shares r's slices and maps: read-only.
func (r *jobRec) load(j *api.Job) { r.loadAs(j, true) }

// loadNoEnv is load but for the environment (j.Env nil): for readers
// that do not read it, a small one is not unpacked.
func (r *jobRec) loadNoEnv(j *api.Job) { r.loadAs(j, false) }

func (r *jobRec) loadAs(j *api.Job, env bool) {
	*j = api.Job{}
	r.fill(j, env)
}

// fill sets j's fields from r. j must be zero: a slab's fresh jobs are,
// and filling them field by field writes each byte once (a composite
// literal assigned through the pointer writes the whole job twice).
func (r *jobRec) fill(j *api.Job, env bool) {
	j.ID, j.JobSpec, j.User, j.UID, j.GID, j.Groups = r.ID, r.spec.JobSpec, r.spec.User, r.spec.UID, r.spec.GID, r.spec.Groups
	j.State, j.StatusReason, j.Array, j.WaitReason = stateNames[r.state], r.StatusReason, r.Array, r.WaitReason
	j.EstimatedStartAt, j.HeldByAdmin, j.PriorityFixed = r.EstimatedStartAt, r.HeldByAdmin, r.PriorityFixed
	j.Attempt, j.ExitCode = int(r.Attempt), r.ExitCode
	j.Cause, j.CreatedAt, j.RunnableAt, j.StartedAt = r.Cause, r.CreatedAt, r.RunnableAt, r.StartedAt
	j.StoppedAt, j.Usage = r.StoppedAt, r.Usage
	j.Name, j.Priority, j.DependsOn, j.Held = r.Name, r.Priority, r.DependsOn, r.Held
	switch {
	case !env:
	case r.envSmall != "" && r.Env != nil:
		j.Env = mergeEnv(r.Env, r.envSmall)
	case r.envSmall != "":
		j.Env = unpackEnv(r.envSmall)
	default:
		j.Env = r.Env
	}
	if p := r.place; p != nil {
		j.Node, j.ComputeEnvironment = p.Node, p.ComputeEnvironment
	}
	if x := r.rare; x != nil {
		j.SignalRequests, j.Steps, j.Attempts, j.AttemptsDropped = x.SignalRequests, x.Steps, x.Attempts, x.AttemptsDropped
		j.StopReason, j.StopCause, j.RAMSpace = x.StopReason, x.StopCause, x.RAMSpace
		j.ExitSignal, j.StopGraceSeconds, j.NextStep = x.ExitSignal, x.StopGraceSeconds, x.NextStep
		j.StopRequested, j.RequeueRequested, j.Redacted = x.StopRequested, x.RequeueRequested, x.Redacted
	}
}

// job returns a new api.Job with what r holds.
func (r *jobRec) job() *api.Job {
	j := new(api.Job)
	r.load(j)
	return j
}

// jobSlab hands out api.Jobs made from records, a block of them per
// allocation: a list of 20,000 jobs makes 20,000 of them, which one
// allocation each would make slower. A job handed out stays valid for as
// long as the caller keeps it (it keeps its block alive). With noEnv set,
// the jobs come without their environments (Env nil), which a sweep's
// jobs would each have made anew (jobRec.Env).
type jobSlab struct {
	free  []api.Job
	noEnv bool
}

const jobSlabSize = 32

// loadAt is load of job id, read from r (its record, or a task group's).
func (s *jobSlab) loadAt(r *jobRec, id uint64) *api.Job {
	j := s.load(r)
	r.ownTask(j, id, nil)
	return j
}

func (s *jobSlab) load(r *jobRec) *api.Job {
	if len(s.free) == 0 {
		s.free = make([]api.Job, jobSlabSize)
	}
	j := &s.free[0]
	s.free = s.free[1:]
	r.fill(j, !s.noEnv)
	return j
}

func (x *jobRare) zero() bool {
	return x.SignalRequests == nil && x.Steps == nil && x.Attempts == nil && x.AttemptsDropped == 0 && x.StopReason == "" && x.StopCause == "" &&
		x.RAMSpace == nil && x.ExitSignal == 0 && x.StopGraceSeconds == 0 && x.NextStep == 0 && !x.StopRequested &&
		!x.RequeueRequested && !x.Redacted
}

// equal reports whether x and y hold the same slices (the same arrays:
// writers make new ones to change them) and values.
func (x *jobRare) equal(y *jobRare) bool {
	return sameSlice(x.SignalRequests, y.SignalRequests) && sameSlice(x.Steps, y.Steps) && sameSlice(x.Attempts, y.Attempts) &&
		x.AttemptsDropped == y.AttemptsDropped &&
		x.StopReason == y.StopReason && x.StopCause == y.StopCause && x.RAMSpace == y.RAMSpace && x.ExitSignal == y.ExitSignal &&
		x.StopGraceSeconds == y.StopGraceSeconds && x.NextStep == y.NextStep && x.StopRequested == y.StopRequested &&
		x.RequeueRequested == y.RequeueRequested && x.Redacted == y.Redacted
}

// sameSlice reports whether a and b are the same slice of the same array.
func sameSlice[T any](a, b []T) bool {
	return len(a) == len(b) && cap(a) == cap(b) && (len(a) == 0 || &a[0] == &b[0])
}

// equal reports whether two specs hold the same values. Every field of
// api.JobSpec is compared (TestJobSpecEqualSeesEveryField holds it to
// that).
func (s *jobSpec) equal(o *jobSpec) bool {
	a, b := &s.JobSpec, &o.JobSpec
	return a.Name == b.Name && a.Queue == b.Queue && slices.Equal(a.Queues, b.Queues) && slices.Equal(a.Command, b.Command) &&
		a.Script == b.Script && maps.Equal(a.Env, b.Env) && a.Dir == b.Dir && a.Stdout == b.Stdout && a.Stderr == b.Stderr &&
		a.Stdin == b.Stdin && a.AppendOutput == b.AppendOutput && a.Resources == b.Resources && a.Priority == b.Priority &&
		a.Nice == b.Nice && slices.Equal(a.DependsOn, b.DependsOn) && a.DependAny == b.DependAny &&
		a.KeepOnInvalidDep == b.KeepOnInvalidDep && a.Held == b.Held && a.BeginAt == b.BeginAt && a.TmpMB == b.TmpMB &&
		a.TimeLimit == b.TimeLimit && a.NoRequeue == b.NoRequeue && a.LimitWarnSignal == b.LimitWarnSignal &&
		a.LimitWarnSeconds == b.LimitWarnSeconds && a.LimitWarnBatch == b.LimitWarnBatch && a.JobDefinition == b.JobDefinition &&
		maps.Equal(a.Parameters, b.Parameters) && a.Image == b.Image && slices.Equal(a.Mounts, b.Mounts) &&
		a.ReadonlyRootfs == b.ReadonlyRootfs && a.RetryAttempts == b.RetryAttempts && slices.Equal(a.RetryRules, b.RetryRules) &&
		a.DeadlineAt == b.DeadlineAt && maps.Equal(a.Tags, b.Tags) && a.Account == b.Account && a.QOS == b.QOS &&
		a.Comment == b.Comment && a.SubmitHost == b.SubmitHost && slices.Equal(a.Licenses, b.Licenses) &&
		a.ShareIdentifier == b.ShareIdentifier && a.SchedulingPriority == b.SchedulingPriority &&
		(a.Queues == nil) == (b.Queues == nil) && (a.Command == nil) == (b.Command == nil) &&
		(a.Mounts == nil) == (b.Mounts == nil) && (a.RetryRules == nil) == (b.RetryRules == nil) &&
		(a.Licenses == nil) == (b.Licenses == nil) && (a.Parameters == nil) == (b.Parameters == nil) &&
		(a.Tags == nil) == (b.Tags == nil) &&
		s.User == o.User && s.UID == o.UID && s.GID == o.GID && slices.Equal(s.Groups, o.Groups) && (s.Groups == nil) == (o.Groups == nil)
}

// exitCodes are the exit codes records point at: a finished job's is one
// of these, not an int of its own.
var exitCodes = func() (out [256]int) {
	for i := range out {
		out[i] = i
	}
	return out
}()

// Small environments are packed (jobRec.envSmall): at most smallEnvVars
// variables in at most smallEnvBytes bytes.
const (
	smallEnvVars  = 8
	smallEnvBytes = 512
)

// small reports whether env is a small environment, and not empty.
func small(env map[string]string) bool {
	if len(env) == 0 || len(env) > smallEnvVars {
		return false
	}
	n := 0
	for k, v := range env {
		if len(k) > 255 || len(v) > 255 {
			return false
		}
		n += len(k) + len(v)
	}
	return n <= smallEnvBytes
}

// packEnv packs a small environment: each name and value, in name order,
// as a length byte and the bytes (small keeps each under 256).
func packEnv(env map[string]string) string {
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	return packVars(env, names)
}

// packVars packs the variables of env that names name (sorted in place),
// as packEnv does.
func packVars(env map[string]string, names []string) string {
	slices.Sort(names)
	n := 0
	for _, k := range names {
		n += 2 + len(k) + len(env[k])
	}
	b := make([]byte, 0, n)
	for _, k := range names {
		v := env[k]
		b = append(b, byte(len(k)))
		b = append(b, k...)
		b = append(b, byte(len(v)))
		b = append(b, v...)
	}
	return string(b)
}

// eachPacked calls fn with each name and value of a packed environment.
func eachPacked(p string, fn func(k, v string) bool) {
	for len(p) > 0 {
		n := int(p[0])
		k := p[1 : 1+n]
		p = p[1+n:]
		n = int(p[0])
		v := p[1 : 1+n]
		p = p[1+n:]
		if !fn(k, v) {
			return
		}
	}
}

// unpackEnv makes the map of a packed environment; its strings are
// slices of p.
func unpackEnv(p string) map[string]string {
	env := make(map[string]string, smallEnvVars)
	eachPacked(p, func(k, v string) bool { env[k] = v; return true })
	return env
}

// envEquals reports whether env is the environment of r, which holds it
// packed (envSmall, on top of Env when that is set too).
func (r *jobRec) envEquals(env map[string]string) bool {
	n, same := len(r.Env), true
	eachPacked(r.envSmall, func(k, v string) bool {
		if _, ok := r.Env[k]; !ok {
			n++
		}
		w, ok := env[k]
		same = ok && w == v
		return same
	})
	if !same || n != len(env) {
		return false
	}
	for k, v := range r.Env {
		if w, ok := env[k]; !ok || (w != v && !packedHas(r.envSmall, k)) {
			return false
		}
	}
	return true
}

// packedHas reports whether packed environment p sets name k.
func packedHas(p, k string) bool {
	found := false
	eachPacked(p, func(name, _ string) bool {
		found = name == k
		return !found
	})
	return found
}

// envDelta packs what env sets on top of base (onTop).
func envDelta(base, env map[string]string) (string, bool) {
	var names [smallEnvVars]string
	n, ok := onTop(base, env, &names)
	if !ok {
		return "", false
	}
	return packVars(env, names[:n]), true
}

// onTop reports whether env is base with variables added or given other
// values that make a small environment, and unsets none of base's (a
// packed delta holds no unset); their names go in names, n of them. It
// reports false when env is base's very values.
func onTop(base, env map[string]string, names *[smallEnvVars]string) (n int, ok bool) {
	if base == nil || len(env) < len(base) || len(env) > len(base)+smallEnvVars {
		return 0, false
	}
	size := 0
	for k, v := range env {
		if w, ok := base[k]; ok && w == v {
			continue
		}
		if n == smallEnvVars || len(k) > 255 || len(v) > 255 {
			return 0, false
		}
		if size += len(k) + len(v); size > smallEnvBytes {
			return 0, false
		}
		names[n] = k
		n++
	}
	if n == 0 {
		return 0, false // the same
	}
	for k := range base { // each of base's names is in env
		if _, ok := env[k]; !ok {
			return 0, false
		}
	}
	return n, true
}

// mergeEnv makes the map of base with the packed variables of delta set
// on top.
func mergeEnv(base map[string]string, delta string) map[string]string {
	env := make(map[string]string, len(base)+smallEnvVars)
	maps.Copy(env, base)
	eachPacked(delta, func(k, v string) bool { env[k] = v; return true })
	return env
}
