package archive

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"os"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/boltcheck"
)

// Buckets. The records bucket maps a job id to the job's JSON but its
// environment and batch script, which the environments and scripts buckets
// hold (the id's key; the environment's JSON, the script as it is; none
// for a job without one): they are most of a submitted job's bytes (sbatch
// exports the submitter's whole environment), and a list that does not
// send them (sacct's, every list but a full one for the environment) then
// reads a fraction of the file. Records written before hold them inline,
// and read as they were. Each index bucket holds keys only: [value 0x00]
// end-time id, so that one filter and a time window are one range scan.
var (
	bucketJobs    = []byte("jobs")
	bucketEnv     = []byte("environments")
	bucketScript  = []byte("scripts")
	bucketEnd     = []byte("by-end")
	bucketUser    = []byte("by-user")
	bucketAccount = []byte("by-account")
	bucketState   = []byte("by-state")
	allBuckets    = [][]byte{bucketJobs, bucketEnv, bucketScript, bucketEnd, bucketUser, bucketAccount, bucketState}
)

// Store is an open archive. It is safe for concurrent use: one writer at a
// time (bbolt serialises them), readers never wait for it.
type Store struct {
	db   *bolt.DB
	path string
}

// boltOptions are how the archive opens its file: the freelist is not
// written, but rebuilt at Open from the pages in use.
var boltOptions = bolt.Options{Timeout: 5 * time.Second, FreelistType: bolt.FreelistMapType, NoFreelistSync: true}

// Open opens (or creates) the archive at path, readable by its owner only.
func Open(path string) (*Store, error) {
	// Read it all first: bbolt panics on a corrupt page, and with
	// NoFreelistSync it reads every page at Open on a goroutine of its own.
	if err := boltcheck.Check(path, boltOptions); err != nil {
		if errors.Is(err, boltcheck.ErrCorrupt) {
			return nil, fmt.Errorf("job archive %s is corrupt: %w. It holds the history of finished jobs that left the live state (sacct, describe-jobs); the live state is elsewhere and intact. "+
				"To recover, stop the controller and move the file away (mv %s %s.corrupt): the controller then starts a new, empty archive and the history in this file is lost to it", path, err, path, path)
		}
		return nil, fmt.Errorf("open job archive %s: %w (another controller may hold it: stop it, or give this one another -data-dir)", path, err)
	}
	opts := boltOptions
	db, err := bolt.Open(path, 0o600, &opts)
	if err != nil {
		return nil, fmt.Errorf("open job archive %s: %w (another controller may hold it: stop it, or give this one another -data-dir)", path, err)
	}
	// bolt creates with the mode given, less the umask; an older file or
	// an admin's copy may be wider.
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("open job archive: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open job archive %s: create buckets: %w", path, err)
	}
	return &Store{db: db, path: path}, nil
}

// Close closes the archive.
func (s *Store) Close() error { return s.db.Close() }

// Path is the archive's file.
func (s *Store) Path() string { return s.path }

// Shared is false: the file is this controller's own.
func (s *Store) Shared() bool { return false }

// String names the archive's file.
func (s *Store) String() string { return "bbolt archive " + s.path }

// Put stores finished jobs in one durable transaction (fsynced before it
// returns); ids already stored are skipped.
func (s *Store) Put(jobs []*api.Job) error { return s.PutEach(len(jobs), slices.Values(jobs)) }

// PutEach is Put over jobs given one at a time: each is encoded (and its
// index keys made) before the next is asked for.
func (s *Store) PutEach(n int, jobs iter.Seq[*api.Job]) error {
	if n == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		recs, envs, scripts := tx.Bucket(bucketJobs), tx.Bucket(bucketEnv), tx.Bucket(bucketScript)
		put := func(b *bolt.Bucket, k []byte) error { return b.Put(k, nil) }
		var rec api.Job
		for j := range jobs {
			id := idKey(j.ID)
			if recs.Get(id) != nil {
				continue
			}
			rec = *j
			rec.Env, rec.Script = nil, "" // in their own buckets
			data, err := json.Marshal(&rec)
			if err != nil {
				return fmt.Errorf("encode job %d: %w", j.ID, err)
			}
			if err := recs.Put(id, data); err != nil {
				return err
			}
			if len(j.Env) > 0 {
				env, err := json.Marshal(j.Env)
				if err != nil {
					return fmt.Errorf("encode job %d's environment: %w", j.ID, err)
				}
				if err := envs.Put(id, env); err != nil {
					return err
				}
			}
			if j.Script != "" {
				if err := scripts.Put(id, []byte(j.Script)); err != nil {
					return err
				}
			}
			if err := eachIndex(tx, j, put); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("archive %d jobs: %w", n, err)
	}
	s.ReleaseMemory() // what the writes' seeks mapped
	return nil
}

