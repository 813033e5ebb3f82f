package daemon

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/accounts"
	"github.com/shoal-batch/shoal/internal/cron"
	"github.com/shoal-batch/shoal/raftfsm"
)

// The cron API: schedules (shoal cron) and crontabs (scrontab). Each user
// sees and changes their own; root and operators anyone's (User). The
// owner of a schedule is the user the connection proves (or, for root,
// the user named), never a field of the spec; its firings run as that user.

// cronNameRE is what a schedule's name may be.
var cronNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// cronOwner returns the user whose schedules a request is about: the
// caller, or the user named, which only root and operators may name.
func (c *Controller) cronOwner(who caller, name string) (owner, error) {
	self, err := c.lookupOwner(who)
	if err != nil {
		return owner{}, err
	}
	if name == "" || name == self.name || name == strconv.FormatUint(uint64(self.uid), 10) {
		return self, nil
	}
	if !who.operator {
		return owner{}, api.Errorf(api.CodeForbidden, "only root may see or change the cron schedules of another user (%s)", name).WithField("user")
	}
	u, err := accounts.Lookup(c.owners.ctx, name)
	if errors.Is(err, accounts.ErrUnknown) {
		n, perr := strconv.ParseUint(name, 10, 32)
		if perr != nil {
			return owner{}, api.Errorf(api.CodeNotFound, "user %q does not exist on the controller's host: give a user name or a uid", name).WithField("user")
		}
		// A uid without a passwd entry (Lookup tried the number as a uid
		// too) owns its schedules under its number.
		return owner{name: strconv.FormatUint(n, 10), uid: uint32(n), gid: uint32(n)}, nil
	}
	if c.owners.ctx.Err() != nil {
		return owner{}, errShuttingDown
	}
	if err != nil {
		return owner{}, api.Errorf(api.CodeInternal, "%v", err)
	}
	return ownerOf(u), nil
}

// checkCronSpec fills in a spec's defaults and refuses what is wrong with
// it (the expression, the zone, the policies, the job as it would be
// submitted now), nothing stored.
func (c *Controller) checkCronSpec(state *raftfsm.State, spec api.CronSpec, o owner) (api.CronSchedule, error) {
	s := api.CronSchedule{CronSpec: spec, User: o.name, UID: o.uid, GID: o.gid, Groups: o.groups}
	if !cronNameRE.MatchString(spec.Name) {
		return s, api.Errorf(api.CodeInvalid, "cron schedule name %q: give 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit", spec.Name).WithField("name")
	}
	if _, err := cron.Parse(spec.Schedule); err != nil {
		return s, api.Errorf(api.CodeInvalid, "%v", err).WithField("schedule")
	}
	if _, err := cron.LoadLocation(spec.Timezone); err != nil {
		return s, api.Errorf(api.CodeInvalid, "%v", err).WithField("timezone")
	}
	switch s.Overlap {
	case "":
		s.Overlap = api.OverlapSkip
	case api.OverlapSkip, api.OverlapAllow, api.OverlapReplace:
	default:
		return s, api.Errorf(api.CodeInvalid, "overlap policy %q: use skip (while the previous run is active; the default), allow or replace", spec.Overlap).WithField("overlap")
	}
	switch s.Missed {
	case "":
		s.Missed = api.MissedRunOnce
	case api.MissedRunOnce, api.MissedSkip:
	default:
		return s, api.Errorf(api.CodeInvalid, "missed-slot policy %q: use run-once (one run after downtime; the default) or skip", spec.Missed).WithField("missed")
	}
	switch j := spec.Job; {
	case j.TestOnly:
		return s, api.Errorf(api.CodeInvalid, "cron schedule %q: a test-only job would never run", spec.Name).WithField("testOnly")
	case len(j.ArrayIndexes) > 0:
		return s, api.Errorf(api.CodeInvalid, "cron schedule %q: each firing is one job; array jobs are not supported in schedules", spec.Name).WithField("array")
	case len(j.DependsOn) > 0:
		return s, api.Errorf(api.CodeInvalid, "cron schedule %q: a firing's job cannot depend on other jobs (each firing would wait on the same ones)", spec.Name).WithField("dependency")
	case j.BeginAt != 0:
		return s, api.Errorf(api.CodeInvalid, "cron schedule %q: a firing's job starts at its slot; --begin does not apply", spec.Name).WithField("beginAt")
	}
	if _, err := c.cronJob(state, &s); err != nil {
		return s, err
	}
	return s, nil
}

