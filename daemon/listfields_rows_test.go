package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestListRowsMatchJSON: the controller's list in the row form decodes to
// the jobs its JSON list decodes to, for squeue's fields and for every
// field, odd strings, repeats and redacted jobs included; the JSON list,
// what old clients ask for, is as it was; an unknown form is refused,
// naming the ones there are.
func TestListRowsMatchJSON(t *testing.T) {
	tc := startTestController(t, false)
	for i := range 5 {
		name := "same"
		if i == 3 {
			name = "a <b> & \"c\" üñí\u2028"
		}
		tc.submit(alice, api.JobSpec{Name: name, Command: []string{"sleep", "9"}, Dir: "/tmp", Held: true,
			Script: "#!/bin/sh\necho \"<hi>\"\t\x1b[31m\n" + name, Resources: api.Resources{CPUs: 1, MemoryMB: 64}, Comment: strings.Repeat("c", i%2)})
	}
	tc.submit(bob, api.JobSpec{Name: "bobs", Script: "#!/bin/sh\ntrue\n", Dir: "/tmp", Held: true})

	post := func(req api.ListJobsRequest) (string, []byte) {
		t.Helper()
		body, _ := json.Marshal(req)
		res, err := tc.client(alice).Post("http://unix"+api.PathListJobs, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("list %+v: HTTP %d %s", req, res.StatusCode, data)
		}
		return res.Header.Get("Content-Type"), data
	}
	squeue := []string{"jobId", "jobName", "jobQueue", "resources", "priority", "held", "comment", "user", "uid", "status", "createdAt", "script", "exitCode", "array"}
	for _, fields := range [][]string{squeue, nil} {
		req := api.ListJobsRequest{Fields: fields}
		jtype, js := post(req)
		req.Form = api.ListFormRows
		rtype, rows := post(req)
		if jtype != "application/json" || rtype != api.ContentTypeJobRows {
			t.Fatalf("content types %q and %q; want application/json and %s", jtype, rtype, api.ContentTypeJobRows)
		}
		want, err := api.DecodeJobList(js)
		if err != nil {
			t.Fatal(err)
		}
		got, err := api.DecodeJobRows(rows)
		if err != nil {
			t.Fatalf("rows %q: %v", rows, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("fields %v: rows decode to\n%+v\nJSON to\n%+v", fields, got, want)
		}
		if got.Count != 6 || got.Jobs[5].Script != "" || got.Jobs[5].Redacted != (fields == nil) {
			t.Errorf("fields %v: %d jobs, bob's %+v; want 6, bob's redacted", fields, got.Count, got.Jobs[5])
		}
		// Six jobs of every field are smaller in JSON: the field line.
		if fields != nil && len(rows) >= len(js) {
			t.Errorf("fields %v: rows %d bytes, JSON %d; want fewer", fields, len(rows), len(js))
		}
	}
	status, e := tc.call(alice, api.PathListJobs, api.ListJobsRequest{Form: "xml"}, nil)
	if status != http.StatusBadRequest || !strings.Contains(e.Message, `"xml"`) || !strings.Contains(e.Message, api.ListFormRows) {
		t.Errorf("list in form xml: HTTP %d %q; want 400 naming it and %q", status, e.Message, api.ListFormRows)
	}
}

// TestListRowsStreamed: a list longer than one flush comes in several
// writes and decodes to the jobs of the JSON list, through the client's
// streamed reading; a request refused before any row (paging a list by
// ids) is an error answer, not a list.
func TestListRowsStreamed(t *testing.T) {
	tc := startTestController(t, false)
	for b := range 2 {
		var batch api.SubmitBatchRequest
		for i := range 750 {
			batch.Jobs = append(batch.Jobs, api.SubmitJobRequest{JobSpec: api.JobSpec{
				Name: fmt.Sprintf("job-%d-%d", b, i), Command: []string{"true"}, Held: true, Comment: strings.Repeat("x", i%40)}})
		}
		var ids api.SubmitBatchResponse
		tc.mustCall(alice, api.PathSubmitBatch, batch, &ids)
		if len(ids.IDs) != 750 {
			t.Fatalf("batch submit: %d ids; want 750", len(ids.IDs))
		}
	}
	list := func(form string) (*http.Response, []byte) {
		body, _ := json.Marshal(api.ListJobsRequest{Fields: []string{"jobName", "comment", "status", "resources"}, Form: form})
		res, err := tc.client(alice).Post("http://unix"+api.PathListJobs, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		if form == "" {
			data, _ := io.ReadAll(res.Body)
			return res, data
		}
		return res, nil
	}
	_, js := list("")
	want, err := api.DecodeJobList(js)
	if err != nil {
		t.Fatal(err)
	}
	res, _ := list(api.ListFormRows)
	if len(res.TransferEncoding) == 0 || res.TransferEncoding[0] != "chunked" {
		t.Errorf("rows sent with transfer encoding %v; want chunked (sent as made)", res.TransferEncoding)
	}
	got, err := api.DecodeJobRowsFrom(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got.Count != 1500 || !reflect.DeepEqual(got, want) {
		t.Errorf("streamed rows: %d jobs, equal to the JSON list's %d: %v", got.Count, want.Count, reflect.DeepEqual(got, want))
	}
	status, e := tc.call(alice, api.PathListJobs, api.ListJobsRequest{IDs: []uint64{1}, Limit: 5, Form: api.ListFormRows}, nil)
	if status != http.StatusBadRequest || !strings.Contains(e.Message, "limit") {
		t.Errorf("rows paged by ids: HTTP %d %q; want 400 about paging", status, e.Message)
	}
}

// TestListRowsGroupTasks: a list that groups tasks sends a run of an
// array's waiting tasks as its lowest task, naming them all, to its
// owner and, redacted, to another user; a task that differs is a row of
// its own and splits the run. Grouping is refused where it cannot be
// kept: in JSON, and in a paged list.
func TestListRowsGroupTasks(t *testing.T) {
	tc := startTestController(t, false)
	var arr api.SubmitJobResponse
	tc.mustCall(alice, api.PathSubmit, api.SubmitJobRequest{JobSpec: api.JobSpec{Name: "sweep", Script: "#!/bin/sh\ntrue\n",
		Dir: "/tmp", Held: true}, ArrayIndexes: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 20}}, &arr)
	odd := "odd"
	tc.mustCall(alice, api.PathUpdateJob, api.UpdateJobRequest{ID: arr.ID + 4, Name: &odd}, nil)
	tc.submit(alice, api.JobSpec{Name: "single", Command: []string{"true"}, Held: true})
	list := func(p peer) []api.Job {
		t.Helper()
		body, _ := json.Marshal(api.ListJobsRequest{Form: api.ListFormRows, GroupTasks: true})
		res, err := tc.client(p).Post("http://unix"+api.PathListJobs, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		got, err := api.DecodeJobRowsFrom(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return got.Jobs
	}
	for _, p := range []peer{alice, bob} {
		var rows []string
		for _, j := range list(p) {
			row := fmt.Sprintf("%d %s", j.ID, j.Name)
			if j.Array != nil {
				row += fmt.Sprintf(" [%d %q]", j.Array.Index, j.Array.Tasks)
			}
			if j.Redacted != (p == bob) || p == bob && j.Script != "" {
				t.Errorf("%v: job %d with script %q, redacted %v", p, j.ID, j.Script, j.Redacted)
			}
			rows = append(rows, row)
		}
		want := fmt.Sprintf(`[%d sweep [0 "0-3"] %d odd [4 ""] %d sweep [5 "5-9,20"] %d single]`, arr.ID, arr.ID+4, arr.ID+5, arr.ID+11)
		if got := fmt.Sprint(rows); got != want {
			t.Errorf("%v lists %s; want %s", p, got, want)
		}
	}
	for _, req := range []api.ListJobsRequest{{GroupTasks: true}, {GroupTasks: true, Form: api.ListFormRows, Limit: 5}} {
		status, e := tc.call(alice, api.PathListJobs, req, nil)
		if status != http.StatusBadRequest || e.Field != "groupTasks" {
			t.Errorf("list %+v: HTTP %d %+v; want 400 about groupTasks", req, status, e)
		}
	}
}
