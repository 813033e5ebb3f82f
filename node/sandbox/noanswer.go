package sandbox

import (
	"fmt"
	"sync"
	"time"
)

// The node daemon looks up paths a job names (its working directory, its
// output and input files, its mount sources) before the job starts. A
// lookup on a file system whose server is gone (a hard NFS mount, a FUSE
// daemon that died) blocks in the kernel until the server answers, which
// may be never: the job would stay STARTING, and `shoal logs` would hang.
// So the daemon makes those lookups on a goroutine of their own and gives
// up waiting after a bound. A lookup blocked in the kernel cannot be
// called off: its thread stays blocked, and whatever it opens should it
// ever return is closed then.

// noAnswerError is a lookup that did not return within its bound.
type noAnswerError struct{ after time.Duration }

func (e *noAnswerError) Error() string {
	return fmt.Sprintf("did not answer within %v: the file system there does not answer (an NFS or FUSE mount whose server is gone?): "+
		"repair or unmount that file system on this node, or use a path on another one", e.after)
}

// withinBound runs fn on a goroutine of its own and returns its error, or
// a *noAnswerError once d has passed without one. fn must not touch the
// caller's variables after that: should it return later, undo (if not
// nil) runs instead, on fn's goroutine, to release what a successful fn
// made.
func withinBound(d time.Duration, fn func() error, undo func()) error {
	var (
		mu        sync.Mutex
		abandoned bool
	)
	done := make(chan error, 1)
	go func() {
		err := fn()
		mu.Lock()
		late := abandoned
		if !late {
			done <- err
		}
		mu.Unlock()
		if late && err == nil && undo != nil {
			undo()
		}
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
	}
	mu.Lock()
	abandoned = true
	mu.Unlock()
	select {
	case err := <-done: // it returned just as the bound passed
		return err
	default:
		return &noAnswerError{after: d}
	}
}

// lookupBound is the bound of a Start's lookups, the Runner's
// StartCheckTimeout or else DefaultStartCheckTimeout.
func (r *Runner) lookupBound() time.Duration {
	if r.StartCheckTimeout > 0 {
		return r.StartCheckTimeout
	}
	return DefaultStartCheckTimeout
}
