package raftfsm

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"unsafe"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
)

// tableJobSets holds the jobs' secondary indexes by state and by
// dependency as sets of jobs, many jobs to one stored object. A go-memdb
// index costs each job a radix node and leaf with a watch channel apiece,
// some 330 bytes per entry, and an update writes the entry again; a set
// costs an entry 16 bytes, and a transaction copies a set it changes once,
// however many of its jobs it changes. Sets are derived from the jobs
// (putJob keeps them, Restore rebuilds them): snapshots do not carry them.
const tableJobSets = "jobsets"

// Set keys: a kind byte, then
//   - setState: the state's code (stateCodes) and the id's bucket (id /
//     stateBucket, 8 bytes big-endian): the jobs in that state, in id order
//     across buckets;
//   - setDeps: the bucket of the jobs depended on (id / stateBucket, 8
//     bytes) and the dependents' bucket (8 bytes): the unfinished jobs
//     that depend on jobs of the first bucket, each with a mask of which
//     (jobSet.Masks). A set per job depended on made a submit of one job
//     after a 100,000-task array 100,000 go-memdb inserts, two seconds
//     of the FSM; a set per bucket of them makes it 391.
//
// tableJobWork holds the sets of each node's work, the jobs placed on it
// that have not finished (STARTING, RUNNING): keys are the node's name, a
// NUL, and the id's bucket. The watch channels of a node's sets are what
// its blocking query waits on: they fire when its work changes, not when
// anything else does (a table of their own: keys that begin with the
// name, as a go-memdb index's would, so that one node's first set does
// not split the radix node another's watch is on).
const (
	setState = 's'
	setDeps  = 'd'
)

const tableJobWork = "jobwork"

// stateBucket is how many consecutive ids share a state set: a copy on
// change costs at most 4 KiB.
const stateBucket = 256

// jobSet is one set: its members by id, ascending. A member that left is
// a hole (Job nil) until the set is next copied.
type jobSet struct {
	Key     string
	Members []setMember
	// Masks, in a set of dependents (setDeps) alone, is which jobs of
	// the set's bucket of jobs depended on each member depends on:
	// Masks[i] is Members[i]'s (nil in every other set, whose members
	// are most of the state's, 16 bytes each).
	Masks []depMask
	live  int // members that are not holes
	// owner is the write transaction that made this copy; it alone may
	// change it in place (readers never see a set before its commit).
	// Any other transaction copies it first.
	owner *memdb.Txn
}

type setMember struct {
	ID  uint64
	Job *jobRec
}

func jobSetsTable(name string) *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: name,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: setKeyIndex{}},
		},
	}
}

// setKeyIndex is the sets' key, with prefixes (all sets of one state).
type setKeyIndex struct{}

func (setKeyIndex) FromObject(obj any) (bool, []byte, error) {
	s, ok := obj.(*jobSet)
	if !ok {
		return false, nil, fmt.Errorf("job set index: %T is not a job set", obj)
	}
	return true, []byte(s.Key), nil
}

func (setKeyIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("job set index: want one key, got %d args", len(args))
	}
	k, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("job set index: %T is not a set key", args[0])
	}
	// The key's own bytes, not a copy: a lookup only reads them, and a
	// copy was an allocation in every job's change of state.
	return unsafe.Slice(unsafe.StringData(k), len(k)), nil
}

func (x setKeyIndex) PrefixFromArgs(args ...any) ([]byte, error) { return x.FromArgs(args...) }

func stateSetPrefix(st api.JobState) string {
	return string([]byte{setState, stateCode(st)})
}

func stateCode(st api.JobState) byte {
	c, ok := stateCodes[st]
	if !ok {
		panic(fmt.Sprintf("raftfsm: unknown job state %q", st))
	}
	return c
}

// stateSetKey is the state set of job id in the state of code (one of
// stateCodes): one allocation, made at every change of a job's state,
// unless c (the command's openCache, or nil) made the same key last.
func stateSetKey(c *openCache, code byte, id uint64) string {
	var k [10]byte
	k[0], k[1] = setState, code
	binary.BigEndian.PutUint64(k[2:], id/stateBucket)
	if c == nil {
		return string(k[:])
	}
	for _, key := range c.stateKeys {
		if key == string(k[:]) { // compared without an allocation
			return key
		}
	}
	key := string(k[:])
	c.stateKeys[c.nextKey] = key
	c.nextKey = (c.nextKey + 1) % len(c.stateKeys)
	return key
}