// eachIndex calls op with every index key of j.
func eachIndex(tx *bolt.Tx, j *api.Job, op func(*bolt.Bucket, []byte) error) error {
	end := endOf(j)
	keys := []struct {
		bucket []byte
		key    []byte
	}{
		{bucketEnd, indexKey("", false, end, j.ID)},
		{bucketUser, indexKey(j.User, true, end, j.ID)},
		{bucketAccount, indexKey(AccountOf(j), true, end, j.ID)},
		{bucketState, indexKey(string(j.State), true, end, j.ID)},
	}
	for _, k := range keys {
		if err := op(tx.Bucket(k.bucket), k.key); err != nil {
			return fmt.Errorf("index job %d in %s: %w", j.ID, k.bucket, err)
		}
	}
	return nil
}

func idKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

// indexKey is [value 0x00] end id: the value is a prefix (with its NUL,
// so that "ann" does not match "anna"), then big-endian end time and id.
func indexKey(value string, prefixed bool, end int64, id uint64) []byte {
	k := make([]byte, 0, len(value)+17)
	if prefixed {
		k = append(append(k, value...), 0)
	}
	k = binary.BigEndian.AppendUint64(k, uint64(end))
	return binary.BigEndian.AppendUint64(k, id)
}

// Get returns an archived job, or nil if the archive does not hold it.
func (s *Store) Get(id uint64) (*api.Job, error) {
	var j *api.Job
	err := s.db.View(func(tx *bolt.Tx) error {
		data := tx.Bucket(bucketJobs).Get(idKey(id))
		if data == nil {
			return nil
		}
		j = new(api.Job)
		var dec api.JobDecoder
		if err := dec.Decode(data, j); err != nil {
			return err
		}
		return newHeavyReader(tx, true, true).add(j)
	})
	if err != nil {
		return nil, fmt.Errorf("read archived job %d: %w", id, err)
	}
	return j, nil
}

// listPage is how many records one read transaction of List decodes: a
// long list (sacct over the whole history, written to a slow client)
// holds no transaction open for long, so the archive's writer can grow
// the file's mapping meanwhile.
const listPage = 1000

// List calls fn, in id order, with every archived job that f selects,
// until fn returns false or f.Limit jobs have been given. The jobs are
// fn's to keep. Without filters but f.AfterID it walks the records from
// there on; else it reads one index (users', else accounts', else
// states', else end times), each from f.EndedAfter on, for the ids. The
// rest of f is checked on the records it finds.
func (s *Store) List(f Filter, fn func(*api.Job) bool) error {
	n := 0
	give := func(j *api.Job) bool {
		if !f.Match(j) {
			return true
		}
		n++
		return fn(j) && (f.Limit <= 0 || n < f.Limit)
	}
	var err error
	if len(f.Users) == 0 && len(f.Accounts) == 0 && len(f.States) == 0 && f.EndedAfter <= 0 {
		err = s.listAll(f, give)
	} else {
		err = s.listIndexed(f, give)
	}
	if err != nil && !errors.Is(err, errStop) {
		return fmt.Errorf("list archived jobs: %w", err)
	}
	return nil
}

// listAll gives every record after f.AfterID, in id order, a page per
// read transaction.
func (s *Store) listAll(f Filter, give func(*api.Job) bool) error {
	after := f.AfterID
	if after == ^uint64(0) {
		return nil
	}
	from := idKey(after + 1)
	dec := api.JobDecoder{SkipEnv: f.NoEnv}
	page := make([]api.Job, 0, listPage) // each page in the same memory
	for {
		page = page[:0]
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketJobs).Cursor()
			heavy := newHeavyReader(tx, !f.NoEnv, !f.NoScript)
			for k, v := c.Seek(from); k != nil && len(page) < listPage; k, v = c.Next() {
				page = append(page, api.Job{})
				if err := dec.Decode(v, &page[len(page)-1]); err != nil {
					return fmt.Errorf("decode archived job %d: %w", binary.BigEndian.Uint64(k), err)
				}
				if err := heavy.add(&page[len(page)-1]); err != nil {
					return err
				}
			}
			dropMapped(s.db, tx)
			return nil
		})
		if err != nil {
			return err
		}
		for i := range page {
			if !give(&page[i]) {
				return errStop
			}
		}
		if len(page) < listPage {
			return nil
		}
		from = idKey(page[len(page)-1].ID + 1)
	}
}

