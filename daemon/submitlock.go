package daemon

import (
	"sync"
	"sync/atomic"
)

// submitLocks serializes the submits that limits on unfinished jobs
// count: each user's one at a time (userLocks), or, where a limit counts
// many users' jobs together (GrpSubmitJobs), every submit one at a time,
// so that two users' submits are not both checked against one state.
type submitLocks struct {
	all   sync.RWMutex // held shared by a user's submit, whole by one of everyone's
	users userLocks
	// testWindow, set by tests only, runs where a submit has been checked
	// and is not stored yet: the window in which two submits checked
	// against one state would pass a limit together.
	testWindow atomic.Pointer[func()]
}

// checked marks a submit checked against the state, about to be stored.
func (s *submitLocks) checked() {
	if f := s.testWindow.Load(); f != nil {
		(*f)()
	}
}

// lock serializes a submit of uid's, with everyone's when everyone is
// set, and returns what unlocks it.
func (s *submitLocks) lock(uid uint32, everyone bool) (unlock func()) {
	if everyone {
		s.all.Lock()
		return s.all.Unlock
	}
	s.all.RLock()
	unlockUser := s.users.lock(uid)
	return func() {
		unlockUser()
		s.all.RUnlock()
	}
}

// userLocks serializes what one user does while other users go on: with
// an account registry, each of a user's submits is checked against their
// unfinished jobs (MaxSubmitJobs) and committed before the next is
// checked; two checked against one state would pass the limit together.
// The zero value is ready.
type userLocks struct {
	mu    sync.Mutex
	locks map[uint32]*userLock
}

type userLock struct {
	sync.Mutex
	users int // holding it or waiting for it
}

// lock locks uid's lock and returns what unlocks it; a lock no one holds
// or waits for is let go.
func (l *userLocks) lock(uid uint32) (unlock func()) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[uint32]*userLock{}
	}
	u := l.locks[uid]
	if u == nil {
		u = &userLock{}
		l.locks[uid] = u
	}
	u.users++
	l.mu.Unlock()
	u.Lock()
	return func() {
		u.Unlock()
		l.mu.Lock()
		if u.users--; u.users == 0 {
			delete(l.locks, uid)
		}
		l.mu.Unlock()
	}
}
