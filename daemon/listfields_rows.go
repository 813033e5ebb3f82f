package daemon

import (
	"encoding"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"unsafe"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/reply"
)

// A job list in the row form (api.ListFormRows, api/joblist_rows.go): the
// projection's fields named once, then one line of cells per job, each
// value written as the JSON list writes it, and "=" where it repeats the
// job before's. squeue's 20,000 held jobs share their queue, user, state
// and resources: most of each line is then "=" and empty cells, a
// fraction of the JSON list's bytes to write, send and read.
//
// A field of a plain kind (string, integer, bool) is read at its offset
// in the job and compared with the job before's as a value, with no
// encoder called for a repeat; the others go through the projection's
// encoders (listfields.go), compared as bytes. TestListRowsMatchJSON
// holds the rows to the JSON list's values.

// rowCol is how one field of a projection is written in rows.
type rowCol struct {
	// kind is a plain field's; reflect.Invalid: through pf; Slice or
	// Pointer (omitempty): through pf, but for the test of an empty one.
	kind reflect.Kind
	off  uintptr // the field's offset in api.Job
	size uintptr // and its size
	pf   *projField
}

// plainKinds are the kinds read at an offset.
var plainKinds = map[reflect.Kind]bool{
	reflect.String: true, reflect.Bool: true,
	reflect.Int: true, reflect.Int64: true, reflect.Int32: true,
	reflect.Uint64: true, reflect.Uint32: true,
}

// rowColOf makes f's column: plain when its kind is, and its type does
// not encode itself (then encoding/json would call that).
func rowColOf(f *projField) rowCol {
	t := reflect.TypeFor[api.Job]()
	var off uintptr
	for _, i := range f.Index {
		sf := t.Field(i)
		off += sf.Offset
		t = sf.Type
	}
	var (
		jm = reflect.TypeFor[json.Marshaler]()
		tm = reflect.TypeFor[encoding.TextMarshaler]()
	)
	pt := reflect.PointerTo(t)
	if k := t.Kind(); (k == reflect.Slice || k == reflect.Pointer) && f.OmitEmpty {
		// Through pf, but for the test of an empty one (most are): a
		// slice's length is where any slice's is, whatever its elements.
		return rowCol{kind: k, off: off, size: t.Size(), pf: f}
	}
	if !plainKinds[t.Kind()] || t.Implements(jm) || pt.Implements(jm) || t.Implements(tm) || pt.Implements(tm) {
		return rowCol{off: off, size: t.Size(), pf: f}
	}
	return rowCol{kind: t.Kind(), off: off, size: t.Size(), pf: f}
}

// bits is a plain column's value of a kind other than string, as bits:
// an integer's, or 1 for true.
func (col *rowCol) bits(at unsafe.Pointer) uint64 {
	switch col.kind {
	case reflect.Bool:
		if *(*bool)(at) {
			return 1
		}
	case reflect.Int:
		return uint64(int64(*(*int)(at)))
	case reflect.Int64:
		return uint64(*(*int64)(at))
	case reflect.Int32:
		return uint64(int64(*(*int32)(at)))
	case reflect.Uint64:
		return *(*uint64)(at)
	case reflect.Uint32:
		return uint64(*(*uint32)(at))
	}
	return 0
}

// rowBufs keeps the buffers of answers in the row form between lists
// (squeue in a loop lists the same jobs again and again).
var rowBufs sync.Pool

// maxPooledRows is the largest buffer kept.
const maxPooledRows = 8 << 20

// rowsFlush is how much of a list in the row form is made before it is
// sent: the client reads the first lines while the next are made.
const rowsFlush = 32 << 10

// listFieldsRows is listFieldsJSON for a request in the row form: what
// can be refused is refused here, with an error answer; the list itself
// is made while it is written (rowsWriter.write).
func (c *Controller) listFieldsRows(who caller, req api.ListJobsRequest) (jobListJSON, error) {
	if err := checkPaging(req); err != nil {
		return jobListJSON{}, err
	}
	fields := req.Fields
	if len(fields) == 0 {
		fields = allJobFields()
	}
	p, err := newProjection(fields)
	if err != nil {
		return jobListJSON{}, err
	}
	rw := &rowsWriter{c: c, who: who, req: req, p: p}
	return jobListJSON{c: c, rows: rw.write}, nil
}

// rowsWriter writes one list in the row form.
type rowsWriter struct {
	c   *Controller
	who caller
	req api.ListJobsRequest
	p   projection
	w   http.ResponseWriter
	// buf holds the rows made since the last flush, after the values
	// they may repeat (sent bytes of it, already written); size is how
	// many bytes the answer has had so far, and started whether its
	// status has been written.
	buf     *api.RowWriter
	sent    int
	size    int
	started bool
}

