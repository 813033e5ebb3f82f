package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/raft"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/clock"
	"github.com/shoal-batch/shoal/internal/cron"
	"github.com/shoal-batch/shoal/raftfsm"
)

// CronClock is time as the cron loop sees it (Config.CronClock): the
// controller's clock in production, a fake in its tests.
type CronClock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is a CronClock's timer.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// cronOf is the controller's clock as the cron loop's.
type cronOf struct{ clock.Clock }

func (c cronOf) NewTimer(d time.Duration) Timer { return c.Clock.NewTimer(d) }

type realTimer struct{ *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.Timer.C }

// scaledClock runs rate times faster than real time from origin on: a
// test hook (SHOAL_CRON_CLOCK=ORIGIN_MS:RATE) that lets an end-to-end
// test see slots of a minute apart every second, continuously across a
// restart of the agent (the origin is fixed, not the start).
type scaledClock struct {
	origin time.Time
	rate   float64
}

func (s scaledClock) Now() time.Time {
	return s.origin.Add(time.Duration(float64(time.Since(s.origin)) * s.rate))
}

func (s scaledClock) NewTimer(d time.Duration) Timer {
	return realTimer{time.NewTimer(time.Duration(float64(d) / s.rate))}
}

// cronClockEnv names the test hook of scaledClock.
const cronClockEnv = "SHOAL_CRON_CLOCK"

// cronClock is the cron loop's clock: Config.CronClock, else the test
// hook's scaled clock, else the controller's.
func (c *Controller) cronClock() CronClock {
	if c.cfg.CronClock != nil {
		return c.cfg.CronClock
	}
	if v := os.Getenv(cronClockEnv); v != "" {
		o, r, _ := strings.Cut(v, ":")
		ms, err1 := strconv.ParseInt(o, 10, 64)
		rate, err2 := strconv.ParseFloat(r, 64)
		if err1 == nil && err2 == nil && rate > 0 {
			return scaledClock{origin: time.UnixMilli(ms), rate: rate}
		}
		c.log.Warn("ignoring "+cronClockEnv+": want ORIGIN_MS:RATE", "value", v)
	}
	return cronOf{c.clock}
}

// cronGrace is how late a slot may fire and still count as on time: a
// later one was missed (the missed-slot policy decides).
const cronGrace = time.Minute

// cronRetry is how long the loop waits after a firing that could not be
// committed before it tries again (the FSM refuses a slot twice, so a
// retry of one that did commit is harmless).
const cronRetry = time.Second

// cronLoop runs the cron schedules while this controller leads: it
// starts when raft makes it leader (after a barrier, so that it reads
// every slot a former leader recorded) and stops when it steps down, as
// the heartbeat timers do.
func (c *Controller) cronLoop(ctx context.Context) {
	obs := make(chan raft.Observation, 8)
	o := raft.NewObserver(obs, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.RaftState)
		return ok
	})
	c.raft.raft.RegisterObserver(o)
	defer c.raft.raft.DeregisterObserver(o)
	clock := c.cronClock()
	for ctx.Err() == nil {
		var retry <-chan time.Time
		if c.raft.raft.State() == raft.Leader {
			if err := c.raft.raft.Barrier(10 * time.Second).Error(); err != nil {
				c.log.Warn("cron: wait for the log before firing schedules", "err", err)
				retry = time.After(cronRetry)
			} else {
				c.leadCron(ctx, obs, clock)
				continue
			}
		}
		select {
		case <-obs:
		case <-retry:
		case <-ctx.Done():
		}
	}
}

// leadCron fires schedules until this controller no longer leads or ctx ends.
func (c *Controller) leadCron(ctx context.Context, obs <-chan raft.Observation, clock CronClock) {
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); c.runCron(lctx, clock) }()
	for lctx.Err() == nil {
		select {
		case <-obs:
			if c.raft.raft.State() != raft.Leader {
				cancel()
			}
		case <-lctx.Done():
		}
	}
	cancel()
	<-done
}

// runCron fires each schedule's due slot, then sleeps until the earliest
// next slot or a change of the schedules.
func (c *Controller) runCron(ctx context.Context, clock CronClock) {
	for ctx.Err() == nil {
		state := c.fsm.State()
		ws := memdb.NewWatchSet()
		state.WatchCron(ws)
		now := clock.Now()
		var wake time.Time
		fired := false
		for _, s := range state.CronSchedules(0, true) {
			if s.Paused {
				continue
			}
			d, err := cronDue(s, now)
			if err != nil { // checked at create; a zone database may change
				c.log.Warn("cron: cannot compute the schedule's slots", "user", s.User, "schedule", s.Name, "err", err)
				continue
			}
			if d.due {
				ok, err := c.fireCron(ctx, state, s, d)
				if ok {
					fired = true
					continue
				}
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					c.log.Warn("cron: fire schedule", "user", s.User, "schedule", s.Name, "slot", d.slot.UTC().Format(time.RFC3339), "err", err)
				}
				d.next = now.Add(cronRetry)
			}
			if !d.next.IsZero() && (wake.IsZero() || d.next.Before(wake)) {
				wake = d.next
			}
		}
		if fired {
			continue // read the schedules again: the next slots follow the ones recorded
		}
		var timer Timer
		var tc <-chan time.Time
		if !wake.IsZero() {
			timer = clock.NewTimer(wake.Sub(now))
			tc = timer.C()
		}
		wctx, cancel := context.WithCancel(ctx)
		select {
		case <-ws.WatchCh(wctx):
		case <-tc:
		case <-ctx.Done():
		}
		cancel()
		if timer != nil {
			timer.Stop()
		}
	}
}

