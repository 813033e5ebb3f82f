package raftfsm_test

import (
	"maps"
	"reflect"
	"strconv"
	"testing"
	"unsafe"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// sameMap reports whether a and b are one map, not two equal ones.
func sameMap(a, b map[string]string) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// sameBytes reports whether a and b are one copy of their bytes.
func sameBytes(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

// loginEnv is env with the variables of a login shell added: an
// environment too large to be packed in its job's record (small ones are:
// jobrec.go), so one the jobs share.
func loginEnv(env map[string]string) map[string]string {
	for i := range 10 {
		env["MODULE_VAR_"+strconv.Itoa(i)] = "/opt/software/lib"
	}
	return env
}

func sweepJob(env map[string]string) api.Job {
	j := newJob("sweep")
	j.Script = "#!/bin/sh\n#SBATCH --mem=1G\necho task $SWEEP_TASK\n"
	j.Env = env
	return j
}

// A sweep's jobs, each decoded from its own log entry, keep one copy of
// their script and of an environment they share; jobs whose environments
// differ keep their own, with the right values.
func TestJobsShareScriptsAndEnvironments(t *testing.T) {
	h := newHarness(t)
	env := loginEnv(map[string]string{"HOME": "/home/alice", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
	a := h.submit(100, sweepJob(maps.Clone(env)))[0]
	b := h.submit(101, sweepJob(maps.Clone(env)))[0]
	other := maps.Clone(env)
	other["SWEEP_TASK"] = "7"
	c := h.submit(102, sweepJob(other))[0]

	ja, jb, jc := h.job(a), h.job(b), h.job(c)
	if !maps.Equal(ja.Env, env) || !maps.Equal(jb.Env, env) || !maps.Equal(jc.Env, other) {
		t.Fatalf("environments %v, %v, %v; want %v, %v, %v", ja.Env, jb.Env, jc.Env, env, env, other)
	}
	if !sameMap(ja.Env, jb.Env) {
		t.Errorf("jobs %d and %d have equal environments in two maps, want one shared map", a, b)
	}
	if sameMap(ja.Env, jc.Env) {
		t.Errorf("jobs %d and %d have different environments in one map", a, c)
	}
	if !sameBytes(ja.Script, jb.Script) || !sameBytes(ja.Script, jc.Script) {
		t.Errorf("jobs %d, %d, %d hold their equal scripts in separate copies, want one", a, b, c)
	}
	if !sameBytes(ja.Env["PATH"], jc.Env["PATH"]) {
		t.Errorf("jobs %d and %d hold the same PATH value twice, want one copy", a, c)
	}

	// A snapshot restores one copy too, and the same state.
	r := restored(t, snapshotBytes(t, h.fsm), h.idx)
	wantSameState(t, r, h.fsm)
	if ra, rb := r.State().Job(a), r.State().Job(b); !sameMap(ra.Env, rb.Env) || !sameBytes(ra.Script, rb.Script) {
		t.Errorf("restored jobs %d and %d keep separate copies of their script or environment, want one", a, b)
	}
}

// When jobs leave the state, the copies only they used go too, and what
// the jobs still there use stays shared and right.
func TestSharedCopiesOutliveExpiredJobs(t *testing.T) {
	h := newHarness(t)
	env := loginEnv(map[string]string{"HOME": "/home/alice", "PATH": "/usr/bin:/bin"})
	keep := h.submit(100, sweepJob(maps.Clone(env)))[0]
	var gone []uint64
	for i := range 300 { // a prune waits for half the jobs to go
		e := maps.Clone(env)
		e["SWEEP_TASK"] = strconv.Itoa(i)
		gone = append(gone, h.submit(100, sweepJob(e))[0])
	}
	for _, id := range gone {
		h.mustOK("cancel", h.stop(raftfsm.StopCmd{ID: id, Reason: "not needed", CallerUID: 1000, Now: 100}))
	}
	h.expire(200, gone...)

	kept := h.job(keep)
	if !maps.Equal(kept.Env, env) {
		t.Fatalf("job %d's environment after others expired: %v, want %v", keep, kept.Env, env)
	}
	again := h.job(h.submit(300, sweepJob(maps.Clone(env)))[0])
	if !sameMap(again.Env, kept.Env) || !sameBytes(again.Script, kept.Script) {
		t.Errorf("a new job with job %d's script and environment keeps its own copies, want the shared ones", keep)
	}
	replica := raftfsm.New()
	for i, e := range h.log {
		replica.Apply(uint64(i+1), e)
	}
	wantSameState(t, replica, h.fsm)
}

// A sweep whose jobs each set their own variable on the shell's
// environment (`sbatch --export=ALL,SWEEP_TASK=$i`): every job keeps its
// own environment as it is placed, runs and ends, in a snapshot's
// replica and in one that replays the log; so do jobs that unset a
// variable or set many.
func TestSweepEnvironmentsThroughTheirLives(t *testing.T) {
	h := newHarness(t)
	env := loginEnv(map[string]string{"HOME": "/home/alice", "PATH": "/usr/bin:/bin"})
	want := map[uint64]map[string]string{}
	submit := func(e map[string]string) {
		want[h.submit(100, sweepJob(maps.Clone(e)))[0]] = e
	}
	submit(env)
	for i := range 40 {
		e := maps.Clone(env)
		e["SWEEP_TASK"] = strconv.Itoa(i)
		submit(e)
	}
	unset := maps.Clone(env)
	delete(unset, "HOME")
	submit(unset)
	many := maps.Clone(env)
	for i := range 12 {
		many["TASK_"+strconv.Itoa(i)] = "x"
	}
	submit(many)
	var batch []api.Job
	for i := range 20 {
		e := maps.Clone(env)
		e["SWEEP_TASK"], e["PATH"] = "b"+strconv.Itoa(i), "/opt/bin"
		batch = append(batch, sweepJob(e))
	}
	for i, id := range h.submit(100, batch...) {
		want[id] = batch[i].Env
	}
	ran := 0
	for id := range want {
		if ran++; ran > 10 {
			break
		}
		h.run(id, api.StateSucceeded, 110)
		if got := h.job(id); got.State != api.StateSucceeded {
			t.Fatalf("job %d %s after running, want SUCCEEDED", id, got.State)
		}
	}
	check := func(name string, fsm *raftfsm.FSM) {
		t.Helper()
		for id, e := range want {
			if got := fsm.State().Job(id); got == nil || !maps.Equal(got.Env, e) {
				t.Fatalf("%s: job %d's environment %v, want %v", name, id, got.Env, e)
			}
		}
	}
	check("the state", h.fsm)
	// Lists of jobs come without environments: a sweep's would each be
	// made anew (the node's work has them).
	st := h.fsm.State()
	for _, s := range []api.JobState{api.StateSucceeded, api.StatePending, api.StateRunnable} {
		st.JobsInState(s, func(j *api.Job) bool {
			if j.Env != nil {
				t.Errorf("JobsInState(%s) gave job %d with its environment; want none", s, j.ID)
			}
			return true
		})
	}
	r := restored(t, snapshotBytes(t, h.fsm), h.idx)
	wantSameState(t, r, h.fsm)
	check("a restored replica", r)
	replica := raftfsm.New()
	for i, e := range h.log {
		replica.Apply(uint64(i+1), e)
	}
	wantSameState(t, replica, h.fsm)
	check("a replica that replayed the log", replica)
}
