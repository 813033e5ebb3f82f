package daemon

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/hashicorp/raft-wal/migrate"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/daemon/raftwal"
)

// storedState is a data dir a controller left behind: one job committed
// before its snapshot and one after.
type storedState struct {
	dataDir, raftDir, snapDir string
	beforeSnap, afterSnap     uint64
}

// logPath is the raft log's directory (raft-wal's segments and meta file).
func (s storedState) logPath() string { return filepath.Join(s.raftDir, raftwal.Dir) }

// segmentPath is the log's one segment file.
func (s storedState) segmentPath(t *testing.T) string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(s.logPath(), "*.wal"))
	if err != nil || len(segs) != 1 {
		t.Fatalf("segments in %s: %v (%v), want one", s.logPath(), segs, err)
	}
	return segs[0]
}

func (s storedState) metaPath() string { return filepath.Join(s.logPath(), raftwal.MetaFile) }

// snapshotPath is the directory of the one snapshot the controller took.
func (s storedState) snapshotPath(t *testing.T) string {
	t.Helper()
	entries, err := os.ReadDir(s.snapDir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("snapshots in %s: %v (%v), want one", s.snapDir, entries, err)
	}
	return filepath.Join(s.snapDir, entries[0].Name())
}

func makeStoredState(t *testing.T) storedState {
	t.Helper()
	dir := t.TempDir()
	s := storedState{dataDir: filepath.Join(dir, "data")}
	s.raftDir = filepath.Join(s.dataDir, "raft")
	s.snapDir = filepath.Join(s.raftDir, "snapshots")
	c := startControllerIn(t, s.dataDir)
	defer c.Close()
	client := client.New(c.Addrs()[0], "")
	// Root on the socket is a node daemon: a queue with a node takes jobs.
	if err := client.Call(context.Background(), api.PathNodeRegister, api.RegisterNodeRequest{
		Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 8, MemoryMB: 8192}}, nil); err != nil {
		t.Fatalf("register a node: %v", err)
	}
	submit := func(name string) uint64 {
		resp, err := client.Submit(context.Background(), api.SubmitJobRequest{JobSpec: api.JobSpec{Name: name, Script: "#!/bin/sh\ntrue\n"}})
		if err != nil {
			t.Fatalf("submit %s: %v", name, err)
		}
		return resp.ID
	}
	s.beforeSnap = submit("before-snapshot")
	if err := c.raft.raft.Snapshot().Error(); err != nil {
		t.Fatalf("take a snapshot: %v", err)
	}
	s.afterSnap = submit("after-snapshot")
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return s
}

