package daemon

import (
	"context"
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

// waitingStates are the states a deadline ends a job in.
var waitingStates = []api.JobState{api.StateSubmitted, api.StatePending, api.StateRunnable}

// deadlines ends, on the leader, every waiting job whose deadline can no
// longer be met (raftfsm.DeadlineCutoff): state DEADLINE, as Slurm's
// --deadline does. The FSM checks the time in the command again.
func (c *Controller) deadlines(ctx context.Context) {
	t := time.NewTicker(deadlineEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if c.raft.raft.State() != raft.Leader {
			continue
		}
		state, now := c.fsm.State(), nowMillis()
		var due []uint64
		for _, st := range waitingStates {
			state.JobsInState(st, func(j *api.Job) bool {
				if cut := raftfsm.DeadlineCutoff(j); cut != 0 && cut <= now {
					due = append(due, j.ID)
				}
				return true
			})
		}
		for _, id := range due {
			_, err := c.applier.Apply(ctx, raftfsm.OpStop, raftfsm.StopCmd{ID: id, Deadline: true, Now: now})
			if err != nil && ctx.Err() == nil && !api.IsCode(err, api.CodeConflict) {
				c.log.Warn("end job past its deadline", "job", id, "err", err)
			}
		}
	}
}

// stateTimeLimits cancels RUNNABLE jobs whose statusReason starts with a
// queue action's reason and that have waited longer than its
// maxTimeSeconds, as AWS Batch's jobStateTimeLimitActions do.
func (c *Controller) stateTimeLimits(ctx context.Context) {
	t := time.NewTicker(stateTimeLimitEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		state, now := c.fsm.State(), nowMillis()
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
