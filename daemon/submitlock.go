package daemon

import "sync"

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