func activeSetPrefix(node string) string { return node + "\x00" }

// activeKey is the set of the node's work job id (record j) belongs to,
// or "".
func activeKey(j *jobRec, id uint64) string {
	if j == nil || j.Node() == "" || !j.State().Terminable() {
		return ""
	}
	return string(binary.BigEndian.AppendUint64([]byte(activeSetPrefix(j.Node())), id/stateBucket))
}

// depMask is a set of the jobs of one bucket of ids (id % stateBucket).
type depMask [stateBucket / 64]uint64

func (m *depMask) add(id uint64) { m[id%stateBucket/64] |= 1 << (id % 64) }

func (m *depMask) has(id uint64) bool { return m[id%stateBucket/64]&(1<<(id%64)) != 0 }

// each calls fn with the offset in the bucket of each job of m that is
// in want too.
func (m *depMask) each(want *depMask, fn func(off uint64)) {
	for w := range m {
		for b := m[w] & want[w]; b != 0; b &= b - 1 {
			fn(uint64(w*64 + bits.TrailingZeros64(b)))
		}
	}
}

// depsSetPrefix starts the keys of the sets of the dependents of the
// jobs of bucket (id / stateBucket).
func depsSetPrefix(bucket uint64) string {
	return string(binary.BigEndian.AppendUint64([]byte{setDeps}, bucket))
}

// depsSetKey is the set of dependents of the jobs of bucket that
// dependent belongs to: one per bucket of the dependents' ids, as the
// state sets are, so that a job with 100,000 dependents (a sweep after
// one job) costs a submit a copy of 12 KiB, not of all of them. The key
// is made once for the jobs after each other that c (the command's
// openCache, or nil) sees: an array's tasks, each on its counterpart
// (aftercorr), share it 256 at a time.
func depsSetKey(c *openCache, bucket, dependent uint64) string {
	var k [17]byte
	k[0] = setDeps
	binary.BigEndian.PutUint64(k[1:], bucket)
	binary.BigEndian.PutUint64(k[9:], dependent/stateBucket)
	if c != nil && c.depsKey == string(k[:]) { // compared without an allocation
		return c.depsKey
	}
	key := string(k[:])
	if c != nil {
		c.depsKey = key
	}
	return key
}

// depEntry is job id's place in one set of dependents: the set's key and
// which jobs of its bucket the job depends on.
type depEntry struct {
	key  string
	mask depMask
}

// depEntries are the sets of dependents job id (record j) belongs to
// while it has not finished, in key order: one per bucket of the jobs
// it depends on. A job may have 200,000 links (MaxDependencyLinks): they
// are walked in target order (sorted once, if they are not already: a
// dependency on an array is), not checked one against the others.
func depEntries(c *openCache, j *jobRec, id uint64) []depEntry {
	if j == nil || j.State().Terminal() || len(j.DependsOn) == 0 {
		return nil
	}
	links := j.DependsOn
	if !slices.IsSortedFunc(links, byTarget) {
		links = slices.SortedFunc(slices.Values(links), byTarget)
	}
	var out []depEntry
	for i, d := range links {
		if i == 0 || d.JobID/stateBucket != links[i-1].JobID/stateBucket {
			out = append(out, depEntry{key: depsSetKey(c, d.JobID/stateBucket, id)}) // ordered as the bucket is: big-endian
		}
		out[len(out)-1].mask.add(d.JobID)
	}
	return out
}

// sameDepKeys reports, without making them, that records was and now of
// one job belong to the same sets of dependents: both unfinished with
// the same links (records share their links), or both in none.
func sameDepKeys(was, now *jobRec) bool {
	in := func(r *jobRec) bool { return r != nil && !r.State().Terminal() && len(r.DependsOn) > 0 }
	switch {
	case !in(was) && !in(now):
		return true
	case in(was) != in(now) || len(was.DependsOn) != len(now.DependsOn):
		return false
	}
	return &was.DependsOn[0] == &now.DependsOn[0]
}