// cronJob builds the job a firing of s submits, as a submit by its owner
// would now: from its definition (resolved at each firing), or its job.
func (c *Controller) cronJob(state *raftfsm.State, s *api.CronSchedule) (api.Job, error) {
	o := owner{name: s.User, uid: s.UID, gid: s.GID, groups: s.Groups}
	req := s.Job
	if req.Name == "" {
		req.Name = s.Name
	}
	if s.Definition != "" {
		sub := api.AWSSubmitJobRequest{JobName: req.Name, JobQueue: req.Queue, JobDefinition: s.Definition, Parameters: s.Parameters}
		if sub.JobQueue == "" {
			sub.JobQueue = api.DefaultQueue
		}
		if len(req.Command) > 0 {
			sub.ContainerOverrides = &api.ContainerOverrides{Command: req.Command}
		}
		r, err := fromDefinition(state, c.withHistory(state), sub)
		if err != nil {
			return api.Job{}, err
		}
		req = r
	}
	j, err := newJob(req, o)
	if err != nil {
		return api.Job{}, err
	}
	if err := satisfiable(state, j); err != nil {
		return api.Job{}, err
	}
	if err := newAcctCheck(state).check(&j, 1); err != nil { // its account, as a submit's (accounts.go)
		return api.Job{}, err
	}
	return j, nil
}

// cronZone is the zone s's slots are in: its own, or for a crontab's the
// controller's (as Slurm's scrontab uses slurmctld's).
func cronZone(s *api.CronSchedule) (*time.Location, error) {
	if s.Crontab && s.Timezone == "" {
		return time.Local, nil
	}
	return cron.LoadLocation(s.Timezone)
}

// proposeCron commits a cron command that Check lets through.
func (c *Controller) proposeCron(ctx context.Context, op raftfsm.Op, cmd any) error {
	if res := c.fsm.Check(op, cmd); res.Err != nil {
		return res.Err
	}
	_, err := c.applier.Apply(ctx, op, cmd)
	return err
}

func (c *Controller) cronPut(ctx context.Context, who caller, req api.CronPutRequest) (api.CronSchedule, error) {
	o, err := c.cronOwner(who, req.User)
	if err != nil {
		return api.CronSchedule{}, err
	}
	if err := prioritySetter(who, req.Spec.Job.JobSpec); err != nil {
		return api.CronSchedule{}, err
	}
	state := c.fsm.State()
	s, err := c.checkCronSpec(state, req.Spec, o)
	if err != nil {
		return api.CronSchedule{}, err
	}
	if err := cronBudget(state, o, func(old *api.CronSchedule) bool { return old.Name != s.Name }, s); err != nil {
		return api.CronSchedule{}, err
	}
	cmd := raftfsm.CronPutCmd{Schedule: s, Create: !req.Update, CallerUID: who.actingUID(), Now: c.cronClock().Now().UnixMilli()}
	if err := c.proposeCron(ctx, raftfsm.OpCronPut, cmd); err != nil {
		return api.CronSchedule{}, err
	}
	if stored := c.fsm.State().CronSchedule(o.uid, s.Name); stored != nil {
		return c.cronView(c.fsm.State(), stored), nil
	}
	return s, nil
}

// cronBudget checks that o's schedules that stay (kept) and the new ones
// fit in MaxUserSchedules and MaxUserScheduleBytes.
func cronBudget(state *raftfsm.State, o owner, kept func(*api.CronSchedule) bool, added ...api.CronSchedule) error {
	n, size := len(added), 0
	for i := range added {
		size += scheduleBytes(&added[i])
	}
	for _, old := range state.CronSchedules(o.uid, false) {
		if kept(old) {
			n, size = n+1, size+scheduleBytes(old)
		}
	}
	if n > api.MaxUserSchedules || size > api.MaxUserScheduleBytes {
		return api.Errorf(api.CodeInvalid, "user %s would have %d cron schedules holding %s; at most %d schedules and %s (crontab lines count too): delete some first",
			o.name, n, sizeString(int64(size)), api.MaxUserSchedules, sizeString(api.MaxUserScheduleBytes))
	}
	return nil
}

// scheduleBytes is about what a schedule's job holds.
func scheduleBytes(s *api.CronSchedule) int {
	n := len(s.Job.Script)
	for _, a := range s.Job.Command {
		n += len(a)
	}
	for k, v := range s.Job.Env {
		n += len(k) + len(v)
	}
	return n
}

func (c *Controller) cronDelete(ctx context.Context, who caller, req api.CronNameRequest) (empty, error) {
	o, err := c.cronOwner(who, req.User)
	if err != nil {
		return empty{}, err
	}
	return empty{}, c.proposeCron(ctx, raftfsm.OpCronDelete, raftfsm.CronDeleteCmd{UID: o.uid, Name: req.Name, CallerUID: who.actingUID()})
}

func (c *Controller) cronPause(ctx context.Context, who caller, req api.CronPauseRequest) (empty, error) {
	o, err := c.cronOwner(who, req.User)
	if err != nil {
		return empty{}, err
	}
	return empty{}, c.proposeCron(ctx, raftfsm.OpCronPause, raftfsm.CronPauseCmd{
		UID: o.uid, Name: req.Name, Paused: req.Paused, CallerUID: who.actingUID(), Now: c.cronClock().Now().UnixMilli()})
}

