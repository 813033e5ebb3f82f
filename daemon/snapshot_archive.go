package daemon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/daemon/archive"
)

// A raft snapshot of a controller whose archive is its own (the embedded
// file) carries the archived jobs after the FSM's records, one line each:
//
//	{"archivedJob":{...}}
//
// raft drops the log entries a snapshot covers, the ExpireCmds among
// them; a controller that starts from the snapshot (a new member, one
// whose data dir was lost, one that fell behind and is sent the leader's)
// never applies them, and finds the history here instead. The lines are
// taken out of the stream before the FSM reads it, so the FSM's format
// and its rule for unknown records are untouched, and an older snapshot
// (without them) restores as before. A shared archive (PostgreSQL)
// already holds the history for every controller: its snapshots carry
// none.

// archivedJobPrefix starts an archived job's line in a snapshot.
var archivedJobPrefix = []byte(`{"archivedJob":`)

// archivedJobRecord is an archived job's line.
type archivedJobRecord struct {
	Job *api.Job `json:"archivedJob"`
}

// writeArchived appends every job of store to a snapshot, after the
// FSM's records.
func writeArchived(w io.Writer, store archive.Archive) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	var encErr error
	err := store.List(archive.Filter{}, func(j *api.Job) bool {
		encErr = enc.Encode(archivedJobRecord{Job: j})
		return encErr == nil
	})
	if encErr != nil {
		return fmt.Errorf("snapshot the job archive: %w", encErr)
	}
	if err != nil {
		return fmt.Errorf("snapshot the job archive: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("snapshot the job archive: %w", err)
	}
	return nil
}

// restoreBatch is how many archived jobs of a snapshot go into one Put.
const restoreBatch = 1000

// archiveSplitter is a snapshot's stream less its archived jobs' lines,
// which it puts into store as it meets them (a batch at a time; Put keeps
// a job the archive has already). The FSM reads the rest.
type archiveSplitter struct {
	r     *bufio.Reader
	store archive.Archive
	batch []*api.Job
	line  []byte // what is left of the current FSM line
	err   error
	n     int // archived jobs restored
}

func newArchiveSplitter(r io.Reader, store archive.Archive) *archiveSplitter {
	return &archiveSplitter{r: bufio.NewReaderSize(r, 1<<16), store: store}
}

// Read gives the FSM's lines, whole lines at a time where they fit.
func (s *archiveSplitter) Read(p []byte) (int, error) {
	for len(s.line) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		line, err := s.readLine()
		if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
			if errors.Is(err, io.EOF) {
				err = s.flush()
				if err == nil {
					err = io.EOF
				}
			}
			s.err = err
			continue
		}
		if !bytes.HasPrefix(line, archivedJobPrefix) {
			s.line = line
			break
		}
		var rec archivedJobRecord
		if err := json.Unmarshal(line, &rec); err != nil || rec.Job == nil {
			s.err = fmt.Errorf("restore the job archive from the snapshot: a damaged archived job line: %v", err)
			continue
		}
		s.batch = append(s.batch, rec.Job)
		if len(s.batch) >= restoreBatch {
			s.err = s.flush()
		}
	}
	n := copy(p, s.line)
	s.line = s.line[n:]
	return n, nil
}

// readLine reads one line, however long.
func (s *archiveSplitter) readLine() ([]byte, error) {
	line, err := s.r.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return bytes.Clone(line), err
	}
	long := bytes.Clone(line)
	for errors.Is(err, bufio.ErrBufferFull) {
		line, err = s.r.ReadSlice('\n')
		long = append(long, line...)
	}
	return long, err
}

// flush puts the batch into the archive.
func (s *archiveSplitter) flush() error {
	if len(s.batch) == 0 {
		return nil
	}
	if err := s.store.Put(s.batch); err != nil {
		return fmt.Errorf("restore the job archive from the snapshot: %w", err)
	}
	s.n += len(s.batch)
	s.batch = nil
	return nil
}
