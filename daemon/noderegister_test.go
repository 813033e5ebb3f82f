package daemon

import (
	"net/http"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestNodeRegisterAgainMakesNoEntry: a node daemon registering again by
// its credential as its record already has it (as it does after a
// refused heartbeat) makes no raft entry, and still counts as its
// heartbeat (its load is recorded); one that changes the record is
// written.
func TestNodeRegisterAgainMakesNoEntry(t *testing.T) {
	mc := startMemController(t, Config{})
	cred := mc.joinNode("n1")
	reg := nodeReg("n1")
	const again = 20
	before := mc.c.raft.raft.LastIndex()
	for i := range again {
		load := float64(i)
		reg.Load = &load
		if status, e := mc.bearer(cred, api.PathNodeRegister, reg, nil); status != http.StatusOK {
			t.Fatalf("registration %d by the credential: HTTP %d %s: %s", i, status, e.Code, e.Message)
		}
	}
	entries := mc.c.raft.raft.LastIndex() - before
	t.Logf("raft entries for %d registrations that change nothing: %d", again, entries)
	if entries != 0 {
		t.Fatalf("%d registrations that change nothing made %d raft entries, want none", again, entries)
	}
	if load, ok := mc.c.beats.load("n1"); !ok || load != again-1 {
		t.Fatalf("n1's load after its registrations: %v (known %v), want %d: a registration counts as a heartbeat", load, ok, again-1)
	}

	reg.Capacity.CPUs = 8
	if status, e := mc.bearer(cred, api.PathNodeRegister, reg, nil); status != http.StatusOK {
		t.Fatalf("registration with more CPUs: HTTP %d %s: %s", status, e.Code, e.Message)
	}
	if n := mc.c.fsm.State().Node("n1"); n.Capacity.CPUs != 8 {
		t.Fatalf("n1 has %d CPUs after registering with 8", n.Capacity.CPUs)
	}
}
