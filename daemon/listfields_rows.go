package daemon

import (
	"net/http"
	"reflect"
	"slices"
	"strconv"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/reply"
)

// A job list in the row form (api.ListFormRows, api/joblist_rows.go): the
// projection's fields named once, then one line of cells per job, each
// value written by the same encoder as in the JSON list, and "=" where it
// repeats the job before's. squeue's 20,000 held jobs share their queue,
// user, state and resources: most of each line is then "=" and empty
// cells, a fraction of the JSON list's bytes to write, send and read.

// listFieldsRows is listFieldsJSON for a request in the row form.
func (c *Controller) listFieldsRows(who caller, req api.ListJobsRequest) (jobListJSON, error) {
	fields := req.Fields
	if len(fields) == 0 {
		fields = allJobFields()
	}
	p, err := newProjection(fields)
	if err != nil {
		return jobListJSON{}, err
	}
	names := make([]string, len(p))
	for i := range p {
		names[i] = p[i].Name
	}
	w := api.NewRowWriter(nil, len(p))
	n, live := 0, 0
	err = c.eachListedCounted(who, req, func(k int) { live = k }, func(j *api.Job) error {
		n++
		var v reflect.Value
		for i := range p {
			f := &p[i]
			if f.omit(j, &v) {
				w.Omit()
				continue
			}
			start := w.Start()
			var err error
			if w.Buf, err = f.appendValue(w.Buf, j, &v); err != nil {
				return err
			}
			w.End(start)
		}
		w.EndRow()
		if n == 8 && live > n {
			// Size the answer once from its first jobs, with a quarter
			// to spare (listFieldsJSON does the same).
			w.Buf = slices.Grow(w.Buf, (live-n)*len(w.Buf)/n*5/4)
		}
		return nil
	})
	if err != nil {
		return jobListJSON{}, err
	}
	return jobListJSON{buf: w.Buf, count: n, c: c, rows: names}, nil
}

// writeRows writes a list in the row form: its head, then its rows.
func (l jobListJSON) writeRows(w http.ResponseWriter) {
	head, err := api.RowsHead(l.count, l.rows)
	if err != nil { // field names are JSON keys: they always encode
		reply.Error(w, err)
		return
	}
	w.Header().Set("Content-Type", api.ContentTypeJobRows)
	w.Header().Set("Content-Length", strconv.Itoa(len(head)+len(l.buf)))
	w.WriteHeader(http.StatusOK)
	w.Write(head)
	w.Write(l.buf)
	if l.c != nil && l.c.answered.Add(int64(len(head)+len(l.buf))) > bigAnswer {
		l.c.releaseSoon()
	}
}