// find returns the member with id's position, or where it would go.
func (s *jobSet) find(id uint64) (int, bool) {
	return slices.BinarySearchFunc(s.Members, id, func(m setMember, id uint64) int {
		switch {
		case m.ID < id:
			return -1
		case m.ID > id:
			return 1
		}
		return 0
	})
}

// setWriter changes the sets inside one write transaction; c, if not
// nil, is the command's openCache.
type setWriter struct {
	txn *memdb.Txn
	c   *openCache
}

// open returns the set of key this transaction may change: its own copy
// (made now, and stored, if the stored one is older: holes are dropped),
// or a new one if there is none and create is set; nil otherwise.
func (w setWriter) open(table, key string, create bool) *jobSet {
	if s := w.c.findSet(table, key); s != nil {
		return s
	}
	raw, err := w.txn.First(table, "id", key)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: read job set %q: %v", key, err))
	}
	var s *jobSet
	switch {
	case raw != nil && raw.(*jobSet).owner == w.txn:
		w.c.keepSet(table, raw.(*jobSet))
		return raw.(*jobSet)
	case raw != nil:
		old := raw.(*jobSet)
		// Room for the members a command adds to one set, most often a
		// submit's few: one copy, not a copy and a regrowth.
		s = &jobSet{Key: key, Members: make([]setMember, 0, old.live+16), live: old.live, owner: w.txn}
		if old.Masks != nil {
			s.Masks = make([]depMask, 0, old.live+16)
		}
		for i, m := range old.Members {
			if m.Job != nil {
				s.Members = append(s.Members, m)
				if old.Masks != nil {
					s.Masks = append(s.Masks, old.Masks[i])
				}
			}
		}
	case !create:
		return nil
	default:
		s = &jobSet{Key: key, owner: w.txn}
	}
	if err := w.txn.Insert(table, s); err != nil {
		panic(fmt.Sprintf("raftfsm: write job set %q: %v", key, err))
	}
	w.c.keepSet(table, s)
	return s
}

// addMember puts job (j, or depMember with its mask) in as id into the
// set of key, or replaces the member of that id; mask is nil but in a
// set of dependents.
func (w setWriter) addMember(table, key string, id uint64, j *jobRec, mask *depMask) {
	s := w.open(table, key, true)
	if n := len(s.Members); n == 0 || s.Members[n-1].ID < id { // ids mostly come in order
		s.Members = append(s.Members, setMember{id, j})
		if mask != nil {
			s.Masks = append(s.Masks, *mask)
		}
		s.live++
		return
	}
	i, found := s.find(id)
	switch {
	case found && s.Members[i].Job == nil:
		s.live++
	case !found:
		s.Members = slices.Insert(s.Members, i, setMember{})
		if mask != nil {
			s.Masks = slices.Insert(s.Masks, i, depMask{})
		}
		s.live++
	}
	s.Members[i] = setMember{id, j}
	if mask != nil {
		s.Masks[i] = *mask
	}
}

// addRun puts the n new jobs from id on (alike: record r, all in one
// state bucket) into their sets, as moveJob(at, nil, r) does each.
func (w setWriter) addRun(id uint64, n int, r *jobRec) {
	if n == 1 || (id+uint64(n)-1)/stateBucket != id/stateBucket || activeKey(r, id) != "" {
		for at := id; at < id+uint64(n); at++ {
			w.moveJob(at, nil, r)
		}
		return
	}
	entries := append(depEntries(w.c, r, id), depEntry{key: stateSetKey(w.c, r.state, id)})
	for i := range entries {
		key, m, mask := entries[i].key, r, (*depMask)(nil)
		if key[0] == setDeps {
			m, mask = depMember, &entries[i].mask
		}
		s := w.open(tableJobSets, key, true)
		if last := len(s.Members) - 1; last >= 0 && s.Members[last].ID >= id {
			for at := id; at < id+uint64(n); at++ { // not past the set's end: one by one
				w.addMember(tableJobSets, key, at, m, mask)
			}
			continue
		}
		s.Members = slices.Grow(s.Members, n)
		for at := id; at < id+uint64(n); at++ {
			s.Members = append(s.Members, setMember{at, m})
		}
		if mask != nil {
			s.Masks = slices.Grow(s.Masks, n)
			for range n {
				s.Masks = append(s.Masks, *mask)
			}
		}
		s.live += n
	}
}