// startIn starts a controller on dataDir, returning Start's error.
func startIn(dataDir string) (*Controller, error) {
	return Start(Config{DataDir: dataDir, Socket: filepath.Join(filepath.Dir(dataDir), "shoal.sock"),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// wantStartError starts a controller on a damaged dataDir and checks the
// error names the file and says how to recover.
func wantStartError(t *testing.T, dataDir string, wants ...string) string {
	t.Helper()
	c, err := startIn(dataDir)
	if err == nil {
		c.Close()
		t.Fatalf("controller started on a damaged store; want an error containing %q", wants)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("start error %q\nwant it to contain %q", err, w)
		}
	}
	return err.Error()
}

// hasJobs starts a controller and checks which of the jobs it holds.
func hasJobs(t *testing.T, dataDir string, want map[uint64]bool) {
	t.Helper()
	c, err := startIn(dataDir)
	if err != nil {
		t.Fatalf("start after recovery: %v", err)
	}
	defer c.Close()
	for id, w := range want {
		if got := c.fsm.State().Job(id) != nil; got != w {
			t.Errorf("after recovery job %d is there: %v, want %v", id, got, w)
		}
	}
}

func overwrite(t *testing.T, path string, off int64, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptRaftLog damages the raft log's files in the ways a disk or
// an operator does: the controller refuses to start with an error naming
// the file and the recovery, and the recovery it gives (moving the log
// away) starts from the snapshot, losing only what came after it.
func TestCorruptRaftLog(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, s storedState) (file string)
		want   string
	}{
		{"meta file empty", func(t *testing.T, s storedState) string {
			if err := os.Truncate(s.metaPath(), 0); err != nil {
				t.Fatal(err)
			}
			return s.metaPath()
		}, "the file is empty"},
		{"meta pages overwritten", func(t *testing.T, s storedState) string {
			overwrite(t, s.metaPath(), 0, []byte(strings.Repeat("garbage!", 1024)))
			return s.metaPath()
		}, ""},
		{"segment missing", func(t *testing.T, s storedState) string {
			seg := s.segmentPath(t)
			if err := os.Remove(seg); err != nil {
				t.Fatal(err)
			}
			return seg
		}, "the segment file is missing"},
		{"segment truncated", func(t *testing.T, s storedState) string {
			seg := s.segmentPath(t)
			if err := os.Truncate(seg, 4096+100); err != nil {
				t.Fatal(err)
			}
			return seg
		}, "it was truncated"},
		{"segment header overwritten", func(t *testing.T, s storedState) string {
			seg := s.segmentPath(t)
			overwrite(t, seg, 0, []byte(strings.Repeat("garbage!", 4)))
			return seg
		}, "segment header"},
		{"entry bytes changed", func(t *testing.T, s storedState) string {
			// A byte in the first entry's payload (bit rot): the frames
			// still parse, the commit's checksum does not match.
			seg := s.segmentPath(t)
			overwrite(t, seg, 32+8+4, []byte{0xff, 0xee})
			return seg
		}, "does not match its checksum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := makeStoredState(t)
			file := tc.damage(t, s)
			wants := []string{"raft log " + s.logPath() + " is corrupt", file, "mv " + s.logPath() + " " + s.logPath() + ".corrupt",
				"starts from snapshot " + s.snapshotPath(t), "loses what was committed after it"}
			if tc.want != "" {
				wants = append(wants, tc.want)
			}
			msg := wantStartError(t, s.dataDir, wants...)
			t.Logf("%s", msg)
			if err := os.Rename(s.logPath(), s.logPath()+".corrupt"); err != nil {
				t.Fatal(err)
			}
			hasJobs(t, s.dataDir, map[uint64]bool{s.beforeSnap: true, s.afterSnap: false})
		})
	}
}

// TestCorruptRaftLogNoSnapshot: with no snapshot the advice says moving
// the log away starts empty.
func TestCorruptRaftLogNoSnapshot(t *testing.T) {
	s := makeStoredState(t)
	if err := os.RemoveAll(s.snapshotPath(t)); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(s.metaPath(), 0); err != nil {
		t.Fatal(err)
	}
	wantStartError(t, s.dataDir, "raft log "+s.logPath()+" is corrupt", s.metaPath()+": ", "the file is empty", "starts EMPTY")
}

// TestCorruptSnapshot damages the snapshot's data and its metadata: the
// error names the snapshot, and moving it away as told replays the log.
func TestCorruptSnapshot(t *testing.T) {
	for _, tc := range []struct {
		name, file, want string
	}{
		{"state", "state.bin", "CRC mismatch"},
		{"meta", "meta.json", "meta.json does not parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := makeStoredState(t)
			snap := s.snapshotPath(t)
			overwrite(t, filepath.Join(snap, tc.file), 0, []byte("{garbage"))
			aside := filepath.Join(s.raftDir, "snapshot-"+filepath.Base(snap)+".corrupt")
			msg := wantStartError(t, s.dataDir, "raft snapshot "+snap+" is corrupt", tc.want, "mv "+snap+" "+aside)
			t.Logf("%s", msg)
			if err := os.Rename(snap, aside); err != nil {
				t.Fatal(err)
			}
			// The log still holds every entry: nothing is lost.
			hasJobs(t, s.dataDir, map[uint64]bool{s.beforeSnap: true, s.afterSnap: true})
		})
	}
}

