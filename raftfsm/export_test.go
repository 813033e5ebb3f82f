package raftfsm

// DependencyHints counts the dependency hints f holds (dephints.go).
func DependencyHints(f *FSM) int {
	f.mu.Lock()
	db := f.db
	f.mu.Unlock()
	txn := db.Txn(false)
	it, err := txn.Get(tableDepHints, "id")
	if err != nil {
		panic(err)
	}
	n := 0
	for raw := it.Next(); raw != nil; raw = it.Next() {
		n += len(raw.(*hintBucket).Hints)
	}
	return n
}

// Dependents is dependentIDs(ids...) in f's state: the unfinished jobs
// that depend on ids, as the sets of dependents give them.
func Dependents(f *FSM, ids ...uint64) []uint64 { return dependentIDs(f.State().txn, ids...) }

// DependedOn reports whether the sets of dependents hold a dependent of
// job id, as a long scancel finds it (dependencyTargets).
func DependedOn(f *FSM, id uint64) bool { return dependencyTargets(f.State().txn).has(id) }
