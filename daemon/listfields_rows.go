package daemon

import (
	"encoding"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
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
	off  uintptr // a plain field's offset in api.Job
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
		return rowCol{kind: k, off: off, pf: f}
	}
	if !plainKinds[t.Kind()] || t.Implements(jm) || pt.Implements(jm) || t.Implements(tm) || pt.Implements(tm) {
		return rowCol{pf: f}
	}
	return rowCol{kind: t.Kind(), off: off, pf: f}
}

// rowBufs keeps the buffers of answers in the row form between lists
// (squeue in a loop lists the same jobs again and again).
var rowBufs sync.Pool

// maxPooledRows is the largest buffer kept.
const maxPooledRows = 8 << 20

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
	cols := make([]rowCol, len(p))
	for i := range p {
		names[i] = p[i].Name
		cols[i] = rowColOf(&p[i])
	}
	var buf []byte
	if b, ok := rowBufs.Get().(*[]byte); ok {
		buf = (*b)[:0]
	}
	w := api.NewRowWriter(buf, len(p))
	// The previous job's value of each plain column, and whether it had
	// one (not left out): a string's, or an integer's or bool's bits.
	prevStr := make([]string, len(cols))
	prevNum := make([]uint64, len(cols))
	had := make([]bool, len(cols))
	n, live := 0, 0
	err = c.eachListedCounted(who, req, func(k int) { live = k }, func(j *api.Job) error {
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
					w.Omit()
					had[i] = false
				case had[i] && s == prevStr[i]:
					w.Same()
				default:
					start := w.Start()
					w.Buf = appendJSONString(w.Buf, s)
					w.EndNew(start)
					prevStr[i], had[i] = s, true
				}
				continue
			case reflect.Slice, reflect.Pointer, reflect.Invalid:
				if col.kind == reflect.Slice && len(*(*[]byte)(at)) == 0 ||
					col.kind == reflect.Pointer && *(*unsafe.Pointer)(at) == nil ||
					col.kind == reflect.Invalid && col.pf.omit(j, &v) {
					w.Omit()
					continue
				}
				start := w.Start()
				var err error
				if w.Buf, err = col.pf.appendValue(w.Buf, j, &v); err != nil {
					return err
				}
				w.End(start) // compared as bytes
				continue
			}
			var bits uint64
			switch col.kind {
			case reflect.Bool:
				if *(*bool)(at) {
					bits = 1
				}
			case reflect.Int:
				bits = uint64(int64(*(*int)(at)))
			case reflect.Int64:
				bits = uint64(*(*int64)(at))
			case reflect.Int32:
				bits = uint64(int64(*(*int32)(at)))
			case reflect.Uint64:
				bits = *(*uint64)(at)
			case reflect.Uint32:
				bits = uint64(*(*uint32)(at))
			}
			switch {
			case bits == 0 && col.pf.OmitEmpty:
				w.Omit()
				had[i] = false
			case had[i] && bits == prevNum[i]:
				w.Same()
			default:
				start := w.Start()
				switch col.kind {
				case reflect.Bool:
					w.Buf = strconv.AppendBool(w.Buf, bits == 1)
				case reflect.Uint64, reflect.Uint32:
					w.Buf = strconv.AppendUint(w.Buf, bits, 10)
				default:
					w.Buf = strconv.AppendInt(w.Buf, int64(bits), 10)
				}
				w.EndNew(start)
				prevNum[i], had[i] = bits, true
			}
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
	size := len(head) + len(l.buf)
	if cap(l.buf) <= maxPooledRows {
		b := l.buf[:0]
		rowBufs.Put(&b) // written: net/http keeps no reference to it
	}
	if l.c != nil && l.c.answered.Add(int64(size)) > bigAnswer {
		l.c.releaseSoon()
	}
}