// TestRaftLogGap: a log compacted past the newest snapshot it has (one
// was moved away) is refused before raft would panic on the missing entry.
func TestRaftLogGap(t *testing.T) {
	s := makeStoredState(t)
	store, err := raftwal.Open(s.raftDir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteRange(1, 3); err != nil {
		t.Fatal(err)
	}
	store.Close()
	snap := s.snapshotPath(t)
	if err := os.Rename(snap, filepath.Join(s.raftDir, "moved")); err != nil {
		t.Fatal(err)
	}
	wantStartError(t, s.dataDir, "raft log "+s.logPath()+" starts at entry 4 but there is no snapshot", "entries 1 to 3 are in neither",
		"If a newer snapshot was moved away, put it back")
}

// TestCorruptArchive: a damaged archive stops the controller with an
// error that names it; moving it away starts a new one.
func TestCorruptArchive(t *testing.T) {
	s := makeStoredState(t)
	path := filepath.Join(s.dataDir, archiveFile)
	overwrite(t, path, 0, []byte(strings.Repeat("garbage!", 1024)))
	wantStartError(t, s.dataDir, "job archive "+path+" is corrupt", "mv "+path+" "+path+".corrupt", "the live state is elsewhere and intact")
	if err := os.Rename(path, path+".corrupt"); err != nil {
		t.Fatal(err)
	}
	hasJobs(t, s.dataDir, map[uint64]bool{s.beforeSnap: true, s.afterSnap: true})
}

// TestMigrateBoltLog: a data dir of an earlier version, whose raft log is
// raft-boltdb's raft.db, starts with every entry and the stable keys moved
// into the WAL, raft.db kept as raft.db.migrated, and starts again from
// the WAL alone.
func TestMigrateBoltLog(t *testing.T) {
	s := makeStoredState(t)
	// Make the old layout: the same entries and keys in a raft.db.
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	src, err := raftwal.Open(s.raftDir, quiet)
	if err != nil {
		t.Fatal(err)
	}
	boltPath := filepath.Join(s.raftDir, raftwal.BoltFile)
	dst, err := raftboltdb.NewBoltStore(boltPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate.CopyLogs(context.Background(), dst, src, 1<<20, nil); err != nil {
		t.Fatal(err)
	}
	term, err := src.GetUint64([]byte("CurrentTerm"))
	if err != nil || term == 0 {
		t.Fatalf("the WAL's current term: %d, %v", term, err)
	}
	if err := dst.SetUint64([]byte("CurrentTerm"), term); err != nil {
		t.Fatal(err)
	}
	first, _ := src.FirstIndex()
	last, _ := src.LastIndex()
	src.Close()
	dst.Close()
	if err := os.RemoveAll(s.logPath()); err != nil {
		t.Fatal(err)
	}

	// A joining member asks first whether there is state: there is.
	if has, err := hasRaftState(s.raftDir); err != nil || !has {
		t.Fatalf("hasRaftState on a raft.db: %v, %v; want true", has, err)
	}
	hasJobs(t, s.dataDir, map[uint64]bool{s.beforeSnap: true, s.afterSnap: true})
	if _, err := os.Stat(boltPath); !os.IsNotExist(err) {
		t.Errorf("raft.db after migration: %v, want it renamed", err)
	}
	if _, err := os.Stat(boltPath + raftwal.MigratedSuffix); err != nil {
		t.Errorf("raft.db.migrated: %v", err)
	}
	w, err := raftwal.Open(s.raftDir, quiet)
	if err != nil {
		t.Fatal(err)
	}
	wfirst, _ := w.FirstIndex()
	wlast, _ := w.LastIndex()
	wterm, _ := w.GetUint64([]byte("CurrentTerm"))
	w.Close()
	if wfirst != first || wlast < last || wterm < term {
		t.Errorf("migrated WAL holds entries %d..%d, term %d; raft.db held %d..%d, term %d", wfirst, wlast, wterm, first, last, term)
	}
	// Again, from the WAL alone.
	hasJobs(t, s.dataDir, map[uint64]bool{s.beforeSnap: true, s.afterSnap: true})
	if has, err := hasRaftState(s.raftDir); err != nil || !has {
		t.Fatalf("hasRaftState on the WAL: %v, %v; want true", has, err)
	}
}

// TestHasRaftStateEmpty: a WAL opened but never written to (a member
// waiting to be added) is no state.
func TestHasRaftStateEmpty(t *testing.T) {
	dir := t.TempDir()
	w, err := raftwal.Open(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if has, err := hasRaftState(dir); err != nil || has {
		t.Fatalf("hasRaftState on an empty WAL: %v, %v; want false", has, err)
	}
}
