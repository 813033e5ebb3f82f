package daemon

import (
	"context"

	"github.com/shoal-batch/shoal/raftfsm"
	"github.com/shoal-batch/shoal/sched"
)

// scheduleLoop plans after every change to the state: no timer, so a job is
// placed as soon as its submission (or the exit that frees room) commits.
// Plans that the FSM finds stale are simply planned again on the next change.
func (c *Controller) scheduleLoop(ctx context.Context) {
	var lastPlanned uint64
	for {
		idx, changed := c.fsm.Changed()
		if idx != lastPlanned {
			lastPlanned = idx
			plan := sched.Schedule(c.fsm.State())
			if len(plan.Placements) > 0 {
				cmd := raftfsm.PlanCmd{Placements: make([]raftfsm.Placement, len(plan.Placements)), Now: nowMillis()}
				for i, p := range plan.Placements {
					cmd.Placements[i] = raftfsm.Placement{JobID: p.JobID, Node: p.Node}
				}
				if _, err := c.applier.Apply(ctx, raftfsm.OpPlan, cmd); err != nil && ctx.Err() == nil {
					c.log.Warn("commit schedule plan", "placements", len(cmd.Placements), "err", err)
				}
				continue
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}
