package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// The job list's row form: what squeue and sacct ask for
// (ListJobsRequest.Form = ListFormRows) instead of JSON. A JSON list
// repeats every key in every job, and the same queue, user, state and
// resources in job after job; over 20,000 jobs the keys and repeats were
// most of the answer's bytes, and of the work of writing and reading it.
// The row form names the fields once and writes each job as one line of
// cells, one per field, in that order; the controller sends the lines as
// it makes them, and the client reads them as they come:
//
//	shoal-rows 1\n
//	HINT\n                        about how many jobs follow (to size the list)
//	["jobId","jobName",...]\n     the fields, a JSON array
//	CELL\tCELL\t...\n             one line per job
//	#COUNT\n                      the end: how many jobs came
//
// A cell is empty where the JSON list leaves the key out (omitempty and
// zero), "=" where the value is the same as in the line before (which has
// the value, not an empty cell), and otherwise the value as the JSON list
// writes it. JSON writes no tab or newline outside a string and escapes
// them inside one, so neither ends a cell early. A list without its end
// line was cut short, and is refused. Old clients never ask for the
// form: the JSON list is unchanged.

// ListFormRows is ListJobsRequest.Form for the row form.
const ListFormRows = "rows"

// ContentTypeJobRows is the Content-Type of a job list in the row form.
const ContentTypeJobRows = "application/x-shoal-rows"

// rowsMagic starts every job list in the row form.
const rowsMagic = "shoal-rows 1\n"

// RowWriter writes a job list in the row form into a buffer: the head
// (Head, once the count is known), then each job's cells (Cell or Omit,
// in the order of the fields) and EndRow.
type RowWriter struct {
	// Buf holds the rows written so far.
	Buf []byte
	// prev holds where each column's value of the previous row lies in
	// Buf, [start, end), or start -1 when the row left it out.
	prev [][2]int
	col  int
	kept []byte // Drop's scratch
}

// Drop empties Buf of the rows written so far, once they are sent: it
// keeps only each column's last value (what the next row may repeat),
// moved to Buf's start, and returns their length, the part of Buf not to
// send again. A list of the whole history (sacct over 200,000 jobs) then
// costs the controller a flush's worth of buffer, not the whole answer.
// Call it between rows.
func (w *RowWriter) Drop() int {
	w.kept = w.kept[:0]
	for i := range w.prev {
		p := &w.prev[i]
		if p[0] < 0 {
			continue
		}
		start := len(w.kept)
		w.kept = append(w.kept, w.Buf[p[0]:p[1]]...)
		p[0], p[1] = start, len(w.kept)
	}
	w.Buf = append(w.Buf[:0], w.kept...)
	return len(w.Buf)
}

// NewRowWriter writes rows of n fields after the bytes already in buf.
func NewRowWriter(buf []byte, n int) *RowWriter {
	w := &RowWriter{Buf: buf, prev: make([][2]int, n)}
	for i := range w.prev {
		w.prev[i][0] = -1
	}
	return w
}

// RowsHead is the head of a row-form list of about hint jobs with fields.
func RowsHead(hint int, fields []string) ([]byte, error) {
	names, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("encode the field names of a job list: %w", err)
	}
	head := make([]byte, 0, len(rowsMagic)+24+len(names))
	head = append(head, rowsMagic...)
	head = strconv.AppendInt(head, int64(max(hint, 0)), 10)
	head = append(head, '\n')
	head = append(head, names...)
	return append(head, '\n'), nil
}

// RowsEnd is the end line of a row-form list of count jobs.
func RowsEnd(count int) []byte {
	return strconv.AppendInt([]byte{'#'}, int64(count), 10)
}

// sep starts the next cell of the row.
func (w *RowWriter) sep() {
	if w.col > 0 {
		w.Buf = append(w.Buf, '\t')
	}
}

// Omit writes an empty cell: the field is left out of this job.
func (w *RowWriter) Omit() {
	w.sep()
	w.prev[w.col][0] = -1
	w.col++
}

// Start begins a cell whose JSON value the caller appends to Buf; End
// ends it. A value the same as the previous row's becomes "=".
func (w *RowWriter) Start() int {
	w.sep()
	return len(w.Buf)
}

// End ends the cell begun at start (Start's result).
func (w *RowWriter) End(start int) {
	p := &w.prev[w.col]
	end := len(w.Buf)
	if p[0] >= 0 && bytes.Equal(w.Buf[p[0]:p[1]], w.Buf[start:end]) {
		w.Buf = append(w.Buf[:start], '=')
	} else {
		p[0], p[1] = start, end
	}
	w.col++
}

