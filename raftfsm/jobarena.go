package raftfsm

import (
	"sync"

	"github.com/shoal-batch/shoal/api"
)

// JobArena is memory for the jobs one reader makes from records, used
// again by its next read: the scheduling loop reads every waiting job
// into an api.Job each pass, and making them anew each time (some 900
// bytes a job, 100,000 jobs a pass) tripled a pass's time in allocation
// and garbage collection. The jobs a read returns stay valid until
// Reset; the caller must not keep them past it.
type JobArena struct {
	blocks []*arenaBlock
	used   int // jobs handed out of the last block in blocks
}

const arenaBlockJobs = 512

type arenaBlock [arenaBlockJobs]api.Job

// arenaBlocks holds blocks between passes. A pool, not the arena, keeps
// them: an idle controller's collections free them, so memory kept
// between bursts stays what the jobs themselves need.
var arenaBlocks = sync.Pool{New: func() any { return new(arenaBlock) }}

// Reset gives back every job handed out: the jobs of earlier reads must
// no longer be used.
func (a *JobArena) Reset() {
	for i, b := range a.blocks {
		arenaBlocks.Put(b)
		a.blocks[i] = nil
	}
	a.blocks, a.used = a.blocks[:0], 0
}

// load makes r's job in the arena.
func (a *JobArena) load(r *jobRec) *api.Job {
	if len(a.blocks) == 0 || a.used == arenaBlockJobs {
		a.blocks = append(a.blocks, arenaBlocks.Get().(*arenaBlock))
		a.used = 0
	}
	j := &a.blocks[len(a.blocks)-1][a.used]
	a.used++
	r.load(j) // zeroes j first: a block from the pool holds old jobs
	return j
}

// WithArena returns a view of the same state whose JobsInState makes its
// jobs in a (see JobArena).
func (s *State) WithArena(a *JobArena) *State {
	v := *s
	v.arena = a
	return &v
}