// flush sends what is made; the first flush answers 200, and from then
// on a failure can only cut the answer short (its end line then never
// comes, and the client refuses it).
func (rw *rowsWriter) flush() {
	if !rw.started {
		rw.w.Header().Set("Content-Type", api.ContentTypeJobRows)
		rw.w.WriteHeader(http.StatusOK)
		rw.started = true
	}
	if _, err := rw.w.Write(rw.buf.Buf[rw.sent:]); err != nil {
		panic(http.ErrAbortHandler) // the client went: stop making the list
	}
	rw.size += len(rw.buf.Buf) - rw.sent
	rw.sent = rw.buf.Drop() // net/http copied what it was given
}

// write makes the list and writes it to w.
func (rw *rowsWriter) write(w http.ResponseWriter) {
	rw.w = w
	p := rw.p
	names := make([]string, len(p))
	cols := make([]rowCol, len(p))
	for i := range p {
		names[i] = p[i].Name
		cols[i] = rowColOf(&p[i])
	}
	var buf []byte
	if b, ok := rowBufs.Get().(*[]byte); ok {
		buf = (*b)[:0]
	}
	wr := api.NewRowWriter(buf, len(p))
	rw.buf = wr
	// The previous job's value of each plain column, and whether it had
	// one (not left out): a string's, or an integer's or bool's bits.
	prevStr := make([]string, len(cols))
	prevNum := make([]uint64, len(cols))
	had := make([]bool, len(cols))
	n := 0
	var herr error
	counted := func(k int) {
		head, err := api.RowsHead(k, names)
		if err != nil { // field names are JSON keys: they always encode
			herr = err
			return
		}
		wr.Buf = append(wr.Buf, head...)
	}
	group := newTaskGroup(cols)
	writeRow := func(j *api.Job) error {
		n++
		base := unsafe.Pointer(j)
		var v reflect.Value
		for i := range cols {
			col := &cols[i]
			at := unsafe.Add(base, col.off)
			switch col.kind {
			case reflect.String:
				s := *(*string)(at)
				switch {
				case s == "" && col.pf.OmitEmpty:
					wr.Omit()
					had[i] = false
				case had[i] && s == prevStr[i]:
					wr.Same()
				default:
					start := wr.Start()
					wr.Buf = appendJSONString(wr.Buf, s)
					wr.EndNew(start)
					prevStr[i], had[i] = s, true
				}
				continue
			case reflect.Slice, reflect.Pointer, reflect.Invalid:
				if col.kind == reflect.Slice && len(*(*[]byte)(at)) == 0 ||
					col.kind == reflect.Pointer && *(*unsafe.Pointer)(at) == nil ||
					col.kind == reflect.Invalid && col.pf.omit(j, &v) {
					wr.Omit()
					continue
				}
				start := wr.Start()
				var err error
				if wr.Buf, err = col.pf.appendValue(wr.Buf, j, &v); err != nil {
					return err
				}
				wr.End(start) // compared as bytes
				continue
			}
			bits := col.bits(at)
			switch {
			case bits == 0 && col.pf.OmitEmpty:
				wr.Omit()
				had[i] = false
			case had[i] && bits == prevNum[i]:
				wr.Same()
			default:
				start := wr.Start()
				switch col.kind {
				case reflect.Bool:
					wr.Buf = strconv.AppendBool(wr.Buf, bits == 1)
				case reflect.Uint64, reflect.Uint32:
					wr.Buf = strconv.AppendUint(wr.Buf, bits, 10)
				default:
					wr.Buf = strconv.AppendInt(wr.Buf, int64(bits), 10)
				}
				wr.EndNew(start)
				prevNum[i], had[i] = bits, true
			}
		}
		wr.EndRow()
		if len(wr.Buf)-rw.sent >= rowsFlush {
			rw.flush()
		}
		return nil
	}
	err := rw.c.eachListedCounted(rw.who, rw.req, counted, func(j *api.Job) error {
		if herr != nil {
			return herr
		}
		if !rw.req.GroupTasks {
			return writeRow(j)
		}
		if group.takes(j) {
			return nil
		}
		if err := group.flush(writeRow); err != nil {
			return err
		}
		if groupable(j) {
			group.open(j)
			return nil
		}
		return writeRow(j)
	})
	if err == nil {
		err = herr
	}
	if err == nil {
		err = group.flush(writeRow)
	}
	if err != nil {
		if !rw.started {
			reply.Error(w, err) // nothing sent yet: an answer of its own
			return
		}
		rw.c.log.Warn("list jobs: cut short", "error", err)
		panic(http.ErrAbortHandler)
	}
	wr.Buf = append(append(wr.Buf, api.RowsEnd(n)...), '\n')
	rw.flush()
	if cap(wr.Buf) <= maxPooledRows {
		b := wr.Buf[:0]
		rowBufs.Put(&b) // written: net/http keeps no reference to it
	}
	if rw.c.answered.Add(int64(rw.size)) > bigAnswer {
		rw.c.releaseSoon()
	}
}
