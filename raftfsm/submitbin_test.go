package raftfsm_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// submitSteps are submits of every kind: plain jobs, a large shared
// environment, a script, an array, dependencies (on an array, singleton,
// one that fails), a held job, a refused one, tokened ones (new, repeated,
// a mismatch) and one naming an ended job.
func submitSteps() []struct {
	cmd   raftfsm.SubmitCmd
	token *raftfsm.SubmitToken
} {
	big := map[string]string{}
	for i := range 40 {
		big[fmt.Sprintf("VAR_%02d", i)] = fmt.Sprintf("value of variable %d, long enough to share", i)
	}
	sb := newJob("sb")
	sb.Script, sb.Env, sb.Command = "#!/bin/sh\ntrue\n", big, nil
	held := newJob("held")
	held.Held, held.Env = true, map[string]string{"A": "1"}
	arr := newJob("arr")
	single := newJob("single")
	single.DependsOn = []api.Dependency{{Type: api.Singleton}}
	onArr := newJob("on-arr", 5)
	bad := newJob("bad", 999)
	ended := newJob("ended-dep", 2)
	type step = struct {
		cmd   raftfsm.SubmitCmd
		token *raftfsm.SubmitToken
	}
	tok := &raftfsm.SubmitToken{UID: 1000, Token: "t-1", Hash: "h-1"}
	return []step{
		{cmd: raftfsm.SubmitCmd{Jobs: []api.Job{newJob("a"), newJob("b", 1)}, Now: 1000}},
		{cmd: raftfsm.SubmitCmd{Jobs: []api.Job{sb, sb, held}, Now: 1001}},
		{cmd: raftfsm.SubmitCmd{Jobs: []api.Job{arr}, Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: []int{0, 1, 4}, MaxRunning: 1}}, Now: 1002}},
		{cmd: raftfsm.SubmitCmd{Jobs: []api.Job{onArr, single, single}, Now: 1003}},
		{cmd: raftfsm.SubmitCmd{Jobs: []api.Job{bad}, Now: 1004}},
		{cmd: raftfsm.SubmitCmd{Jobs: []api.Job{sb}, Now: 1005}, token: tok},
		{cmd: raftfsm.SubmitCmd{Jobs: []api.Job{sb}, Now: 1006}, token: tok},
		{cmd: raftfsm.SubmitCmd{Jobs: []api.Job{sb}, Now: 1007}, token: &raftfsm.SubmitToken{UID: 1000, Token: "t-1", Hash: "other"}},
		{cmd: raftfsm.SubmitCmd{Jobs: []api.Job{ended}, Now: 1008, Ended: []raftfsm.EndedJob{{ID: 2, State: api.StateFailed}}}},
	}
}

// jsonEntry is a submit as earlier versions logged it.
func jsonEntry(t *testing.T, c raftfsm.SubmitCmd, tok *raftfsm.SubmitToken) []byte {
	if tok != nil {
		return encode(t, raftfsm.OpSubmitOnce, raftfsm.SubmitOnceCmd{Submit: c, UID: tok.UID, Token: tok.Token, Hash: tok.Hash})
	}
	return encode(t, raftfsm.OpSubmit, c)
}

