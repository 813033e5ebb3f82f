package raftfsm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/shoal-batch/shoal/api"
)

// OpStopMany ends many jobs in one log entry (scancel of a user's 20,000
// jobs is one commit, not 20,000).
const OpStopMany Op = 30 // StopManyCmd

// StopManyCmd ends each job of IDs as scancel does: one that has not
// started is cancelled, a started one terminated. Each job is its own
// decision: one the caller may not stop, or that has ended, is refused
// in Result.Errs while the others stop.
type StopManyCmd struct {
	IDs       []uint64 `json:"ids"`
	Reason    string   `json:"reason"`
	CallerUID uint32   `json:"callerUid"`
	Now       int64    `json:"now"`
}

func (w writer) stopMany(c StopManyCmd) Result {
	errs := make([]*api.Error, len(c.IDs))
	failed := false
	// Which of them others depend on, known up front for a long list: a
	// cancel releases its dependents, and looking for them job by job
	// was a third of a 10,000-task array's cancel. A job comes to depend
	// on no other here, so one with no dependents now never has any.
	dependedOn := func(uint64) bool { return true }
	if len(c.IDs) >= manyStops {
		targets := dependencyTargets(w.txn)
		dependedOn = targets.has
	}
	var cancelled groupChange
	var release []uint64 // cancelled jobs others depend on
	for i, id := range c.IDs {
		r := w.open.rawRec(w.txn, id) // a task group as it is: see cancelRec
		if errs[i] = stopManyRefusal(r, id, c.CallerUID); errs[i] == nil {
			if r.State().Cancellable() {
				w.cancelRec(r, id, c.Reason, c.Now, &cancelled)
				if dependedOn(id) {
					release = append(release, id)
				}
			} else {
				errs[i] = w.stop(StopCmd{ID: id, Reason: c.Reason, Terminate: true, CallerUID: c.CallerUID, Now: c.Now}).Err
			}
		}
		failed = failed || errs[i] != nil
	}
	// Their dependents are looked at once all are cancelled, each once: a
	// job depending on a whole array of N tasks (or the tasks of a
	// singleton array on each other) re-resolved after each task was
	// N times its N dependencies, minutes of the FSM for a big array.
	w.releasedAll(release, c.Now)
	if !failed {
		errs = nil
	}
	return Result{Errs: errs}
}

// groupChange is one task group changed alike for all its tasks in one
// command: from, stored as to.
type groupChange struct{ from, to *jobRec }

// cancelRec cancels job id (record r, or the task group that stands for
// it) that has not started as stop does (FAILED, cancelled, stopped
// now; its dependents are the caller's to release), on its record: a scancel of 10,000 pending jobs made each an
// api.Job and a record again, which was most of its cost. The tasks of a
// group end alike, as one cancelled group, made once per command (last).
// TestCancelRecSameAsStop holds the two ways to one result.
func (w writer) cancelRec(r *jobRec, id uint64, reason string, now int64, last *groupChange) {
	stored := last.to
	if !r.group() || last.from != r {
		c := *r
		c.state = stateCodes[api.StateFailed]
		c.StoppedAt, c.StatusReason, c.Cause = now, reason, api.CauseCancelled
		stored = &c
		if r.group() {
			*last = groupChange{r, stored}
		} else {
			stored = w.specs().groupTask(stored)
		}
	}
	setWriter{w.txn, w.open}.moveJob(id, storeJob(w.txn, w.open, id, stored), stored)
}

// manyStops is the length from which stopMany reads every dependency
// target at once rather than looking up each job's dependents.
const manyStops = 64

// stopManyRefusal is why a StopManyCmd of uid would not stop job id (r,
// nil when there is none), or nil when it would: the rules of stop with
// Terminate, read-only, from the record or the task group that stands for
// it (a refusal's words make the job).
func stopManyRefusal(r *jobRec, id uint64, uid uint32) *api.Error {
	switch {
	case r == nil:
		return api.Errorf(api.CodeNotFound, "job %d does not exist", id)
	case uid != 0 && uid != r.spec.UID:
		return owns(r.at(id).job(), uid, "terminate")
	case r.State().Terminal():
		return api.Errorf(api.CodeConflict,
			"cannot terminate job %d: it is %s; terminate applies to jobs that are SUBMITTED through RUNNING", id, r.State())
	}
	return nil
}

