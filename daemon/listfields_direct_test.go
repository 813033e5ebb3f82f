package daemon

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestDirectFieldsMatchReflection: every direct encoder writes what the
// reflective projection writes, field by field, for jobs with every
// field set, every field zero, and values that need escaping.
func TestDirectFieldsMatchReflection(t *testing.T) {
	ec, zero := 137, 0
	jobs := []api.Job{
		{},
		{ID: 1, JobSpec: api.JobSpec{Name: "bench-0", Queue: "default", Resources: api.Resources{CPUs: 1, MemoryMB: 100}, Priority: 4294901759, Held: true, TimeLimit: 600}, User: "root", State: api.StatePending, CreatedAt: 1796427000260},
		{ID: 18446744073709551615, JobSpec: api.JobSpec{Name: "tab\there \"q\" <b>&é\xff", Queue: "gpu", Script: "#!/bin/sh\n", Dir: "/d", Stdout: "o", Stderr: "e",
			Resources: api.Resources{CPUs: 4, MemoryMB: 2048, GPUs: 2, GPUTypes: api.GPUCounts("a100:1,h200:1")}, Priority: -3, Nice: -5,
			DependAny: true, BeginAt: 5, TimeLimit: -1, NoRequeue: true, DeadlineAt: 9, Account: "a", QOS: "q", Comment: "\u2028"},
			User: "alice", UID: 4294967295, GID: 7, State: api.StateFailed, StatusReason: "why", WaitReason: "Priority", EstimatedStartAt: -1,
			HeldByAdmin: true, Node: "n1", Attempt: 2, ExitCode: &ec, ExitSignal: 9, Cause: api.CauseOOM, StopRequested: true,
			Array: &api.ArrayTask{JobID: 2, Index: 3, Min: 0, Max: 9, Count: 10, MaxRunning: 2}, RunnableAt: 3, StartedAt: 4, StoppedAt: 6},
		{ID: 3, ExitCode: &zero, Array: &api.ArrayTask{JobID: 3, Tasks: "0-4,7"}, JobSpec: api.JobSpec{Resources: api.Resources{GPUs: 1}}},
	}
	for name := range directFields {
		p, err := newProjection([]string{name})
		if err != nil {
			t.Fatalf("field %s: %v", name, err)
		}
		slow := append(projection(nil), p...)
		for i := range slow {
			slow[i].direct = nil
		}
		for k := range jobs {
			got, gerr := p.appendJob(nil, &jobs[k])
			want, werr := slow.appendJob(nil, &jobs[k])
			if (gerr != nil) != (werr != nil) || string(got) != string(want) {
				t.Errorf("field %s, job %d: direct %s (%v), reflection %s (%v)", name, k, got, gerr, want, werr)
			}
			if gerr == nil && !json.Valid(got) {
				t.Errorf("field %s, job %d: %s is not JSON", name, k, got)
			}
		}
	}
	// Every field with a direct encoder is a field of api.Job.
	for name := range directFields {
		if _, ok := jobFields()[name]; !ok {
			t.Errorf("direct encoder for %q, which api.Job does not have", name)
		}
	}
}

// TestListFullMatchesEncodingJSON: a list without Fields, now written by
// the projection of every field, is byte for byte what encoding/json
// wrote, for the owner (everything) and for another user (redacted), with
// empty-but-not-nil slices and maps, odd strings and nested values.
func TestListFullMatchesEncodingJSON(t *testing.T) {
	tc := startTestController(t, false)
	tc.submit(alice, api.JobSpec{Name: "a <b> & \"c\" üñí", Command: []string{"sleep", "9"}, Dir: "/tmp",
		Script: "#!/bin/sh\necho '<hi>' & \"x\"\t\\ \u2028\n", Stdout: "out-%j", Nice: 3,
		Resources: api.Resources{CPUs: 1, MemoryMB: 64}, Tags: map[string]string{"k": "v", "<": ">"},
		Env: map[string]string{"A": "1"}, Held: true, TimeLimit: 60, Comment: "c", Account: "", BeginAt: 1})
	dep := tc.submit(bob, api.JobSpec{Name: "bobs", Command: []string{"true"}, Dir: "/tmp", Held: true, Parameters: map[string]string{}})
	tc.submit(alice, api.JobSpec{Name: "after", Command: []string{"true"}, Dir: "/tmp", Held: true,
		DependsOn: []api.Dependency{{JobID: dep, Type: api.AfterOK}}})
	for _, who := range []caller{root, {uid: alice.uid, gid: alice.gid, known: true}} {
		for _, req := range []api.ListJobsRequest{{}, {Full: true}, {Limit: 2}, {States: []api.JobState{api.StatePending}}} {
			got, err := tc.c.listJobsJSON(context.Background(), who, req)
			if err != nil {
				t.Fatal(err)
			}
			want, err := tc.c.listJobsJSONReflect(who, req)
			if err != nil {
				t.Fatal(err)
			}
			if got.count != want.count || string(got.buf[listHead:]) != string(want.buf[listHead:]) {
				t.Errorf("caller %+v, list %+v:\n%s\nencoding/json wrote\n%s", who, req, got.buf[listHead:], want.buf[listHead:])
			}
			if got.count != 3 && req.Limit == 0 {
				t.Errorf("caller %+v, list %+v: %d jobs; want 3", who, req, got.count)
			}
		}
	}
}
