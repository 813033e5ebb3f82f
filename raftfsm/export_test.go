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