// cronList answers the caller's schedules (root and operators: everyone's,
// unless they name a user), with each one's next run and its firings'
// job states.
func (c *Controller) cronList(_ context.Context, who caller, req api.CronListRequest) (api.CronListResponse, error) {
	o, err := c.cronOwner(who, req.User)
	if err != nil {
		return api.CronListResponse{}, err
	}
	state := c.fsm.State()
	out := api.CronListResponse{Schedules: []api.CronSchedule{}}
	for _, s := range state.CronSchedules(o.uid, who.operator && req.User == "") {
		if req.Name == "" || req.Name == s.Name {
			out.Schedules = append(out.Schedules, c.cronView(state, s))
		}
	}
	if req.Name != "" && len(out.Schedules) == 0 {
		return out, api.Errorf(api.CodeNotFound, "cron schedule %q of %s does not exist", req.Name, o.name)
	}
	return out, nil
}

// cronView is s as answers show it: a copy with its next run and the
// states of its firings' jobs (from the archive once they left the state).
func (c *Controller) cronView(state *raftfsm.State, s *api.CronSchedule) api.CronSchedule {
	v := *s
	v.Firings = append([]api.CronFiring(nil), s.Firings...)
	jobs := c.withHistory(state)
	for i, f := range v.Firings {
		if f.JobID == 0 {
			continue
		}
		if j := jobs.Job(f.JobID); j != nil {
			v.Firings[i].State, v.Firings[i].Reason = j.State, j.StatusReason
		}
	}
	if !s.Paused {
		if next, err := cronNext(s); err == nil && !next.IsZero() {
			v.NextRun = next.UnixMilli()
		}
	}
	return v
}

// cronNext is the first slot of s not yet fired or skipped (it may be
// past, when it is due now).
func cronNext(s *api.CronSchedule) (time.Time, error) {
	e, err := cron.Parse(s.Schedule)
	if err != nil {
		return time.Time{}, err
	}
	loc, err := cronZone(s)
	if err != nil {
		return time.Time{}, err
	}
	return e.Next(time.UnixMilli(max(s.LastSlot, s.From)).In(loc)), nil
}

func (c *Controller) crontabGet(_ context.Context, who caller, req api.CrontabRequest) (api.Crontab, error) {
	o, err := c.cronOwner(who, req.User)
	if err != nil {
		return api.Crontab{}, err
	}
	ct := c.fsm.State().Crontab(o.uid)
	if ct == nil {
		return api.Crontab{}, api.Errorf(api.CodeNotFound, "no crontab for %s", o.name)
	}
	return *ct, nil
}

// crontabPut installs a crontab: each entry becomes a schedule named
// crontab-LINE in the controller's zone, overlap skip (Slurm submits a
// crontab's next run only after the previous one ended) and missed-slot
// run-once. A bad entry is refused with its line (the error's field
// "line:N"), nothing installed.
func (c *Controller) crontabPut(ctx context.Context, who caller, req api.CrontabPutRequest) (empty, error) {
	o, err := c.cronOwner(who, req.User)
	if err != nil {
		return empty{}, err
	}
	cmd := raftfsm.CrontabCmd{UID: o.uid, User: o.name, CallerUID: who.actingUID(), Now: c.cronClock().Now().UnixMilli()}
	if !req.Remove {
		if len(req.Text) > api.MaxCrontabBytes || len(req.Entries) > api.MaxCrontabLines {
			return empty{}, api.Errorf(api.CodeInvalid, "a crontab of %d bytes and %d jobs; at most %d bytes and %d jobs",
				len(req.Text), len(req.Entries), api.MaxCrontabBytes, api.MaxCrontabLines)
		}
		cmd.Text = req.Text
		state := c.fsm.State()
		for _, e := range req.Entries {
			spec := api.CronSpec{Name: fmt.Sprintf("crontab-%d", e.Line), Schedule: e.Schedule, Job: e.Job,
				Overlap: api.OverlapSkip, Missed: api.MissedRunOnce}
			s, err := c.checkCronSpec(state, spec, o)
			if err == nil {
				err = prioritySetter(who, e.Job.JobSpec)
			}
			if err != nil {
				msg := err.Error()
				var ae *api.Error
				code := api.CodeInvalid
				if errors.As(err, &ae) {
					msg, code = ae.Message, ae.Code
				}
				return empty{}, api.Errorf(code, "line %d: %s", e.Line, msg).WithField(fmt.Sprintf("line:%d", e.Line))
			}
			s.Crontab, s.Line = true, e.Line
			cmd.Schedules = append(cmd.Schedules, s)
		}
		// The new crontab's lines replace the old one's.
		if err := cronBudget(state, o, func(old *api.CronSchedule) bool { return !old.Crontab }, cmd.Schedules...); err != nil {
			return empty{}, err
		}
	}
	return empty{}, c.proposeCron(ctx, raftfsm.OpCrontab, cmd)
}
