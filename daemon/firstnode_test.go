package daemon

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// TestSubmitWaitsForExpectedNode: a controller that expects a node (a dev
// agent's) holds a submit that comes before any node has registered, and
// accepts it once one has; without the expectation the same submit is
// refused at once for a queue without nodes.
func TestSubmitWaitsForExpectedNode(t *testing.T) {
	plain := startTestControllerWith(t, Config{})
	if status, e := plain.call(alice, api.PathSubmit, api.SubmitJobRequest{JobSpec: aliceJob}, nil); status == http.StatusOK || !strings.Contains(e.Message, "has no nodes") {
		t.Fatalf("submit with no node, none expected: HTTP %d %q; want a refusal naming the queue without nodes", status, e.Message)
	}

	tc := startTestControllerWith(t, Config{ExpectNode: true})
	type answer struct {
		status int
		e      api.Error
		resp   api.SubmitJobResponse
	}
	done := make(chan answer, 1)
	go func() {
		var a answer
		a.status, a.e = tc.call(alice, api.PathSubmit, api.SubmitJobRequest{JobSpec: aliceJob}, &a.resp)
		done <- a
	}()
	select {
	case a := <-done:
		t.Fatalf("submit answered before any node registered: HTTP %d %+v", a.status, a.e)
	case <-time.After(300 * time.Millisecond):
	}
	tc.mustCall(rootUser, api.PathNodeRegister, api.RegisterNodeRequest{
		Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 8, MemoryMB: 8192}}, nil)
	select {
	case a := <-done:
		if a.status != http.StatusOK || a.resp.ID == 0 {
			t.Fatalf("submit after the node registered: HTTP %d %+v; want the job accepted", a.status, a.e)
		}
	case <-time.After(firstNodeWait):
		t.Fatal("submit still unanswered after the node registered")
	}
}