// Same writes "=": the cell holds the previous row's value of its
// column, which the caller knows it does (the row before had a value
// there, equal to this one).
func (w *RowWriter) Same() {
	w.sep()
	w.Buf = append(w.Buf, '=')
	w.col++
}

// EndNew ends the cell begun at start, whose value the caller knows
// differs from the previous row's.
func (w *RowWriter) EndNew(start int) {
	p := &w.prev[w.col]
	p[0], p[1] = start, len(w.Buf)
	w.col++
}

// Cell writes a cell of the JSON value raw.
func (w *RowWriter) Cell(raw []byte) {
	start := w.Start()
	w.Buf = append(w.Buf, raw...)
	w.End(start)
}

// EndRow ends the current job's line.
func (w *RowWriter) EndRow() {
	w.Buf = append(w.Buf, '\n')
	w.col = 0
}

// errRows says a row-form list is not well formed.
var errRows = errors.New("job list rows: not well formed")

// rowsError is errRows with where and what. While the list is decoded, at
// is a place in the decoder's buffer; decode makes it one in the list.
type rowsError struct {
	at   int
	what string
}

func (e *rowsError) Error() string { return fmt.Sprintf("%v: at byte %d: %s", errRows, e.at, e.what) }
func (e *rowsError) Unwrap() error { return errRows }

func rowsErr(at int, what string) error { return &rowsError{at: at, what: what} }

// DecodeJobRows decodes a job list in the row form into what DecodeJobList
// gives for the same list as JSON.
func DecodeJobRows(data []byte) (ListJobsResponse, error) {
	return DecodeJobRowsFrom(bytes.NewReader(data))
}

// maxRowsHint bounds the jobs a list's hint makes room for up front.
const maxRowsHint = 1 << 20

// rowsChunk is how much is read at a time.
const rowsChunk = 64 << 10

// DecodeJobRowsFrom is DecodeJobRows for a list read from r as it comes:
// each complete line is decoded while the rest is on its way.
func DecodeJobRowsFrom(r io.Reader) (ListJobsResponse, error) {
	return DecodeJobRowsInto(r, nil)
}

// DecodeJobRowsInto is DecodeJobRowsFrom that decodes the jobs into the
// memory of into (its jobs are overwritten) where it has room for the
// list's hint: a walk through a long list a page at a time (sacct over a
// history) reads each page into the last one's memory, where a page of
// new jobs each time was most of the memory it touched.
func DecodeJobRowsInto(r io.Reader, into []Job) (ListJobsResponse, error) {
	d := &rowsDecoder{r: r, buf: make([]byte, 0, rowsChunk), into: into}
	return d.decode()
}

// DecodeJobRowsEach reads a list in the row form from r as it comes and
// calls fn (not nil) with each job in turn, in the list's order; it
// returns how many there were. The job is fn's only until fn returns: the
// next is decoded into the same memory, and copies the cells it repeats
// ("=") from it, so fn must not change it (what its pointers and slices
// point at may be kept: they are decoded anew for each job). A reader that
// keeps little of each job (squeue's lines) then never holds the decoded
// list, which over thousands of jobs was most of the memory it touched,
// nor the encoded list (see rowsDecoder). An error from fn ends the decode
// and is returned as it is.
func DecodeJobRowsEach(r io.Reader, fn func(*Job) error) (int, error) {
	d := &rowsDecoder{r: r, buf: make([]byte, 0, rowsChunk), each: fn}
	res, err := d.decode()
	return res.Count, err
}

// rowsDecoder reads a row-form list into buf a chunk at a time; done is
// how much of buf has been decoded. A "=" cell of a field without a copier
// reads the column's last value again (prev), from any line before: so
// when buf is full, what has been decoded is dropped but for those cells,
// which move to its front with what is still to decode (compact). A list
// of any length is then read through the memory of a few chunks.
type rowsDecoder struct {
	r          io.Reader
	buf, spare []byte // spare: the other buffer, that compact moves into
	done       int
	eof        bool
	prev       []cellSpan // where each column's last value lies in buf
	kept       []keptCell // the cells at buf's front, in order
	dropped    int        // the list's bytes before buf[keptLen()]
	into       []Job      // memory to decode the jobs into, if it has room
	// each, if set, is given each job as it is decoded, instead of a list
	// of them; ring holds the job and the one before it ("=" cells).
	each func(*Job) error
	ring [2]Job
}

