package daemon

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestListFields: a list with Fields answers each job with "jobId" and
// the fields asked for (those not empty), each byte for byte as the full
// list writes it, odd characters in strings included; other users' jobs
// stay redacted; an unknown field is refused, naming it.
func TestListFields(t *testing.T) {
	tc := startTestController(t, false)
	mine := tc.submit(alice, api.JobSpec{Name: "a <b> & \"c\" üñí", Command: []string{"sleep", "9"}, Dir: "/tmp",
		Script: "#!/bin/sh\necho '<hi>' & \"x\"\t\\ \u2028\n", Stdout: "out-%j", Resources: api.Resources{CPUs: 1, MemoryMB: 64},
		Tags: map[string]string{"k": "v"}, Held: true})
	// Held: neither may start between the two lists this compares.
	theirs := tc.submit(bob, api.JobSpec{Name: "bobs", Command: []string{"true"}, Dir: "/tmp", Held: true})
	fields := []string{"jobName", "user", "status", "priority", "resources", "tags", "script", "dependsOn", "createdAt"}

	list := func(req api.ListJobsRequest) []map[string]json.RawMessage {
		t.Helper()
		var resp struct {
			Count int                          `json:"count"`
			Jobs  []map[string]json.RawMessage `json:"jobs"`
		}
		tc.mustCall(alice, api.PathListJobs, req, &resp)
		if resp.Count != len(resp.Jobs) || resp.Count != 2 {
			t.Fatalf("list %+v: count %d, %d jobs; want 2", req, resp.Count, len(resp.Jobs))
		}
		return resp.Jobs
	}
	full := list(api.ListJobsRequest{})
	proj := list(api.ListJobsRequest{Fields: fields})
	for i, p := range proj {
		f := full[i]
		var want []string
		for _, k := range append([]string{"jobId"}, fields...) {
			if v, ok := f[k]; ok {
				want = append(want, k)
				if string(p[k]) != string(v) {
					t.Errorf("job %s field %s: projected %s, full %s; want the same", f["jobId"], k, p[k], v)
				}
			}
		}
		var got []string
		for k := range p {
			got = append(got, k)
		}
		if len(got) != len(want) {
			t.Errorf("job %s: projected fields %v; want %v (those of %v the full job has)", f["jobId"], got, want, fields)
		}
	}
	// Decoded as the client does: the same job, but for what was left out.
	var a, b api.Job
	json.Unmarshal(mustJSON(t, full[0]), &a)
	json.Unmarshal(mustJSON(t, proj[0]), &b)
	if a.ID != mine || b.Name != a.Name || b.Script != a.Script || !reflect.DeepEqual(b.Resources, a.Resources) || b.Command != nil || b.Dir != "" {
		t.Errorf("projected job %+v; want alice's job %d with its name, script and resources and no command or dir", b, mine)
	}
	if s := string(proj[1]["script"]); proj[1]["jobId"] == nil || s != "" || !strings.Contains(string(full[1]["jobId"]), api.FormatID(theirs)) {
		t.Errorf("bob's job seen by alice, projected: %v; want it without its script (redacted)", proj[1])
	}

	status, e := tc.call(alice, api.PathListJobs, api.ListJobsRequest{Fields: []string{"jobName", "nosuch"}}, nil)
	if status != http.StatusBadRequest || !strings.Contains(e.Message, `"nosuch"`) || !strings.Contains(e.Message, "jobName") {
		t.Errorf("list with an unknown field: HTTP %d %q; want 400 naming it and the fields there are", status, e.Message)
	}
}

func mustJSON(t *testing.T, m map[string]json.RawMessage) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
