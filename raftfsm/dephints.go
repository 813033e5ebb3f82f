package raftfsm

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
)

// tableDepHints holds a hint for each PENDING job whose dependencies have
// been resolved in full since it last changed: a lower bound on how many
// of its links hold it where it is. With it, the start or end of one of
// the 20,000 tasks a job waits on costs a look at the link to that task,
// not a read of all 20,000 (releasedAll).
//
// Hints are derived and not in snapshots. A hint only ever lets the FSM
// skip a resolve that would change nothing, so a member restored from a
// snapshot (with none) reaches the same state as one that replayed the
// log, by resolving in full where it has no hint.
const tableDepHints = "dephints"

// depHint is one PENDING job's hint.
type depHint struct {
	ID uint64
	// Blocking is at most how many of the job's links hold it: not met
	// yet, or with DependAny, still able to be met. Each start or end of
	// a job it depends on lowers it by that job's links that no longer
	// hold it (never below the truth: a link met twice, as an `after`
	// link at its job's start and end, lowers it twice).
	Blocking int
	// ByTarget is the job's links in job id order: its DependsOn, or a
	// sorted copy when that is not in order, for a binary search.
	ByTarget []api.Dependency
	// Any and Held are the job's DependAny and Held: with them the hint
	// decides without the job (a change of Held drops it: moveJob).
	Any, Held bool
}

// hintBucketSize is how many consecutive job ids share one row of hints:
// the end of a task that 20,000 jobs wait on changes 20,000 hints, and
// one write per row of them (copied once per command) costs far less than
// one per hint.
const hintBucketSize = 64

// hintBucket holds the hints of the jobs whose ids are in one bucket
// (id / hintBucketSize), sorted by id.
type hintBucket struct {
	ID    uint64
	Hints []depHint
}

func depHintTables() map[string]*memdb.TableSchema {
	return map[string]*memdb.TableSchema{tableDepHints: {
		Name: tableDepHints,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: &memdb.UintFieldIndex{Field: "ID"}},
		},
	}}
}

func hintBucketOf(txn *memdb.Txn, n uint64) *hintBucket {
	raw, err := txn.First(tableDepHints, "id", n)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: read dependency hints %d: %v", n, err))
	}
	if raw == nil {
		return nil
	}
	return raw.(*hintBucket)
}

// find returns the position of id's hint in b, or where it would go.
func (b *hintBucket) find(id uint64) (int, bool) {
	return slices.BinarySearchFunc(b.Hints, id, func(h depHint, id uint64) int { return cmp.Compare(h.ID, id) })
}

// depHintOf returns job id's hint, or nil.
func depHintOf(txn *memdb.Txn, id uint64) *depHint {
	b := hintBucketOf(txn, id/hintBucketSize)
	if b == nil {
		return nil
	}
	if i, ok := b.find(id); ok {
		return &b.Hints[i]
	}
	return nil
}

// hintWriter changes hints inside one write transaction: the row it
// copied last is its own until the transaction ends, and is changed in
// place (a command touches many hints of one row in turn).
type hintWriter struct {
	txn  *memdb.Txn
	mine *hintBucket
}

// row returns the transaction's own copy of row n, made now if needed
// (nil when there is none and create is not set).
func (hw *hintWriter) row(n uint64, create bool) *hintBucket {
	if hw.mine != nil && hw.mine.ID == n {
		return hw.mine
	}
	b := hintBucketOf(hw.txn, n)
	switch {
	case b != nil:
		b = &hintBucket{ID: n, Hints: slices.Clone(b.Hints)}
	case create:
		b = &hintBucket{ID: n}
	default:
		return nil
	}
	if err := hw.txn.Insert(tableDepHints, b); err != nil {
		panic(fmt.Sprintf("raftfsm: write dependency hints %d: %v", n, err))
	}
	hw.mine = b
	return b
}

// put records h, in place of the job's hint if it has one.
func (hw *hintWriter) put(h depHint) {
	b := hw.row(h.ID/hintBucketSize, true)
	if i, ok := b.find(h.ID); ok {
		b.Hints[i] = h
	} else {
		b.Hints = slices.Insert(b.Hints, i, h)
	}
}

// drop removes job id's hint, if it has one.
func (hw *hintWriter) drop(id uint64) {
	n := id / hintBucketSize
	if b := hintBucketOf(hw.txn, n); b == nil {
		return
	} else if _, ok := b.find(id); !ok {
		return
	}
	b := hw.row(n, false)
	i, _ := b.find(id)
	b.Hints = slices.Delete(b.Hints, i, i+1)
	if len(b.Hints) == 0 {
		if err := hw.txn.Delete(tableDepHints, b); err != nil {
			panic(fmt.Sprintf("raftfsm: drop dependency hints %d: %v", n, err))
		}
		hw.mine = nil
	}
}