// keptCell is a cell compact moved to buf[at:end] from byte from of the
// list.
type keptCell struct{ at, end, from int }

// cellSpan is where a cell lies: its value starts at start, and end is
// the tab or newline that ends it (as the scanner found it: a tab may
// also stand between a value's JSON tokens). start is -1 for none.
type cellSpan struct{ start, end int }

func (d *rowsDecoder) keptLen() int {
	if len(d.kept) == 0 {
		return 0
	}
	return d.kept[len(d.kept)-1].end
}

// listPos turns a place in buf into one in the list, for errors.
func (d *rowsDecoder) listPos(at int) int {
	for _, k := range d.kept {
		if at < k.end {
			return k.from + at - k.at
		}
	}
	return at - d.keptLen() + d.dropped
}

// line returns the next complete line (without its newline), reading
// more as needed; ok is false at the end of the input.
func (d *rowsDecoder) line() (start, end int, err error) {
	for {
		if nl := bytes.IndexByte(d.buf[d.done:], '\n'); nl >= 0 {
			start, end = d.done, d.done+nl
			d.done = end + 1
			return start, end, nil
		}
		if d.eof {
			if d.done == len(d.buf) {
				return 0, 0, rowsErr(d.done, "the list ends without its end line: cut short")
			}
			return 0, 0, rowsErr(d.done, "the last line has no newline")
		}
		if err := d.fill(); err != nil {
			return 0, 0, err
		}
	}
}

// fill reads the next bytes into buf, compacting it first if it is
// short of room. Places in buf that the caller holds (a line's start and
// end) are no longer valid after it.
func (d *rowsDecoder) fill() error {
	if cap(d.buf)-len(d.buf) < rowsChunk/2 {
		d.compact()
	}
	n, err := d.r.Read(d.buf[len(d.buf):cap(d.buf)])
	d.buf = d.buf[:len(d.buf)+n]
	switch {
	case err == io.EOF:
		d.eof = true
	case err != nil:
		return fmt.Errorf("read a job list: %w", err)
	}
	return nil
}

// compact moves the cells prev points at, then what is not decoded yet,
// to the front of the spare buffer, which becomes buf. It is as large as
// buf, or, if they would leave it less than half a chunk of room (a line
// longer than that), twice as large: a line of megabytes is read in a
// few compactions, not one a chunk.
func (d *rowsDecoder) compact() {
	var kept []keptCell
	size := len(d.buf) - d.done
	for _, p := range d.prev {
		if p.start >= 0 {
			// The cell and the tab or newline that ends it.
			n := p.end + 1 - p.start
			kept = append(kept, keptCell{at: p.start, end: p.end + 1, from: d.listPos(p.start)})
			size += n
		}
	}
	want := cap(d.buf)
	if size+rowsChunk/2 > want {
		want = max(size+rowsChunk, 2*cap(d.buf))
	}
	next := d.spare[:0]
	if cap(next) < want {
		next = make([]byte, 0, want)
	}
	for i, k := range kept {
		at := len(next)
		next = append(next, d.buf[k.at:k.end]...)
		kept[i].at, kept[i].end = at, len(next)
	}
	c := 0
	for i, p := range d.prev {
		if p.start >= 0 {
			d.prev[i] = cellSpan{kept[c].at, kept[c].end - 1}
			c++
		}
	}
	rest := d.buf[d.done:]
	d.dropped = d.listPos(d.done) // by the cells kept before
	d.kept = kept
	d.done = len(next)
	next = append(next, rest...)
	d.spare, d.buf = d.buf[:0], next
}

func (d *rowsDecoder) decode() (ListJobsResponse, error) {
	res, err := d.decodeList()
	if re, ok := err.(*rowsError); ok {
		re.at = d.listPos(re.at)
	}
	return res, err
}

