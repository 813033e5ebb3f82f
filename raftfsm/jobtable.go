package raftfsm

import (
	"fmt"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
)

// The jobs table holds jobs in buckets of jobBucketSize consecutive ids,
// one go-memdb object per bucket: a go-memdb object costs its radix node
// and leaf with a watch channel apiece (some 330 bytes), which a bucket
// spreads over its jobs (an 8-byte slot each). A transaction copies a
// bucket it changes once (2 KiB), however many of its jobs it changes.
// Jobs are read and written only through State.Job, AllJobs, writer.job,
// writer.put(tableJobs, j) and writer.deleteJob: the go-memdb table is
// tableJobBuckets, and go-memdb calls on tableJobs fail ("invalid table").
const jobBucketSize = 256

// tableJobBuckets is the go-memdb table of job buckets.
const tableJobBuckets = "jobbuckets"

// jobBucket holds the jobs whose ids are ID*jobBucketSize and up; a slot
// is nil where there is no such job (yet, or any more).
type jobBucket struct {
	ID   uint64
	Jobs []*jobRec // jobBucketSize slots
	live int       // slots that hold a job
	// owner is the write transaction that made this copy and alone may
	// change it in place (as jobSet.owner).
	owner *memdb.Txn
}

func jobsTable() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: tableJobBuckets,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: jobBucketIndex{}},
		},
	}
}

// jobBucketIndex is a bucket's number, 8 bytes big-endian (id order).
type jobBucketIndex struct{}

func (jobBucketIndex) FromObject(obj any) (bool, []byte, error) {
	b, ok := obj.(*jobBucket)
	if !ok {
		return false, nil, fmt.Errorf("jobs table: %T is not a job bucket", obj)
	}
	return true, uint64Key(b.ID), nil
}

func (jobBucketIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("jobs table: want one bucket number, got %d args", len(args))
	}
	id, ok := args[0].(uint64)
	if !ok {
		return nil, fmt.Errorf("jobs table: %T is not a uint64 bucket number", args[0])
	}
	return uint64Key(id), nil
}

// storedRec returns the record of job id, or nil.
func storedRec(txn *memdb.Txn, id uint64) *jobRec { return storedSlot(txn, id).at(id) }

// storedSlot is what the slot of job id holds: its record, a task group
// standing for it, or nil.
func storedSlot(txn *memdb.Txn, id uint64) *jobRec {
	raw, err := txn.First(tableJobBuckets, "id", id/jobBucketSize)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: read job %d: %v", id, err))
	}
	if raw == nil {
		return nil
	}
	return raw.(*jobBucket).Jobs[id%jobBucketSize]
}

// recReader reads records by id, keeping the bucket it last read: ids
// read in order (an array's tasks) share their buckets, and each go-memdb
// read costs a lookup and an allocation.
type recReader struct {
	txn *memdb.Txn
	b   *jobBucket
}

// rec is storedRec(r.txn, id). Not for a transaction that writes jobs
// while reading: a bucket it copies is not the one kept.
func (r *recReader) rec(id uint64) *jobRec { return r.raw(id).at(id) }

// raw is what the slot of id holds: rec, or a task group standing for it.
func (r *recReader) raw(id uint64) *jobRec {
	n := id / jobBucketSize
	if r.b == nil || r.b.ID != n {
		raw, err := r.txn.First(tableJobBuckets, "id", n)
		if err != nil {
			panic(fmt.Sprintf("raftfsm: read job %d: %v", id, err))
		}
		if raw == nil {
			return nil
		}
		r.b = raw.(*jobBucket)
	}
	return r.b.Jobs[id%jobBucketSize]
}

// storedJob returns the stored job id (a new api.Job), or nil.
func storedJob(txn *memdb.Txn, id uint64) *api.Job {
	if r := storedRec(txn, id); r != nil {
		return r.job()
	}
	return nil
}

// eachStoredJob calls fn for every stored job in id order until fn
// returns false. A bucket this transaction may still change is read from
// a copy, so fn may write jobs.
func eachStoredJob(txn *memdb.Txn, fn func(*api.Job) bool) {
	var slab jobSlab
	eachSlot(txn, func(id uint64, r *jobRec) bool { return fn(slab.loadAt(r, id)) })
}

// eachSlot calls fn with what each slot holds, in id order, until fn
// returns false: a job's record, or a task group standing for job id
// (r.at(id) is the job's own record; jobSlab.loadAt makes its api.Job).
func eachSlot(txn *memdb.Txn, fn func(id uint64, r *jobRec) bool) {
	it, err := txn.Get(tableJobBuckets, "id")
	if err != nil {
		panic(fmt.Sprintf("raftfsm: list jobs: %v", err))
	}
	var buckets []*jobBucket
	for raw := it.Next(); raw != nil; raw = it.Next() {
		buckets = append(buckets, raw.(*jobBucket))
	}
	for _, b := range buckets {
		jobs := b.Jobs
		if b.owner == txn {
			jobs = append([]*jobRec(nil), jobs...)
		}
		for i, r := range jobs {
			if r != nil && !fn(b.ID*jobBucketSize+uint64(i), r) {
				return
			}
		}
	}
}

