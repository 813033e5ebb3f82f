package daemon

import (
	"context"
	"strings"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// stateTimeLimitEvery is how often the leader looks for jobs stuck past a
// queue's jobStateTimeLimitActions (their limits are minutes to hours).
const stateTimeLimitEvery = 10 * time.Second

// stateTimeLimits cancels RUNNABLE jobs whose statusReason starts with a
// queue action's reason and that have waited longer than its
// maxTimeSeconds, as AWS Batch's jobStateTimeLimitActions do.
func (c *Controller) stateTimeLimits(ctx context.Context) {
	t := c.clock.NewTimer(stateTimeLimitEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		t.Reset(stateTimeLimitEvery)
		state, now := c.fsm.State(), c.nowMillis()
		actions := map[string][]api.JobStateTimeLimitAction{}
		for _, q := range state.Queues() {
			if len(q.JobStateTimeLimitActions) > 0 {
				actions[q.Name] = q.JobStateTimeLimitActions
			}
		}
		if len(actions) == 0 {
			continue
		}
		state.JobsInState(api.StateRunnable, func(j *api.Job) bool {
			for _, a := range actions[j.Queue] {
				if a.Action == "CANCEL" && strings.HasPrefix(j.StatusReason, a.Reason) && now-j.CreatedAt > a.MaxTimeSeconds*1000 {
					err := c.stopJob(ctx, caller{known: true}, api.StopJobRequest{ID: j.ID, Reason: j.StatusReason}, false)
					if err != nil && ctx.Err() == nil {
						c.log.Warn("cancel job past its queue's time limit", "job", j.ID, "err", err)
					}
					break
				}
			}
			return ctx.Err() == nil
		})
	}
}