// depMember is what a member of a set of dependents (setDeps) holds in
// place of its job: the set says which jobs depend, and dependents looks
// each up. A member is added when the job comes to depend and removed
// when it ends, not written at each of its changes: one job may have
// 100,000 dependents, and a transaction that changes any of them would
// copy their set.
var depMember = &jobRec{}

// remove takes job id out of the set of key (a hole until the next copy);
// an empty set is deleted.
func (w setWriter) remove(table, key string, id uint64) {
	s := w.open(table, key, false)
	if s == nil {
		return
	}
	if i, found := s.find(id); found && s.Members[i].Job != nil {
		s.Members[i].Job = nil
		s.live--
	}
	if s.live == 0 {
		if err := w.txn.Delete(table, s); err != nil {
			panic(fmt.Sprintf("raftfsm: delete job set %q: %v", key, err))
		}
		w.c.dropSet(s)
	}
}

// moveJob updates the sets for job id, stored as now (nil: deleted; a
// task group, which the sets hold as the slot does) that was stored as
// was (nil: new; the task's own record).
func (w setWriter) moveJob(id uint64, was, now *jobRec) {
	var oldState, newState string
	if was != nil {
		oldState = stateSetKey(w.c, was.state, id)
	}
	if now != nil {
		newState = stateSetKey(w.c, now.state, id)
	}
	if oldState != "" && oldState != newState {
		w.remove(tableJobSets, oldState, id)
	}
	if newState != "" {
		w.addMember(tableJobSets, newState, id, now, nil)
	}
	oldActive, newActive := activeKey(was, id), activeKey(now, id)
	if oldActive != "" && oldActive != newActive {
		w.remove(tableJobWork, oldActive, id)
	}
	if newActive != "" {
		w.addMember(tableJobWork, newActive, id, now, nil)
	}
	if !sameDepKeys(was, now) {
		w.moveDeps(id, depEntries(w.c, was, id), depEntries(w.c, now, id))
	}
	if was != nil && was.State() == api.StatePending && len(was.DependsOn) > 0 &&
		(now == nil || now.State() != api.StatePending || now.Held != was.Held || now.StatusReason != was.StatusReason) {
		hintsOf(w.txn, w.c).drop(id) // it left PENDING, or what its hint records of it changed
	}
}

// moveDeps takes job id out of the sets of dependents of was and puts it
// into those of now (both in key order) that the other lacks, or with
// another mask.
func (w setWriter) moveDeps(id uint64, was, now []depEntry) {
	for len(was) > 0 || len(now) > 0 {
		switch {
		case len(now) == 0 || (len(was) > 0 && was[0].key < now[0].key):
			w.remove(tableJobSets, was[0].key, id)
			was = was[1:]
		case len(was) == 0 || now[0].key < was[0].key:
			w.addMember(tableJobSets, now[0].key, id, depMember, &now[0].mask)
			now = now[1:]
		default: // in both
			if was[0].mask != now[0].mask {
				w.addMember(tableJobSets, now[0].key, id, depMember, &now[0].mask)
			}
			was, now = was[1:], now[1:]
		}
	}
}

// eachInSets calls fn for each member of the sets whose keys start with
// prefix, in key order and id order within a set, until fn returns false.
// A set this transaction may still change is read from a copy, so fn may
// write jobs.
func eachInSets(txn *memdb.Txn, table, prefix string, env bool, fn func(*api.Job) bool) {
	slab := jobSlab{noEnv: !env}
	eachSetMember(txn, table, prefix, func(m setMember) bool { return fn(slab.loadAt(m.Job, m.ID)) })
}