// openCache remembers what one command has opened in its write
// transaction: the job bucket and the job sets it last changed, copies
// the transaction owns and the tables hold. Each go-memdb read in a write
// transaction costs a lookup and an allocation, and an array's tasks
// (consecutive ids) open the same bucket and sets task after task. An
// entry is dropped when its object leaves its table. A nil cache keeps
// nothing.
type openCache struct {
	bucket *jobBucket
	// sets: eight, for the dependents of a cancelled array when they are
	// tasks of two arrays, which fail in turn: each one's state sets and
	// sets of dependents.
	sets [8]cachedSet
	next int // the entry the next set replaces
	// stateKeys are the last state set keys made (stateSetKey): a job
	// that changes state leaves one set and joins another, and the next
	// job (an array's next task) the same two.
	stateKeys [2]string
	nextKey   int
	depsKey   string     // the last set of dependents' key made (depsSetKey)
	hints     hintWriter // dephints.go
}

type cachedSet struct {
	table string
	set   *jobSet
}

// findSet returns the cached set of key in table, or nil.
func (c *openCache) findSet(table, key string) *jobSet {
	if c == nil {
		return nil
	}
	for _, e := range c.sets {
		if e.set != nil && e.table == table && e.set.Key == key {
			return e.set
		}
	}
	return nil
}

// keepSet caches s, a set of table this transaction owns.
func (c *openCache) keepSet(table string, s *jobSet) {
	if c == nil {
		return
	}
	c.sets[c.next] = cachedSet{table, s}
	c.next = (c.next + 1) % len(c.sets)
}

// dropSet forgets s, deleted from its table.
func (c *openCache) dropSet(s *jobSet) {
	if c == nil {
		return
	}
	for i := range c.sets {
		if c.sets[i].set == s {
			c.sets[i] = cachedSet{}
		}
	}
}

// rawRec is what the slot of job id holds, from the cached bucket when it
// holds id: the job's record, or a task group that stands for it (whose
// ID and index are not the job's; rec(id) reads the job's), or nil.
// Writers that change many alike tasks read their group once this way.
func (c *openCache) rawRec(txn *memdb.Txn, id uint64) *jobRec {
	if c != nil && c.bucket != nil && c.bucket.ID == id/jobBucketSize {
		return c.bucket.Jobs[id%jobBucketSize]
	}
	return storedSlot(txn, id)
}

// storeJob puts record now in its slot (now nil: empties the slot of id)
// and returns what the slot held (a task group as it is: see rawRec); c
// is the command's openCache (or nil).
func storeJob(txn *memdb.Txn, c *openCache, id uint64, now *jobRec) (was *jobRec) {
	was, _ = storeJobFrom(txn, c, id, func(*jobRec) *jobRec { return now })
	return was
}

// storeJobFrom is storeJob of the record that build makes from what the
// slot holds (as storeJob returns it): one lookup of the slot for both
// (putJob).
func storeJobFrom(txn *memdb.Txn, c *openCache, id uint64, build func(was *jobRec) *jobRec) (was, now *jobRec) {
	n := id / jobBucketSize
	var raw any
	if c != nil && c.bucket != nil && c.bucket.ID == n {
		raw = c.bucket
	} else {
		var err error
		if raw, err = txn.First(tableJobBuckets, "id", n); err != nil {
			panic(fmt.Sprintf("raftfsm: read job %d: %v", id, err))
		}
	}
	if raw != nil {
		was = raw.(*jobBucket).Jobs[id%jobBucketSize]
	}
	now = build(was)
	var b *jobBucket
	switch {
	case raw != nil && raw.(*jobBucket).owner == txn:
		b = raw.(*jobBucket)
	case raw == nil && now == nil:
		return nil, nil
	default:
		b = &jobBucket{ID: n, Jobs: make([]*jobRec, jobBucketSize), owner: txn}
		if raw != nil {
			old := raw.(*jobBucket)
			copy(b.Jobs, old.Jobs)
			b.live = old.live
		}
		if err := txn.Insert(tableJobBuckets, b); err != nil {
			panic(fmt.Sprintf("raftfsm: write jobs %d-%d: %v", n*jobBucketSize, (n+1)*jobBucketSize-1, err))
		}
	}
	b.Jobs[id%jobBucketSize] = now
	switch {
	case was == nil && now != nil:
		b.live++
	case was != nil && now == nil:
		b.live--
	}
	if c != nil {
		c.bucket = b
	}
	if b.live == 0 {
		if err := txn.Delete(tableJobBuckets, b); err != nil {
			panic(fmt.Sprintf("raftfsm: delete jobs %d-%d: %v", n*jobBucketSize, (n+1)*jobBucketSize-1, err))
		}
		if c != nil {
			c.bucket = nil
		}
	}
	return was, now
}

// storeRun puts record r in the n empty slots from id on, all in one
// bucket (a run of new alike tasks): storeJob's writes, the bucket
// opened once.
func storeRun(txn *memdb.Txn, c *openCache, id uint64, n int, r *jobRec) {
	if (id+uint64(n)-1)/jobBucketSize != id/jobBucketSize {
		panic(fmt.Sprintf("raftfsm: store jobs %d-%d: not one bucket", id, id+uint64(n)-1))
	}
	storeJob(txn, c, id, r) // opens the bucket: this transaction's own copy
	b := c.bucket
	for at := id + 1; at < id+uint64(n); at++ {
		if b.Jobs[at%jobBucketSize] != nil {
			panic(fmt.Sprintf("raftfsm: store new job %d: its slot is taken", at))
		}
		b.Jobs[at%jobBucketSize] = r
	}
	b.live += n - 1
}
