package raftfsm

import "github.com/shoal-batch/shoal/api"

// JobArena is memory for the jobs one reader makes from records, used
// again by its next read: the scheduling loop reads every waiting job
// into an api.Job each pass, and making them anew each time (some 900
// bytes a job, 100,000 jobs a pass) tripled a pass's time in allocation
// and garbage collection. The jobs a read returns stay valid until
// Reset or Release; the caller must not keep them past it.
type JobArena struct {
	blocks []*arenaBlock
	block  int // the block jobs are handed out of
	used   int // jobs handed out of it
}

const arenaBlockJobs = 512

type arenaBlock [arenaBlockJobs]api.Job

// Reset takes back every job handed out, keeping the memory for the
// next read: the jobs of earlier reads must no longer be used.
func (a *JobArena) Reset() { a.block, a.used = 0, 0 }

// Release is Reset that also lets the memory go (a reader going idle:
// what a pass over many jobs used is not held while nothing is planned).
func (a *JobArena) Release() { *a = JobArena{} }

// load makes r's job in the arena.
func (a *JobArena) load(r *jobRec) *api.Job {
	if a.used == arenaBlockJobs {
		a.block, a.used = a.block+1, 0
	}
	if a.block == len(a.blocks) {
		a.blocks = append(a.blocks, new(arenaBlock))
	}
	j := &a.blocks[a.block][a.used]
	a.used++
	r.load(j) // zeroes j first: a block used before holds old jobs
	return j
}

// WithArena returns a view of the same state whose JobsInState makes its
// jobs in a (see JobArena).
func (s *State) WithArena(a *JobArena) *State {
	v := *s
	v.arena = a
	return &v
}
