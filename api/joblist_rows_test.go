package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// refCells is each job's cells as the JSON list writes them: the JSON
// value of each of fields ("jobId" first), nil where it is left out.
// The reference the controller's encoders are held to (daemon's tests
// compare them byte for byte).
func refCells(t testing.TB, jobs []Job, fields []string) [][][]byte {
	byName := map[string]JobField{}
	for _, f := range JobFields() {
		byName[f.Name] = f
	}
	out := make([][][]byte, len(jobs))
	for i := range jobs {
		v := reflect.ValueOf(&jobs[i]).Elem()
		for _, name := range fields {
			f, ok := byName[name]
			if !ok {
				t.Fatalf("no job field %q", name)
			}
			fv := v.FieldByIndex(f.Index)
			if f.OmitEmpty && jsonEmpty(fv) {
				out[i] = append(out[i], nil)
				continue
			}
			b, err := json.Marshal(fv.Interface())
			if err != nil {
				t.Fatal(err)
			}
			out[i] = append(out[i], b)
		}
	}
	return out
}

// jsonEmpty is encoding/json's omitempty test.
func jsonEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Struct:
		return false
	}
	return v.IsZero()
}

// refRows writes cells in the row form; refJSON as the JSON list.
func refRows(t testing.TB, cells [][][]byte, fields []string) []byte {
	return refRowsDropping(t, cells, fields, 0)
}

// refRowsDropping is refRows that drops the rows written every k rows
// (0: never), as the controller does at each flush (RowWriter.Drop).
func refRowsDropping(t testing.TB, cells [][][]byte, fields []string, every int) []byte {
	w := NewRowWriter(nil, len(fields))
	var sent []byte
	kept := 0
	// A drop keeps one value a column at most: no more than the
	// columns' largest values.
	widest := make([]int, len(fields))
	for _, row := range cells {
		for c, v := range row {
			widest[c] = max(widest[c], len(v))
		}
	}
	most := 0
	for _, n := range widest {
		most += n
	}
	for i, row := range cells {
		for _, c := range row {
			if c == nil {
				w.Omit()
			} else {
				w.Cell(c)
			}
		}
		w.EndRow()
		if every > 0 && (i+1)%every == 0 {
			sent = append(sent, w.Buf[kept:]...)
			if kept = w.Drop(); kept > most {
				t.Fatalf("every %d rows: %d bytes kept after a drop, more than the %d of a value a column", every, kept, most)
			}
		}
	}
	sent = append(sent, w.Buf[kept:]...)
	head, err := RowsHead(len(cells), fields)
	if err != nil {
		t.Fatal(err)
	}
	return append(append(append(head, sent...), RowsEnd(len(cells))...), '\n')
}

func refJSON(cells [][][]byte, fields []string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"count":%d,"jobs":[`, len(cells))
	for i, row := range cells {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		first := true
		for c, v := range row {
			if v == nil {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			fmt.Fprintf(&b, "%q:%s", fields[c], v)
		}
		b.WriteByte('}')
	}
	b.WriteString("]}")
	return []byte(b.String())
}

// rowJobs are jobs with runs of repeated values (what "=" stands for),
// a field that comes and goes, and every kind of field.
func rowJobs() []Job {
	var jobs []Job
	for i := range 6 {
		for _, j := range sampleJobs() {
			j.ID = uint64(len(jobs) + 1)
			if i%3 == 2 {
				j.Name = "other"
				j.Resources.GPUs = 0
				j.ExitCode = nil
				j.Array = nil
			}
			if i == 4 {
				j.Queues = []string{}
				j.Comment = ""
			}
			// Strings whose first escape is a quote or a backslash (a
			// start error quotes the path it could not run).
			if i == 1 {
				j.StatusReason = `exec: "job.sh": executable file not found in $PATH`
				j.Comment = `ends in \`
			}
			if i == 3 {
				j.Name = `"`
				j.StatusReason = `\"` + "\t"
			}
			jobs = append(jobs, j)
			jobs = append(jobs, j) // the same again, but its id
			jobs[len(jobs)-1].ID++
		}
	}
	return jobs
}

