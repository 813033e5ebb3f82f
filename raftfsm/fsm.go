package raftfsm

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
)

// FSM applies committed log entries to the store. Apply is called by one
// goroutine (raft's); reads go through State, which is a consistent
// snapshot and never blocks Apply.
type FSM struct {
	mu      sync.Mutex // guards db swaps on Restore, index and changed
	db      *memdb.MemDB
	index   uint64
	changed chan struct{} // closed and replaced after every apply
}

// New returns an empty FSM.
func New() *FSM {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		panic(fmt.Sprintf("raftfsm: invalid schema: %v", err)) // a bug, caught by every test
	}
	return &FSM{db: db, changed: make(chan struct{})}
}

// Apply applies one log entry at raft index idx and returns a Result (or,
// for a batch, a []Result in command order). A malformed entry can only come
// from a bug, so it fails loudly instead of diverging replicas.
func (f *FSM) Apply(idx uint64, data []byte) any {
	if len(data) == 0 {
		panic(fmt.Sprintf("raftfsm: empty log entry at index %d", idx))
	}
	f.mu.Lock()
	db := f.db
	f.mu.Unlock()

	txn := db.Txn(true)
	var out any
	if Op(data[0]) == OpBatch {
		var cmds []Command
		if err := json.Unmarshal(data[1:], &cmds); err != nil {
			panic(fmt.Sprintf("raftfsm: decode batch at index %d: %v", idx, err))
		}
		results := make([]Result, len(cmds))
		for i, c := range cmds {
			results[i] = applyOne(txn, c.Op, c.Body)
		}
		out = results
	} else {
		out = applyOne(txn, Op(data[0]), data[1:])
	}
	txn.Commit()
	f.advance(idx)
	return out
}

// applyOne applies a single command inside txn. Each command either applies
// fully or leaves txn as it found it (commands check before they write).
func applyOne(txn *memdb.Txn, op Op, body []byte) Result {
	w := writer{txn: txn}
	switch op {
	case OpSubmit:
		return decodeApply(op, body, w.submit)
	case OpStop:
		return decodeApply(op, body, w.stop)
	case OpPlan:
		return decodeApply(op, body, w.plan)
	case OpJobEvents:
		return decodeApply(op, body, w.jobEvents)
	case OpRegisterNode:
		return decodeApply(op, body, w.registerNode)
	case OpHold:
		return decodeApply(op, body, w.hold)
	case OpUpdateJob:
		return decodeApply(op, body, w.updateJob)
	case OpUpdateNode:
		return decodeApply(op, body, w.updateNode)
	case OpRegisterJobDef:
		return decodeApply(op, body, w.registerJobDef)
	case OpDeregisterJobDef:
		return decodeApply(op, body, w.deregisterJobDef)
	case OpPutCE:
		return decodeApply(op, body, w.putCE)
	case OpPutQueue:
		return decodeApply(op, body, w.putQueue)
	case OpPutKey:
		return decodeApply(op, body, w.putKey)
	case OpDeleteKey:
		return decodeApply(op, body, w.deleteKey)
	default:
		// A newer leader's command this binary does not know: applying
		// nothing would diverge from replicas that know it, so stop.
		panic(fmt.Sprintf("raftfsm: unknown command %d (upgrade this controller)", op))
	}
}

// decodeApply decodes a command's body and applies it with fn.
func decodeApply[C any](op Op, body []byte, fn func(C) Result) Result {
	var c C
	if err := json.Unmarshal(body, &c); err != nil {
		panic(fmt.Sprintf("raftfsm: decode command %d: %v", op, err))
	}
	return fn(c)
}

func (f *FSM) advance(idx uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if idx > f.index {
		f.index = idx
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

// State returns a consistent read-only view of the current state.
func (f *FSM) State() *State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &State{txn: f.db.Txn(false), index: f.index}
}

// Changed returns the index applied so far and a channel closed at the next
// apply: the building block of blocking queries and the scheduler's wakeup.
func (f *FSM) Changed() (uint64, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.index, f.changed
}

func resultErr(err error) Result {
	if e, ok := err.(*api.Error); ok {
		return Result{Err: e}
	}
	return Result{Err: api.Errorf(api.CodeInternal, "%v", err)}
}
