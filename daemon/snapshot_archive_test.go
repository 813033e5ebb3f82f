package daemon

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/daemon/archive"
)

// TestArchiveSplitter: the archived jobs' lines of a snapshot, long ones
// and a last one without its newline included, go to the archive; the
// FSM reads every other byte as it was.
func TestArchiveSplitter(t *testing.T) {
	store, err := archive.Open(filepath.Join(t.TempDir(), "archive.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	line := func(j *api.Job) string {
		data, err := json.Marshal(archivedJobRecord{Job: j})
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	big := &api.Job{ID: 7, User: "ann", State: api.StateSucceeded, StoppedAt: 5}
	big.Env = map[string]string{"BIG": strings.Repeat("x", 300_000)} // past the reader's buffer
	fsmLines := `{"meta":{"x":1}}` + "\n" + `{"job":{"jobId":9,"env":{"V":"` + strings.Repeat("y", 200_000) + `"}}}` + "\n"
	in := fsmLines[:17] + line(big) + "\n" + fsmLines[17:] + line(&api.Job{ID: 8, User: "bo", State: api.StateFailed, StoppedAt: 6})
	var out bytes.Buffer
	split := newArchiveSplitter(strings.NewReader(in), store)
	if _, err := io.Copy(&out, split); err != nil {
		t.Fatalf("read the split snapshot: %v", err)
	}
	if out.String() != fsmLines {
		t.Errorf("the FSM read %d bytes, want the %d of its own lines, unchanged", out.Len(), len(fsmLines))
	}
	if n, err := store.Count(); err != nil || n != 2 {
		t.Fatalf("archive holds %d jobs (%v), want 2", n, err)
	}
	if j, err := store.Get(7); err != nil || j == nil || len(j.Env["BIG"]) != 300_000 {
		t.Errorf("archived job 7: %v; want it whole", err)
	}

	// A damaged archived job's line fails the restore, saying so.
	_, err = io.Copy(io.Discard, newArchiveSplitter(strings.NewReader(`{"archivedJob":{"jobId":`+"\n"), store))
	if err == nil || !strings.Contains(err.Error(), "damaged archived job") {
		t.Errorf("a truncated archived job line: got %v, want an error naming it", err)
	}
}

// BenchmarkSnapshotArchive measures what the archive adds to a raft
// snapshot of a controller with the embedded archive: writing N archived
// jobs after the FSM's records, and restoring them into a fresh archive
// (SHOAL_BENCH_SNAPSHOT_JOBS, default 20,000).
//
//	SHOAL_BENCH_SNAPSHOT_JOBS=200000 go test -run '^$' -bench SnapshotArchive -benchtime 1x ./daemon/
func BenchmarkSnapshotArchive(b *testing.B) {
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("SHOAL_BENCH_SNAPSHOT_JOBS")); err == nil && v > 0 {
		n = v
	}
	dir := b.TempDir()
	store, err := archive.Open(filepath.Join(dir, "archive.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	for i := 0; i < n; i += 10_000 {
		var jobs []*api.Job
		for k := i; k < min(i+10_000, n); k++ {
			j := &api.Job{ID: uint64(k + 1), User: "ann", State: api.StateSucceeded, CreatedAt: int64(k), StoppedAt: int64(k + 1)}
			j.Name, j.Queue, j.Command = "bench", "default", []string{"true"}
			jobs = append(jobs, j)
		}
		if err := store.Put(jobs); err != nil {
			b.Fatal(err)
		}
	}
	for range b.N {
		path := filepath.Join(dir, "snapshot")
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := writeArchived(f, store); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		write := time.Since(start)
		info, _ := f.Stat()
		f.Close()
		fresh, err := archive.Open(filepath.Join(b.TempDir(), "archive.db"))
		if err != nil {
			b.Fatal(err)
		}
		in, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		if _, err := io.Copy(io.Discard, newArchiveSplitter(in, fresh)); err != nil {
			b.Fatal(err)
		}
		restore := time.Since(start)
		in.Close()
		if got, err := fresh.Count(); err != nil || got != n {
			b.Fatalf("restored %d jobs (%v), want %d", got, err, n)
		}
		fresh.Close()
		b.ReportMetric(float64(info.Size())/float64(n), "snapshot-B/job")
		b.ReportMetric(float64(write.Milliseconds()), "write-ms")
		b.ReportMetric(float64(restore.Milliseconds()), "restore-ms")
	}
}