// TestJobRowsMatchJSON: a list in the row form decodes to the jobs the
// same list in JSON decodes to, for every field and for squeue's few,
// repeated values ("=") and left out ones (empty cells) included; and
// the row form is smaller.
func TestJobRowsMatchJSON(t *testing.T) {
	var all []string
	for _, f := range JobFields() {
		all = append(all, f.Name)
	}
	sets := map[string][]string{
		"all":    all,
		"squeue": {"jobId", "jobName", "jobQueue", "resources", "priority", "held", "user", "uid", "status", "array", "exitCode", "createdAt"},
		"id":     {"jobId"},
	}
	for name, fields := range sets {
		for _, jobs := range [][]Job{rowJobs(), sampleJobs()[:1], nil} {
			cells := refCells(t, jobs, fields)
			rows, js := refRows(t, cells, fields), refJSON(cells, fields)
			want, err := DecodeJobList(js)
			if err != nil {
				t.Fatalf("%s: the reference JSON %s does not decode: %v", name, js, err)
			}
			got, err := DecodeJobRows(rows)
			if err != nil {
				t.Fatalf("%s: rows %q: %v", name, rows, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s, %d jobs: rows decode to\n%+v\nJSON to\n%+v", name, len(jobs), got, want)
			}
			// Read as it comes, a byte at a time, the same.
			if got, err := DecodeJobRowsFrom(iotest.OneByteReader(bytes.NewReader(rows))); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%s, %d jobs, a byte at a time: %+v, %v; want %+v", name, len(jobs), got, err, want)
			}
			// Into memory that holds other jobs (every field set, a
			// page read before), the same, in that memory.
			into := slices.Repeat(sampleJobs(), len(jobs)+1)
			if got, err := DecodeJobRowsInto(bytes.NewReader(rows), into); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%s, %d jobs, into other jobs: %+v, %v; want %+v", name, len(jobs), got, err, want)
			} else if len(got.Jobs) > 0 && &got.Jobs[0] != &into[0] {
				t.Errorf("%s, %d jobs, into room for %d: decoded into new memory", name, len(jobs), len(into))
			}
			// Job by job, a byte at a time, the same jobs, in order.
			var each []Job
			n, err := DecodeJobRowsEach(iotest.OneByteReader(bytes.NewReader(rows)), func(j *Job) error {
				each = append(each, *j)
				return nil
			})
			if err != nil || n != len(want.Jobs) || len(each) != n || (n > 0 && !reflect.DeepEqual(each, want.Jobs)) {
				t.Errorf("%s, %d jobs, job by job: %d jobs %+v, %v; want %+v", name, len(jobs), n, each, err, want.Jobs)
			}
			// Cut anywhere, refused.
			if got, err := DecodeJobRows(rows[:len(rows)*2/3]); err == nil {
				t.Errorf("%s, %d jobs, cut short: %+v; want an error", name, len(jobs), got)
			}
			if len(jobs) > 2 && len(rows) >= len(js) {
				t.Errorf("%s: rows %d bytes, JSON %d; want fewer", name, len(rows), len(js))
			}
		}
	}
}

// TestRowWriterDrop: rows whose sent part is dropped every k rows (the
// controller drops after each flush) are the same bytes as rows kept
// whole, repeats ("=") across a drop included, and a drop keeps no more
// than a value a column (refRowsDropping).
func TestRowWriterDrop(t *testing.T) {
	var all []string
	for _, f := range JobFields() {
		all = append(all, f.Name)
	}
	cells := refCells(t, rowJobs(), all)
	whole := refRows(t, cells, all)
	for _, every := range []int{1, 2, 3, 7, len(cells)} {
		if got := refRowsDropping(t, cells, all, every); !bytes.Equal(got, whole) {
			t.Errorf("dropping every %d rows:\n%s\nwant\n%s", every, got, whole)
		}
	}
}

// TestJobRowsEachStops: an error from the function given each job ends
// the decode, and is what it returns.
func TestJobRowsEachStops(t *testing.T) {
	rows := refRows(t, refCells(t, rowJobs(), []string{"jobId"}), []string{"jobId"})
	stop := errors.New("enough")
	seen := 0
	_, err := DecodeJobRowsEach(bytes.NewReader(rows), func(*Job) error {
		seen++
		return stop
	})
	if err != stop || seen != 1 {
		t.Errorf("stopped at the first job: %d jobs seen, error %v; want 1 and %v", seen, err, stop)
	}
}