// StopManyRefusals answers, from the state as it is, what a StopManyCmd
// would refuse, in c's order (nil where it would stop the job), without
// the write transaction FSM.Check takes: the leader checks a scancel of
// 20,000 jobs before proposing it.
func (s *State) StopManyRefusals(c StopManyCmd) []*api.Error {
	errs := make([]*api.Error, len(c.IDs))
	read := recReader{txn: s.txn}
	for i, id := range c.IDs {
		errs[i] = stopManyRefusal(read.raw(id), id, c.CallerUID)
	}
	return errs
}

// decodeStopMany reads a StopManyCmd entry. Its ids are most of it (a
// scancel of a 10,000-task array names each), and encoding/json read
// them at about 100 ns apiece, a third of the entry's apply. The entry as
// Encode writes it ({"ids":[...],"reason":"...","callerUid":N,"now":N},
// a reason json writes unescaped) is read here directly; any other form
// (one json escapes, or an older log's) by encoding/json, as before.
// TestDecodeStopManyAsJSON holds the two to one result.
func decodeStopMany(body []byte) StopManyCmd {
	if c, ok := readStopMany(body); ok {
		return c
	}
	var c StopManyCmd
	if err := json.Unmarshal(body, &c); err != nil {
		panic(fatal(fmt.Sprintf("raftfsm: decode command %d: %v", OpStopMany, err)))
	}
	return c
}

// readStopMany reads body in the form Encode writes, or reports false.
func readStopMany(b []byte) (StopManyCmd, bool) {
	var c StopManyCmd
	r := byteReader{b: b}
	if !r.lit(`{"ids":[`) {
		return c, false
	}
	c.IDs = make([]uint64, 0, bytes.Count(b, []byte{','})+1)
	for !r.lit("]") {
		if len(c.IDs) > 0 && !r.lit(",") {
			return c, false
		}
		id, ok := r.uint()
		if !ok {
			return c, false
		}
		c.IDs = append(c.IDs, id)
	}
	if !r.lit(`,"reason":"`) {
		return c, false
	}
	start := r.i
	for r.i < len(b) && b[r.i] != '"' {
		if b[r.i] == '\\' || b[r.i] < 0x20 { // an escape: json's to read
			return c, false
		}
		r.i++
	}
	if r.i == len(b) || !utf8.Valid(b[start:r.i]) { // json would replace what is not UTF-8
		return c, false
	}
	c.Reason = string(b[start:r.i])
	r.i++
	if !r.lit(`,"callerUid":`) {
		return c, false
	}
	u, ok := r.uint()
	if !ok || u > math.MaxUint32 || !r.lit(`,"now":`) {
		return c, false
	}
	c.CallerUID = uint32(u)
	neg := r.lit("-")
	now, ok := r.uint()
	if !ok || now > math.MaxInt64 || !r.lit("}") || r.i != len(b) {
		return c, false
	}
	c.Now = int64(now)
	if neg {
		c.Now = -c.Now
	}
	return c, true
}

// byteReader reads the fixed form of an entry.
type byteReader struct {
	b []byte
	i int
}

// lit consumes s if the input goes on with it.
func (r *byteReader) lit(s string) bool {
	if !bytes.HasPrefix(r.b[r.i:], []byte(s)) {
		return false
	}
	r.i += len(s)
	return true
}

// uint consumes a number as json writes an unsigned integer: digits, no
// leading zero, no overflow.
func (r *byteReader) uint() (uint64, bool) {
	start := r.i
	var v uint64
	for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
		d := uint64(r.b[r.i] - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
		r.i++
	}
	n := r.i - start
	return v, n > 0 && (n == 1 || r.b[start] != '0')
}
