package daemon

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// runningBody is a heartbeat of node n1 listing n running jobs, each as
// the shortest entry JSON allows ({}): the most a body can carry.
func runningBody(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"name":"n1","boot":"n1-boot","running":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("{}")
	}
	b.WriteString("]}")
	return b.Bytes()
}

// TestHeartbeatRunningBounded: a heartbeat listing more running jobs than
// MaxRunningPerHeartbeat is refused, naming the bound and the count sent,
// though its body is within the route's size; one at the bound is
// answered (every entry a stray: no such job).
func TestHeartbeatRunningBounded(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1")
	over := runningBody(MaxRunningPerHeartbeat + 1)
	if len(over) > bodySmall {
		t.Fatalf("the heartbeat of %d entries is %d bytes, over the route's %d: the test would not reach the bound", MaxRunningPerHeartbeat+1, len(over), bodySmall)
	}
	status, e := mc.call(rootUser, api.PathNodeBeat, over, nil)
	wantRefused(t, "a heartbeat over the bound", status, e, api.CodeInvalid,
		fmt.Sprint(MaxRunningPerHeartbeat+1), fmt.Sprint(MaxRunningPerHeartbeat), "running jobs")
	if e.Field != "running" {
		t.Errorf("the refusal names field %q, want running", e.Field)
	}
	var resp api.NodeHeartbeatResponse
	mc.mustCall(rootUser, api.PathNodeBeat, runningBody(MaxRunningPerHeartbeat), &resp)
	if len(resp.Stray) != MaxRunningPerHeartbeat {
		t.Fatalf("a heartbeat at the bound: %d strays, want %d", len(resp.Stray), MaxRunningPerHeartbeat)
	}
}

// TestHeartbeatForgetsDeletedNode: what the leader keeps of a node's
// heartbeats (its last time and load) goes when its timer fires after
// the node was deleted, so that nodes deleted over time do not pile up
// in its memory.
func TestHeartbeatForgetsDeletedNode(t *testing.T) {
	const ttl = 41 * time.Second // no other timer of the controller's is armed for it
	mc, expired := beatingNode(t, ttl, "gone")
	if _, ok := mc.c.beats.load("gone"); !ok {
		t.Fatal("the leader does not know the load of the node's heartbeat")
	}
	mc.mustCall(rootUser, api.PathDeleteNode, api.DeleteNodeRequest{Name: "gone"}, nil)
	mc.clock.WaitArmed(ttl)
	mc.clock.Advance(ttl)
	if node := <-expired; node != "gone" {
		t.Fatalf("the timer of %q fired, want gone's", node)
	}
	if _, ok := mc.c.beats.load("gone"); ok {
		t.Error("the leader still keeps the load of a deleted node")
	}
	if _, ok := mc.c.beats.lastSeen("gone"); ok {
		t.Error("the leader still keeps the last heartbeat of a deleted node")
	}
	if status, _ := mc.call(rootUser, api.PathNodeBeat, api.NodeHeartbeatRequest{Name: "gone", Boot: "gone-boot"}, nil); status == http.StatusOK {
		t.Error("a heartbeat of the deleted node was taken")
	}
}

// TestHeartbeatForgetsDeletedDownNode: a node set DOWN for not responding
// (the node an operator deletes, as a rule) is forgotten too once it is
// deleted: the leader looks at it again a TTL later, though it sends no
// heartbeat.
func TestHeartbeatForgetsDeletedDownNode(t *testing.T) {
	const ttl = 43 * time.Second // no other timer of the controller's is armed for it
	mc, expired := beatingNode(t, ttl, "dead")
	mc.clock.WaitArmed(ttl)
	mc.clock.Advance(ttl)
	<-expired
	if n := mc.c.fsm.State().Node("dead"); n == nil || !n.NotResponding {
		t.Fatalf("the node after its TTL: %+v, want DOWN, not responding", n)
	}
	mc.c.beats.mu.Lock() // nodeExpired has returned: its timer is armed again, or never will be
	_, armed := mc.c.beats.timers["dead"]
	mc.c.beats.mu.Unlock()
	if !armed {
		t.Fatal("the leader no longer watches the DOWN node: once deleted, it is never forgotten")
	}
	mc.mustCall(rootUser, api.PathDeleteNode, api.DeleteNodeRequest{Name: "dead"}, nil)
	mc.clock.Advance(ttl)
	<-expired
	if _, ok := mc.c.beats.load("dead"); ok {
		t.Error("the leader still keeps the load of a deleted node that was DOWN")
	}
	if _, ok := mc.c.beats.lastSeen("dead"); ok {
		t.Error("the leader still keeps the last heartbeat of a deleted node that was DOWN")
	}
}

// beatingNode starts a controller with node TTL ttl and a node name that
// has sent one heartbeat with its load; each time a node's timer has
// fired (and nodeExpired returned) its name comes on the channel.
func beatingNode(t *testing.T, ttl time.Duration, name string) (*memController, <-chan string) {
	mc := startMemController(t, Config{NodeTTL: ttl})
	expired := make(chan string, 1)
	nodeExpired := mc.c.beats.expire
	mc.c.beats.expire = func(node string, seen time.Time) { // before any node's timer is armed
		nodeExpired(node, seen)
		expired <- node
	}
	mc.registerNode(name)
	load := 0.5
	mc.mustCall(rootUser, api.PathNodeBeat, api.NodeHeartbeatRequest{Name: name, Boot: name + "-boot", Load: &load}, nil)
	return mc, expired
}