// TestJobRowsRefused: a row-form list that is not well formed is refused
// with what is wrong, never read as a shorter list.
func TestJobRowsRefused(t *testing.T) {
	head := "shoal-rows 1\n"
	cases := map[string]string{
		"no magic":        `{"count":0,"jobs":[]}`,
		"no hint":         head,
		"bad hint":        head + "x\n[\"jobId\"]\n#0\n",
		"no fields":       head + "1\n",
		"fields not JSON": head + "1\n[jobId]\n1\n#1\n",
		"no field":        head + "0\n[]\n#0\n",
		"twice":           head + "1\n[\"jobId\",\"JOBID\"]\n1\t2\n#1\n",
		"end lies":        head + "3\n[\"jobId\"]\n1\n2\n#3\n",
		"no end":          head + "1\n[\"jobId\"]\n1\n",
		"after the end":   head + "1\n[\"jobId\"]\n1\n#1\n2\n",
		"end unended":     head + "1\n[\"jobId\"]\n1\n#1",
		"short row":       head + "1\n[\"jobId\",\"jobName\"]\n1\n#1\n",
		"long row":        head + "1\n[\"jobId\"]\n1\t\"x\"\n#1\n",
		"cut":             head + "1\n[\"jobId\",\"jobName\"]\n1\t\"x",
		"first repeats":   head + "1\n[\"jobId\",\"jobName\"]\n1\t=\n#1\n",
		"repeats nothing": head + "2\n[\"jobId\",\"jobName\"]\n1\t\n2\t=\n#2\n",
		"bad value":       head + "1\n[\"jobId\",\"held\"]\n1\ttru\n#1\n",
		"value and more":  head + "1\n[\"jobId\",\"held\"]\n1\ttrue false\n#1\n",
		"wrong type":      head + "1\n[\"jobId\",\"jobName\"]\n1\t5\n#1\n",
	}
	for name, in := range cases {
		if got, err := DecodeJobRows([]byte(in)); err == nil {
			t.Errorf("%s: %q decoded to %+v; want an error", name, in, got)
		}
	}
}

func FuzzDecodeJobRows(f *testing.F) {
	var all []string
	for _, fl := range JobFields() {
		all = append(all, fl.Name)
	}
	f.Add(refRows(f, refCells(f, rowJobs(), all), all))
	f.Add([]byte("shoal-rows 1\n2\n[\"jobId\",\"jobName\",\"exitCode\"]\n1\t\"a\\tb\"\t0\n2\t=\t\n#2\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := DecodeJobRows(in)
		if err != nil {
			return
		}
		if got.Count != len(got.Jobs) {
			t.Fatalf("count %d, %d jobs", got.Count, len(got.Jobs))
		}
		// What decodes, written again and read back, is the same list.
		var fields []string
		rest := in[len(rowsMagic):]
		rest = rest[strings.IndexByte(string(rest), '\n')+1:] // the hint
		if err := json.Unmarshal(rest[:strings.IndexByte(string(rest), '\n')], &fields); err != nil {
			t.Fatalf("decoded, but its field line does not: %v", err)
		}
		// Known as JSON knows a key: in any case ("joBNAme" is jobName).
		var known []string
		for _, fl := range JobFields() {
			for _, n := range fields {
				if strings.EqualFold(n, fl.Name) {
					known = append(known, fl.Name)
				}
			}
		}
		if len(known) == 0 {
			// Only fields this client does not know: each row decodes to
			// an empty job, and there is no list of no fields to write.
			for i, j := range got.Jobs {
				if !reflect.DeepEqual(j, Job{}) {
					t.Fatalf("job %d of unknown fields only decoded to %+v", i, j)
				}
			}
			return
		}
		cells := refCells(t, got.Jobs, known)
		again, err := DecodeJobRows(refRows(t, cells, known))
		if err != nil {
			t.Fatalf("written again: %v", err)
		}
		want, err := DecodeJobList(refJSON(cells, known))
		if err != nil {
			t.Fatalf("as JSON: %v", err)
		}
		if !reflect.DeepEqual(again, want) {
			t.Fatalf("written again, rows decode to %+v, JSON to %+v", again, want)
		}
	})
}

