package daemon

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// stateTimeLimitEvery is how often the leader looks for jobs stuck past a
// queue's jobStateTimeLimitActions (their limits are minutes to hours).
const stateTimeLimitEvery = 10 * time.Second

// deadlineEvery is how often the leader looks for waiting jobs past their
// deadline (Slurm's --deadline, which Slurm checks on its scheduling
// passes): seconds, as the deadlines are given.
const deadlineEvery = time.Second

// deadlines ends, on the leader, every waiting job whose deadline can no
// longer be met (raftfsm.DeadlineCutoff): state DEADLINE, as Slurm's
// --deadline does. The FSM checks the time in the command again.
func (c *Controller) deadlines(ctx context.Context) {
	c.whileLeaderEvery(ctx, deadlineEvery, func() {
		for _, id := range c.fsm.State().DeadlinesDue(c.nowMillis()) {
			_, err := c.applier.Apply(ctx, raftfsm.OpStop, raftfsm.StopCmd{ID: id, Deadline: true, Now: c.nowMillis()})
			if err != nil && ctx.Err() == nil && !api.IsCode(err, api.CodeConflict) {
				c.log.Warn("end job past its deadline", "job", id, "err", err)
			}
		}
	})
}

// stateTimeLimits cancels RUNNABLE jobs whose statusReason starts with a
// queue action's reason and that have waited longer than its
// maxTimeSeconds, as AWS Batch's jobStateTimeLimitActions do.
func (c *Controller) stateTimeLimits(ctx context.Context) {
	c.whileLeaderEvery(ctx, stateTimeLimitEvery, func() {
		for _, st := range stateTimeLimitsDue(c.fsm.State(), c.nowMillis()) {
			err := c.stopJob(ctx, caller{known: true}, st, false)
			if err != nil && ctx.Err() == nil && !api.IsCode(err, api.CodeConflict) {
				c.log.Warn("cancel job past its queue's time limit", "job", st.ID, "err", err)
			}
		}
	})
}

// whileLeaderEvery runs round every period (on the controller's clock,
// counted from the end of the last round) until ctx ends, skipping the
// rounds in which this controller does not lead.
func (c *Controller) whileLeaderEvery(ctx context.Context, every time.Duration, round func()) {
	t := c.clock.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		if c.raft.raft.State() == raft.Leader {
			round()
		}
		t.Reset(every)
	}
}

// stateTimeLimitsDue lists the cancels a queue's jobStateTimeLimitActions
// ask for at now: RUNNABLE jobs whose statusReason starts with an action's
// reason and that have been RUNNABLE (since they last became so) longer
// than its maxTimeSeconds. The cancel's reason keeps the job's, and says
// which limit ended it.
func stateTimeLimitsDue(state *raftfsm.State, now int64) []api.StopJobRequest {
	actions := map[string][]api.JobStateTimeLimitAction{}
	for _, q := range state.Queues() {
		if len(q.JobStateTimeLimitActions) > 0 {
			actions[q.Name] = q.JobStateTimeLimitActions
		}
	}
	if len(actions) == 0 {
		return nil
	}
	var due []api.StopJobRequest
	state.ScanJobsInState(api.StateRunnable, func(j *api.Job) bool {
		since := j.RunnableAt
		if since == 0 { // stored before RunnableAt was
			since = j.CreatedAt
		}
		for _, a := range actions[j.Queue] {
			if a.Action == "CANCEL" && strings.HasPrefix(j.StatusReason, a.Reason) && now-since > a.MaxTimeSeconds*1000 {
				due = append(due, api.StopJobRequest{ID: j.ID, Reason: fmt.Sprintf(
					"%s; cancelled after more than %d seconds RUNNABLE by job queue %s's jobStateTimeLimitActions", j.StatusReason, a.MaxTimeSeconds, j.Queue)})
				break
			}
		}
		return true
	})
	return due
}
