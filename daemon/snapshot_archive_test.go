package daemon

import (
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"

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