// longRowJobs are n jobs in runs: values repeat ("=") for runs long
// enough that a cell repeated reads back across many chunks of the list,
// for fields with a copier and without (slices, maps, pointers).
func longRowJobs(n int) []Job {
	base := sampleJobs()[1]
	jobs := make([]Job, n)
	for i := range jobs {
		j := base
		j.ID = uint64(i + 1)
		if i/1500%2 == 1 { // runs of 1,500 (~90 KB): other values, then back
			j.Name = fmt.Sprintf("run-%d", i/1500)
			j.Queues = []string{"q", fmt.Sprint(i / 1500)}
			j.Env = map[string]string{"RUN": fmt.Sprint(i / 1500)}
		}
		if i%7 == 0 {
			j.Comment = "" // left out now and then
		}
		jobs[i] = j
	}
	return jobs
}

// TestJobRowsLongList: a list many times longer than the decoder's chunk
// decodes as its JSON does, read whole, a byte at a time, and job by
// job, while the decoder holds a few chunks of it, not all of it; an
// error far into it names its place in the list.
func TestJobRowsLongList(t *testing.T) {
	var fields []string
	for _, f := range JobFields() {
		fields = append(fields, f.Name)
	}
	cells := refCells(t, longRowJobs(8000), fields)
	rows, js := refRows(t, cells, fields), refJSON(cells, fields)
	if len(rows) < 10*rowsChunk {
		t.Fatalf("the list is %d bytes; want it many chunks long", len(rows))
	}
	want, err := DecodeJobList(js)
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]func() io.Reader{
		"whole":      func() io.Reader { return bytes.NewReader(rows) },
		"byte":       func() io.Reader { return iotest.OneByteReader(bytes.NewReader(rows)) },
		"half chunk": func() io.Reader { return iotest.HalfReader(bytes.NewReader(rows)) },
	} {
		d := &rowsDecoder{r: r(), buf: make([]byte, 0, rowsChunk)}
		got, err := d.decode()
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %d jobs, %v; want the %d of the JSON list", name, len(got.Jobs), err, len(want.Jobs))
		}
		// Its lines are far shorter than a chunk: the two buffers it
		// began with were all it needed.
		if cap(d.buf) != rowsChunk || cap(d.spare) != rowsChunk {
			t.Errorf("%s: the decoder's buffers grew to %d and %d bytes over a %d-byte list; want the %d of a chunk each", name, cap(d.buf), cap(d.spare), len(rows), rowsChunk)
		}
		i := 0
		if _, err := DecodeJobRowsEach(r(), func(j *Job) error {
			if !reflect.DeepEqual(*j, want.Jobs[i]) {
				return fmt.Errorf("job %d: %+v; want %+v", i, *j, want.Jobs[i])
			}
			i++
			return nil
		}); err != nil || i != len(want.Jobs) {
			t.Fatalf("%s, job by job: %d jobs, %v", name, i, err)
		}
	}
	// A bad cell far into the list: the error says where it is.
	bad := bytes.Clone(rows)
	at := bytes.Index(bad, []byte(`"run-3"`)) // the name of job 4,501
	bad[at] = 'X'
	_, err = DecodeJobRowsFrom(iotest.HalfReader(bytes.NewReader(bad)))
	if want := fmt.Sprintf("at byte %d:", at); err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, errRows) {
		t.Errorf("a bad cell at byte %d: %v; want an error that says %q", at, err, want)
	}
}

// TestJobRowsLongLines: lines longer than a chunk (a job's whole script)
// among short ones grow the decoder's buffers, and decode as JSON does.
func TestJobRowsLongLines(t *testing.T) {
	jobs := longRowJobs(3000)
	for _, i := range []int{10, 11, 1700, 2999} {
		jobs[i].Script = strings.Repeat("echo a long line\n", 10000) // 170 KB
	}
	fields := []string{"jobId", "jobName", "script", "jobQueues"}
	cells := refCells(t, jobs, fields)
	rows, js := refRows(t, cells, fields), refJSON(cells, fields)
	want, err := DecodeJobList(js)
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]io.Reader{
		"whole":      bytes.NewReader(rows),
		"half chunk": iotest.HalfReader(bytes.NewReader(rows)),
	} {
		if got, err := DecodeJobRowsFrom(r); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %d jobs, %v; want the %d of the JSON list", name, len(got.Jobs), err, len(want.Jobs))
		}
	}
}