// eachSetMember is eachInSets with the members themselves, as the sets
// hold them: a member's Job may be a task group, which m.Job.at(m.ID) reads
// (or a reader of what a group shares, its spec, may read as it is).
func eachSetMember(txn *memdb.Txn, table, prefix string, fn func(setMember) bool) {
	it, err := txn.Get(table, "id_prefix", prefix)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: list job sets %q: %v", prefix, err))
	}
	var sets []*jobSet
	for raw := it.Next(); raw != nil; raw = it.Next() {
		sets = append(sets, raw.(*jobSet))
	}
	for _, s := range sets {
		members := s.Members
		if s.owner == txn {
			members = slices.Clone(members)
		}
		for _, m := range members {
			if m.Job != nil && !fn(m) {
				return
			}
		}
	}
}

// eachDepsSet calls fn with each set of dependents whose key starts with
// prefix (all of them: string([]byte{setDeps})), in key order. fn only
// reads: the sets may be this transaction's own.
func eachDepsSet(txn *memdb.Txn, prefix string, fn func(*jobSet)) {
	it, err := txn.Get(tableJobSets, "id_prefix", prefix)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: list dependency sets %q: %v", prefix, err))
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		fn(raw.(*jobSet))
	}
}

// depTargets are the jobs that unfinished jobs depend on, by bucket.
type depTargets map[uint64]*depMask

func (t depTargets) has(id uint64) bool {
	m := t[id/stateBucket]
	return m != nil && m.has(id)
}

// dependencyTargets are the jobs that unfinished jobs depend on: the
// masks of the members of the sets of dependents, read once for all.
func dependencyTargets(txn *memdb.Txn) depTargets {
	targets := depTargets{}
	eachDepsSet(txn, string([]byte{setDeps}), func(s *jobSet) {
		bucket := binary.BigEndian.Uint64([]byte(s.Key[1:9]))
		m := targets[bucket]
		if m == nil {
			m = new(depMask)
			targets[bucket] = m
		}
		for i, member := range s.Members {
			if member.Job != nil {
				for w := range m {
					m[w] |= s.Masks[i][w]
				}
			}
		}
	})
	return targets
}

// dependentIDs returns the ids of the unfinished jobs that depend on the
// jobs ids, each once, in the order of ids, then of each one's dependents
// by id. The sets of dependents of each bucket of ids are read once.
func dependentIDs(txn *memdb.Txn, ids ...uint64) []uint64 {
	if len(ids) == 1 { // most often: no maps
		var deps []uint64
		eachDepsSet(txn, depsSetPrefix(ids[0]/stateBucket), func(s *jobSet) {
			for i, m := range s.Members {
				if m.Job != nil && s.Masks[i].has(ids[0]) {
					deps = append(deps, m.ID)
				}
			}
		})
		return deps
	}
	wanted := map[uint64]*depMask{} // ids, by bucket
	var buckets []uint64
	for _, id := range ids {
		b := id / stateBucket
		if wanted[b] == nil {
			wanted[b] = new(depMask)
			buckets = append(buckets, b)
		}
		wanted[b].add(id)
	}
	of := map[uint64][]uint64{} // the dependents of each of ids, by id
	for _, b := range buckets {
		eachDepsSet(txn, depsSetPrefix(b), func(s *jobSet) {
			for i, m := range s.Members {
				if m.Job != nil {
					s.Masks[i].each(wanted[b], func(off uint64) {
						of[b*stateBucket+off] = append(of[b*stateBucket+off], m.ID)
					})
				}
			}
		})
	}
	var deps []uint64
	seen := map[uint64]bool{} // a job depending on several of ids comes once
	for _, id := range ids {
		for _, d := range of[id] {
			if !seen[d] {
				seen[d] = true
				deps = append(deps, d)
			}
		}
	}
	return deps
}

// dependents returns the unfinished jobs that depend on the jobs ids, as
// dependentIDs orders them (read-only: copy one to change it).
func dependents(txn *memdb.Txn, ids ...uint64) []*api.Job {
	deps := dependentIDs(txn, ids...)
	out := make([]*api.Job, 0, len(deps))
	slab := jobSlab{noEnv: true} // to change their states: no command changes an environment
	read := recReader{txn: txn}
	for _, d := range deps {
		if r := read.raw(d); r != nil {
			out = append(out, slab.loadAt(r, d))
		}
	}
	return out
}
