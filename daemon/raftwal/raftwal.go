// Package raftwal is the controller's raft log and stable store:
// hashicorp/raft-wal (the segment-file WAL Consul uses), opened after
// every file of it has been checked, and filled at its first start from
// the raft-boltdb file (raft.db) that earlier versions kept the log in.
//
// Why not raft-boltdb: each append to it is a bbolt transaction, whose
// commit writes the data pages and then the meta page, with an fdatasync
// after each: two disk syncs per acknowledged submit. raft-wal appends a
// batch of entries and a commit frame (a CRC of the batch) to a
// preallocated segment file, with one fsync per batch; its small bbolt
// file (wal-meta.db) changes only when a segment fills or the log is
// compacted, and at elections.
package raftwal

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	walfs "github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/migrate"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
	bolt "go.etcd.io/bbolt"

	"github.com/shoal-batch/shoal/internal/boltcheck"
)

// Names in the raft directory.
const (
	// Dir is the WAL's directory: its segments and wal-meta.db.
	Dir = "wal"
	// BoltFile is the raft-boltdb log earlier versions kept.
	BoltFile = "raft.db"
	// MigratedSuffix is added to BoltFile's name once its contents are
	// in the WAL: kept, not deleted, as the operator's copy.
	MigratedSuffix = ".migrated"
	// MetaFile is raft-wal's bbolt file of segment metadata and the
	// stable store's keys.
	MetaFile = metadb.FileName
)

// The stable store's keys, as raft names them (unexported in raft).
var (
	keyCurrentTerm  = []byte("CurrentTerm")
	keyLastVoteTerm = []byte("LastVoteTerm")
	keyLastVoteCand = []byte("LastVoteCand")
)

// CorruptError says a file of the log cannot be read. Path is what an
// operator moves away to recover (the WAL's directory, or raft.db before
// it was migrated); File is the damaged file in it.
type CorruptError struct {
	Path, File string
	Err        error
}

