package daemon

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
)

// A follower answers a consistent read only once its FSM has applied what
// the leader had: raft's applied index says the entries were handed to
// the FSM, not that it applied them (after a restart, the whole log is
// handed over at once and applied after). Here the follower's FSM is held
// back before it applies a node's registration that raft has handed it:
// its read barrier waits until the FSM goes on, and the state it then
// reads has the node.
func TestFollowerReadWaitsForItsFSM(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("calling as root over the socket")
	}
	ms := startCluster(t, 3)
	leader := readyLeader(t, ms)
	var follower *Controller
	for _, m := range ms {
		if m != leader {
			follower = m.c
			break
		}
	}

	gate := make(chan struct{})
	var open sync.Once
	release := func() { open.Do(func() { close(gate) }) }
	t.Cleanup(release)
	held := make(chan uint64, 1)
	hook := func(index uint64) {
		select {
		case held <- index:
		default:
		}
		<-gate
	}
	follower.applied.beforeApply.Store(&hook)
	t.Cleanup(func() { follower.applied.beforeApply.Store(nil) })

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := client.New(leader.cfg.Socket, "").Call(ctx, api.PathNodeRegister, api.RegisterNodeRequest{
		Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 8, MemoryMB: 8192}}, nil); err != nil {
		t.Fatal(err)
	}
	index, _ := leader.c.applied.get()
	var heldAt uint64
	select {
	case heldAt = <-held:
	case <-ctx.Done():
		t.Fatal("the follower's FSM was never handed the registration")
	}
	// Raft advances its applied index just after it hands the entries
	// over; nothing announces it.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for follower.raft.raft.AppliedIndex() < index {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("the follower's raft applied index stays at %d, below %d", follower.raft.raft.AppliedIndex(), index)
		}
	}

	done := make(chan error, 1)
	go func() { done <- follower.readBarrier(ctx) }()
	select {
	case err := <-done:
		have, _ := follower.applied.get()
		t.Fatalf("the read barrier returned (%v) while the FSM was held before entry %d: FSM at %d, the leader's %d, the node %v",
			err, heldAt, have, index, follower.fsm.State().Node("n1"))
	case <-time.After(300 * time.Millisecond): // waits, as it should
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("read barrier: %v", err)
	}
	if follower.fsm.State().Node("n1") == nil {
		t.Fatal("after the read barrier the follower's state has no node n1")
	}
}

// readyLeader waits until a member leads with the log of former terms
// applied (on a loaded machine, the first leader may have lost an
// election since the cluster formed) and returns it.
func readyLeader(t *testing.T, ms []*clusterMember) *clusterMember {
	t.Helper()
	ready := make(chan *clusterMember, len(ms))
	stop := make(chan struct{})
	defer close(stop)
	for _, m := range ms {
		go func() {
			for {
				ok, changed := m.c.leaderReady()
				if ok {
					ready <- m
					return
				}
				select {
				case <-changed:
				case <-stop:
					return
				}
			}
		}()
	}
	select {
	case m := <-ready:
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("no controller led within 30 s")
		return nil
	}
}