// due says whether a schedule has a slot to fire now: the latest one not
// yet recorded that has come (slot), how many before it passed unfired
// (missed), and, when none is due, when the next comes (next).
type due struct {
	due    bool
	slot   time.Time
	missed int
	late   bool
	next   time.Time
}

// cronDue computes s's due slot at now.
func cronDue(s *api.CronSchedule, now time.Time) (due, error) {
	e, err := cron.Parse(s.Schedule)
	if err != nil {
		return due{}, err
	}
	loc, err := cronZone(s)
	if err != nil {
		return due{}, err
	}
	first := e.Next(time.UnixMilli(max(s.LastSlot, s.From)).In(loc))
	if first.IsZero() || first.After(now) {
		return due{next: first}, nil
	}
	d := due{due: true, slot: first}
	// The latest slot that has come; those before it were missed. A
	// controller down for a year under an every-minute schedule counts
	// half a million: bounded, the count says "at least".
	for d.missed < 1_000_000 {
		n := e.Next(d.slot)
		if n.IsZero() || n.After(now) {
			break
		}
		d.slot = n
		d.missed++
	}
	d.late = now.Sub(d.slot) > cronGrace
	return d, nil
}

// fireCron proposes the firing of slot d.slot of s: its job (or, with
// missed-slot policy skip and a slot that passed while no controller led,
// a record of the skip) in one entry with the slot. The FSM applies the
// overlap policy and refuses a slot already recorded. Its job is checked
// against the state read once its owner's submit lock is held, not
// against state (read before this pass's earlier firings). It reports
// whether the slot was recorded.
func (c *Controller) fireCron(ctx context.Context, state *raftfsm.State, s *api.CronSchedule, d due) (bool, error) {
	cmd := raftfsm.CronFireCmd{UID: s.UID, Name: s.Name, Slot: d.slot.UnixMilli(), Now: c.nowMillis(), Missed: d.missed}
	switch {
	case d.late && s.Missed == api.MissedSkip:
		cmd.Skip = fmt.Sprintf("missed: no controller led at the slot (missed-slot policy skip; %d earlier slots missed too)", d.missed)
	default:
		// A firing is a submit by the schedule's owner as they are now:
		// resolved afresh (groups), refused once they no longer exist.
		o, err := c.cronRunAs(s)
		var gone *cronOwnerGone
		if err != nil && !errors.As(err, &gone) {
			return false, err // the name service failed: the loop tries the slot again
		}
		var j api.Job
		if err == nil {
			// As a submit does (jobs.go), the owner's submits are
			// serialized (everyone's where a Grp limit counts many
			// users' jobs): the job is checked against the state read
			// once the lock is held, and committed before it is let go,
			// so that a firing, another firing or a submit do not pass
			// MaxSubmitJobs or GrpSubmitJobs together.
			if st := c.fsm.State(); st.HasAccounts() {
				defer c.submitters.lock(o.uid, st.HasGroupSubmitLimits())()
			}
			state = c.fsm.State()
			j, err = c.cronJob(state, s, o)
		}
		if err == nil {
			err = c.admitJobs(state, 1) // a firing is a submit (MaxJobCount)
		}
		if err != nil {
			cmd.Error = err.Error()
			c.log.Warn("cron: the schedule's job cannot be submitted", "user", s.User, "schedule", s.Name, "err", err)
		} else {
			cmd.Job = &j
		}
	}
	res, err := c.applier.Apply(ctx, raftfsm.OpCronFire, cmd)
	if err != nil {
		if api.IsCode(err, api.CodeConflict) || api.IsCode(err, api.CodeNotFound) {
			// Recorded already (a retry that had committed), paused or
			// deleted meanwhile: the state says what is next.
			return false, nil
		}
		return false, err
	}
	if len(res.IDs) > 0 {
		c.log.Info("cron: fired", "user", s.User, "schedule", s.Name, "slot", d.slot.UTC().Format(time.RFC3339), "job", res.IDs[0], "missed", d.missed)
	}
	return true, nil
}