// TestJobRowsLineOfMegabytes: a line of megabytes (a job's script) grows
// the decoder's buffers by doubling, read however it comes: growing them
// a chunk at a time copied the line over and over (180 MB made for a
// 4 MB line).
func TestJobRowsLineOfMegabytes(t *testing.T) {
	jobs := sampleJobs()[:1]
	jobs[0].Script = strings.Repeat("x", 4<<20)
	fields := []string{"jobId", "script"}
	rows := refRows(t, refCells(t, jobs, fields), fields)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := DecodeJobRowsFrom(iotest.HalfReader(bytes.NewReader(rows)))
	runtime.ReadMemStats(&after)
	if err != nil || len(got.Jobs) != 1 || got.Jobs[0].Script != jobs[0].Script {
		t.Fatalf("decoded %d jobs, %v; want the one with its 4 MB script", len(got.Jobs), err)
	}
	if made := after.TotalAlloc - before.TotalAlloc; made > 12*uint64(len(rows)) {
		t.Errorf("decoding a %d-byte line made %d bytes; want a few times the line", len(rows), made)
	}
}

// TestJobRowsTabInValue: a tab between a value's JSON tokens (whitespace
// to JSON) does not end the cell, also when the cell is kept for the "="
// of many chunks of lines after it.
func TestJobRowsTabInValue(t *testing.T) {
	var b strings.Builder
	b.WriteString("shoal-rows 1\n40000\n[\"jobId\",\"jobQueues\"]\n1\t[\"a\",\t\"b\"]\n")
	for id := 2; id <= 40000; id++ {
		fmt.Fprintf(&b, "%d\t=\n", id)
	}
	b.WriteString("#40000\n")
	if b.Len() < 4*rowsChunk {
		t.Fatalf("the list is %d bytes; want several chunks", b.Len())
	}
	got, err := DecodeJobRowsFrom(iotest.HalfReader(strings.NewReader(b.String())))
	if err != nil || len(got.Jobs) != 40000 {
		t.Fatalf("decoded %d jobs, %v; want 40000", len(got.Jobs), err)
	}
	for _, i := range []int{0, 20000, 39999} {
		if q := got.Jobs[i].Queues; !slices.Equal(q, []string{"a", "b"}) {
			t.Errorf("job %d's queues %q, want [a b]", i+1, q)
		}
	}
}

// FuzzJobStrings: any strings a job holds come back from a list, in rows
// and in JSON (a decoder that misreads an escape refuses the list, or
// worse, reads past the string's end).
func FuzzJobStrings(f *testing.F) {
	f.Add("a", `exec: "x": not found`, `\`, "k", "v")
	f.Add(`"`, `\"`, `a\\"b`, `\u00e9`, "\x00\t\n")
	f.Add("\xff", "é ✓", "", "", "")
	f.Fuzz(func(t *testing.T, name, reason, comment, key, value string) {
		j := sampleJobs()[1]
		j.Name, j.StatusReason, j.Comment = name, reason, comment
		j.Env = map[string]string{key: value}
		j.Queues = []string{name, comment}
		jobs := []Job{j, j}
		jobs[1].ID++
		fields := []string{"jobId", "jobName", "statusReason", "comment", "environment", "jobQueues"}
		cells := refCells(t, jobs, fields)
		want, err := slowList(refJSON(cells, fields))
		if err != nil {
			t.Fatalf("the reference JSON does not decode: %v", err)
		}
		got, err := DecodeJobList(refJSON(cells, fields))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("JSON list: %+v, %v; want %+v", got, err, want)
		}
		rows := refRows(t, cells, fields)
		if got, err := DecodeJobRows(rows); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("rows %q: %+v, %v; want %+v", rows, got, err, want)
		}
	})
}