// listIndexed finds the ids f's filters select in one index, then gives
// their records, in id order, a page per read transaction. With f.Limit
// it takes the ids a page at a time: the f.Limit smallest after the last
// one given, and again after those if the page is not full (some failed
// the rest of f). Every id after f.AfterID at once made each page of a
// long walk (sacct's, 20,000 jobs at a time over a history of 200,000)
// hold and sort the whole rest of the history.
func (s *Store) listIndexed(f Filter, give func(*api.Job) bool) error {
	bucket, values := bucketEnd, []string{""}
	switch {
	case len(f.Users) > 0:
		bucket, values = bucketUser, f.Users
	case len(f.Accounts) > 0:
		bucket, values = bucketAccount, f.Accounts
	case len(f.States) > 0:
		bucket, values = bucketState, make([]string, len(f.States))
		for i, st := range f.States {
			values[i] = string(st)
		}
	}
	values = slices.Compact(slices.Sorted(slices.Values(values)))
	dec := api.JobDecoder{SkipEnv: f.NoEnv}
	after := f.AfterID
	for {
		ids, more, err := s.indexedIDs(bucket, values, f.EndedAfter, after, max(f.Limit, 0))
		if err != nil {
			return err
		}
		if err := s.giveRecords(ids, &dec, f.NoScript, give); err != nil {
			return err // errStop: the page is full, or fn is done
		}
		if !more {
			return nil
		}
		after = ids[len(ids)-1]
	}
}

// indexedIDs returns, sorted, the ids after after that bucket's index
// lists under values from endedAfter on: all of them, or with keep > 0
// the keep smallest, more saying whether there are others.
func (s *Store) indexedIDs(bucket []byte, values []string, endedAfter int64, after uint64, keep int) (ids []uint64, more bool, err error) {
	bound := ^uint64(0) // with keep: the largest id kept so far, once there are keep
	walked := 0
	trim := func() {
		slices.Sort(ids)
		ids = slices.Compact(ids)
		if keep > 0 && len(ids) > keep {
			ids, more, bound = ids[:keep], true, ids[keep-1]
		}
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		for _, v := range values {
			from := indexKey(v, !bytes.Equal(bucket, bucketEnd), max(endedAfter, 0), 0)
			prefix := from[:len(from)-16]
			c := tx.Bucket(bucket).Cursor()
			for k, _ := c.Seek(from); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				if len(k) != len(prefix)+16 {
					continue // a longer value that shares the prefix: cannot happen with the NUL, but be sure
				}
				if walked++; walked%dropEvery == 0 {
					dropMapped(s.db, tx) // the index's pages walked so far
				}
				id := binary.BigEndian.Uint64(k[len(k)-8:])
				switch {
				case id <= after:
				case id > bound:
					more = true
				default:
					if ids = append(ids, id); keep > 0 && len(ids) >= 2*keep {
						trim()
					}
				}
			}
		}
		dropMapped(s.db, tx)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	trim()
	return ids, more, nil
}

// giveRecords gives the records of ids, in their order, a page per read
// transaction.
func (s *Store) giveRecords(ids []uint64, dec *api.JobDecoder, noScript bool, give func(*api.Job) bool) error {
	page := make([]api.Job, 0, min(len(ids), listPage)) // each page in the same memory
	for len(ids) > 0 {
		page = page[:0]
		err := s.db.View(func(tx *bolt.Tx) error {
			// One cursor, sought id after id (they rise): a Get per id
			// made a cursor each, a third of a history list's garbage.
			// Where the ids run on (a window of a history is most of
			// its ids), the next record is the one: a step, not a
			// search from the root.
			c := tx.Bucket(bucketJobs).Cursor()
			heavy := newHeavyReader(tx, !dec.SkipEnv, !noScript)
			var k, data []byte
			for _, id := range ids[:min(len(ids), cap(page))] {
				key := idKey(id)
				if k != nil {
					k, data = c.Next()
				}
				if !bytes.Equal(k, key) {
					k, data = c.Seek(key)
				}
				if !bytes.Equal(k, key) {
					return fmt.Errorf("job %d is indexed but has no record (a damaged archive: %s)", id, s.path)
				}
				page = append(page, api.Job{})
				if err := dec.Decode(data, &page[len(page)-1]); err != nil {
					return fmt.Errorf("decode archived job %d: %w", id, err)
				}
				if err := heavy.add(&page[len(page)-1]); err != nil {
					return err
				}
			}
			dropMapped(s.db, tx)
			return nil
		})
		if err != nil {
			return err
		}
		ids = ids[len(page):]
		for i := range page {
			if !give(&page[i]) {
				return errStop
			}
		}
	}
	return nil
}