func (d *rowsDecoder) decodeList() (ListJobsResponse, error) {
	s, e, err := d.line()
	if err != nil || string(d.buf[s:e+1]) != rowsMagic {
		return ListJobsResponse{}, rowsErr(0, "no "+strconv.Quote(rowsMagic[:len(rowsMagic)-1])+" line")
	}
	if s, e, err = d.line(); err != nil {
		return ListJobsResponse{}, err
	}
	hint, err := strconv.Atoi(string(d.buf[s:e]))
	if err != nil || hint < 0 {
		return ListJobsResponse{}, rowsErr(s, "the hint is not a number of jobs")
	}
	if s, e, err = d.line(); err != nil {
		return ListJobsResponse{}, err
	}
	var fields []string
	if err := json.Unmarshal(d.buf[s:e], &fields); err != nil || len(fields) == 0 {
		return ListJobsResponse{}, rowsErr(s, "the field line is not a JSON array of field names")
	}
	copiers := make([]func(dst, src *Job), len(fields))
	seen := make(map[string]bool, len(fields))
	for c, f := range fields {
		// One column per field (as JSON matches keys: in any case), so
		// that "=" copies what the column held in the line before.
		if k := strings.ToLower(f); seen[k] {
			return ListJobsResponse{}, rowsErr(s, fmt.Sprintf("field %q comes twice", f))
		} else {
			seen[k] = true
		}
		copiers[c] = rowCopier(f)
	}
	d.prev = make([]cellSpan, len(fields))
	for c := range d.prev {
		d.prev[c].start = -1
	}
	var jobs []Job
	n := 0 // jobs decoded
	if d.each == nil {
		jobs = d.into[:0]
		if jobs == nil || cap(jobs) < min(hint, maxRowsHint) { // an empty list is [], not nil
			jobs = make([]Job, 0, min(hint, maxRowsHint))
		}
	}
	sc := &scan{}
	for {
		ls, le, err := d.line()
		if err != nil {
			return ListJobsResponse{}, err
		}
		if ls < le && d.buf[ls] == '#' {
			said, err := strconv.Atoi(string(d.buf[ls+1 : le]))
			if err != nil || said != n {
				return ListJobsResponse{}, rowsErr(ls, fmt.Sprintf("the end line says %q jobs, %d came", d.buf[ls+1:le], n))
			}
			for !d.eof && d.done == len(d.buf) {
				if err := d.fill(); err != nil {
					return ListJobsResponse{}, err
				}
			}
			if d.done != len(d.buf) {
				return ListJobsResponse{}, rowsErr(d.done, "more after the end line")
			}
			return ListJobsResponse{Count: n, Jobs: jobs}, nil
		}
		var j, before *Job
		if d.each != nil {
			j, before = &d.ring[n%2], &d.ring[(n+1)%2]
		} else {
			if len(jobs) == cap(jobs) {
				// Doubled: append's growth of a long slice (a quarter at
				// a time) made a history page of 20,000 jobs, beyond a
				// hint that counts only the live ones, copy five times
				// its size.
				jobs = slices.Grow(jobs, max(len(jobs), 16))
			}
			jobs = jobs[:n+1]
			j = &jobs[n]
			if n > 0 {
				before = &jobs[n-1]
			}
		}
		*j = Job{} // memory reused (into, the ring) holds an earlier job
		// The scanner sees the whole line and its newline, no further.
		sc.b, sc.i = d.buf[:le+1], ls
		if err := decodeRow(sc, j, before, n, fields, copiers, d.prev); err != nil {
			return ListJobsResponse{}, err
		}
		if sc.i != le {
			return ListJobsResponse{}, rowsErr(sc.i, fmt.Sprintf("job %d has more cells than the %d fields", n+1, len(fields)))
		}
		n++
		if d.each != nil {
			if err := d.each(j); err != nil {
				return ListJobsResponse{}, err
			}
		}
	}
}

// decodeRow decodes the line at s, the list's r-th job, into j; before is
// the job before it (nil for the first).
func decodeRow(s *scan, j, before *Job, r int, fields []string, copiers []func(dst, src *Job), prev []cellSpan) error {
	for c, key := range fields {
		if c > 0 {
			if s.i >= len(s.b) || s.b[s.i] != '\t' {
				return rowsErr(s.i, fmt.Sprintf("job %d has %d cells, the fields are %d", r+1, c, len(fields)))
			}
			s.i++
		}
		if s.i >= len(s.b) {
			return rowsErr(s.i, "the list ends inside a job")
		}
		switch b := s.b[s.i]; {
		case b == '\t' || b == '\n':
			prev[c].start = -1 // left out
		case b == '=':
			if prev[c].start < 0 {
				return rowsErr(s.i, fmt.Sprintf("job %d: %q repeats a value the job before does not have", r+1, key))
			}
			if cp := copiers[c]; cp != nil {
				cp(j, before)
			} else {
				at := s.i
				s.i = prev[c].start
				if err := s.rowCell(j, key); err != nil {
					return err
				}
				s.i = at
			}
			s.i++
		default:
			start := s.i
			if err := s.rowCell(j, key); err != nil {
				return err
			}
			prev[c] = cellSpan{start, s.i}
		}
	}
	return nil
}

