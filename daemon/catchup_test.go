package daemon

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// TestFollowerTokenCatchUpsAreShared: tokens a follower cannot prove from
// its own state (node credentials it does not know, join tokens that are
// not the cluster's) from many callers at once are all refused, and cost
// the leader at most one read index per tokenCatchUpEvery; a node that
// joins through the follower meanwhile is let in.
func TestFollowerTokenCatchUpsAreShared(t *testing.T) {
	ms := startCluster(t, 3)
	waitLeading(t, ms[0].c)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	const callers, each = 20, 10
	served := ms[0].c.readIndexServed.Load()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, callers*each)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range each {
				token := api.FormatNodeCredential(fmt.Sprintf("ghost%d", i), fmt.Sprintf("%064x", k))
				if k%2 == 1 {
					token = api.FormatJoinToken(fmt.Sprintf("%064x", i*each+k), ms[0].c.CAHash())
				}
				err := clusterNodeClient(t, ms, token, 1).Call(ctx, api.PathNodeBeat, api.NodeHeartbeatRequest{Name: "ghost", Boot: "b"}, nil)
				if !api.IsCode(err, api.CodeUnauthenticated) {
					errs <- fmt.Errorf("a made-up token: %v, want refused as unauthenticated", err)
				}
			}
		}()
	}
	var reg api.RegisterNodeResponse
	if err := clusterNodeClient(t, ms, ms[0].c.NodeJoinToken(), 1).Call(ctx, api.PathNodeRegister, nodeReg("n1"), &reg); err != nil || reg.Credential == "" {
		t.Fatalf("register n1 with the join token through the follower while made-up tokens come: %v (credential %q)", err, reg.Credential)
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	asked := ms[0].c.readIndexServed.Load() - served
	// The catch-ups, one per tokenCatchUpEvery from the first, and the
	// read barrier that the registration passes once let in (routes).
	bound := uint64(elapsed/tokenCatchUpEvery) + 1 + 1
	t.Logf("%d made-up tokens and a join in %s asked the leader for %d read indexes (at most %d)", callers*each, elapsed.Round(time.Millisecond), asked, bound)
	if asked > bound {
		t.Errorf("%d made-up tokens in %s asked the leader for %d read indexes, want at most one per %s (%d)", callers*each, elapsed, asked, tokenCatchUpEvery, bound)
	}
}
