package raftfsm

import (
	"maps"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/shoal-batch/shoal/api"
)

// fill sets every field reachable from v (a settable value) to a non-zero
// value derived from seed: strings, numbers, bools, slices of one element,
// maps of one entry, pointers to filled values.
func fill(v reflect.Value, seed int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + string(rune('a'+seed%26)))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(seed + 1))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(seed + 1))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(seed) + 0.5)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), seed+1)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), seed+1)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, seed+1)
		fill(e, seed+2)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), seed+i)
			}
		}
	}
}

// TestJobRecKeepsEveryField holds the compact record to every field of
// api.Job: a job with all of them set comes back equal, whether its spec
// is new, shared with the record it replaces or with one in the cache.
func TestJobRecKeepsEveryField(t *testing.T) {
	var j api.Job
	fill(reflect.ValueOf(&j).Elem(), 0)
	j.State = api.StateRunning
	var cache specCache
	r := newJobRec(&j, nil, &cache)
	if got := r.job(); !reflect.DeepEqual(got, &j) {
		t.Fatalf("a job with every field set came back as\n%+v\nwant\n%+v", got, &j)
	}
	again := newJobRec(r.job(), r, &cache)
	if again.spec != r.spec || again.rare != r.rare || again.place != r.place {
		t.Errorf("an unchanged job stored again: new spec, rare fields or placement, want the record's shared")
	}
	other := j
	other.ID++
	if o := newJobRec(&other, nil, &cache); o.spec != r.spec {
		t.Errorf("a new job with an equal spec got its own, want the cached one shared")
	} else if got := o.job(); !reflect.DeepEqual(got, &other) {
		t.Errorf("a job sharing a spec came back as %+v, want %+v", got, &other)
	}
	for _, st := range []api.JobState{api.StateSubmitted, api.StatePending, api.StateRunnable, api.StateStarting, api.StateSucceeded, api.StateFailed} {
		k := j
		k.State, k.SignalRequests, k.Steps, k.Attempts, k.AttemptsDropped, k.NextStep = st, nil, nil, nil, 0, 0
		k.StopReason, k.StopCause, k.RAMSpace, k.ExitSignal, k.StopGraceSeconds = "", "", nil, 0, 0
		k.StopRequested, k.RequeueRequested, k.Redacted, k.Node, k.ComputeEnvironment = false, false, false, "", ""
		r := newJobRec(&k, nil, nil)
		if r.rare != nil || r.place != nil {
			t.Errorf("a job without rare fields or a node: rare %v, place %v, want none", r.rare, r.place)
		}
		if got := r.job(); !reflect.DeepEqual(got, &k) {
			t.Errorf("a %s job came back as %+v, want %+v", st, got, &k)
		}
	}
}

// TestJobSpecEqualSeesEveryField holds jobSpec.equal to every field of
// api.JobSpec that the spec keeps, and to the owner: a spec that differs
// in any one of them is not equal (it would be shared by mistake).
func TestJobSpecEqualSeesEveryField(t *testing.T) {
	perJob := map[string]bool{"Name": true, "Env": true, "Priority": true, "DependsOn": true, "Held": true}
	var base jobSpec
	typ := reflect.TypeOf(base)
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Name == "JobSpec" {
			st := f.Type
			for k := range st.NumField() {
				name := st.Field(k).Name
				if perJob[name] {
					continue
				}
				var s jobSpec
				fill(reflect.ValueOf(&s.JobSpec).Elem().Field(k), k)
				if s.equal(&base) || base.equal(&s) {
					t.Errorf("specs that differ in %s are equal, want different", name)
				}
			}
			continue
		}
		var s jobSpec
		fill(reflect.ValueOf(&s).Elem().Field(i), i)
		if s.equal(&base) || base.equal(&s) {
			t.Errorf("specs that differ in %s are equal, want different", f.Name)
		}
	}
	var a, b jobSpec
	fill(reflect.ValueOf(&a).Elem(), 3)
	fill(reflect.ValueOf(&b).Elem(), 3)
	if !a.equal(&b) {
		t.Errorf("two specs filled alike are not equal, want equal")
	}
}

