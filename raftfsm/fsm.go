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
	mu      sync.Mutex // guards db swaps on Restore, index, changed and abandon
	db      *memdb.MemDB
	index   uint64
	changed chan struct{} // closed and replaced after every apply
	// abandon is closed when Restore replaces db: the watch channels of
	// the old store will never fire, so every watch includes this one.
	abandon chan struct{}

	// OnExpire, when set, is given the jobs each applied entry removed
	// from the state (ExpireCmd), on raft's apply goroutine, once the
	// entry has applied and just before readers can see it: it must not
	// block or do I/O. The refs are the state's own compact records
	// (JobRef.Load makes an api.Job of one), valid for as long as they
	// are kept. Set it before the first Apply.
	OnExpire func(idx uint64, jobs []JobRef)

	// shared holds the one copy of each script and environment of the
	// state's jobs (Apply and Restore only).
	shared *shared
}

// applyOut is what applying an entry produced beyond the state.
type applyOut struct {
	expired []JobRef // jobs an ExpireCmd removed
	shared  *shared  // where stored jobs keep their scripts and environments
}

// New returns an empty FSM.
func New() *FSM {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		panic(fmt.Sprintf("raftfsm: invalid schema: %v", err)) // a bug, caught by every test
	}
	return &FSM{db: db, changed: make(chan struct{}), abandon: make(chan struct{}), shared: newShared()}
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

	var cmds []Command
	batch := Op(data[0]) == OpBatch || Op(data[0]) == OpBatchBin
	switch Op(data[0]) {
	case OpBatchBin:
		cmds = decodeBatchBin(idx, data[1:])
	case OpBatch: // an earlier version's JSON batch
		// Into a nil slice: decoding into cmds that alias data would
		// overwrite the entry (RawMessage reuses its buffer).
		if err := json.Unmarshal(data[1:], &cmds); err != nil {
			panic(fmt.Sprintf("raftfsm: decode batch at index %d: %v", idx, err))
		}
	default:
		cmds = []Command{{Op: Op(data[0]), Body: data[1:]}}
	}
	out := applyOut{shared: f.shared}
	results := applyAll(db, cmds, &out, func() {
		// Before the commit: a reader that no longer finds an expired
		// job in the state finds it where OnExpire put it.
		if len(out.expired) > 0 && f.OnExpire != nil {
			f.OnExpire(idx, out.expired)
		}
	})
	if len(out.expired) > 0 {
		f.shared.prune(db, len(out.expired))
	}
	f.advance(idx)
	if batch {
		return results
	}
	return results[0]
}

// Check runs a command against the current state in a write transaction
// that it then throws away, and returns what Apply would make of it now.
// The leader calls it before proposing a user's command, so that one the
// FSM would refuse (not the job's owner, no such job, a state that does
// not allow it) never becomes a log entry. Apply checks again: the state
// may change between the two. Check changes nothing and needs no index.
func (f *FSM) Check(op Op, body any) (res Result) {
	raw, err := json.Marshal(body)
	if err != nil {
		return Result{Err: api.Errorf(api.CodeInternal, "encode command %d: %v", op, err)}
	}
	f.mu.Lock()
	db := f.db
	f.mu.Unlock()
	txn := db.Txn(true)
	defer txn.Abort() // never committed: what the command wrote is dropped
	defer func() {
		if r := recover(); r != nil { // a bug, or a command this binary does not know
			res = Result{Err: api.Errorf(api.CodeInternal, "shoal could not check this request (a bug, please report it): %v", r)}
		}
	}()
	return applyOne(txn, op, raw, nil)
}

// fatal is a panic that must stop the controller: the log holds an entry
// this binary cannot read, and skipping it would diverge from replicas that can.
type fatal string

// applyAll applies commands in one transaction. A command that panics (a
// bug: its input passed every check) is refused with an internal error and
// the others are applied again without it, in a fresh transaction: every
// replica hits the same panic, so they stay identical, and a bad entry
// cannot crash the controller on every replay of the log.
func applyAll(db *memdb.MemDB, cmds []Command, out *applyOut, beforeCommit func()) []Result {
	failed := map[int]*api.Error{}
	for {
		txn := db.Txn(true)
		*out = applyOut{shared: out.shared} // what an aborted attempt collected is void
		results, bad, err := tryApply(txn, cmds, failed, out)
		if bad < 0 {
			beforeCommit()
			txn.Commit()
			return results
		}
		txn.Abort()
		failed[bad] = err
	}
}