// TestSubmitBinSameStateAsJSON: the compact submits, alone and batched,
// leave the state (snapshot bytes, every job) and answer (results) as the
// JSON submits of earlier logs do, alone and in JSON batches: a log of
// either kind, or of both, replays to the same state.
func TestSubmitBinSameStateAsJSON(t *testing.T) {
	steps := submitSteps()
	run := func(batched bool, entry func(i int) []byte) (*harness, []raftfsm.Result) {
		h := newHarness(t)
		var out []raftfsm.Result
		if batched {
			var es [][]byte
			for i := range steps {
				es = append(es, entry(i))
			}
			out = h.batch(es...)
		} else {
			for i := range steps {
				out = append(out, h.applyEntry(entry(i)).(raftfsm.Result))
			}
		}
		return h, out
	}
	binEntry := func(i int) []byte {
		e, err := raftfsm.EncodeSubmit(&steps[i].cmd, steps[i].token)
		if err != nil {
			t.Fatalf("EncodeSubmit: %v", err)
		}
		if raftfsm.Op(e[0]) != raftfsm.OpSubmitBin {
			t.Fatalf("step %d encoded as op %d, want OpSubmitBin", i, e[0])
		}
		return e
	}
	jsonOne := func(i int) []byte { return jsonEntry(t, steps[i].cmd, steps[i].token) }
	want, wantRes := run(false, jsonOne)
	if len(allJobs(want.fsm)) < 10 || wantRes[4].Err == nil || !wantRes[6].Repeated || wantRes[7].Err == nil {
		t.Fatalf("the JSON log did not do what the steps are for: %d jobs, results %+v", len(allJobs(want.fsm)), wantRes)
	}
	wantSnap := snapshotBytes(t, want.fsm)
	mixed := func(i int) []byte {
		if i%2 == 0 {
			return binEntry(i)
		}
		return jsonOne(i)
	}
	for name, tc := range map[string]struct {
		batched bool
		entry   func(int) []byte
	}{"binary": {false, binEntry}, "binary batched": {true, binEntry}, "mixed batched": {true, mixed}, "JSON batched": {true, jsonOne}} {
		t.Run(name, func(t *testing.T) {
			got, res := run(tc.batched, tc.entry)
			if fmt.Sprint(res) != fmt.Sprint(wantRes) {
				t.Errorf("results:\n got %+v\nwant %+v", res, wantRes)
			}
			wantSameState(t, got.fsm, want.fsm)
			if !bytes.Equal(snapshotBytes(t, got.fsm), wantSnap) {
				t.Errorf("snapshot differs from the JSON log's")
			}
			// A replica replaying this log reaches the same state.
			again := raftfsm.New()
			for i, e := range got.log {
				again.Apply(uint64(i+1), e)
			}
			wantSameState(t, again, want.fsm)
		})
	}
	// An earlier version's JSON batch (OpBatch) of JSON submits.
	t.Run("JSON OpBatch", func(t *testing.T) {
		h := newHarness(t)
		var es [][]byte
		for i := range steps {
			es = append(es, jsonOne(i))
		}
		e, err := raftfsm.EncodeBatchJSON(es)
		if err != nil || raftfsm.Op(e[0]) != raftfsm.OpBatch {
			t.Fatalf("EncodeBatchJSON: op %d, %v", e[0], err)
		}
		res := h.applyEntry(e).([]raftfsm.Result)
		if fmt.Sprint(res) != fmt.Sprint(wantRes) {
			t.Errorf("results:\n got %+v\nwant %+v", res, wantRes)
		}
		wantSameState(t, h.fsm, want.fsm)
	})
}

// TestSubmitBinMalformedStops: a compact submit this binary cannot read
// (cut short, a newer version, fields it does not know) stops Apply, as an
// undecodable JSON command does; it is not skipped.
func TestSubmitBinMalformedStops(t *testing.T) {
	c := raftfsm.SubmitCmd{Jobs: []api.Job{newJob("a")}, Now: 1}
	good, err := raftfsm.EncodeSubmit(&c, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, e := range map[string][]byte{
		"cut short":      good[:len(good)-3],
		"newer version":  append([]byte{good[0], 9}, good[2:]...),
		"trailing bytes": append(append([]byte{}, good...), 0),
		"unknown fields": {byte(raftfsm.OpSubmitBin), 1, 0, 2, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},
		"batch length":   {byte(raftfsm.OpBatchBin), 50, byte(raftfsm.OpSubmitBin)},
		// One job whose environment (script) is "the one before", first.
		"env of none before":    binary.AppendUvarint([]byte{byte(raftfsm.OpSubmitBin), 1, 0, 2, 1}, 1<<49),
		"script of none before": binary.AppendUvarint([]byte{byte(raftfsm.OpSubmitBin), 1, 0, 2, 1}, 1<<50),
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Apply of a malformed entry returned; want it to stop (panic)")
				}
			}()
			newHarness(t).fsm.Apply(100, e)
		})
	}
}

// TestSubmitBinWritesSharedOnce: a thousand jobs of one environment and
// script make an entry that holds them once (the jobs after the first
// point back), and they read back as written.
func TestSubmitBinWritesSharedOnce(t *testing.T) {
	env := map[string]string{}
	for i := range 60 {
		env[fmt.Sprintf("VAR_%02d", i)] = fmt.Sprintf("the value of variable %d in a login shell", i)
	}
	one := func(i int) api.Job {
		j := newJob(fmt.Sprintf("sweep-%d", i))
		j.Script, j.Command = "#!/bin/sh\nexec ./sweep.sh \"$@\"\n", nil
		j.Env = maps.Clone(env) // equal, not the same map: as decoded from a request
		return j
	}
	c := raftfsm.SubmitCmd{Now: 1}
	for i := range 1000 {
		c.Jobs = append(c.Jobs, one(i))
	}
	single := raftfsm.SubmitCmd{Now: 1, Jobs: c.Jobs[:1]}
	e1, err := raftfsm.EncodeSubmit(&single, nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := raftfsm.EncodeSubmit(&c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if perJob := (len(e) - len(e1)) / 999; perJob > 64 {
		t.Errorf("each job after the first adds %d bytes to the entry; want under 64 (environment and script written once)", perJob)
	}
	h := newHarness(t)
	h.fsm.Apply(1, e)
	st := h.fsm.State()
	for i := range c.Jobs {
		j := st.Job(uint64(i + 1))
		if j == nil || j.Name != c.Jobs[i].Name || j.Script != c.Jobs[i].Script || !maps.Equal(j.Env, env) {
			t.Fatalf("job %d read back as %+v; want %s with the script and environment written", i+1, j, c.Jobs[i].Name)
		}
	}
}
