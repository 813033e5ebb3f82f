package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// TestTimeLimitChangedWhileRunning shortens a running job's time limit
// (what `scontrol update JobId=N TimeLimit=` does): its node re-arms the
// limit from the job's start and stops it, ending TIMEOUT; a limit raised
// instead lets the job run on.
func TestTimeLimitChangedWhileRunning(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	submit := func(limit int64) uint64 {
		t.Helper()
		resp, err := c.client.Submit(ctx, api.SubmitJobRequest{
			JobSpec: api.JobSpec{
				Name: "long", Command: []string{"sleep", "3600"}, Dir: t.TempDir(),
				TimeLimit: limit,
			},
		})
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
		c.wait(resp.ID, api.StateRunning)
		return resp.ID
	}
	setLimit := func(id uint64, secs int64) {
		t.Helper()
		if err := c.client.UpdateJob(ctx, api.UpdateJobRequest{ID: id, TimeLimit: &secs}); err != nil {
			t.Fatalf("update job %d to a %ds limit: %v", id, secs, err)
		}
	}

	shortened := submit(3600)
	raised := submit(3)
	setLimit(raised, 3600)
	changed := time.Now()
	setLimit(shortened, 1)

	j := c.wait(shortened)
	if j.State != api.StateFailed || j.Cause != api.CauseTimeout {
		t.Fatalf("job with its limit cut to 1 s ended %s (cause %q, %q), want FAILED by timeout", j.State, j.Cause, j.StatusReason)
	}
	if took := time.Since(changed); took > 20*time.Second {
		t.Errorf("the shortened job took %v to stop, want about its 1 s limit plus the grace", took)
	}
	// The raised job outlives its first limit (3 s): waiting for its end
	// until 4 s after the change must run out.
	waitCtx, cancel := context.WithDeadline(ctx, changed.Add(4*time.Second))
	defer cancel()
	if j, err := c.client.WaitJob(waitCtx, raised); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("job whose limit was raised to an hour: %s (%q, cause %q), %v; want it still running 4 s later",
			j.State, j.StatusReason, j.Cause, err)
	}
	c.shoal("terminate", api.FormatID(raised))
	c.wait(raised)
}