// tryApply applies cmds, skipping those already failed; it returns the
// index of a command that panicked (-1 if none) with the error it became.
func tryApply(txn *memdb.Txn, cmds []Command, failed map[int]*api.Error, out *applyOut) (results []Result, bad int, badErr *api.Error) {
	results = make([]Result, len(cmds))
	i := 0
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(fatal); ok {
				panic(r) // an undecodable or unknown entry: stop, do not guess
			}
			bad, badErr = i, api.Errorf(api.CodeInternal, "shoal could not apply this request (a bug, please report it): %v", r)
		}
	}()
	for ; i < len(cmds); i++ {
		if e, ok := failed[i]; ok {
			results[i] = Result{Err: e}
			continue
		}
		results[i] = applyOne(txn, cmds[i].Op, cmds[i].Body, out)
	}
	return results, -1, nil
}

// applyOne applies a single command inside txn. Each command either applies
// fully or leaves txn as it found it (commands check before they write).
func applyOne(txn *memdb.Txn, op Op, body []byte, out *applyOut) Result {
	w := writer{txn: txn, out: out, open: &openCache{}}
	switch op {
	case OpSubmit:
		return decodeApply(op, body, w.submitLogged)
	case OpSubmitBin:
		return w.submitBinary(body)
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
	case OpDeleteNode:
		return decodeApply(op, body, w.deleteNode)
	case OpJoinSecret:
		return decodeApply(op, body, w.joinSecret)
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
	case OpTop:
		return decodeApply(op, body, w.top)
	case OpDeleteQueue:
		return decodeApply(op, body, w.deleteQueue)
	case OpDeleteCE:
		return decodeApply(op, body, w.deleteCE)
	case OpSignal:
		return decodeApply(op, body, w.signal)
	case OpNodeStatus:
		return decodeApply(op, body, w.nodeStatus)
	case OpExpire:
		return decodeApply(op, body, w.expire)
	case OpStopMany:
		return w.stopMany(decodeStopMany(body))
	case OpRequeueMany:
		return decodeApply(op, body, w.requeueMany)
	case OpCronPut:
		return decodeApply(op, body, w.cronPut)
	case OpCronDelete:
		return decodeApply(op, body, w.cronDelete)
	case OpCronPause:
		return decodeApply(op, body, w.cronPause)
	case OpCronFire:
		return decodeApply(op, body, w.cronFire)
	case OpCrontab:
		return decodeApply(op, body, w.crontab)
	case OpJobReasons:
		return decodeApply(op, body, w.jobReasons)
	case OpLicensePut:
		return decodeApply(op, body, w.licensePut)
	case OpLicenseDelete:
		return decodeApply(op, body, w.licenseDelete)
	case OpPreempt:
		return decodeApply(op, body, w.preempt)
	case OpAcctAdd:
		return decodeApply(op, body, w.acctAdd)
	case OpAcctModify:
		return decodeApply(op, body, w.acctModify)
	case OpAcctDelete:
		return decodeApply(op, body, w.acctDelete)
	case OpPrioritySettings:
		return decodeApply(op, body, w.prioritySettings)
	case OpStepStart:
		return decodeApply(op, body, w.stepStart)
	case OpStepEnd:
		return decodeApply(op, body, w.stepEnd)
	case OpStepSignal:
		return decodeApply(op, body, w.stepSignal)
	case OpSubmitOnce:
		return decodeApply(op, body, w.submitOnce)
	case OpSchedPolicyPut:
		return decodeApply(op, body, w.schedPolicyPut)
	case OpSchedPolicyDelete:
		return decodeApply(op, body, w.schedPolicyDelete)
	case OpChargeUsage:
		return decodeApply(op, body, w.chargeRunning)
	default:
		// A newer leader's command this binary does not know: applying
		// nothing would diverge from replicas that know it, so stop.
		panic(fatal(fmt.Sprintf("raftfsm: unknown command %d (upgrade this controller)", op)))
	}
}

// decodeApply decodes a command's body and applies it with fn.
func decodeApply[C any](op Op, body []byte, fn func(C) Result) Result {
	var c C
	if err := json.Unmarshal(body, &c); err != nil {
		panic(fatal(fmt.Sprintf("raftfsm: decode command %d: %v", op, err)))
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
	return &State{txn: f.db.Txn(false), index: f.index, abandon: f.abandon}
}

// swap replaces the store (Restore) and wakes every watch on the old one.
func (f *FSM) swap(db *memdb.MemDB) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.db = db
	close(f.abandon)
	f.abandon = make(chan struct{})
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
