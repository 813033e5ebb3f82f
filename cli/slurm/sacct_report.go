package slurm

import (
	"bufio"
	"bytes"
	"context"
	"sort"
	"strings"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/cli/internal/termsafe"
)

// sacctReport is sacct's report as it is made: each job's lines are
// formatted when the job comes and kept, as text, under the key
// sacctOrder sorts the job by; write sorts them and prints them after the
// header. A history of hundreds of thousands of jobs is held as the text
// it prints, not as the jobs (a tenth of the memory, or less).
type sacctReport struct {
	o      *sacctOpts
	fields []saField
	delim  string
	text   bytes.Buffer
	lines  []sacctLine
	vals   []string // one line's cells, written before the next is made
}

// sacctLine is one job's lines in the report's text.
type sacctLine struct {
	key        uint64
	collapsed  bool // an array's pending tasks on one line: after a job of the same key
	start, end int
}

func newSacctReport(o *sacctOpts, fields []saField) *sacctReport {
	r := &sacctReport{o: o, fields: fields, vals: make([]string, len(fields))}
	if o.parsable || o.parsable2 {
		r.delim = o.delimiter
	}
	return r
}

// add formats v's lines (its attempts first with -D, then its steps)
// under key.
func (r *sacctReport) add(v *jobView, key uint64) {
	start := r.text.Len()
	runs := []*jobView{v}
	if r.o.duplicates {
		runs = append(attemptViews(v), v)
	}
	for _, run := range runs {
		for _, row := range r.o.jobRows(v, run) {
			for i, f := range r.fields {
				r.vals[i] = ""
				if f.value != nil {
					// Every sacct value, aligned or -p/-P, passes here.
					r.vals[i] = termsafe.String(f.value(row))
				}
			}
			r.line(&r.text, r.vals, false)
		}
	}
	r.lines = append(r.lines, sacctLine{key: key, collapsed: v.tasks != nil, start: start, end: r.text.Len()})
}

// line writes one line of cells: delimited (-p/-P) or aligned.
func (r *sacctReport) line(b cellWriter, vals []string, header bool) {
	if r.delim != "" {
		b.WriteString(strings.Join(vals, r.delim))
		if r.o.parsable && !r.o.parsable2 {
			b.WriteString(r.delim)
		}
		b.WriteByte('\n')
		return
	}
	for i, f := range r.fields {
		if header {
			b.WriteString(sacctHeaderCell(vals[i], f.width))
		} else {
			writeSacctFit(b, vals[i], f.width)
		}
	}
	b.WriteByte('\n')
}

// write prints the header (unless -n) and the lines in sacctOrder's order.
func (r *sacctReport) write(c *Ctx) {
	b := bufio.NewWriterSize(c.Stdout, 64<<10) // one buffered writer for the whole report
	defer b.Flush()
	if !r.o.noHeader {
		names := make([]string, len(r.fields))
		for i, f := range r.fields {
			names[i] = f.name
		}
		r.line(b, names, true)
		if r.delim == "" {
			for _, f := range r.fields {
				b.WriteString(strings.Repeat("-", max(f.width, -f.width)) + " ")
			}
			b.WriteByte('\n')
		}
	}
	sort.SliceStable(r.lines, func(a, b int) bool {
		x, y := r.lines[a], r.lines[b]
		if x.key != y.key {
			return x.key < y.key
		}
		return !x.collapsed && y.collapsed
	})
	text := r.text.Bytes()
	for _, l := range r.lines {
		b.Write(text[l.start:l.end])
	}
}

// stream gets the history list (history) and formats each kept job into
// the report as its page comes, but for arrays' pending tasks: their
// lines depend on all the pages (how many of an array's tasks run, which
// collapse into one line), so they are kept as jobs and added once the
// last page is in. A history of more than one page is read with the
// collector at its pace (resumeGC): each page is garbage once formatted.
func (o *sacctOpts) stream(ctx context.Context, c *Ctx, rep *sacctReport, start, end, now time.Time, resumeGC func()) error {
	var pending []api.Job
	top := map[uint64]uint64{} // the highest id of each array's tasks added
	running, err := o.history(ctx, c, start, end, now, resumeGC, func(j *api.Job, v *jobView, later bool) {
		if later {
			pending = append(pending, *j)
			return
		}
		if j.Array != nil && v.rawID > top[v.arrayID] {
			top[v.arrayID] = v.rawID
		}
		rep.add(v, v.rawID)
	})
	if err != nil {
		return err
	}
	var kept []*jobView
	for _, v := range historyViews(pending, running, now, c.groupName) {
		if o.keep(v, start, end) {
			kept = append(kept, v)
		}
	}
	kept = collapseArrays(kept)
	key := sacctKey(kept, top)
	for _, v := range kept {
		rep.add(v, key(v))
	}
	return nil
}
