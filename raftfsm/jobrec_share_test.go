package raftfsm_test

import (
	"maps"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// A large environment (a login shell's, as sbatch exports it) is known by
// its JSON: jobs of separate entries that carry it share one map, with the
// values a decode gives; one that differs by a variable has its own; a
// restored replica holds the same jobs. Jobs of a sweep share their spec
// and come back whole.
func TestLargeEnvironmentsSharedByTheirJSON(t *testing.T) {
	h := newHarness(t)
	env := map[string]string{"EMPTY": "", "QUOTE": `a "b" \c <&>`, "UTF": "é✓"}
	for k := range 40 {
		env["VAR_"+strconv.Itoa(k)] = strings.Repeat("/opt/x", 5)
	}
	a := h.submit(100, sweepJob(maps.Clone(env)))[0]
	b := h.submit(101, sweepJob(maps.Clone(env)))[0]
	other := maps.Clone(env)
	other["SWEEP_TASK"] = "3"
	c := h.submit(102, sweepJob(other))[0]
	ja, jb, jc := h.job(a), h.job(b), h.job(c)
	if !maps.Equal(ja.Env, env) || !maps.Equal(jb.Env, env) || !maps.Equal(jc.Env, other) {
		t.Fatalf("environments %v, %v, %v; want %v, %v, %v", ja.Env, jb.Env, jc.Env, env, env, other)
	}
	if !sameMap(ja.Env, jb.Env) {
		t.Errorf("jobs %d and %d carry one large environment in two maps, want one shared map", a, b)
	}
	if sameMap(ja.Env, jc.Env) {
		t.Errorf("jobs %d and %d have different environments in one map", a, c)
	}
	want := sweepJob(maps.Clone(env))
	if ja.Name != want.Name || !reflect.DeepEqual(ja.Command, want.Command) || ja.Script != want.Script || ja.State == "" {
		t.Errorf("job %d came back as %+v, want the spec submitted (%+v)", a, ja, want)
	}
	r := restored(t, snapshotBytes(t, h.fsm), h.idx)
	wantSameState(t, r, h.fsm)
	for _, id := range []uint64{a, b, c} {
		if got, want := r.State().Job(id), h.job(id); !reflect.DeepEqual(got, want) {
			t.Errorf("restored job %d is %+v, want %+v", id, got, want)
		}
	}
	var n int
	r.State().AllJobs(func(*api.Job) bool { n++; return true })
	if n != 3 {
		t.Errorf("the restored replica holds %d jobs, want 3", n)
	}
}
