package daemon

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/clock"
)

// Submits past MaxJobCount are refused, array tasks counted one by one,
// with nothing stored; once jobs have ended there is room again.
func TestMaxJobCount(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_000_000, 0))
	tc := startTestControllerWith(t, Config{MaxJobCount: 5, Clock: clk})
	tc.mustCall(rootUser, api.PathNodeRegister, api.RegisterNodeRequest{
		Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 8, MemoryMB: 8192}}, nil)
	held := api.JobSpec{Command: []string{"true"}, Held: true}
	var ids []uint64
	for range 3 {
		ids = append(ids, tc.submit(alice, held))
	}
	before := tc.indexes()
	for _, req := range []api.SubmitJobRequest{
		{JobSpec: held, ArrayIndexes: []int{0, 1, 2}},
	} {
		if status, e := tc.call(bob, api.PathSubmit, req, nil); status == http.StatusOK || e.Code != api.CodeConflict ||
			!strings.Contains(e.Message, "MaxJobCount of 5") {
			t.Errorf("an array of 3 past MaxJobCount 5 with 3 jobs held: %d %s %q", status, e.Code, e.Message)
		}
	}
	if after := tc.indexes(); after != before {
		t.Errorf("a refused submit reached raft: indexes %v then %v", before, after)
	}
	tc.submit(bob, held)
	tc.submit(bob, held)
	if status, e := tc.call(bob, api.PathSubmit, api.SubmitJobRequest{JobSpec: held}, nil); status == http.StatusOK {
		t.Errorf("a sixth job past MaxJobCount 5: accepted (%+v)", e)
	}
	for _, id := range ids {
		tc.mustCall(alice, api.PathCancel, api.StopJobRequest{ID: id, Reason: "make room"}, nil)
	}
	// The count is kept a moment (jobCountTTL); a refusal counts again
	// first once a tenth of it has passed.
	clk.Advance(jobCountTTL / 5)
	if status, e := tc.call(bob, api.PathSubmit, api.SubmitJobRequest{JobSpec: held}, nil); status != http.StatusOK {
		t.Errorf("a submit once 3 of 5 jobs were cancelled: %d %s %q", status, e.Code, e.Message)
	}
}
