package core

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client/internal/clienttest"
	"github.com/shoal-batch/shoal/api/reply"
)

// TestListJobsRows: ListJobs asks for the row form and reads it; from a
// controller that answers JSON all the same it reads the JSON, and of one
// that refuses the form's field (an older one, strict about fields) it
// asks again in JSON: the same jobs each way, as a list and job by job
// (ListJobsEach).
func TestListJobsRows(t *testing.T) {
	jobs := []api.Job{
		{ID: 1, JobSpec: api.JobSpec{Name: "a", Held: true}, User: "u", State: api.StatePending},
		{ID: 2, JobSpec: api.JobSpec{Name: "a", Held: true}, User: "u", State: api.StatePending},
		{ID: 3, JobSpec: api.JobSpec{Name: "b\tc"}, User: "u", State: api.StateRunning, Node: "n1"},
	}
	rowsBody := func() []byte {
		fields := []string{"jobId", "jobName", "held", "user", "status", "node"}
		w := api.NewRowWriter(nil, len(fields))
		for _, j := range jobs {
			for _, v := range []any{j.ID, j.Name, j.Held, j.User, j.State, j.Node} {
				if reflect.ValueOf(v).IsZero() {
					w.Omit()
					continue
				}
				b, _ := json.Marshal(v)
				w.Cell(b)
			}
			w.EndRow()
		}
		head, _ := api.RowsHead(len(jobs), fields)
		return append(append(append(head, w.Buf...), api.RowsEnd(len(jobs))...), '\n')
	}()
	var forms []string
	old := ""
	sock := clienttest.ServeUnix(t, "c.sock", func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		json.NewDecoder(r.Body).Decode(&req)
		if _, ok := req["form"]; ok && old == "strict" {
			// What a controller without the field answers.
			forms = append(forms, "refused")
			reply.Error(w, api.Errorf(api.CodeInvalid, `decode request body: json: unknown field "form"`))
			return
		}
		forms = append(forms, "asked")
		if old != "" || req["form"] != api.ListFormRows {
			reply.JSON(w, http.StatusOK, api.ListJobsResponse{Count: len(jobs), Jobs: jobs})
			return
		}
		w.Header().Set("Content-Type", api.ContentTypeJobRows)
		w.Header().Set("Content-Length", strconv.Itoa(len(rowsBody)))
		w.Write(rowsBody)
	})
	cl := New(sock, "")
	for _, old = range []string{"", "json", "strict"} {
		got, err := cl.ListJobs(context.Background(), api.ListJobsRequest{})
		if err != nil || !reflect.DeepEqual(got, jobs) {
			t.Errorf("old controller %q: %+v, %v; want %+v", old, got, err, jobs)
		}
		// Job by job, the same jobs.
		var each []api.Job
		err = cl.ListJobsEach(context.Background(), api.ListJobsRequest{}, func(j *api.Job) error {
			each = append(each, *j)
			return nil
		})
		if err != nil || !reflect.DeepEqual(each, jobs) {
			t.Errorf("old controller %q, job by job: %+v, %v; want %+v", old, each, err, jobs)
		}
	}
	if want := []string{"asked", "asked", "asked", "asked", "refused", "asked", "refused", "asked"}; !reflect.DeepEqual(forms, want) {
		t.Errorf("requests: %q; want %q", forms, want)
	}
	// An error of fn's own ends the list, as it is, and is not taken
	// for a refusal of the row form (the list is not asked again).
	old, forms = "", nil
	mine := api.Errorf(api.CodeInvalid, "enough")
	seen := 0
	err := cl.ListJobsEach(context.Background(), api.ListJobsRequest{}, func(*api.Job) error {
		seen++
		return mine
	})
	if err != mine || seen != 1 || len(forms) != 1 {
		t.Errorf("fn's own error: %v after %d jobs and %d requests; want %v after 1 job and 1 request", err, seen, len(forms), mine)
	}
}
