package daemon

import (
	"context"
	"time"

	"github.com/shoal-batch/shoal/raftfsm"
)

// chargeRunningUsage is a leader task (Slurm's PriorityCalcPeriod): every
// period it commits one raftfsm.ChargeUsageCmd stamped with this
// controller's clock, which charges every running job the usage since it
// was last charged, so that a user with long jobs does not look idle to
// fair share until they end. One entry per period for all jobs; none
// while nothing chargeable runs. A new leader starts its period afresh:
// what the former one charged is recorded, what it had not is charged by
// the next entry or at the job's end, never twice.
func (c *Controller) chargeRunningUsage(ctx context.Context) {
	period := c.priorityCalcPeriod()
	timer := c.clock.NewTimer(period)
	defer timer.Stop()
	for {
		select {
		case <-timer.C():
		case <-ctx.Done():
			return
		}
		if c.fsm.State().RunningCharged() {
			if _, err := c.applier.Apply(ctx, raftfsm.OpChargeUsage, raftfsm.ChargeUsageCmd{Now: c.nowMillis()}); err != nil && ctx.Err() == nil {
				c.log.Warn("charge running jobs' usage", "err", err)
			}
		}
		timer.Reset(period)
	}
}

// priorityCalcPeriod is how often running jobs' usage is charged.
func (c *Controller) priorityCalcPeriod() time.Duration {
	return time.Duration(c.cfg.Sched.Priority.CalcPeriodSeconds()) * time.Second
}
