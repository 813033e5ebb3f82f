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
}

func depHintTables() map[string]*memdb.TableSchema {
	return map[string]*memdb.TableSchema{tableDepHints: {
		Name: tableDepHints,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: &memdb.UintFieldIndex{Field: "ID"}},
		},
	}}
}

// depHintOf returns job id's hint, or nil.
func depHintOf(txn *memdb.Txn, id uint64) *depHint {
	raw, err := txn.First(tableDepHints, "id", id)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: read dependency hint of job %d: %v", id, err))
	}
	if raw == nil {
		return nil
	}
	return raw.(*depHint)
}

// putDepHint records j's hint after a resolve left it PENDING, blocking
// being what the resolve counted.
func (w writer) putDepHint(j *api.Job, blocking int) {
	if j.State != api.StatePending || j.StatusReason == api.ReasonDependencyNever || len(j.DependsOn) == 0 {
		return
	}
	h := &depHint{ID: j.ID, Blocking: blocking, ByTarget: j.DependsOn}
	if old := depHintOf(w.txn, j.ID); old != nil {
		h.ByTarget = old.ByTarget // the links never change: sorted once
	} else if !slices.IsSortedFunc(h.ByTarget, byTarget) {
		h.ByTarget = slices.SortedStableFunc(slices.Values(j.DependsOn), byTarget)
	}
	w.putHint(h)
}

func (w writer) putHint(h *depHint) {
	if err := w.txn.Insert(tableDepHints, h); err != nil {
		panic(fmt.Sprintf("raftfsm: write dependency hint of job %d: %v", h.ID, err))
	}
}

// dropDepHint removes job id's hint, if it has one: it has left PENDING,
// and what its links did while it was elsewhere was not counted.
func dropDepHint(txn *memdb.Txn, id uint64) {
	if _, err := txn.DeleteAll(tableDepHints, "id", id); err != nil {
		panic(fmt.Sprintf("raftfsm: drop dependency hint of job %d: %v", id, err))
	}
}

func byTarget(a, b api.Dependency) int { return cmp.Compare(a.JobID, b.JobID) }

// unmoved reports whether the start or end of the released jobs surely
// leaves j, a PENDING job that depends on some of them, as it is, from
// its hint and its links to them alone; it lowers the hint by what they
// show. False means: resolve j in full.
//
// A job's links only change outcome when their jobs start or end, and
// each such change releases them (or, as a requeue, makes a link hold
// again, which leaves the hint low, never high). So the links to jobs
// not released hold as many as they did, and the hint less the links to
// released jobs is a lower bound on them.
func (w writer) unmoved(j *api.Job, released jobIDSet) bool {
	if j.StatusReason == api.ReasonDependencyNever {
		return true // resolve leaves it as it is
	}
	h := depHintOf(w.txn, j.ID)
	if h == nil {
		return false
	}
	looked, blocking, moved := 0, 0, false
	released.eachLinkTo(h.ByTarget, func(d api.Dependency) bool {
		looked++
		o := w.linkOutcome(j, d)
		switch {
		case !j.DependAny && o == depNever, j.DependAny && o == depSatisfied && !j.Held:
			moved = true // it fails, or it is met
			return false
		case j.DependAny && o != depNever, !j.DependAny && o != depSatisfied:
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
	if left == 0 && (j.DependAny || !j.Held) {
		return false
	}
	if left != h.Blocking {
		w.putHint(&depHint{ID: j.ID, Blocking: left, ByTarget: h.ByTarget})
	}
	return true
}

// jobIDSet is the ids of jobs released together: a few, searched for in
// a job's links, or many (a cancel of an array), looked up.
type jobIDSet struct {
	ids  []uint64
	many map[uint64]bool
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
func (s jobIDSet) eachLinkTo(links []api.Dependency, fn func(api.Dependency) bool) {
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