// putDepHint records j's hint after a resolve left it PENDING, blocking
// being what the resolve counted.
func (w writer) putDepHint(j *api.Job, blocking int) {
	if j.State != api.StatePending || j.StatusReason == api.ReasonDependencyNever || len(j.DependsOn) == 0 {
		return
	}
	h := depHint{ID: j.ID, Blocking: blocking, ByTarget: j.DependsOn, Any: j.DependAny, Held: j.Held}
	if old := depHintOf(w.txn, j.ID); old != nil {
		h.ByTarget = old.ByTarget // the links never change: sorted once
	} else if !slices.IsSortedFunc(h.ByTarget, byTarget) {
		h.ByTarget = slices.SortedStableFunc(slices.Values(j.DependsOn), byTarget)
	}
	hintsOf(w.txn, w.open).put(h)
}

// hintsOf is the command's hint writer (its openCache's), or a new one.
func hintsOf(txn *memdb.Txn, c *openCache) *hintWriter {
	if c == nil {
		return &hintWriter{txn: txn}
	}
	if c.hints.txn != txn {
		c.hints = hintWriter{txn: txn}
	}
	return &c.hints
}

func byTarget(a, b api.Dependency) int { return cmp.Compare(a.JobID, b.JobID) }

// unmoved reports whether the start or end of the released jobs surely
// leaves job id, which depends on some of them, as it is, from its hint
// and its links to them alone; it lowers the hint by what they show.
// False means: read the job, and if it is PENDING, resolve it in full.
// A job with a hint is PENDING (it is dropped when the job leaves).
//
// A job's links only change outcome when their jobs start or end, and
// each such change releases them (or, as a requeue, makes a link hold
// again, which leaves the hint low, never high). So the links to jobs
// not released hold as many as they did, and the hint less the links to
// released jobs is a lower bound on them.
func (w writer) unmoved(id uint64, released *jobIDSet) bool {
	h := depHintOf(w.txn, id)
	if h == nil {
		return false
	}
	looked, blocking, moved := 0, 0, false
	released.eachLinkTo(h.ByTarget, func(d api.Dependency) bool {
		looked++
		o := outcome(d, released.job(w.txn, id, d.JobID))
		switch {
		case !h.Any && o == depNever, h.Any && o == depSatisfied && !h.Held:
			moved = true // it fails, or it is met
			return false
		case h.Any && o != depNever, !h.Any && o != depSatisfied:
			blocking++
		}
		return true
	})
	if moved {
		return false
	}
	left := max(h.Blocking-looked, 0) + blocking
	// Held, a job waiting on all of its links moves only if one fails:
	// none of these did, and none of the others has since it was resolved.
	if left == 0 && (h.Any || !h.Held) {
		return false
	}
	if left != h.Blocking {
		c := *h
		c.Blocking = left
		hintsOf(w.txn, w.open).put(c)
	}
	return true
}

// jobIDSet is the ids of jobs released together: a few, searched for in
// a job's links, or many (a cancel of an array), looked up; and those of
// them read so far, for the next dependent's links to them.
type jobIDSet struct {
	ids  []uint64
	many map[uint64]bool
	read map[uint64]*api.Job
}

// job returns released job id, read once; dependent is the job whose
// link names it, for the message should it be missing.
func (s *jobIDSet) job(txn *memdb.Txn, dependent, id uint64) *api.Job {
	if j, ok := s.read[id]; ok {
		return j
	}
	r := storedRec(txn, id)
	if r == nil { // checked at submit; jobs are never deleted
		panic(fmt.Sprintf("raftfsm: job %d depends on missing job %d", dependent, id))
	}
	j := new(api.Job)
	r.loadNoEnv(j)
	if s.read == nil {
		s.read = map[uint64]*api.Job{}
	}
	s.read[id] = j
	return j
}

// fewReleased is how many released jobs are each searched for in a
// job's links; past it, the links are walked once.
const fewReleased = 8

func newJobIDSet(ids []uint64) jobIDSet {
	s := jobIDSet{ids: ids}
	if len(ids) > fewReleased {
		s.many = make(map[uint64]bool, len(ids))
		for _, id := range ids {
			s.many[id] = true
		}
	}
	return s
}

// eachLinkTo calls fn with each link of links (in job id order) to a job
// of the set, until fn returns false.
func (s *jobIDSet) eachLinkTo(links []api.Dependency, fn func(api.Dependency) bool) {
	if s.many != nil {
		for _, d := range links {
			if s.many[d.JobID] && !fn(d) {
				return
			}
		}
		return
	}
	for _, id := range slices.Compact(slices.Sorted(slices.Values(s.ids))) {
		i, _ := slices.BinarySearchFunc(links, id, func(d api.Dependency, id uint64) int { return cmp.Compare(d.JobID, id) })
		for ; i < len(links) && links[i].JobID == id; i++ {
			if !fn(links[i]) {
				return
			}
		}
	}
}
