package daemon

import (
	"net/http"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// TestWatchJobs: a watch answers at once without a digest, then blocks
// until a watched job changes (no polling: the release's commit wakes
// it); another user's job, with PrivateJobs off, is watched as listed.
func TestWatchJobs(t *testing.T) {
	tc := startTestController(t, false)
	id := tc.submit(alice, api.JobSpec{Name: "w", Command: []string{"true"}, Held: true})
	var first api.WatchJobsResponse
	tc.mustCall(alice, api.PathWatch, api.WatchJobsRequest{IDs: []uint64{id}}, &first)
	if len(first.Jobs) != 1 || first.Jobs[0].State != api.StatePending || first.Digest == "" {
		t.Fatalf("first watch: %+v, want the PENDING job and a digest", first)
	}
	// Unchanged: the watch waits its time out and says the same.
	var same api.WatchJobsResponse
	start := time.Now()
	tc.mustCall(alice, api.PathWatch, api.WatchJobsRequest{IDs: []uint64{id}, AfterDigest: first.Digest, WaitMillis: 200}, &same)
	if same.Digest != first.Digest || time.Since(start) < 200*time.Millisecond {
		t.Errorf("unchanged watch: digest %q after %s, want %q after 200ms", same.Digest, time.Since(start), first.Digest)
	}
	done := make(chan api.WatchJobsResponse)
	go func() {
		var next api.WatchJobsResponse
		tc.call(bob, api.PathWatch, api.WatchJobsRequest{User: "4201", AfterDigest: first.Digest, WaitMillis: 30_000}, &next)
		done <- next
	}()
	tc.mustCall(alice, api.PathHold, api.HoldJobsRequest{IDs: []uint64{id}, Hold: false}, nil)
	select {
	case next := <-done:
		if len(next.Jobs) != 1 || next.Jobs[0].State == api.StatePending || next.Digest == first.Digest {
			t.Errorf("watch after the release: %+v, want the job no longer PENDING", next)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the watch did not answer the release within 20s")
	}
	if status, e := tc.call(alice, api.PathWatch, api.WatchJobsRequest{}, nil); status != http.StatusBadRequest {
		t.Errorf("watch of nothing: HTTP %d %+v, want 400", status, e)
	}
}
