package raftfsm

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

type arenaBlock [arenaBlockJobs]JobView

// Reset takes back every view handed out, keeping the memory for the
// next read: the views of earlier reads must no longer be used.
func (a *JobArena) Reset() { a.block, a.used = 0, 0 }

// Release is Reset that also lets the memory go (a reader going idle:
// what a pass over many jobs used is not held while nothing is planned).
func (a *JobArena) Release() { *a = JobArena{} }

// load makes r's view in the arena.
func (a *JobArena) load(r *jobRec) *JobView {
	if a.used == arenaBlockJobs {
		a.block, a.used = a.block+1, 0
	}
	if a.block == len(a.blocks) {
		a.blocks = append(a.blocks, new(arenaBlock))
	}
	v := &a.blocks[a.block][a.used]
	a.used++
	r.view(v) // sets every field: a block used before holds old views
	return v
}

// WithArena returns a view of the same state whose JobViews makes its
// views in a (see JobArena).
func (s *State) WithArena(a *JobArena) *State {
	v := *s
	v.arena = a
	return &v
}
