package clock

import (
	"testing"
	"time"
)

func TestFakeFiresInDeadlineOrder(t *testing.T) {
	start := time.Unix(1000, 0)
	f := NewFake(start)
	got := make(chan string, 3)
	f.AfterFunc(3*time.Second, func() { got <- "3s" })
	f.AfterFunc(1*time.Second, func() { got <- "1s" })
	timer := f.NewTimer(2 * time.Second)
	stopped := f.AfterFunc(time.Second, func() { got <- "stopped" })
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer: got false, want true")
	}
	if n := f.Pending(); n != 3 {
		t.Fatalf("pending timers: got %d, want 3", n)
	}
	f.Advance(1500 * time.Millisecond)
	if s := <-got; s != "1s" {
		t.Fatalf("first to fire: got %s, want 1s", s)
	}
	select {
	case <-timer.C():
		t.Fatal("the 2 s timer fired at 1.5 s")
	default:
	}
	f.Advance(time.Second)
	if at := <-timer.C(); !at.Equal(start.Add(2 * time.Second)) {
		t.Fatalf("the 2 s timer sent %v, want %v", at, start.Add(2*time.Second))
	}
	if now := f.Now(); !now.Equal(start.Add(2500 * time.Millisecond)) {
		t.Fatalf("Now after advancing 2.5 s: got %v, want %v", now, start.Add(2500*time.Millisecond))
	}
	f.Advance(time.Second)
	if s := <-got; s != "3s" {
		t.Fatalf("last to fire: got %s, want 3s", s)
	}
	if timer.Reset(time.Second) {
		t.Fatal("Reset of a fired timer: got true, want false")
	}
	f.WaitPending(1)
	f.WaitArmed(time.Second)
	f.Advance(time.Second)
	<-timer.C()
}

func TestRealClockTimers(t *testing.T) {
	c := Or(nil)
	if _, ok := c.(Real); !ok {
		t.Fatalf("Or(nil): got %T, want Real", c)
	}
	done := make(chan struct{})
	c.AfterFunc(time.Millisecond, func() { close(done) })
	<-done
	<-c.NewTimer(time.Millisecond).C()
}