func (e *CorruptError) Error() string {
	if e.File == e.Path {
		return e.Err.Error()
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Open opens (creating it if need be) the WAL in raftDir/wal, after
// migrating raftDir/raft.db into it when that is there, and after checking
// the meta file and every segment (Check): raft reads its store on
// goroutines of its own, where a bad read is a panic.
func Open(raftDir string, log *slog.Logger) (*Store, error) {
	dir := filepath.Join(raftDir, Dir)
	if err := migrateBolt(raftDir, log); err != nil {
		return nil, err
	}
	if err := Check(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create raft log dir: %w", err)
	}
	w, err := openWAL(dir)
	if err != nil {
		if errors.Is(err, types.ErrCorrupt) {
			return nil, &CorruptError{Path: dir, File: dir, Err: err}
		}
		return nil, fmt.Errorf("open raft log %s: %w", dir, err)
	}
	if _, err := ReadAll(w); err != nil {
		w.Close()
		return nil, &CorruptError{Path: dir, File: dir, Err: err}
	}
	return w, nil
}

// segmentSize, when set (by tests), is the segments' size instead of
// raft-wal's 64 MiB.
var segmentSize int

// Store is raft-wal's WAL, which is raft's LogStore and StableStore, with
// a Close that also closes its meta file (WAL.Close leaves it open, and
// its lock held).
type Store struct {
	*wal.WAL
	meta *metadb.BoltMetaDB
}

// Close closes the WAL and its meta file.
func (s *Store) Close() error {
	err := s.WAL.Close()
	if merr := s.meta.Close(); err == nil {
		err = merr
	}
	return err
}

// GetLog reads an entry. raft-wal still finds an entry that compaction
// removed but whose segment it has not deleted yet (the tail's); raft
// must not (raft-boltdb's behaviour): a follower that needs entries the
// log no longer holds is sent a snapshot, and the controller reads a
// missing entry as one its snapshot holds (stateCovers).
func (s *Store) GetLog(index uint64, log *raft.Log) error {
	first, err := s.WAL.FirstIndex()
	if err != nil {
		return err
	}
	if index < first {
		return raft.ErrLogNotFound
	}
	return s.WAL.GetLog(index, log)
}

// StoreLogs appends logs in runs of at most appendChunk bytes (or one
// larger entry), each run synced before the next. raft-wal keeps its
// write buffer at the size of the largest append until its segment is
// full, so a burst of many entries must not make one huge append. A
// crash between runs leaves a prefix of logs, which raft handles as a
// shorter log (nothing in logs is acknowledged before StoreLogs returns).
func (s *Store) StoreLogs(logs []*raft.Log) error {
	for len(logs) > 0 {
		n, size := 1, len(logs[0].Data)
		for n < len(logs) && size+len(logs[n].Data) <= appendChunk {
			size += len(logs[n].Data)
			n++
		}
		if err := s.WAL.StoreLogs(logs[:n]); err != nil {
			return err
		}
		logs = logs[n:]
	}
	return nil
}

// StoreLog appends one log.
func (s *Store) StoreLog(log *raft.Log) error { return s.StoreLogs([]*raft.Log{log}) }

// appendChunk bounds the bytes of one append to raft-wal (see StoreLogs).
const appendChunk = 1 << 20

// openWAL opens raft-wal in dir with its files readable by the owner
// only (it makes them 0644; the directory is 0700 anyway).
func openWAL(dir string) (*Store, error) {
	meta := &metadb.BoltMetaDB{}
	size := wal.DefaultSegmentSize
	if segmentSize > 0 {
		size = segmentSize
	}
	w, err := wal.Open(dir, wal.WithLogger(hclog.NewNullLogger()), wal.WithMetaStore(meta),
		wal.WithSegmentFiler(segment.NewFiler(dir, privateVFS{walfs.New()})), wal.WithSegmentSize(size))
	if err != nil {
		meta.Close()
		return nil, err
	}
	s := &Store{WAL: w, meta: meta}
	if err := os.Chmod(filepath.Join(dir, MetaFile), 0o600); err != nil {
		s.Close()
		return nil, fmt.Errorf("open raft log: %w", err)
	}
	return s, nil
}

// privateVFS is raft-wal's file system with the segments it creates made
// 0600.
type privateVFS struct{ *walfs.FS }

func (v privateVFS) Create(dir, name string, size uint64) (types.WritableFile, error) {
	f, err := v.FS.Create(dir, name, size)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(filepath.Join(dir, name), 0o600); err != nil {
		f.Close()
		return nil, fmt.Errorf("create raft log segment: %w", err)
	}
	return f, nil
}

// HasEntries reports whether raftDir holds a raft log with an entry (in
// the WAL, or in a raft.db not migrated yet), without changing it.
func HasEntries(raftDir string) (bool, error) {
	boltPath := filepath.Join(raftDir, BoltFile)
	dir := filepath.Join(raftDir, Dir)
	if _, err := os.Stat(filepath.Join(dir, MetaFile)); err == nil {
		if err := Check(dir); err != nil {
			return false, err
		}
		// Check read every segment: a committed entry is one with a
		// valid commit after it.
		st, err := loadMeta(dir)
		if err != nil {
			return false, err
		}
		for _, s := range st.Segments {
			n, err := committedEntries(filepath.Join(dir, segmentName(s)), s)
			if err != nil {
				return false, err
			}
			if n > 0 {
				return true, nil
			}
		}
		return false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("raft log: %w", err)
	}
	if _, err := os.Stat(boltPath); errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("raft log: %w", err)
	}
	opts := bolt.Options{Timeout: 5e9, ReadOnly: true}
	if err := boltcheck.Check(boltPath, opts); err != nil {
		return false, boltError(boltPath, err)
	}
	store, err := raftboltdb.New(raftboltdb.Options{Path: boltPath, BoltOptions: &opts})
	if err != nil {
		return false, fmt.Errorf("read raft log %s: %w", boltPath, err)
	}
	defer store.Close()
	last, err := store.LastIndex()
	if err != nil {
		return false, fmt.Errorf("read raft log %s: %w", boltPath, err)
	}
	return last > 0, nil
}

func boltError(path string, err error) error {
	if errors.Is(err, boltcheck.ErrCorrupt) {
		return &CorruptError{Path: path, File: path, Err: err}
	}
	return fmt.Errorf("open raft log %s: %w", path, err)
}

// migrateBolt copies raft.db's entries and stable keys into a new WAL and
// renames raft.db to raft.db.migrated. The WAL is built under another
// name and renamed into place once complete and synced: a crash part way
// leaves raft.db as it was, and the next start migrates again.
func migrateBolt(raftDir string, log *slog.Logger) error {
	boltPath := filepath.Join(raftDir, BoltFile)
	dir := filepath.Join(raftDir, Dir)
	if _, err := os.Stat(boltPath); errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("raft log: %w", err)
	}
	if _, err := os.Stat(dir); err == nil {
		// Migrated, and stopped before raft.db was renamed.
		return renameMigrated(boltPath, raftDir, log)
	}
	opts := bolt.Options{Timeout: 5e9}
	if err := boltcheck.Check(boltPath, opts); err != nil {
		return boltError(boltPath, err)
	}
	src, err := raftboltdb.New(raftboltdb.Options{Path: boltPath, BoltOptions: &opts})
	if err != nil {
		return boltError(boltPath, err)
	}
	defer src.Close()
	tmp := dir + ".migrating"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("migrate raft log %s: %w", boltPath, err)
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return fmt.Errorf("migrate raft log %s: %w", boltPath, err)
	}
	dst, err := openWAL(tmp)
	if err != nil {
		return fmt.Errorf("migrate raft log %s: open a WAL in %s: %w", boltPath, tmp, err)
	}
	n, err := copyStore(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("migrate raft log %s to %s: %w", boltPath, tmp, err)
	}
	if err := syncDir(tmp); err != nil {
		return fmt.Errorf("migrate raft log %s: %w", boltPath, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("migrate raft log %s: %w", boltPath, err)
	}
	log.Info("raft log migrated from raft-boltdb to a WAL", "from", boltPath, "to", dir, "entries", n)
	return renameMigrated(boltPath, raftDir, log)
}

