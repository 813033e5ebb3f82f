package archive

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// Writer feeds the store from the FSM's apply path without doing I/O on
// it: Enqueue only appends to memory; Run writes what is queued, in
// batches, in the background.
//
// Durability: the jobs an expire entry removes from the replicated state
// exist only in the queue until Run has written them. What keeps them
// safe is the raft log: a snapshot is the only thing that lets raft drop
// the entry, so the controller's snapshot waits (WaitFlushed) until every
// job queued before the snapshot was taken is on disk. A crash before
// that replays the entry (from a snapshot that still holds the jobs) and
// archives them again; Put keeps the first copy, so twice is harmless.
type Writer struct {
	store Archive
	log   *slog.Logger

	mu       sync.Mutex
	queue    []Pending
	queued   uint64        // jobs ever enqueued
	written  uint64        // of those, jobs on disk
	wake     chan struct{} // signalled (buffered, 1) on Enqueue
	progress chan struct{} // closed and replaced when written moves
	err      error         // the last write's failure, until one succeeds
}

// NewWriter returns a writer into store; call Run to start it.
func NewWriter(store Archive, log *slog.Logger) *Writer {
	return &Writer{store: store, log: log, wake: make(chan struct{}, 1), progress: make(chan struct{})}
}

// Pending is a finished job in the writer's queue, made into an api.Job
// only when it is written or read: the FSM hands over its compact
// records (raftfsm.JobRef), some 250 bytes a job where an api.Job is
// 1 KiB, and a burst of short jobs queues tens of thousands of them
// while the writes run behind.
type Pending interface {
	ID() uint64
	Load(j *api.Job) // overwrites every field of j
}

// jobPending is an api.Job as a Pending.
type jobPending struct{ j *api.Job }

func (p jobPending) ID() uint64        { return p.j.ID }
func (p jobPending) Load(dst *api.Job) { *dst = *p.j }

// Enqueue queues jobs for the store. It never blocks and never fails: it
// is called on raft's apply path. The jobs must not change afterwards
// (the FSM's stored jobs never do).
func (w *Writer) Enqueue(jobs []*api.Job) {
	p := make([]Pending, len(jobs))
	for i, j := range jobs {
		p[i] = jobPending{j}
	}
	w.EnqueuePending(p)
}

// EnqueuePending is Enqueue for jobs not made into api.Jobs yet.
func (w *Writer) EnqueuePending(jobs []Pending) {
	w.mu.Lock()
	w.queue = append(w.queue, jobs...)
	w.queued += uint64(len(jobs))
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Queued is how many jobs have been enqueued so far: the mark a snapshot
// waits for.
func (w *Writer) Queued() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.queued
}

// maxBatch bounds the jobs of one write transaction (each made into an
// api.Job in turn, and held encoded until it commits). A batch's garbage
// sets the controller's heap peak in a burst, and with it the span and GC
// records the runtime keeps for good: 5,000 a batch left the controller
// ~1 MB larger after a burst at full speed than 2,000 (200,000 jobs at
// ~25,000 a second, the same rate either way).
const maxBatch = 2000

// Run writes queued jobs until ctx ends, then writes what is left once
// more. A failed write is retried (after a pause that grows to 5 s) and
// logged: the jobs stay queued, and snapshots wait for them.
func (w *Writer) Run(ctx context.Context) {
	pause := 100 * time.Millisecond
	for {
		w.mu.Lock()
		batch := w.queue[:min(len(w.queue), maxBatch)]
		w.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-w.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		err := w.store.PutEach(len(batch), loadEach(batch))
		w.mu.Lock()
		w.err = err
		if err == nil {
			w.queue = w.queue[len(batch):]
			if len(w.queue) == 0 {
				w.queue = nil // let the backing array (and the jobs) go
			}
			w.written += uint64(len(batch))
			close(w.progress)
			w.progress = make(chan struct{})
		}
		w.mu.Unlock()
		if err == nil {
			pause = 100 * time.Millisecond
			continue
		}
		w.log.Error("archive finished jobs: will retry; snapshots wait until it succeeds", "jobs", len(batch), "err", err)
		select {
		case <-time.After(pause):
			pause = min(2*pause, 5*time.Second)
		case <-ctx.Done():
			return
		}
	}
}

// WaitFlushed waits until the first mark jobs ever enqueued are on disk,
// or ctx ends.
func (w *Writer) WaitFlushed(ctx context.Context, mark uint64) error {
	for {
		w.mu.Lock()
		written, progress, err := w.written, w.progress, w.err
		w.mu.Unlock()
		if written >= mark {
			return nil
		}
		select {
		case <-progress:
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("wait for the job archive (%d of %d jobs written): %w", written, mark, err)
			}
			return fmt.Errorf("wait for the job archive (%d of %d jobs written): %w", written, mark, ctx.Err())
		}
	}
}

// loadEach gives queued jobs one at a time, each made into the same
// api.Job: a batch's jobs are never all made at once.
func loadEach(batch []Pending) iter.Seq[*api.Job] {
	return func(yield func(*api.Job) bool) {
		var j api.Job
		for _, p := range batch {
			if p.Load(&j); !yield(&j) {
				return
			}
		}
	}
}

// queuedJobs returns a copy of the queue (the jobs themselves are shared
// and never change).
func (w *Writer) queuedJobs() []Pending {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.queue)
}

// Get returns an archived job, queued or written, or nil.
func (w *Writer) Get(id uint64) (*api.Job, error) {
	// The queue first: a job leaves it only once it is written.
	q := w.queuedJobs()
	for i := len(q) - 1; i >= 0; i-- {
		if q[i].ID() == id {
			c := new(api.Job)
			q[i].Load(c)
			return c, nil
		}
	}
	return w.store.Get(id)
}

// Store is the archive the writer writes into.
func (w *Writer) Store() Archive { return w.store }

// List is the store's List over the written jobs and those still queued
// (a job is archived from the moment the FSM expires it), merged in id
// order as the store gives them: nothing but the queue's matches is
// held.
func (w *Writer) List(f Filter, fn func(*api.Job) bool) error {
	var queued []*api.Job
	var scratch api.Job
	for _, p := range w.queuedJobs() { // before the store: see Get
		if p.Load(&scratch); f.Match(&scratch) {
			c := scratch
			if f.NoEnv {
				c.Env = nil // as the store gives them
			}
			if f.NoScript {
				c.Script = ""
			}
			queued = append(queued, &c)
		}
	}
	if len(queued) == 0 {
		return w.store.List(f, fn)
	}
	slices.SortFunc(queued, func(a, b *api.Job) int { return cmp.Compare(a.ID, b.ID) })
	queued = slices.CompactFunc(queued, func(a, b *api.Job) bool { return a.ID == b.ID })
	n, stopped := 0, false
	give := func(j *api.Job) bool {
		n++
		stopped = !fn(j) || (f.Limit > 0 && n >= f.Limit)
		return !stopped
	}
	err := w.store.List(f, func(j *api.Job) bool {
		for len(queued) > 0 && queued[0].ID <= j.ID {
			q := queued[0]
			queued = queued[1:]
			if !give(q) {
				return false
			}
			if q.ID == j.ID {
				return true // written meanwhile: the same job
			}
		}
		return give(j)
	})
	if err != nil {
		return err
	}
	for _, j := range queued {
		if stopped || !give(j) {
			break
		}
	}
	return nil
}
