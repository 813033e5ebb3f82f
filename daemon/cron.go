package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/accounts"
	"github.com/shoal-batch/shoal/internal/cron"
	"github.com/shoal-batch/shoal/internal/crontab"
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
// it (the expression, the zone, the policies, the bounds of every field
// it stores, the job as it would be submitted now), nothing stored.
func (c *Controller) checkCronSpec(state *raftfsm.State, spec api.CronSpec, o owner) (api.CronSchedule, error) {
	s := api.CronSchedule{CronSpec: spec, User: o.name, UID: o.uid, GID: o.gid, Groups: o.groups}
	if !cronNameRE.MatchString(spec.Name) {
		return s, api.Errorf(api.CodeInvalid, "cron schedule name %q: give 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit", clip(spec.Name)).WithField("name")
	}
	if err := checkCronBounds(spec); err != nil {
		return s, err
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
	if _, err := c.cronJob(state, &s, o); err != nil {
		return s, err
	}
	return s, nil
}

// checkCronBounds refuses a spec with a field over its bound: the job's
// fields as a submit's (checkBounds, whether or not a definition makes
// the job: what the spec holds is stored and replicated either way), the
// parameters as a job's, and the expression, zone and definition as
// shown text. Parameters fill a definition's Ref:: placeholders; without
// a definition they would be stored and never used, and are refused.
func checkCronBounds(spec api.CronSpec) error {
	for _, f := range []struct{ field, what, v string }{
		{"schedule", "cron expression", spec.Schedule}, {"timezone", "time zone", spec.Timezone}, {"definition", "job definition", spec.Definition},
	} {
		if err := checkText(f.what, f.v, MaxTextBytes); err != nil {
			return api.Errorf(api.CodeInvalid, "cron schedule %q: %v", spec.Name, err).WithField(f.field)
		}
	}
	if spec.Definition == "" && len(spec.Parameters) > 0 {
		return api.Errorf(api.CodeInvalid, "cron schedule %q: parameters fill the Ref:: placeholders of a job definition, and it has none: give a definition, or no parameters", spec.Name).WithField("parameters")
	}
	if err := checkMap("parameters", spec.Parameters, MaxParameters, MaxStringBytes, MaxStringBytes, MaxParametersBytes); err != nil {
		return api.Errorf(api.CodeInvalid, "cron schedule %q: %v", spec.Name, err).WithField("parameters")
	}
	job := spec.Job.JobSpec // checkBounds folds dependencies in place: a copy (a schedule has none)
	job.DependsOn = append([]api.Dependency(nil), job.DependsOn...)
	return checkBounds(&job)
}

// cronOwnerGone is a firing's owner who no longer exists: the firing
// records it and submits nothing.
type cronOwnerGone struct{ msg string }

func (e *cronOwnerGone) Error() string { return e.msg }

// cronRunAs is the owner a firing of s runs as, resolved afresh from its
// uid as a submit resolves its caller (lookupOwner): the user's groups
// now, not those of when the schedule was made. A uid that no longer
// names the user who made the schedule (deleted, renamed, or now another
// user's) is a *cronOwnerGone; another error is a failed lookup, to try
// again.
func (c *Controller) cronRunAs(s *api.CronSchedule) (owner, error) {
	o, err := c.lookupOwner(caller{uid: s.UID, gid: s.GID, known: true})
	if err != nil {
		return owner{}, err
	}
	if o.name == s.User {
		return o, nil
	}
	// The uid's name is another: s.User may be another name of the uid
	// (as toor is root's); else it was deleted or renamed, and the uid
	// may be another user's now.
	switch u, err := accounts.Lookup(c.owners.ctx, s.User); {
	case err == nil && u.Name == s.User && u.UID == s.UID:
		return ownerOf(u), nil
	case err != nil && !errors.Is(err, accounts.ErrUnknown):
		if c.owners.ctx.Err() != nil {
			return owner{}, errShuttingDown
		}
		return owner{}, api.Errorf(api.CodeInternal, "the controller could not look up user %s (%v)", s.User, err)
	}
	if o.name == strconv.FormatUint(uint64(s.UID), 10) { // no passwd entry any more (resolveOwner)
		return owner{}, &cronOwnerGone{fmt.Sprintf("user %s (uid %d), the owner of cron schedule %s, no longer exists on the controller's host: nothing was submitted (root may delete the schedule: shoal cron delete --user %d %s)",
			s.User, s.UID, s.Name, s.UID, s.Name)}
	}
	return owner{}, &cronOwnerGone{fmt.Sprintf("uid %d is now user %s, not %s who made cron schedule %s: nothing was submitted (%s may make the schedule again as their own; root may delete it: shoal cron delete --user %d %s)",
		s.UID, o.name, s.User, s.Name, o.name, s.UID, s.Name)}
}

// cronJob builds the job a firing of s submits as o, as a submit by o
// would now: from its definition (resolved at each firing), or its job.
func (c *Controller) cronJob(state *raftfsm.State, s *api.CronSchedule, o owner) (api.Job, error) {
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

// scheduleBytes is about what a schedule's spec holds beyond its fixed
// size: every string in it at its length (the job's script, command,
// environment, tags, the parameters, names and paths), and each element
// of a list or map at its size. It walks the spec by reflection, so that
// a field added to a spec or a job counts without being named here.
func scheduleBytes(s *api.CronSchedule) int {
	return dataBytes(reflect.ValueOf(&s.CronSpec).Elem())
}

// dataBytes is what v holds beyond its own size (see scheduleBytes).
func dataBytes(v reflect.Value) int {
	switch v.Kind() {
	case reflect.String:
		return v.Len()
	case reflect.Slice:
		n := v.Len() * int(v.Type().Elem().Size())
		for i := range v.Len() {
			n += dataBytes(v.Index(i))
		}
		return n
	case reflect.Array:
		n := 0
		for i := range v.Len() {
			n += dataBytes(v.Index(i))
		}
		return n
	case reflect.Map:
		n := v.Len() * int(v.Type().Key().Size()+v.Type().Elem().Size())
		for it := v.MapRange(); it.Next(); {
			n += dataBytes(it.Key()) + dataBytes(it.Value())
		}
		return n
	case reflect.Struct:
		n := 0
		for i := range v.NumField() {
			n += dataBytes(v.Field(i))
		}
		return n
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return 0
		}
		e := v.Elem()
		return int(e.Type().Size()) + dataBytes(e)
	}
	return 0
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

// crontabPut installs a crontab: each cron line becomes a schedule named
// crontab-LINE in the controller's zone, overlap skip (Slurm submits a
// crontab's next run only after the previous one ended) and missed-slot
// run-once. The entries must be what the text's cron lines make
// (checkCrontabEntries), so that the text scrontab -l shows is what
// runs. A bad entry is refused with its line (the error's field
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
		if err := checkCrontabText(req.Text); err != nil {
			return empty{}, err
		}
		home, err := c.crontabHome(o)
		if err != nil {
			return empty{}, err
		}
		if err := checkCrontabEntries(req.Text, req.Entries, home); err != nil {
			return empty{}, err
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
				return empty{}, lineError(e.Line, err)
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

// lineError is err as the refusal of crontab line n.
func lineError(n int, err error) error {
	msg := err.Error()
	var ae *api.Error
	code := api.CodeInvalid
	if errors.As(err, &ae) {
		msg, code = ae.Message, ae.Code
	}
	return api.Errorf(code, "line %d: %s", n, msg).WithField(fmt.Sprintf("line:%d", n))
}

// checkCrontabText refuses a crontab whose text a terminal would not
// show as it is: scrontab -l prints it, root's -u USER -l too. It must be
// UTF-8 with no control character but newlines and tabs, and no
// bidirectional override (a line that shows as another).
func checkCrontabText(text string) error {
	line, col := 1, 1
	for i, r := range text {
		switch {
		case r == '\n':
			line, col = line+1, 1
			continue
		case r == '\t':
		case r == utf8.RuneError && !strings.HasPrefix(text[i:], "\uFFFD"):
			return api.Errorf(api.CodeInvalid, "line %d: byte %d of the line is not UTF-8: a crontab is UTF-8 text", line, col).WithField(fmt.Sprintf("line:%d", line))
		case unicode.IsControl(r) || reordersText(r):
			return api.Errorf(api.CodeInvalid, "line %d: a control character (U+%04X) at byte %d of the line: a crontab has printable characters, tabs and newlines only",
				line, r, col).WithField(fmt.Sprintf("line:%d", line))
		}
		col += utf8.RuneLen(r)
	}
	return nil
}

// crontabHome is o's home directory, where scrontab runs a cron line's
// job unless its #SCRON options say otherwise; "" for a user without a
// passwd entry (scrontab falls back on one the controller cannot know).
func (c *Controller) crontabHome(o owner) (string, error) {
	u, err := accounts.LookupID(c.owners.ctx, o.uid)
	switch {
	case err == nil:
		return u.Home, nil
	case errors.Is(err, accounts.ErrUnknown):
		return "", nil
	case c.owners.ctx.Err() != nil:
		return "", errShuttingDown
	}
	return "", api.Errorf(api.CodeInternal, "the controller could not look up uid %d (%v): nothing was installed; try again", o.uid, err)
}

// crontabLine is a cron line of a crontab's text as scrontab reads it
// (parseCrontab in cli/slurm, which the controller may not import; the
// end-to-end test TestScrontabRoundTrip installs with the real one): its
// number, its expression, the script its job runs (the #SCRON lines and
// variables before it, and its command), and its #SCRON options.
type crontabLine struct {
	n            int
	spec, script string
	options      []string // the words of its #SCRON lines
}

// crontabLines are the cron lines of text, as scrontab reads them:
// blank lines and comments are skipped, "#SCRON" lines give options to
// the next cron line only, NAME=VALUE lines set variables for the lines
// after them, every other line is "MIN HOUR DOM MON DOW COMMAND" or
// "@ALIAS COMMAND".
func crontabLines(text string) []crontabLine {
	var out []crontabLine
	var scron, vars []string
	for i, line := range strings.Split(text, "\n") {
		pos := strings.TrimLeft(line, " \t")
		switch {
		case strings.TrimSpace(pos) == "":
			continue
		case strings.HasPrefix(pos, "#SCRON"):
			scron = append(scron, line)
			continue
		case pos[0] == '#':
			continue
		case crontab.IsVariable(pos):
			vars = append(vars, strings.TrimSpace(pos))
			continue
		}
		spec, command := crontab.SplitLine(pos)
		var script strings.Builder
		script.WriteString("#!/bin/sh\n# This job was submitted through scrontab\n")
		var options []string
		for _, l := range scron {
			script.WriteString(l + "\n")
			options = append(options, strings.FieldsFunc(l, func(r rune) bool { return !(r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)) })...)
		}
		for _, v := range vars {
			script.WriteString(v + "\n")
		}
		fmt.Fprintf(&script, "# crontab time request was: '%s'\n%s\n", spec, command)
		out = append(out, crontabLine{n: i + 1, spec: spec, script: script.String(), options: options})
		scron = nil
	}
	return out
}

// scrontabPath and scrontabShell are the PATH and SHELL of the login-like
// environment scrontab gives a cron line's job.
const (
	scrontabPath  = "/usr/local/bin:/usr/bin:/bin"
	scrontabShell = "/bin/sh"
)

// checkCrontabEntries refuses entries that are not what text's cron
// lines make, as scrontab makes them: one entry per cron line, in order,
// with the line's expression and the script of its line (what runs),
// no command beside it, none of the job fields that no sbatch option
// sets, and nothing beyond scrontab's defaults that the line's #SCRON
// options do not name: an environment variable other than the login
// environment's and Slurm's; without #SCRON options, a working
// directory other than home ("" : not known here) or an input file.
func checkCrontabEntries(text string, entries []api.CrontabEntry, home string) error {
	lines := crontabLines(text)
	for i := range max(len(lines), len(entries)) {
		var n int
		var why string
		switch {
		case i >= len(entries):
			n, why = lines[i].n, "its cron line has no entry"
		case i >= len(lines):
			n, why = entries[i].Line, "the entry has no cron line in the text"
		case entries[i].Line != lines[i].n:
			n, why = min(entries[i].Line, lines[i].n), fmt.Sprintf("the entry is of line %d, the text's next cron line is line %d", entries[i].Line, lines[i].n)
		default:
			n, why = lines[i].n, crontabEntryDiffers(lines[i], entries[i], home)
		}
		if why != "" {
			return api.Errorf(api.CodeInvalid, "line %d: the crontab's entries are not what its text makes (%s): each cron line is the job scrontab makes of it, and nothing else",
				n, why).WithField(fmt.Sprintf("line:%d", n))
		}
	}
	return nil
}

// crontabEntryDiffers says how entry is not what cron line l makes ("" if it is).
func crontabEntryDiffers(l crontabLine, entry api.CrontabEntry, home string) string {
	e := entry.Job.JobSpec
	switch {
	case entry.Schedule != l.spec:
		return fmt.Sprintf("the entry's expression %q is not the line's %q", clip(entry.Schedule), l.spec)
	case e.Script != l.script || len(e.Command) > 0:
		return "the entry's job does not run what the line says"
	case e.Image != "" || len(e.Mounts) > 0 || e.ReadonlyRootfs || e.JobDefinition != "" || len(e.Parameters) > 0 || len(e.Tags) > 0 ||
		len(e.RetryRules) > 0 || e.RetryAttempts != 0 || e.ShareIdentifier != "" || e.SchedulingPriority != 0:
		return "the entry's job sets what no #SCRON option can (an image, mounts, a definition, parameters, tags, retries or a share)"
	case len(l.options) == 0 && home != "" && e.Dir != home:
		return fmt.Sprintf("the entry's job runs in %q, not in the home directory, and no #SCRON option says so", clip(e.Dir))
	case len(l.options) == 0 && e.Stdin != "":
		return "the entry's job reads an input file, and no #SCRON option says so"
	}
	for _, k := range slices.Sorted(maps.Keys(e.Env)) {
		v := e.Env[k]
		switch {
		case strings.HasPrefix(k, "SLURM_") || slices.Contains(l.options, k):
		case k == "HOME" || k == "USER" || k == "LOGNAME":
		case k == "PATH" && v == scrontabPath, k == "SHELL" && v == scrontabShell:
		default:
			return fmt.Sprintf("the entry's job sets %s in its environment, and no #SCRON option names it", clip(k))
		}
	}
	return ""
}