func renameMigrated(boltPath, raftDir string, log *slog.Logger) error {
	if err := os.Rename(boltPath, boltPath+MigratedSuffix); err != nil {
		return fmt.Errorf("raft log migrated: rename %s: %w", boltPath, err)
	}
	if err := syncDir(raftDir); err != nil {
		return err
	}
	log.Info("the old raft log is kept, no longer used; it may be deleted", "file", boltPath+MigratedSuffix)
	return nil
}

// copyStore copies src's entries and raft's stable keys into dst (empty).
func copyStore(dst *Store, src *raftboltdb.BoltStore) (entries uint64, err error) {
	first, err := src.FirstIndex()
	if err != nil {
		return 0, err
	}
	last, err := src.LastIndex()
	if err != nil {
		return 0, err
	}
	if last > 0 {
		if err := migrate.CopyLogs(context.Background(), dst, src, 8<<20, nil); err != nil {
			return 0, err
		}
		entries = last - first + 1
	}
	for _, k := range [][]byte{keyCurrentTerm, keyLastVoteTerm} {
		v, err := src.GetUint64(k)
		if err != nil && err.Error() != "not found" {
			return 0, fmt.Errorf("read %s: %w", k, err)
		}
		if err == nil {
			if err := dst.SetUint64(k, v); err != nil {
				return 0, fmt.Errorf("write %s: %w", k, err)
			}
		}
	}
	if v, err := src.Get(keyLastVoteCand); err == nil && len(v) > 0 {
		if err := dst.Set(keyLastVoteCand, v); err != nil {
			return 0, fmt.Errorf("write %s: %w", keyLastVoteCand, err)
		}
	} else if err != nil && err.Error() != "not found" {
		return 0, fmt.Errorf("read %s: %w", keyLastVoteCand, err)
	}
	return entries, nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Check reads the WAL in dir before raft-wal opens it: the meta file (a
// bbolt file, which bbolt reads without bounds checks), and every segment
// it lists, whose commits' checksums must all match, but for the last one
// of the last segment: that one may be a batch a crash cut short, which
// was never acknowledged (raft-wal drops it too). A missing dir is fine (a
// new log). Problems are *CorruptError.
func Check(dir string) error {
	meta := filepath.Join(dir, MetaFile)
	segs, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
	if _, err := os.Stat(meta); errors.Is(err, os.ErrNotExist) {
		if len(segs) > 0 {
			return &CorruptError{Path: dir, File: meta, Err: fmt.Errorf("%w: missing, and %d segment files are there", boltcheck.ErrCorrupt, len(segs))}
		}
		return nil
	} else if err != nil {
		return fmt.Errorf("raft log: %w", err)
	}
	if err := boltcheck.Check(meta, bolt.Options{Timeout: 5e9}); err != nil {
		if errors.Is(err, boltcheck.ErrCorrupt) {
			return &CorruptError{Path: dir, File: meta, Err: err}
		}
		return fmt.Errorf("open raft log %s: %w", meta, err)
	}
	st, err := loadMeta(dir)
	if err != nil {
		return &CorruptError{Path: dir, File: meta, Err: err}
	}
	for i, s := range st.Segments {
		tail := i == len(st.Segments)-1 && s.SealTime.IsZero()
		if !tail && s.SealTime.IsZero() {
			return &CorruptError{Path: dir, File: meta, Err: fmt.Errorf("%w: segment %d is not sealed and not the last", types.ErrCorrupt, s.ID)}
		}
		if err := checkSegment(filepath.Join(dir, segmentName(s)), s, tail); err != nil {
			return &CorruptError{Path: dir, File: filepath.Join(dir, segmentName(s)), Err: err}
		}
	}
	return nil
}

func loadMeta(dir string) (types.PersistentState, error) {
	var db metadb.BoltMetaDB
	st, err := db.Load(dir)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return st, err
}

// segmentName is raft-wal's name for a segment's file.
func segmentName(s types.SegmentInfo) string {
	return fmt.Sprintf("%020d-%016x.wal", s.BaseIndex, s.ID)
}

// The segment format (raft-wal's segment/format.go): a 32-byte header
// (magic, version, base index, segment id, codec), then frames of an
// 8-byte header (type; length, or a commit's CRC) and a payload padded to
// 8 bytes. A commit frame holds the Castagnoli CRC of every byte since the
// previous commit frame (the first one's from the start of the file).
const (
	fileHeaderLen  = 32
	frameHeaderLen = 8
	magic          = 0x58eb6b0d
	frameEntry     = 1
	frameIndex     = 2
	frameCommit    = 3
	maxEntrySize   = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkSegment reads a segment's frames and checks every commit's CRC.
func checkSegment(path string, s types.SegmentInfo, tail bool) error {
	_, err := scanSegment(path, s, tail)
	return err
}

// committedEntries is how many entries of a checked segment are committed.
func committedEntries(path string, s types.SegmentInfo) (int, error) {
	return scanSegment(path, s, s.SealTime.IsZero())
}

func scanSegment(path string, s types.SegmentInfo, tail bool) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("%w: the segment file is missing (%s lists it)", types.ErrCorrupt, MetaFile)
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := info.Size()
	// raft-wal preallocates a segment to its size limit; a crash does not
	// shorten a file, so a shorter one lost its end.
	if tail && s.SizeLimit > 0 && size < int64(s.SizeLimit) {
		return 0, fmt.Errorf("%w: the file is %d bytes, shorter than the %d it was created with: it was truncated", types.ErrCorrupt, size, s.SizeLimit)
	}
	// Read as a stream (a segment is 64 MiB, mostly preallocated zeros
	// past what was written): only up to the first zero frame header.
	r := bufio.NewReaderSize(f, 64<<10)
	crc := crc32.New(castagnoli) // of the bytes since the last commit
	head := make([]byte, fileHeaderLen)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, err
	}
	head = head[:n]
	crc.Write(head)
	header := func() error {
		if len(head) < fileHeaderLen || le32(head) != magic || head[7] != 0 {
			return fmt.Errorf("%w: the segment header is not raft-wal's", types.ErrCorrupt)
		}
		if le64(head[8:]) != s.BaseIndex || le64(head[16:]) != s.ID {
			return fmt.Errorf("%w: the segment header names base index %d and id %d, %s says %d and %d",
				types.ErrCorrupt, le64(head[8:]), le64(head[16:]), MetaFile, s.BaseIndex, s.ID)
		}
		return nil
	}
	var (
		off        = int64(n)
		entries    = 0 // entries since the last commit
		committed  = 0
		commits    = 0
		badCommit  = int64(-1) // offset of a commit whose CRC did not match
		sealed     = false
		stoppedMsg = ""
		headerErr  error
		fh         [frameHeaderLen]byte
	)
	for n == fileHeaderLen {
		if _, err := io.ReadFull(r, fh[:]); errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		} else if err != nil {
			return 0, err
		}
		typ, val := fh[0], le32(fh[4:])
		if typ == 0 {
			if le64(fh[:]) != 0 {
				stoppedMsg = fmt.Sprintf("a frame header at offset %d is not one", off)
			}
			break
		}
		if badCommit >= 0 {
			// Frames after a bad commit: it was not the last batch.
			if headerErr != nil {
				return 0, headerErr
			}
			return 0, fmt.Errorf("%w: the commit at offset %d does not match its checksum, and more batches follow it", types.ErrCorrupt, badCommit)
		}
		switch typ {
		case frameEntry, frameIndex:
			padded := int64(val) + int64((frameHeaderLen-int(val)%frameHeaderLen)&(frameHeaderLen-1))
			if val > maxEntrySize || off+frameHeaderLen+padded > size {
				stoppedMsg = fmt.Sprintf("the frame at offset %d claims %d bytes", off, val)
				break
			}
			crc.Write(fh[:])
			if _, err := io.CopyN(crc, r, padded); err != nil {
				return 0, fmt.Errorf("read %s: %w", path, err)
			}
			if typ == frameEntry {
				entries++
			} else {
				sealed = true
			}
			off += frameHeaderLen + padded
		case frameCommit:
			good := crc.Sum32() == val
			if commits == 0 && badCommit < 0 {
				// The first commit covers the header: when it is
				// wrong, say so (a torn first batch may have left it
				// half written: an error only if more follows).
				headerErr = header()
				if good && headerErr != nil {
					return 0, headerErr
				}
			}
			if !good {
				badCommit = off
			} else {
				commits++
				committed += entries
			}
			entries = 0
			off += frameHeaderLen
			crc.Reset()
		default:
			stoppedMsg = fmt.Sprintf("a frame at offset %d has unknown type %d", off, typ)
		}
		if stoppedMsg != "" {
			break
		}
	}
	if !tail {
		// A sealed segment is complete: its index and last commit made it.
		if headerErr != nil {
			return 0, headerErr
		}
		if badCommit >= 0 {
			return 0, fmt.Errorf("%w: the commit at offset %d does not match its checksum", types.ErrCorrupt, badCommit)
		}
		if stoppedMsg != "" {
			return 0, fmt.Errorf("%w: %s", types.ErrCorrupt, stoppedMsg)
		}
		if !sealed || entries != 0 {
			return 0, fmt.Errorf("%w: the segment is sealed in %s but its file ends before its index and last commit", types.ErrCorrupt, MetaFile)
		}
		if want := s.MaxIndex - s.BaseIndex + 1; s.MaxIndex > 0 && uint64(committed) != want {
			return 0, fmt.Errorf("%w: %d entries in the file, %s says %d", types.ErrCorrupt, committed, MetaFile, want)
		}
	}
	// In the tail, what follows the last good commit (a bad one, a frame
	// that is not one) is the batch a crash cut short.
	return committed, nil
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
func le64(b []byte) uint64 { return uint64(le32(b)) | uint64(le32(b[4:]))<<32 }

// ReadAll reads every entry of an open store, first to last: a read raft
// would make later fails here, as an error. For checks and tests.
func ReadAll(s raft.LogStore) (n uint64, err error) {
	first, err := s.FirstIndex()
	if err != nil {
		return 0, err
	}
	last, err := s.LastIndex()
	if err != nil {
		return 0, err
	}
	if last == 0 {
		return 0, nil
	}
	var l raft.Log
	for i := first; i <= last; i++ {
		if err := s.GetLog(i, &l); err != nil {
			return n, fmt.Errorf("read entry %d: %w", i, err)
		}
		if l.Index != i {
			return n, fmt.Errorf("%w: entry %d reads as entry %d", types.ErrCorrupt, i, l.Index)
		}
		n++
	}
	return n, nil
}
