package daemon

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/clock"
)

// fakeResolver answers lookups with groups it is told, counting them and
// announcing each on started; while gate is open (non-nil) each lookup
// waits for it to close.
type fakeResolver struct {
	calls   atomic.Int32
	started chan struct{}
	mu      sync.Mutex
	groups  []uint32
	err     error
	gate    chan struct{}
}

func (f *fakeResolver) resolve(_ context.Context, who caller) (owner, error) {
	f.calls.Add(1)
	select {
	case f.started <- struct{}{}:
	default:
	}
	f.mu.Lock()
	gate, groups, err := f.gate, f.groups, f.err
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if err != nil {
		return owner{}, err
	}
	return owner{name: "alice", uid: who.uid, gid: who.gid, groups: groups}, nil
}

func (f *fakeResolver) set(groups []uint32, err error, gate chan struct{}) {
	f.mu.Lock()
	f.groups, f.err, f.gate = groups, err, gate
	f.mu.Unlock()
}

// TestOwnerCache: one lookup however many requests want a user at once;
// within ownerTTL none; up to ownerMaxAge the old answer at once while one
// lookup refreshes it; after that a wait for a new one; failures are not
// kept.
func TestOwnerCache(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_000_000, 0))
	res := &fakeResolver{started: make(chan struct{}, 1)}
	oc := newOwnerCache(clk, nil, res.resolve)
	alice := caller{uid: 1000, gid: 1000, known: true}
	getAll := func(n int) []owner {
		out := make([]owner, n)
		var wg sync.WaitGroup
		for i := range out {
			wg.Go(func() {
				o, err := oc.get(alice)
				if err != nil {
					t.Errorf("lookup %d: %v", i, err)
				}
				out[i] = o
			})
		}
		wg.Wait()
		return out
	}

	// 64 requests of a user not yet known: they wait for one lookup.
	gate := make(chan struct{})
	res.set([]uint32{10}, nil, gate)
	done := make(chan []owner)
	go func() { done <- getAll(64) }()
	<-res.started // the one lookup is under way
	close(gate)
	for i, o := range <-done {
		if len(o.groups) != 1 || o.groups[0] != 10 {
			t.Fatalf("request %d got %+v, want alice in group 10", i, o)
		}
	}
	if n := res.calls.Load(); n != 1 {
		t.Errorf("64 requests of a new user made %d lookups, want 1", n)
	}

	// Within ownerTTL: no lookup.
	clk.Advance(ownerTTL - time.Second)
	getAll(8)
	if n := res.calls.Load(); n != 1 {
		t.Errorf("within ownerTTL: %d lookups in all, want still 1", n)
	}

	// Past ownerTTL: the old answer at once, one lookup in the background
	// (held at the gate), and then the new groups.
	clk.Advance(2 * time.Second)
	gate = make(chan struct{})
	res.set([]uint32{10, 20}, nil, gate)
	for i, o := range getAll(16) {
		if len(o.groups) != 1 {
			t.Fatalf("stale request %d got %+v, want the kept answer (group 10) without waiting", i, o)
		}
	}
	close(gate)
	// Joins the refresh still under way (and waits for it), or finds it
	// done and does nothing.
	oc.flight.Do(oc.flightKey(alice), func() (any, error) { return owner{}, nil })
	if o, _ := oc.get(alice); len(o.groups) != 2 {
		t.Fatalf("the background lookup did not replace the kept answer: %+v", o)
	}
	if n := res.calls.Load(); n != 2 {
		t.Errorf("16 requests past ownerTTL made %d lookups in all, want 2 (one refresh)", n)
	}

	// Past ownerMaxAge: a failed lookup is the request's error, and is not
	// kept: the next request asks again.
	clk.Advance(ownerMaxAge)
	res.set(nil, errors.New("name service down"), nil)
	if o, err := oc.get(alice); err == nil {
		t.Fatalf("past ownerMaxAge with the name service down: got %+v, want its error", o)
	}
	res.set([]uint32{30}, nil, nil)
	if o, err := oc.get(alice); err != nil || len(o.groups) != 1 || o.groups[0] != 30 {
		t.Errorf("after a failed lookup: got %+v, %v; want a new lookup's answer (group 30)", o, err)
	}
	if n := res.calls.Load(); n != 4 {
		t.Errorf("%d lookups in all, want 4", n)
	}

	// A user quiet for ownerMaxAge leaves the cache at the next lookup.
	clk.Advance(ownerMaxAge)
	if _, err := oc.get(caller{uid: 1001, gid: 1001, known: true}); err != nil {
		t.Fatal(err)
	}
	if _, kept := oc.byUID[[2]uint32{alice.uid, alice.gid}]; kept || len(oc.byUID) != 1 {
		t.Errorf("after ownerMaxAge the cache holds %v; want only the new user", oc.byUID)
	}
}

