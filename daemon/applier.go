package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// maxBatch bounds how many commands share one raft entry.
const maxBatch = 1024

// applier group-commits: while one raft entry is being made durable, the
// commands that arrive queue up and go together in the next entry, so N
// concurrent callers cost about one fsync, not N.
type applier struct {
	raft *raft.Raft
	reqs chan applyReq
}

type applyReq struct {
	entry []byte
	done  chan raftfsm.Result
}

func newApplier(r *raft.Raft) *applier {
	return &applier{raft: r, reqs: make(chan applyReq, maxBatch)}
}

// Apply commits one command and returns what the FSM made of it.
func (a *applier) Apply(ctx context.Context, op raftfsm.Op, body any) (raftfsm.Result, error) {
	entry, err := raftfsm.Encode(op, body)
	if err != nil {
		return raftfsm.Result{}, err
	}
	req := applyReq{entry: entry, done: make(chan raftfsm.Result, 1)}
	select {
	case a.reqs <- req:
	case <-ctx.Done():
		return raftfsm.Result{}, ctx.Err()
	}
	// Once queued the command may commit: wait for its answer even if the
	// caller gives up, so nothing acknowledged is reported as failed.
	res := <-req.done
	return res, res.Error()
}

// run commits queued commands until ctx ends.
func (a *applier) run(ctx context.Context) {
	batch := make([]applyReq, 0, maxBatch)
	for {
		select {
		case <-ctx.Done():
			return
		case req := <-a.reqs:
			batch = append(batch[:0], req)
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
		a.commit(batch)
	}
}

func (a *applier) commit(batch []applyReq) {
	fail := func(err error) {
		e := api.Errorf(api.CodeUnavailable, "commit to the replicated log: %v", err)
		for _, r := range batch {
			r.done <- raftfsm.Result{Err: e}
		}
	}
	entry := batch[0].entry
	if len(batch) > 1 {
		entries := make([][]byte, len(batch))
		for i, r := range batch {
			entries[i] = r.entry
		}
		var err error
		if entry, err = raftfsm.EncodeBatch(entries); err != nil {
			fail(err)
			return
		}
	}
	f := a.raft.Apply(entry, 10*time.Second)
	if err := f.Error(); err != nil {
		fail(err)
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
		fail(fmt.Errorf("unexpected FSM response %T", out))
	}
}