// rowCell reads one cell's JSON value into j's field key; the value must
// end the cell.
func (s *scan) rowCell(j *Job, key string) error {
	at := s.i
	if err := s.jobField(j, key); err != nil {
		return rowsErr(at, fmt.Sprintf("the value of %q is not one a JSON list would hold", key))
	}
	if s.i < len(s.b) && s.b[s.i] != '\t' && s.b[s.i] != '\n' {
		return rowsErr(s.i, fmt.Sprintf("the value of %q does not end its cell", key))
	}
	return nil
}

// rowCopier copies field key from one job to another, for a field of a
// plain value (a copy shares nothing a decode would not); nil for the
// others (slices, pointers), which are decoded again.
func rowCopier(key string) func(dst, src *Job) {
	switch key {
	case "jobId":
		return func(d, s *Job) { d.ID = s.ID }
	case "jobName":
		return func(d, s *Job) { d.Name = s.Name }
	case "jobQueue":
		return func(d, s *Job) { d.Queue = s.Queue }
	case "script":
		return func(d, s *Job) { d.Script = s.Script }
	case "workingDir":
		return func(d, s *Job) { d.Dir = s.Dir }
	case "stdout":
		return func(d, s *Job) { d.Stdout = s.Stdout }
	case "stderr":
		return func(d, s *Job) { d.Stderr = s.Stderr }
	case "stdin":
		return func(d, s *Job) { d.Stdin = s.Stdin }
	case "resources":
		return func(d, s *Job) { d.Resources = s.Resources }
	case "priority":
		return func(d, s *Job) { d.Priority = s.Priority }
	case "nice":
		return func(d, s *Job) { d.Nice = s.Nice }
	case "dependAny":
		return func(d, s *Job) { d.DependAny = s.DependAny }
	case "held":
		return func(d, s *Job) { d.Held = s.Held }
	case "beginAt":
		return func(d, s *Job) { d.BeginAt = s.BeginAt }
	case "timeLimitSeconds":
		return func(d, s *Job) { d.TimeLimit = s.TimeLimit }
	case "noRequeue":
		return func(d, s *Job) { d.NoRequeue = s.NoRequeue }
	case "deadlineAt":
		return func(d, s *Job) { d.DeadlineAt = s.DeadlineAt }
	case "account":
		return func(d, s *Job) { d.Account = s.Account }
	case "qos":
		return func(d, s *Job) { d.QOS = s.QOS }
	case "comment":
		return func(d, s *Job) { d.Comment = s.Comment }
	case "user":
		return func(d, s *Job) { d.User = s.User }
	case "uid":
		return func(d, s *Job) { d.UID = s.UID }
	case "gid":
		return func(d, s *Job) { d.GID = s.GID }
	case "status":
		return func(d, s *Job) { d.State = s.State }
	case "statusReason":
		return func(d, s *Job) { d.StatusReason = s.StatusReason }
	case "waitReason":
		return func(d, s *Job) { d.WaitReason = s.WaitReason }
	case "estimatedStartAt":
		return func(d, s *Job) { d.EstimatedStartAt = s.EstimatedStartAt }
	case "heldByAdmin":
		return func(d, s *Job) { d.HeldByAdmin = s.HeldByAdmin }
	case "node":
		return func(d, s *Job) { d.Node = s.Node }
	case "attempt":
		return func(d, s *Job) { d.Attempt = s.Attempt }
	case "attemptsDropped":
		return func(d, s *Job) { d.AttemptsDropped = s.AttemptsDropped }
	case "signal":
		return func(d, s *Job) { d.ExitSignal = s.ExitSignal }
	case "cause":
		return func(d, s *Job) { d.Cause = s.Cause }
	case "stopRequested":
		return func(d, s *Job) { d.StopRequested = s.StopRequested }
	case "createdAt":
		return func(d, s *Job) { d.CreatedAt = s.CreatedAt }
	case "runnableAt":
		return func(d, s *Job) { d.RunnableAt = s.RunnableAt }
	case "startedAt":
		return func(d, s *Job) { d.StartedAt = s.StartedAt }
	case "stoppedAt":
		return func(d, s *Job) { d.StoppedAt = s.StoppedAt }
	}
	return nil
}