// A small environment is packed in its record and comes back whole; a
// job stored again keeps the packed bytes; a large one is not packed.
func TestSmallEnvironmentsPacked(t *testing.T) {
	env := map[string]string{"A": "1", "EMPTY": "", "UTF": "é✓", "NUL": "a\x00b", strings.Repeat("N", 255): strings.Repeat("v", 200)}
	j := api.Job{ID: 7, State: api.StateRunnable, JobSpec: api.JobSpec{Env: env}}
	r := newJobRec(&j, nil, nil)
	if r.Env != nil || r.envSmall == "" {
		t.Fatalf("a job with %d small variables: map %v, packed %q; want them packed, no map", len(env), r.Env, r.envSmall)
	}
	got := r.job()
	if !maps.Equal(got.Env, env) {
		t.Fatalf("packed environment came back as %q, want %q", got.Env, env)
	}
	if again := newJobRec(got, r, nil); unsafe.StringData(again.envSmall) != unsafe.StringData(r.envSmall) {
		t.Errorf("the same job stored again packs its environment anew, want the record's bytes kept")
	}
	var noEnv api.Job
	r.loadNoEnv(&noEnv)
	if noEnv.Env != nil || noEnv.ID != 7 {
		t.Errorf("loadNoEnv gave job %d with environment %v, want job 7 without one", noEnv.ID, noEnv.Env)
	}
	for name, e := range map[string]map[string]string{
		"nine variables":       {"1": "", "2": "", "3": "", "4": "", "5": "", "6": "", "7": "", "8": "", "9": ""},
		"a value of 256":       {"A": strings.Repeat("v", 256)},
		"more than 512 in all": {"A": strings.Repeat("v", 200), "B": strings.Repeat("v", 200), "C": strings.Repeat("v", 200)},
		"empty, not nil":       {},
	} {
		k := api.Job{ID: 8, State: api.StateRunnable, JobSpec: api.JobSpec{Env: e}}
		r := newJobRec(&k, nil, nil)
		if r.envSmall != "" {
			t.Errorf("%s: packed, want the map kept", name)
		}
		if got := r.job(); !reflect.DeepEqual(got.Env, e) {
			t.Errorf("%s: came back as %v, want %v", name, got.Env, e)
		}
	}
}