var errStop = errors.New("stop")

// heavyReader gives the jobs a read transaction decodes the parts kept
// apart from their records (bucketEnv, bucketScript), those wanted.
type heavyReader struct {
	envs, scripts apartReader
}

func newHeavyReader(tx *bolt.Tx, env, script bool) *heavyReader {
	var r heavyReader
	if env {
		r.envs.c = tx.Bucket(bucketEnv).Cursor()
	}
	if script {
		r.scripts.c = tx.Bucket(bucketScript).Cursor()
	}
	return &r
}

// add sets j's environment and script, as wanted, where the buckets hold
// them (an older record holds its own, already decoded).
func (r *heavyReader) add(j *api.Job) error {
	if v := r.envs.value(j.ID); v != nil {
		if err := json.Unmarshal(v, &j.Env); err != nil {
			return fmt.Errorf("decode archived job %d's environment: %w", j.ID, err)
		}
	}
	if r.scripts.c == nil {
		j.Script = "" // an older record's, not wanted
	} else if v := r.scripts.value(j.ID); v != nil {
		j.Script = string(v)
	}
	return nil
}

// apartReader reads one of those buckets for the jobs of a read
// transaction: one cursor, that steps to the next key where the ids run
// on and seeks where they do not.
type apartReader struct {
	c    *bolt.Cursor // nil: not wanted
	k, v []byte       // where c is (k nil: past the last)
	last uint64       // the id asked for before (0: none yet)
}

// value is id's value in the bucket, nil if it has none.
func (r *apartReader) value(id uint64) []byte {
	if r.c == nil {
		return nil
	}
	key := idKey(id)
	switch {
	case r.last == 0 || id < r.last:
		r.k, r.v = r.c.Seek(key)
	case r.k != nil && bytes.Compare(r.k, key) < 0:
		if r.k, r.v = r.c.Next(); r.k != nil && bytes.Compare(r.k, key) < 0 {
			r.k, r.v = r.c.Seek(key)
		}
	}
	r.last = id
	if r.k == nil || !bytes.Equal(r.k, key) {
		return nil
	}
	return r.v
}

// dropEvery is how many index entries a walk reads between drops of the
// file's pages it has mapped (dropMapped): a walk of a long history's
// index would otherwise hold all of its pages in the controller's RSS
// until it ends. (A variable: tests drop at every entry.)
var dropEvery = 20000

// dropMapped takes the archive file's pages out of this process's
// resident set (madvise MADV_DONTNEED on bbolt's read-only shared
// mapping): the kernel keeps them in its page cache, and a later read
// maps them again (a minor fault). Without it, every page a list or a
// write has read stays counted in the controller's RSS: a list of the
// whole history maps the whole file. It runs inside a read transaction,
// which holds bbolt's mapping in place (a remap waits for readers).
func dropMapped(db *bolt.DB, tx *bolt.Tx) {
	size := tx.Size()
	if size <= 0 {
		return
	}
	// The address as a number: the mapping is bbolt's, not Go memory.
	unix.Syscall(unix.SYS_MADVISE, db.Info().Data, uintptr(size), unix.MADV_DONTNEED)
}

// ReleaseMemory takes the archive file's pages out of this process's
// resident set (see dropMapped).
func (s *Store) ReleaseMemory() { DropMapped(s.db) }

// DropMapped takes a bbolt file's pages out of this process's resident
// set (see dropMapped); the raft log's store is one too.
func DropMapped(db *bolt.DB) {
	db.View(func(tx *bolt.Tx) error {
		dropMapped(db, tx)
		return nil
	})
}

// Count returns how many jobs the archive holds.
func (s *Store) Count() (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketJobs).Stats().KeyN
		return nil
	})
	return n, err
}