// TestOwnerCachePrefetch: a request of any kind starts a lookup of a user
// the cache lacks, without waiting for it, and the user's submit then
// finds the answer; a held user and an unidentified caller start none;
// after a failure none starts for ownerTTL.
func TestOwnerCachePrefetch(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_000_000, 0))
	res := &fakeResolver{started: make(chan struct{}, 1)}
	oc := newOwnerCache(clk, nil, res.resolve)
	alice := caller{uid: 1000, gid: 1000, known: true}
	joinFlight := func(who caller) { // waits for a flight under way, if any
		oc.flight.Do(oc.flightKey(who), func() (any, error) { return owner{}, nil })
	}

	gate := make(chan struct{})
	res.set([]uint32{10}, nil, gate)
	oc.prefetch(alice) // returns while the lookup waits at the gate
	<-res.started
	close(gate)
	joinFlight(alice)
	if o, err := oc.get(alice); err != nil || len(o.groups) != 1 || o.groups[0] != 10 {
		t.Fatalf("after a prefetch: got %+v, %v; want alice in group 10", o, err)
	}
	oc.prefetch(alice)
	oc.prefetch(caller{uid: 1001}) // not identified
	if n := res.calls.Load(); n != 1 {
		t.Errorf("a prefetch, a submit, a prefetch of a held user and one of an unidentified caller made %d lookups, want 1", n)
	}

	// The name service fails: one prefetch asks, the next ones within
	// ownerTTL do not; a submit still does, and gets the error.
	bob := caller{uid: 1002, gid: 1002, known: true}
	res.set(nil, errors.New("name service down"), nil)
	oc.prefetch(bob)
	joinFlight(bob)
	oc.prefetch(bob)
	oc.prefetch(caller{uid: 1003, gid: 1003, known: true})
	if n := res.calls.Load(); n != 2 {
		t.Errorf("prefetches while the name service fails made %d lookups in all, want 2", n)
	}
	if _, err := oc.get(bob); err == nil {
		t.Error("a submit while the name service fails: want its error")
	}
	clk.Advance(ownerTTL)
	res.set([]uint32{30}, nil, nil)
	oc.prefetch(bob)
	joinFlight(bob)
	if o, age, ok := oc.cached(bob); !ok || age != 0 || o.groups[0] != 30 {
		t.Errorf("a prefetch ownerTTL after the failure: cache holds %+v (age %v, %v), want bob in group 30", o, age, ok)
	}
}

// TestOwnerCacheStop: stop ends the lookups under way (the controller
// closing does not wait for a name service), and the requests waiting
// on them get an error.
func TestOwnerCacheStop(t *testing.T) {
	oc := newOwnerCache(clock.NewFake(time.Unix(1_000_000, 0)), nil, func(ctx context.Context, who caller) (owner, error) {
		<-ctx.Done() // a name service that never answers
		return owner{}, ctx.Err()
	})
	alice := caller{uid: 1000, gid: 1000, known: true}
	oc.prefetch(alice)
	got := make(chan error, 1)
	go func() {
		_, err := oc.get(alice)
		got <- err
	}()
	oc.stop()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("a request waiting on a lookup when the cache stopped: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a request waiting on a lookup was still waiting 10 s after the cache stopped")
	}
}

// TestOwnerCacheStopAnswer: a submit whose owner lookup a stopping
// controller ends is answered as any request to a stopping controller
// (Unavailable: a client of several controllers tries the next), not as
// a name service's failure.
func TestOwnerCacheStopAnswer(t *testing.T) {
	oc := newOwnerCache(clock.NewFake(time.Unix(1_000_000, 0)), nil, resolveOwner)
	oc.stop()
	_, err := oc.get(caller{uid: 0, gid: 0, known: true})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeUnavailable {
		t.Errorf("a lookup the stopping cache ended: %v, want the controller's Unavailable (shutting down)", err)
	}
}