// A large environment that differs from the last one stored whole in a
// few variables is held as that one's map and the variables set on top:
// the job comes back with its own environment, a change of its state
// (a copy made without the environment, as writers make) or of nothing
// (a full copy) keeps the record's bytes, and an environment that unsets
// one of the base's variables, or sets too many, is kept whole.
func TestEnvironmentsOnBase(t *testing.T) {
	base := map[string]string{"HOME": "/home/alice", "PATH": "/usr/bin:/bin"}
	for i := range 40 {
		base["MODULE_"+strings.Repeat("X", i%5)+string(rune('A'+i))] = "/opt/software/lib"
	}
	cache := &specCache{}
	first := newJobRec(&api.Job{ID: 1, State: api.StateRunnable, JobSpec: api.JobSpec{Env: base}}, nil, cache)
	if !sameMap(first.Env, base) || first.envSmall != "" || !sameMap(cache.env, base) {
		t.Fatalf("the first large environment: map kept %v, packed %q; want it kept whole as the base", sameMap(first.Env, base), first.envSmall)
	}
	task := maps.Clone(base)
	task["SWEEP_TASK"], task["PATH"] = "7", "/opt/bin:/usr/bin:/bin"
	r := newJobRec(&api.Job{ID: 2, State: api.StateRunnable, JobSpec: api.JobSpec{Env: maps.Clone(task)}}, nil, cache)
	if !sameMap(r.Env, base) || r.envSmall == "" {
		t.Fatalf("a job setting two variables on the base: base shared %v, packed %q; want the base and the two", sameMap(r.Env, base), r.envSmall)
	}
	if got := r.job(); !maps.Equal(got.Env, task) {
		t.Fatalf("came back with %v, want %v", got.Env, task)
	}
	var noEnv api.Job
	r.loadNoEnv(&noEnv)
	noEnv.State = api.StateStarting
	for name, j := range map[string]*api.Job{"without its environment": &noEnv, "whole": r.job()} {
		again := newJobRec(j, r, cache)
		if !sameMap(again.Env, base) || unsafe.StringData(again.envSmall) != unsafe.StringData(r.envSmall) {
			t.Errorf("stored again %s: the record's environment not kept", name)
		}
		if got := again.job(); !maps.Equal(got.Env, task) {
			t.Errorf("stored again %s: came back with %v, want %v", name, got.Env, task)
		}
	}
	if changed := r.job(); changed != nil {
		changed.Env["SWEEP_TASK"] = "8"
		if again := newJobRec(changed, r, cache); again.envEquals(task) || !again.envEquals(changed.Env) {
			t.Errorf("stored with another value: the record still holds the old environment")
		}
	}
	unset := maps.Clone(base)
	delete(unset, "HOME")
	unset["SWEEP_TASK"] = "1"
	many := maps.Clone(base)
	for i := range smallEnvVars + 1 {
		many["TASK_"+string(rune('A'+i))] = "x"
	}
	for name, env := range map[string]map[string]string{"unsets one": unset, "sets nine": many} {
		r := newJobRec(&api.Job{ID: 3, State: api.StateRunnable, JobSpec: api.JobSpec{Env: env}}, nil, cache)
		if r.envSmall != "" || !sameMap(r.Env, env) {
			t.Errorf("%s: packed %q on a base; want the environment kept whole", name, r.envSmall)
		}
		if got := r.job(); !maps.Equal(got.Env, env) {
			t.Errorf("%s: came back with %v, want %v", name, got.Env, env)
		}
		cache.env = base
	}
}

// Environments made at random around a base (variables set, changed,
// unset; empty values; names near the 255-byte limit): whatever a
// record makes of one, it gives it back, and knows it from any other.
func TestEnvironmentsOnBaseRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := map[string]string{"": "empty name", "EMPTY": ""}
	for i := range 30 {
		base["VAR_"+strconv.Itoa(i)] = strings.Repeat("v", i)
	}
	names := []string{"EMPTY", "VAR_3", "TASK", "", strings.Repeat("N", 255), strings.Repeat("N", 256), "X", "Y", "Z", "W", "V", "U", "T"}
	values := []string{"", "1", strings.Repeat("x", 255), strings.Repeat("x", 256), "v"}
	var envs []map[string]string
	for range 3000 {
		env := maps.Clone(base)
		for range rng.IntN(12) {
			k := names[rng.IntN(len(names))]
			if rng.IntN(8) == 0 {
				delete(env, k)
			} else {
				env[k] = values[rng.IntN(len(values))]
			}
		}
		envs = append(envs, env)
	}
	for i, env := range envs {
		cache := &specCache{env: base}
		r := newJobRec(&api.Job{ID: 1, State: api.StateRunnable, JobSpec: api.JobSpec{Env: maps.Clone(env)}}, nil, cache)
		if got := r.job().Env; !maps.Equal(got, env) {
			t.Fatalf("environment %d came back as %v, want %v", i, got, env)
		}
		if d, ok := envDelta(base, env); ok && !maps.Equal(mergeEnv(base, d), env) {
			t.Fatalf("environment %d: base and its delta make %v, want %v", i, mergeEnv(base, d), env)
		}
		if r.envSmall == "" {
			continue
		}
		changed := maps.Clone(env) // a variable of the base's only, another value
		changed["VAR_7"] += "x"
		for _, other := range []map[string]string{envs[(i+1)%len(envs)], base, env, changed} {
			if got, want := r.envEquals(other), maps.Equal(env, other); got != want {
				t.Fatalf("environment %d against %v: envEquals %v, want %v", i, other, got, want)
			}
		}
	}
}
