package archive

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/boltcheck"
)

// Buckets. The records bucket maps a job id to the job's JSON; each index
// bucket holds keys only: [value 0x00] end-time id, so that one filter and
// a time window are one range scan.
var (
	bucketJobs    = []byte("jobs")
	bucketEnd     = []byte("by-end")
	bucketUser    = []byte("by-user")
	bucketAccount = []byte("by-account")
	bucketState   = []byte("by-state")
	allBuckets    = [][]byte{bucketJobs, bucketEnd, bucketUser, bucketAccount, bucketState}
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

// Put stores finished jobs in one durable transaction (fsynced before it
// returns). Storing a job again replaces it: replaying the raft log after
// a crash archives the same jobs twice, harmlessly.
func (s *Store) Put(jobs []*api.Job) error {
	if len(jobs) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		recs := tx.Bucket(bucketJobs)
		for _, j := range jobs {
			data, err := json.Marshal(j)
			if err != nil {
				return fmt.Errorf("encode job %d: %w", j.ID, err)
			}
			id := idKey(j.ID)
			if old := recs.Get(id); old != nil {
				if bytes.Equal(old, data) {
					continue
				}
				var prev api.Job
				if err := json.Unmarshal(old, &prev); err != nil {
					return fmt.Errorf("decode archived job %d: %w", j.ID, err)
				}
				if err := eachIndex(tx, &prev, (*bolt.Bucket).Delete); err != nil {
					return err
				}
			}
			if err := recs.Put(id, data); err != nil {
				return err
			}
			put := func(b *bolt.Bucket, k []byte) error { return b.Put(k, nil) }
			if err := eachIndex(tx, j, put); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("archive %d jobs: %w", len(jobs), err)
	}
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

// AccountOf is the account a job is accounted to: its own, else its
// user's name (as sacct shows it).
func AccountOf(j *api.Job) string {
	if j.Account != "" {
		return j.Account
	}
	return j.User
}

// endOf is when j ended (epoch ms); a job archived without an end (none
// should be) counts as ending when it was created.
func endOf(j *api.Job) int64 {
	if j.StoppedAt > 0 {
		return j.StoppedAt
	}
	return max(j.CreatedAt, 0)
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
		return json.Unmarshal(data, j)
	})
	if err != nil {
		return nil, fmt.Errorf("read archived job %d: %w", id, err)
	}
	return j, nil
}

// Filter selects archived jobs; empty fields match everything. A job
// passes when it passes every field given.
type Filter struct {
	Users    []string       // user names
	Accounts []string       // accounts as AccountOf gives them
	States   []api.JobState // SUCCEEDED, FAILED (nothing else is archived)
	Queue    string
	// EndedAfter leaves out jobs that ended before it (epoch ms; 0: none).
	EndedAfter int64
	// SubmittedBefore leaves out jobs created after it (epoch ms; 0: none).
	SubmittedBefore int64
}

func (f Filter) match(j *api.Job) bool {
	return (len(f.Users) == 0 || slices.Contains(f.Users, j.User)) &&
		(len(f.Accounts) == 0 || slices.Contains(f.Accounts, AccountOf(j))) &&
		(len(f.States) == 0 || slices.Contains(f.States, j.State)) &&
		(f.Queue == "" || j.Queue == f.Queue) &&
		endOf(j) >= f.EndedAfter &&
		(f.SubmittedBefore == 0 || j.CreatedAt <= f.SubmittedBefore)
}

// List calls fn, in id order, with every archived job that f selects,
// until fn returns false. The jobs are fn's to keep. It reads one index:
// users', else accounts', else states', else end times, each from
// f.EndedAfter on; the rest of f is checked on the records it finds.
func (s *Store) List(f Filter, fn func(*api.Job) bool) error {
	err := s.db.View(func(tx *bolt.Tx) error {
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
		var ids []uint64
		for _, v := range slices.Compact(slices.Sorted(slices.Values(values))) {
			prefixed := !bytes.Equal(bucket, bucketEnd)
			from := indexKey(v, prefixed, max(f.EndedAfter, 0), 0)
			prefix := from[:len(from)-16]
			c := tx.Bucket(bucket).Cursor()
			for k, _ := c.Seek(from); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				if len(k) != len(prefix)+16 {
					continue // a longer value that shares the prefix: cannot happen with the NUL, but be sure
				}
				ids = append(ids, binary.BigEndian.Uint64(k[len(k)-8:]))
			}
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
		recs := tx.Bucket(bucketJobs)
		for _, id := range ids {
			data := recs.Get(idKey(id))
			if data == nil {
				return fmt.Errorf("job %d is indexed but has no record (a damaged archive: %s)", id, s.path)
			}
			j := new(api.Job)
			if err := json.Unmarshal(data, j); err != nil {
				return fmt.Errorf("decode archived job %d: %w", id, err)
			}
			if f.match(j) && !fn(j) {
				return errStop
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return fmt.Errorf("list archived jobs: %w", err)
	}
	return nil
}

var errStop = errors.New("stop")

// Count returns how many jobs the archive holds.
func (s *Store) Count() (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketJobs).Stats().KeyN
		return nil
	})
	return n, err
}
