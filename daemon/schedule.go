package daemon

import (
	"context"
	"time"

	"github.com/shoal-batch/shoal/raftfsm"
	"github.com/shoal-batch/shoal/sched"
)

// scheduleLoop plans after every change to the state: no polling tick, so a
// job is placed as soon as its submission (or the exit that frees room)
// commits. The only timer is for the earliest begin time of a held-back job.
// Plans that the FSM finds stale are simply planned again on the next change.
func (c *Controller) scheduleLoop(ctx context.Context) {
	var lastPlanned uint64
	begin := time.NewTimer(time.Hour)
	begin.Stop()
	for {
		idx, changed := c.fsm.Changed()
		if idx != lastPlanned {
			lastPlanned = idx
			plan := sched.Schedule(c.fsm.State(), nowMillis())
			if plan.NextBegin != 0 {
				begin.Reset(time.Until(time.UnixMilli(plan.NextBegin)))
			}
			if len(plan.Placements) > 0 {
				cmd := raftfsm.PlanCmd{Placements: make([]raftfsm.Placement, len(plan.Placements)), Now: nowMillis()}
				for i, p := range plan.Placements {
					cmd.Placements[i] = raftfsm.Placement{JobID: p.JobID, Node: p.Node, CE: p.CE}
				}
				if _, err := c.applier.Apply(ctx, raftfsm.OpPlan, cmd); err != nil && ctx.Err() == nil {
					c.log.Warn("commit schedule plan", "placements", len(cmd.Placements), "err", err)
				}
				continue
			}
		}
		select {
		case <-changed:
		case <-begin.C:
			lastPlanned = 0 // a begin time came: plan again though nothing changed
		case <-ctx.Done():
			return
		}
	}
}
