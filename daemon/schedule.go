package daemon

import (
	"context"
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
	"github.com/shoal-batch/shoal/sched"
)

// scheduleLoop plans whenever what a plan reads changes: a job becomes
// RUNNABLE (or a RUNNABLE one changes), resources are freed or taken, a
// node, queue or compute environment changes (memdb watch channels of
// those, raftfsm.State.WatchPlanInputs). No polling tick, so a job is placed as soon as
// its submission (or the exit that frees room) commits; a running job's
// report, a signal or a heartbeat wakes nothing. The only timer is for
// the earliest begin time of a held-back job. Plans that the FSM finds
// stale are planned again on the next change.
//
// After its placements, each pass records the reasons of the RUNNABLE jobs
// that still wait, and their estimated starts, where they changed (one raft
// entry for many jobs, none when nothing changed). Recording changes the
// jobs the loop watches, so one more pass follows, which finds nothing to
// record: an estimate is recorded again only when it moves by
// estimateSlack or more, so a pass does not write because time passed.
// Under a stream of changes reasons are recorded at most once every
// reasonInterval (what changed meanwhile goes in one go), so that a busy
// cluster does not rewrite many jobs' reasons on every commit.
func (c *Controller) scheduleLoop(ctx context.Context) {
	begin := c.clock.NewTimer(time.Hour)
	begin.Stop()
	flush := c.clock.NewTimer(time.Hour) // reasons held back by reasonInterval
	flush.Stop()
	var lastReasons time.Time
	var arena raftfsm.JobArena          // the jobs a pass reads, used again by the next
	var planner sched.Planner           // a pass's plan, in the memory of the last one
	idle := c.clock.NewTimer(arenaIdle) // lets the arena's memory go when no pass follows
	idle.Stop()
	held := c.clock.NewTimer(time.Hour) // a burst of submissions holds the pass back (burst.go)
	held.Stop()
	plan := true
	for {
		// The watch is taken on the state the plan reads: a change
		// committed while planning fires it.
		state := c.fsm.State()
		ws := memdb.NewWatchSet()
		state.WatchPlanInputs(ws)
		if plan {
			if wait := c.burst.hold(c.clock.Now(), c.cfg.BurstDefer); wait > 0 {
				held.Reset(wait)
				plan = false // planned when held fires
			}
		}
		if plan {
			plan = false
			c.burst.passed(c.clock.Now())
			now := c.nowMillis()
			opts := c.cfg.Sched
			opts.NoPending = true // their reasons are not recorded (reasonChanges)
			if opts.MaxPlacements == 0 {
				opts.MaxPlacements = planPlacements
			}
			idle.Stop()
			arena.Reset() // the last pass's plan is done with
			p := planner.Schedule(state.WithArena(&arena), now, opts)
			if p.NextBegin != 0 {
				begin.Reset(time.UnixMilli(p.NextBegin).Sub(c.clock.Now()))
			}
			placed := 0
			if len(p.Placements) > 0 {
				cmd := raftfsm.PlanCmd{Placements: make([]raftfsm.Placement, len(p.Placements)), Now: now}
				for i, pl := range p.Placements {
					cmd.Placements[i] = raftfsm.Placement{JobID: pl.JobID, Node: pl.Node, CE: pl.CE, Queue: pl.Queue}
				}
				res, err := c.applier.Apply(ctx, raftfsm.OpPlan, cmd)
				if err != nil && ctx.Err() == nil {
					c.log.Warn("commit schedule plan", "placements", len(cmd.Placements), "err", err)
				}
				placed = res.Placed
			}
			c.commitPreemptions(ctx, p.Preemptions, now)
			if cmds := reasonChanges(p.Waits, maxReasonsPerEntry); len(cmds) > 0 {
				if wait := reasonInterval - c.clock.Now().Sub(lastReasons); wait > 0 {
					flush.Reset(wait) // record them then, with what changes meanwhile
				} else {
					lastReasons = c.clock.Now()
					for _, cmd := range cmds {
						if _, err := c.applier.Apply(ctx, raftfsm.OpJobReasons, cmd); err != nil && ctx.Err() == nil {
							c.log.Warn("record job reasons", "jobs", cmd.Jobs(), "err", err)
							break
						}
					}
				}
			}
			idle.Reset(arenaIdle)
			// Placed jobs changed the inputs: plan the rest at once
			// (the cap on one plan's placements may have left some).
			// A plan the FSM wholly refused waits for a change.
			if placed > 0 {
				plan = true
				continue
			}
		}
		wctx, cancel := context.WithCancel(ctx)
		select {
		case <-ws.WatchCh(wctx):
			plan = true
		case <-held.C():
			plan = true // the burst paused, or has held the pass long enough
		case <-begin.C():
			plan = true // a begin time came: plan again though nothing changed
		case <-flush.C():
			plan = true // reasons were held back: record them now
		case <-idle.C():
			arena.Release() // no pass for a while: do not hold its memory
			planner = sched.Planner{}
		case <-ctx.Done():
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
	}
}

// arenaIdle is how long the scheduling loop keeps the memory of its last
// pass's jobs for the next pass: passes come after every commit on a busy
// controller, and an idle one gives the memory back. It is shorter than
// burstQuiet, so that a burst's last passes have let their memory go when
// the burst's end returns memory to the OS (releaseAfterBursts): held
// until then, it stayed resident once freed (0.3 MB of the dev agent's
// growth after 200,000 jobs).
const arenaIdle = burstQuiet / 2

// planPlacements bounds the placements of one pass of the loop. A pass
// reads every RUNNABLE job however few it places, so a bound below what a
// busy cluster frees between two passes (sched.MaxPlacements, 4,096, is a
// quarter of 1,000 nodes of 16 CPUs) makes two passes where one would do:
// when short jobs drain a backlog, passes are what limits the rate. One
// OpPlan of this many placements is some 800 KB.
const planPlacements = 16384

// maxReasonsPerEntry bounds the jobs of one JobReasonsCmd, so that a first
// pass over a long queue makes several modest entries, not one huge one.
const maxReasonsPerEntry = 16384

// reasonInterval is the least time between two recordings of reasons.
const reasonInterval = time.Second

// estimateSlack is how far an estimated start may move before it is
// recorded again (epoch ms).
const estimateSlack = 60_000

// reasonChanges returns the commands that record the waits whose reason
// or estimate differ from what their jobs have recorded, grouped by
// reason and estimate in the order the waits come, at most max jobs per
// command. A wait without a reason (a pass that stopped at its placement
// cap before the job) records nothing; nor does a PENDING job's: its
// reason (Dependency, JobHeldUser, JobHeldAdmin) is in its record already,
// and submitting or holding jobs then costs no second raft entry.
func reasonChanges(waits []sched.Wait, max int) []raftfsm.JobReasonsCmd {
	type key struct {
		reason string
		start  int64
	}
	groups := map[key]int{} // index into cur.Groups
	var out []raftfsm.JobReasonsCmd
	var cur raftfsm.JobReasonsCmd
	n := 0
	for _, w := range waits {
		if w.Reason == "" || w.Job == nil || w.Job.State != api.StateRunnable {
			continue
		}
		if w.Job.WaitReason == w.Reason && sameEstimate(w.Job.EstimatedStartAt, w.StartAt) {
			continue
		}
		k := key{w.Reason, w.StartAt}
		g, ok := groups[k]
		if !ok {
			g = len(cur.Groups)
			groups[k] = g
			cur.Groups = append(cur.Groups, raftfsm.ReasonGroup{Reason: w.Reason, StartAt: w.StartAt})
		}
		cur.Groups[g].IDs = append(cur.Groups[g].IDs, w.JobID)
		if n++; n == max {
			out = append(out, cur)
			cur, n, groups = raftfsm.JobReasonsCmd{}, 0, map[key]int{}
		}
	}
	if n > 0 {
		out = append(out, cur)
	}
	return out
}

// sameEstimate reports whether a recorded estimate still stands for a
// new one: both unknown, or within estimateSlack of each other.
func sameEstimate(recorded, now int64) bool {
	if recorded == 0 || now == 0 {
		return recorded == now
	}
	d := recorded - now
	return d < estimateSlack && d > -estimateSlack
}
