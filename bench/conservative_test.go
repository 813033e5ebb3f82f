package bench

import (
	"fmt"
	"testing"

	"github.com/shoal-batch/shoal/sched"
)

// BenchmarkSchedulePassConservative times BenchmarkSchedulePass's cases
// under conservative backfill (shoal agent -backfill conservative): up to
// sched.DefaultMaxReservations waiting jobs get a reservation each,
// where EASY gives one to each queue's first.
func BenchmarkSchedulePassConservative(b *testing.B) {
	for _, c := range schedCases {
		name := fmt.Sprintf("pending=%d/nodes=%d", c.pending, c.nodes)
		if c.noLimits {
			name += "/nolimits"
		}
		b.Run(name, func(b *testing.B) {
			fsm, now := buildSchedState(b, c.pending, c.nodes, c.noLimits)
			st := fsm.State()
			var loop loopPasses
			for range b.N {
				times, plan := loop.five(st, now, sched.Options{Conservative: true})
				reserved := 0
				for _, w := range plan.Waits {
					if w.Reserved {
						reserved++
					}
				}
				b.ReportMetric(ms(times[2]), "ms/pass")
				figure(b, "sched pass, conservative, %s: %.1f ms (median of 5; min %.1f, max %.1f; placed %d, reserved %d)",
					name, ms(times[2]), ms(times[0]), ms(times[4]), len(plan.Placements), reserved)
			}
		})
	}
}
