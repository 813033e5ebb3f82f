package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// maxBatch bounds how many commands share one raft entry.
const maxBatch = 1024

// maxInFlight bounds the raft entries handed to raft and not yet applied.
// One: while it commits and applies, the commands that arrive pile up into
// the next entry. More entries in flight overlap their fsyncs, but each is
// smaller, and the FSM pays per entry (a transaction, the state sets it
// copies): on 2 cores, 16 clients submitting to a 3-controller cluster
// made 3,700-4,200 submits/s through the leader with one in flight,
// 3,400-3,800 with two and 2,800-3,200 with four (TestClusterSubmitRate),
// and 64 clients of one controller 12,400-16,700 jobs/s against
// 12,200-14,800 with four (BenchmarkSubmitRate).
const maxInFlight = 1

// applier group-commits: while raft makes an entry durable and applies it,
// the commands that arrive queue up and go together in the next entry, so N
// concurrent callers cost about one fsync and one FSM transaction, not N. Up
// to maxInFlight entries are in raft at once.
type applier struct {
	raft     *raft.Raft
	reqs     chan applyReq
	inFlight chan struct{}
	// stopped is closed when run has returned: every command it took has
	// been answered, and nothing queued after that will be taken.
	stopped chan struct{}
}

// errShuttingDown answers requests the controller will not serve because
// it is stopping: commands it did not commit, long polls it ended.
var errShuttingDown = api.Errorf(api.CodeUnavailable, "controller is shutting down: try again once it is back")

type applyReq struct {
	entry []byte
	done  chan raftfsm.Result
}

func newApplier(r *raft.Raft) *applier {
	return &applier{raft: r, reqs: make(chan applyReq, maxBatch), inFlight: make(chan struct{}, maxInFlight),
		stopped: make(chan struct{})}
}

// Apply commits one command and returns what the FSM made of it.
func (a *applier) Apply(ctx context.Context, op raftfsm.Op, body any) (raftfsm.Result, error) {
	entry, err := raftfsm.Encode(op, body)
	if err != nil {
		return raftfsm.Result{}, err
	}
	return a.applyEntry(ctx, entry)
}

// applyEntry commits one encoded command (raftfsm.Encode): a local one,
// or one a follower forwarded.
func (a *applier) applyEntry(ctx context.Context, entry []byte) (raftfsm.Result, error) {
	if res, ok := a.applyAlone(entry); ok {
		return res, res.Error()
	}
	req := applyReq{entry: entry, done: make(chan raftfsm.Result, 1)}
	select {
	case a.reqs <- req:
	case <-ctx.Done():
		return raftfsm.Result{}, context.Cause(ctx) // errShuttingDown when the controller stops
	case <-a.stopped:
		return raftfsm.Result{}, errShuttingDown
	}
	// Once queued the command may commit: wait for its answer even if the
	// caller gives up, so nothing acknowledged is reported as failed.
	select {
	case res := <-req.done:
		return res, res.Error()
	case <-a.stopped:
		// Every answer run gave was sent before stopped closed: none
		// waiting means run never took this command, and never will.
		select {
		case res := <-req.done:
			return res, res.Error()
		default:
			return raftfsm.Result{}, errShuttingDown
		}
	}
}

// applyAlone commits entry from the caller's goroutine when nothing is
// queued and no entry is in raft: a lone command (a loop of
// sbatch, one at a time) then costs no hand-off to run and no goroutine
// to wait for raft's answer, two goroutine wake-ups of a few on its way.
// It reports false, having done nothing, when commands are queued or an
// entry is in raft already: under load commands go together, in run's
// next entry.
func (a *applier) applyAlone(entry []byte) (raftfsm.Result, bool) {
	if len(a.reqs) > 0 || len(a.inFlight) > 0 { // busy: batch with the others
		return raftfsm.Result{}, false
	}
	select {
	case a.inFlight <- struct{}{}:
	default:
		return raftfsm.Result{}, false
	}
	defer func() { <-a.inFlight }()
	select {
	case <-a.stopped: // run is gone (it holds every slot once stopping)
		return raftfsm.Result{Err: errShuttingDown}, true
	default:
	}
	req := applyReq{entry: entry, done: make(chan raftfsm.Result, 1)}
	batch := []applyReq{req}
	a.answer(batch, a.raft.Apply(entry, 10*time.Second))
	return <-req.done, true
}

// run commits queued commands until ctx ends, then waits for the entries
// it handed to raft, fails the commands still queued, and closes stopped.
func (a *applier) run(ctx context.Context) {
	defer func() {
		// Every entry in flight answers its callers (raft answers or,
		// once shut down, fails them).
		for i := 0; i < maxInFlight; i++ {
			a.inFlight <- struct{}{}
		}
		for {
			select {
			case req := <-a.reqs:
				req.done <- raftfsm.Result{Err: errShuttingDown}
			default:
				// A command queued from here on is failed by
				// its own Apply, which sees stopped.
				close(a.stopped)
				return
			}
		}
	}()
	for {
		var batch []applyReq
		select {
		case <-ctx.Done():
			return
		case req := <-a.reqs:
			batch = append(make([]applyReq, 0, 16), req)
		}
		select { // a slot first: while waiting for one, more commands queue up
		case a.inFlight <- struct{}{}:
		case <-ctx.Done():
			for _, r := range batch {
				r.done <- raftfsm.Result{Err: errShuttingDown}
			}
			return
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case req := <-a.reqs:
				batch = append(batch, req)
			default:
				break drain
			}
		}
		f, err := a.submit(batch) // in the loop: entries enter raft in queue order
		if err != nil {
			a.failAll(batch, err)
			<-a.inFlight
			continue
		}
		go func() {
			defer func() { <-a.inFlight }()
			a.answer(batch, f)
		}()
	}
}

func (a *applier) failAll(batch []applyReq, err error) {
	e := api.Errorf(api.CodeUnavailable, "commit to the replicated log: %v", err)
	switch {
	case errors.Is(err, raft.ErrRaftShutdown):
		e = errShuttingDown
	case errors.Is(err, raft.ErrLeadershipLost):
		// The entry may commit under the next leader: not Unavailable,
		// which clients take as "not done, try another controller".
		e = api.Errorf(api.CodeOutcomeUnknown, "commit to the replicated log: %v: the command may or may not have been applied; check before you repeat it (a submit sent with a client token may be sent again)", err)
	}
	for _, r := range batch {
		r.done <- raftfsm.Result{Err: e}
	}
}

// submit hands one batch to raft as one entry. Raft applies entries in the
// order Apply was called.
func (a *applier) submit(batch []applyReq) (raft.ApplyFuture, error) {
	entry := batch[0].entry
	if len(batch) > 1 {
		entries := make([][]byte, len(batch))
		for i, r := range batch {
			entries[i] = r.entry
		}
		var err error
		if entry, err = raftfsm.EncodeBatch(entries); err != nil {
			return nil, err
		}
	}
	return a.raft.Apply(entry, 10*time.Second), nil
}

// answer waits for a batch's entry to be applied and answers its callers.
func (a *applier) answer(batch []applyReq, f raft.ApplyFuture) {
	if err := f.Error(); err != nil {
		a.failAll(batch, err)
		return
	}
	switch out := f.Response().(type) {
	case raftfsm.Result:
		batch[0].done <- out
	case []raftfsm.Result:
		for i, r := range batch {
			r.done <- out[i]
		}
	default:
		a.failAll(batch, fmt.Errorf("unexpected FSM response %T", out))
	}
}
