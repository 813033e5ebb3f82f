package raftwal

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/hashicorp/raft-wal/types"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// writeLog makes a WAL in raftDir with batches of entries, one append
// (one commit) per batch, and returns its segment file.
func writeLog(t *testing.T, raftDir string, batches ...int) string {
	t.Helper()
	s, err := Open(raftDir, quiet)
	if err != nil {
		t.Fatal(err)
	}
	idx := uint64(1)
	for _, n := range batches {
		var logs []*raft.Log
		for range n {
			logs = append(logs, &raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: []byte(strings.Repeat("x", 100))})
			idx++
		}
		if err := s.StoreLogs(logs); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(raftDir, Dir, "*.wal"))
	if len(segs) != 1 {
		t.Fatalf("segments: %v", segs)
	}
	return segs[0]
}

// lastCommitEnd is the offset just past the tail's last commit frame.
func lastCommitEnd(t *testing.T, seg string) int {
	t.Helper()
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	off, end := fileHeaderLen, 0
	for off+frameHeaderLen <= len(data) && data[off] != 0 {
		n := int(le32(data[off+4:]))
		if data[off] == frameCommit {
			off += frameHeaderLen
			end = off
			continue
		}
		off += frameHeaderLen + n + (frameHeaderLen-n%frameHeaderLen)&(frameHeaderLen-1)
	}
	return end
}

// TestTornLastBatch: a batch a crash cut short after the last commit (its
// entry written, its commit's checksum wrong) is not an error: it was
// never acknowledged, and the log ends before it.
func TestTornLastBatch(t *testing.T) {
	dir := t.TempDir()
	seg := writeLog(t, dir, 3, 2)
	end := lastCommitEnd(t, seg)
	f, err := os.OpenFile(seg, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// An entry frame of 16 bytes, then a commit with a wrong CRC.
	torn := []byte{frameEntry, 0, 0, 0, 16, 0, 0, 0}
	torn = append(torn, make([]byte, 16)...)
	torn = append(torn, frameCommit, 0, 0, 0, 1, 2, 3, 4)
	if _, err := f.WriteAt(torn, int64(end)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := Check(filepath.Join(dir, Dir)); err != nil {
		t.Fatalf("Check on a torn last batch: %v, want nil", err)
	}
	s, err := Open(dir, quiet)
	if err != nil {
		t.Fatalf("Open on a torn last batch: %v", err)
	}
	defer s.Close()
	if last, _ := s.LastIndex(); last != 5 {
		t.Errorf("last index %d, want 5 (the torn batch dropped)", last)
	}
	// And the log goes on after it.
	if err := s.StoreLogs([]*raft.Log{{Index: 6, Term: 1, Type: raft.LogCommand, Data: []byte("y")}}); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedEarlierBatch: a changed byte in a batch that later batches
// follow is corruption, named with the file.
func TestDamagedEarlierBatch(t *testing.T) {
	dir := t.TempDir()
	seg := writeLog(t, dir, 3, 2, 4)
	f, err := os.OpenFile(seg, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("Z"), fileHeaderLen+frameHeaderLen+20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = Open(dir, quiet)
	var c *CorruptError
	if !errors.As(err, &c) || c.File != seg || c.Path != filepath.Join(dir, Dir) || !errors.Is(err, types.ErrCorrupt) {
		t.Fatalf("Open on a damaged batch: %v, want a CorruptError naming %s", err, seg)
	}
	if !strings.Contains(err.Error(), "does not match its checksum, and more batches follow it") {
		t.Errorf("error %q does not say what is wrong", err)
	}
}

// TestCompactedEntriesGone: entries before the first index are not found
// once the head is truncated, though their segment is still on disk.
func TestCompactedEntriesGone(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, 5)
	s, err := Open(dir, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.DeleteRange(1, 3); err != nil {
		t.Fatal(err)
	}
	var l raft.Log
	if err := s.GetLog(3, &l); !errors.Is(err, raft.ErrLogNotFound) {
		t.Errorf("GetLog(3) after compaction to 4: %v, want raft.ErrLogNotFound", err)
	}
	if err := s.GetLog(4, &l); err != nil || l.Index != 4 {
		t.Errorf("GetLog(4): %v (index %d)", err, l.Index)
	}
}

// TestSealedSegments: a log over several segments checks and opens; a
// changed byte in a sealed segment is named.
func TestSealedSegments(t *testing.T) {
	segmentSize = 8 << 10
	t.Cleanup(func() { segmentSize = 0 })
	dir := t.TempDir()
	s, err := Open(dir, quiet)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 300; i++ {
		if err := s.StoreLogs([]*raft.Log{{Index: i, Term: 1, Type: raft.LogCommand, Data: []byte(strings.Repeat("y", 200))}}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, Dir, "*.wal"))
	if len(segs) < 3 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	s, err = Open(dir, quiet)
	if err != nil {
		t.Fatalf("open a log of %d segments: %v", len(segs), err)
	}
	if n, err := ReadAll(s); err != nil || n != 300 {
		t.Fatalf("read %d entries (%v), want 300", n, err)
	}
	s.Close()
	f, err := os.OpenFile(segs[0], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("Z"), fileHeaderLen+frameHeaderLen+20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = Open(dir, quiet)
	var c *CorruptError
	if !errors.As(err, &c) || c.File != segs[0] || !strings.Contains(err.Error(), "does not match its checksum") {
		t.Fatalf("Open with a damaged sealed segment: %v, want a CorruptError naming %s", err, segs[0])
	}
}

// TestLargeAppendInRuns: an append larger than appendChunk (stored in
// runs, see StoreLogs) reads back whole and in order after a reopen,
// entries larger than a run included.
func TestLargeAppendInRuns(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, quiet)
	if err != nil {
		t.Fatal(err)
	}
	var logs []*raft.Log
	sizes := []int{100 << 10, appendChunk + 1, 7, 300 << 10}
	for i := range 40 {
		data := []byte(strings.Repeat(string(rune('a'+i%26)), sizes[i%len(sizes)]))
		logs = append(logs, &raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: data})
	}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if last, _ := s.LastIndex(); last != uint64(len(logs)) {
		t.Fatalf("last index %d after reopening, want %d", last, len(logs))
	}
	for _, want := range logs {
		var got raft.Log
		if err := s.GetLog(want.Index, &got); err != nil {
			t.Fatalf("entry %d: %v", want.Index, err)
		}
		if string(got.Data) != string(want.Data) {
			t.Fatalf("entry %d: %d bytes back, want %d bytes of %q", want.Index, len(got.Data), len(want.Data), want.Data[:1])
		}
	}
}
