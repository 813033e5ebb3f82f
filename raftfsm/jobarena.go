package raftfsm

import "github.com/shoal-batch/shoal/api"

// JobArena is memory for the job views one reader makes from records,
// used again by its next read: the scheduling loop reads every waiting
// job into a view each pass (JobViews), and making them anew each time
// (100,000 jobs a pass) tripled a pass's time in allocation and garbage
// collection. The views a read returns stay valid until Reset or Release;
// the caller must not keep them past it.
type JobArena struct {
	blocks []*arenaBlock
	block  int // the block views are handed out of
	used   int // views handed out of it
}

const arenaBlockJobs = 512

// arenaBlock holds views, each with room for its own ArrayTask (a task of
// a task group has one of its own, made as it is read).
type arenaBlock [arenaBlockJobs]struct {
	view JobView
	task api.ArrayTask
}

// Reset takes back every view handed out, keeping the memory for the
// next read: the views of earlier reads must no longer be used.
func (a *JobArena) Reset() { a.block, a.used = 0, 0 }

// Release is Reset that also lets the memory go (a reader going idle:
// what a pass over many jobs used is not held while nothing is planned).
func (a *JobArena) Release() { *a = JobArena{} }

// load makes the view of job id, read from record r (its own, or a task
// group's), in the arena.
func (a *JobArena) load(r *jobRec, id uint64) *JobView {
	if a.used == arenaBlockJobs {
		a.block, a.used = a.block+1, 0
	}
	if a.block == len(a.blocks) {
		a.blocks = append(a.blocks, new(arenaBlock))
	}
	e := &a.blocks[a.block][a.used]
	a.used++
	r.viewAt(&e.view, id, &e.task) // sets every field: a block used before holds old views
	return &e.view
}

// WithArena returns a view of the same state whose JobViews makes its
// views in a (see JobArena).
func (s *State) WithArena(a *JobArena) *State {
	v := *s
	v.arena = a
	return &v
}
