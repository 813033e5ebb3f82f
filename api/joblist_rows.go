package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/internal/hugepage"
)

// The job list's row form: what squeue and sacct ask for
// (ListJobsRequest.Form = ListFormRows) instead of JSON. A JSON list
// repeats every key in every job, and the same queue, user, state and
// resources in job after job; over 20,000 jobs the keys and repeats were
// most of the answer's bytes, and of the work of writing and reading it.
// The row form names the fields once and writes each job as one line of
// cells, one per field, in that order:
//
//	shoal-rows 1\n
//	COUNT\n
//	["jobId","jobName",...]\n     the fields, a JSON array
//	CELL\tCELL\t...\n             one line per job, COUNT of them
//
// A cell is empty where the JSON list leaves the key out (omitempty and
// zero), "=" where the value is the same as in the line before (which has
// the value, not an empty cell), and otherwise the value as the JSON list
// writes it. JSON writes no tab or newline outside a string and escapes
// them inside one, so neither ends a cell early. Old clients never ask
// for it: the JSON list is unchanged.

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
}

// NewRowWriter writes rows of n fields after the bytes already in buf.
func NewRowWriter(buf []byte, n int) *RowWriter {
	w := &RowWriter{Buf: buf, prev: make([][2]int, n)}
	for i := range w.prev {
		w.prev[i][0] = -1
	}
	return w
}

// RowsHead is the head of a row-form list of count jobs with fields.
func RowsHead(count int, fields []string) ([]byte, error) {
	names, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("encode the field names of a job list: %w", err)
	}
	head := make([]byte, 0, len(rowsMagic)+24+len(names))
	head = append(head, rowsMagic...)
	head = strconv.AppendInt(head, int64(count), 10)
	head = append(head, '\n')
	head = append(head, names...)
	return append(head, '\n'), nil
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

// rowsErr is errRows with where and what.
func rowsErr(at int, what string) error {
	return fmt.Errorf("%w: at byte %d: %s", errRows, at, what)
}

// DecodeJobRows decodes a job list in the row form into what DecodeJobList
// gives for the same list as JSON.
func DecodeJobRows(data []byte) (ListJobsResponse, error) {
	if !bytes.HasPrefix(data, []byte(rowsMagic)) {
		return ListJobsResponse{}, rowsErr(0, "no "+strconv.Quote(rowsMagic[:len(rowsMagic)-1])+" line")
	}
	i := len(rowsMagic)
	nl := bytes.IndexByte(data[i:], '\n')
	if nl < 0 {
		return ListJobsResponse{}, rowsErr(i, "no count line")
	}
	count, err := strconv.Atoi(string(data[i : i+nl]))
	if err != nil || count < 0 {
		return ListJobsResponse{}, rowsErr(i, "the count is not a number of jobs")
	}
	i += nl + 1
	nl = bytes.IndexByte(data[i:], '\n')
	if nl < 0 {
		return ListJobsResponse{}, rowsErr(i, "no field line")
	}
	var fields []string
	if err := json.Unmarshal(data[i:i+nl], &fields); err != nil || len(fields) == 0 {
		return ListJobsResponse{}, rowsErr(i, "the field line is not a JSON array of field names")
	}
	i += nl + 1
	// Each line is at least one byte and its newline.
	if count > (len(data)-i)/2 {
		return ListJobsResponse{}, rowsErr(i, fmt.Sprintf("%d jobs announced, room for fewer", count))
	}
	copiers := make([]func(dst, src *Job), len(fields))
	seen := make(map[string]bool, len(fields))
	for c, f := range fields {
		// One column per field (as JSON matches keys: in any case), so
		// that "=" copies what the column held in the line before.
		if k := strings.ToLower(f); seen[k] {
			return ListJobsResponse{}, rowsErr(i, fmt.Sprintf("field %q comes twice", f))
		} else {
			seen[k] = true
		}
		copiers[c] = rowCopier(f)
	}
	prev := make([]int, len(fields)) // where the column's last value starts
	for c := range prev {
		prev[c] = -1
	}
	out := ListJobsResponse{Count: count, Jobs: make([]Job, count)}
	hugepage.Slice(out.Jobs)
	s := &scan{b: data, i: i}
	for r := range count {
		j := &out.Jobs[r]
		for c, key := range fields {
			if c > 0 {
				if s.i >= len(s.b) || s.b[s.i] != '\t' {
					return ListJobsResponse{}, rowsErr(s.i, fmt.Sprintf("job %d has %d cells, the fields are %d", r+1, c, len(fields)))
				}
				s.i++
			}
			if s.i >= len(s.b) {
				return ListJobsResponse{}, rowsErr(s.i, "the list ends inside a job")
			}
			switch b := s.b[s.i]; {
			case b == '\t' || b == '\n':
				prev[c] = -1 // left out
			case b == '=':
				if prev[c] < 0 {
					return ListJobsResponse{}, rowsErr(s.i, fmt.Sprintf("job %d: %q repeats a value the job before does not have", r+1, key))
				}
				if cp := copiers[c]; cp != nil {
					cp(j, &out.Jobs[r-1])
				} else {
					at := s.i
					s.i = prev[c]
					if err := s.rowCell(j, key); err != nil {
						return ListJobsResponse{}, err
					}
					s.i = at
				}
				s.i++
			default:
				prev[c] = s.i
				if err := s.rowCell(j, key); err != nil {
					return ListJobsResponse{}, err
				}
			}
		}
		if s.i >= len(s.b) || s.b[s.i] != '\n' {
			return ListJobsResponse{}, rowsErr(s.i, fmt.Sprintf("job %d has more cells than the %d fields", r+1, len(fields)))
		}
		s.i++
	}
	if s.i != len(s.b) {
		return ListJobsResponse{}, rowsErr(s.i, fmt.Sprintf("more than the %d jobs announced", count))
	}
	return out, nil
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
