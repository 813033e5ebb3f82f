// Package clock is the wall clock the daemons read, behind an interface
// so that tests can move time themselves (tailscale's tstime.Clock):
// heartbeat deadlines, time limits and retry back-offs are then tested in
// milliseconds, without sleeping.
package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock is what the daemons ask of time.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// AfterFunc calls f on its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
	// NewTimer returns a timer whose channel receives the time once d
	// has passed.
	NewTimer(d time.Duration) Timer
}

// Timer is a *time.Timer, or a Fake's.
type Timer interface {
	// C is the channel the time is sent on (nil for AfterFunc's).
	C() <-chan time.Time
	// Stop stops the timer; false if it had fired or was stopped.
	Stop() bool
	// Reset makes the timer fire d from now; false if it had fired or
	// was stopped.
	Reset(d time.Duration) bool
}

// Real is the system's clock.
type Real struct{}

var _ Clock = Real{}

// Now implements Clock.
func (Real) Now() time.Time { return time.Now() }

// AfterFunc implements Clock.
func (Real) AfterFunc(d time.Duration, f func()) Timer { return realTimer{time.AfterFunc(d, f)} }

// NewTimer implements Clock.
func (Real) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.Timer.C }

// Or returns c, or the real clock when c is nil (a zero Config).
func Or(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}

// Fake is a clock that moves only when told to (Advance). Its timers fire
// in the order of their deadlines, each once the clock reaches it.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	changed *sync.Cond // broadcast when a timer is armed or stopped
}

var _ Clock = (*Fake)(nil)

// NewFake returns a fake clock that reads start.
func NewFake(start time.Time) *Fake {
	f := &Fake{now: start}
	f.changed = sync.NewCond(&f.mu)
	return f
}

// Now implements Clock.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// AfterFunc implements Clock.
func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	return f.add(d, fn, nil)
}

// NewTimer implements Clock.
func (f *Fake) NewTimer(d time.Duration) Timer {
	return f.add(d, nil, make(chan time.Time, 1))
}

func (f *Fake) add(d time.Duration, fn func(), c chan time.Time) *fakeTimer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{f: f, fn: fn, c: c}
	f.arm(t, d)
	return t
}

// arm puts t in the pending list to fire d from now. Called with f.mu held.
func (f *Fake) arm(t *fakeTimer, d time.Duration) {
	t.at, t.d = f.now.Add(d), d
	f.timers = append(f.timers, t)
	f.changed.Broadcast()
}

// remove takes t out of the pending list; false if it was not there.
// Called with f.mu held.
func (f *Fake) remove(t *fakeTimer) bool {
	for i, p := range f.timers {
		if p == t {
			f.timers = append(f.timers[:i], f.timers[i+1:]...)
			f.changed.Broadcast()
			return true
		}
	}
	return false
}

// Advance moves the clock d forward and fires, in deadline order, every
// timer whose deadline it reaches (an AfterFunc's function on a goroutine
// of its own, as the real clock does).
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	end := f.now.Add(d)
	for {
		sort.SliceStable(f.timers, func(i, j int) bool { return f.timers[i].at.Before(f.timers[j].at) })
		if len(f.timers) == 0 || f.timers[0].at.After(end) {
			break
		}
		t := f.timers[0]
		f.timers = f.timers[1:]
		if t.at.After(f.now) {
			f.now = t.at
		}
		f.changed.Broadcast()
		if t.fn != nil {
			go t.fn()
		} else {
			select {
			case t.c <- f.now:
			default:
			}
		}
	}
	f.now = end
	f.mu.Unlock()
}

// Pending is the number of timers armed and not yet fired or stopped.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// WaitPending blocks until at least n timers are armed: what a test waits
// on before it advances the clock past what the code under test arms.
func (f *Fake) WaitPending(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.timers) < n {
		f.changed.Wait()
	}
}

// WaitArmed blocks until a timer armed for d (AfterFunc, NewTimer or
// Reset with d) is pending: a test waits on it for the code under test
// to reach a wait it is about to end (a retry's back-off, a limit).
func (f *Fake) WaitArmed(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for !f.armed(d) {
		f.changed.Wait()
	}
}

func (f *Fake) armed(d time.Duration) bool {
	for _, t := range f.timers {
		if t.d == d {
			return true
		}
	}
	return false
}

type fakeTimer struct {
	f  *Fake
	d  time.Duration // as armed
	at time.Time
	fn func()
	c  chan time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	return t.f.remove(t)
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	was := t.f.remove(t)
	t.f.arm(t, d)
	return was
}
