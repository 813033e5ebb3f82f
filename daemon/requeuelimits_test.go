package daemon

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestMemParallelBulkRequeuesCounted: ended jobs queued again many at a
// time (scontrol requeue of several jobs, or of an array) from several
// calls at once are each a submit: together they do not pass
// MaxSubmitJobs.
func TestMemParallelBulkRequeuesCounted(t *testing.T) {
	mc, ids := endedUnderLimit(t, 16, 3)
	var wg sync.WaitGroup
	var taken atomic.Int32
	start := make(chan struct{})
	for k := 0; k < len(ids); k += 2 {
		pair := ids[k : k+2]
		wg.Go(func() {
			<-start
			var resp api.StopJobsResponse
			mc.mustCall(alice, api.PathStopJobs, api.StopJobsRequest{IDs: pair, Requeue: true, Hold: true}, &resp)
			taken.Add(int32(len(pair) - len(resp.Failed)))
			for _, f := range resp.Failed {
				if !strings.HasPrefix(f.Error.Message, "AssocMaxSubmitJobLimit: ") {
					t.Errorf("requeue of job %d: %s, want taken or refused for AssocMaxSubmitJobLimit", f.ID, f.Error.Message)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if n, unfinished := taken.Load(), unfinishedOf(mc, alice); n != 3 || unfinished != 3 {
		t.Errorf("8 parallel requeues of 2 jobs each under MaxSubmitJobs 3: %d taken, %d unfinished; want 3", n, unfinished)
	}
}

// endedUnderLimit makes n ended jobs of alice's, then sets her
// association's MaxSubmitJobs to limit: each requeue of one is a submit.
func endedUnderLimit(t *testing.T, n int, limit int64) (*memController, []uint64) {
	t.Helper()
	mc := startMemController(t, Config{})
	mc.registerNode("n1")
	mc.addAccount(api.Association{Account: "bio", Shares: 1}, api.Association{User: "4201", Shares: 1})
	var ids []uint64
	for range n {
		id := mc.submit(alice, heldJob)
		mc.mustCall(alice, api.PathCancel, api.StopJobRequest{ID: id}, nil)
		ids = append(ids, id)
	}
	mc.mustCall(rootUser, api.PathAccountsModify, api.AccountsChange{Associations: []api.Association{
		{Account: "bio", User: "4201", Shares: 1, Limits: api.Limits{MaxSubmitJobs: &limit}}}}, nil)
	return mc, ids
}

// unfinishedOf counts p's jobs that have not ended.
func unfinishedOf(mc *memController, p peer) int {
	n := 0
	for _, j := range mc.jobs(p, api.ListJobsRequest{}) {
		if !j.State.Terminal() {
			n++
		}
	}
	return n
}
