package daemon

import (
	"context"
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/raftfsm"
	"github.com/shoal-batch/shoal/sched"
)

// scheduleLoop plans whenever what a plan reads changes: a job becomes
// RUNNABLE (or a RUNNABLE one changes), resources are freed or taken, a
// node, queue or compute environment changes (memdb watch channels of
// those, raftfsm.State.WatchPlanInputs). No polling tick, so a job is
// placed as soon as its submission (or the exit that frees room) commits;
// a running job's report, a signal or a heartbeat wakes nothing. The only
// timer is for the earliest begin time of a held-back job. Plans that the
// FSM finds stale are planned again on the next change.
func (c *Controller) scheduleLoop(ctx context.Context) {
	begin := c.clock.NewTimer(time.Hour)
	begin.Stop()
	plan := true
	for {
		// The watch is taken on the state the plan reads: a change
		// committed while planning fires it.
		state := c.fsm.State()
		ws := memdb.NewWatchSet()
		state.WatchPlanInputs(ws)
		if plan {
			plan = false
			p := sched.Schedule(state, c.nowMillis())
			if p.NextBegin != 0 {
				begin.Reset(time.UnixMilli(p.NextBegin).Sub(c.clock.Now()))
			}
			if len(p.Placements) > 0 {
				cmd := raftfsm.PlanCmd{Placements: make([]raftfsm.Placement, len(p.Placements)), Now: c.nowMillis()}
				for i, pl := range p.Placements {
					cmd.Placements[i] = raftfsm.Placement{JobID: pl.JobID, Node: pl.Node, CE: pl.CE}
				}
				res, err := c.applier.Apply(ctx, raftfsm.OpPlan, cmd)
				if err != nil && ctx.Err() == nil {
					c.log.Warn("commit schedule plan", "placements", len(cmd.Placements), "err", err)
				}
				// Placed jobs changed the inputs: plan the rest at once
				// (the cap on one plan's placements may have left some).
				// A plan the FSM wholly refused waits for a change.
				if res.Placed > 0 {
					plan = true
					continue
				}
			}
		}
		wctx, cancel := context.WithCancel(ctx)
		select {
		case <-ws.WatchCh(wctx):
			plan = true
		case <-begin.C():
			plan = true // a begin time came: plan again though nothing changed
		case <-ctx.Done():
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
	}
}
