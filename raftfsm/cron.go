package raftfsm

import (
	"fmt"
	"sort"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
)

// Cron schedules (api.CronSchedule) and crontabs (api.Crontab). The
// leader decides when a slot is due and builds its job; the FSM records
// the slot and submits the job in one entry, and refuses a slot at or
// before the last one recorded, so that a retried proposal or a new
// leader never fires a slot twice.
const (
	OpCronPut    Op = 25 // CronPutCmd
	OpCronDelete Op = 26 // CronDeleteCmd
	OpCronPause  Op = 27 // CronPauseCmd (pause and resume)
	OpCronFire   Op = 28 // CronFireCmd
	OpCrontab    Op = 29 // CrontabCmd
)

const (
	tableCron     = "cron"
	tableCrontabs = "crontabs"
)

// cronTables are the tables of cron, added to the schema.
func cronTables() map[string]*memdb.TableSchema {
	return map[string]*memdb.TableSchema{
		tableCron: {
			Name: tableCron,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
					&memdb.UintFieldIndex{Field: "UID"}, &memdb.StringFieldIndex{Field: "Name"},
				}}},
				"uid": {Name: "uid", Indexer: &memdb.UintFieldIndex{Field: "UID"}},
			},
		},
		tableCrontabs: {
			Name: tableCrontabs,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.UintFieldIndex{Field: "UID"}},
			},
		},
	}
}

// CronPutCmd creates a schedule (Create) or replaces the spec of an
// existing one, keeping its firings. The leader has checked the spec and
// stamped the owner; Now starts the schedule's slots (From).
type CronPutCmd struct {
	Schedule  api.CronSchedule `json:"schedule"`
	Create    bool             `json:"create"`
	CallerUID uint32           `json:"callerUid"`
	Now       int64            `json:"now"`
}

// CronDeleteCmd deletes a schedule (jobs it fired run on).
type CronDeleteCmd struct {
	UID       uint32 `json:"uid"`
	Name      string `json:"name"`
	CallerUID uint32 `json:"callerUid"`
}

// CronPauseCmd pauses or resumes a schedule; a resumed one fires only the
// slots after Now.
type CronPauseCmd struct {
	UID       uint32 `json:"uid"`
	Name      string `json:"name"`
	Paused    bool   `json:"paused"`
	CallerUID uint32 `json:"callerUid"`
	Now       int64  `json:"now"`
}

// CronFireCmd is the leader firing slot Slot of a schedule: Job (built by
// the leader as a submit would build it) is stored as a new job, unless
// the schedule's overlap policy skips it, or Skip or Error says why there
// is none. Now is when it fired. Missed counts the slots before Slot that
// passed unfired.
type CronFireCmd struct {
	UID     uint32   `json:"uid"`
	Name    string   `json:"name"`
	Slot    int64    `json:"slot"`
	Now     int64    `json:"now"`
	Job     *api.Job `json:"job,omitempty"`
	Skip    string   `json:"skip,omitempty"`
	Error   string   `json:"error,omitempty"`
	Missed  int      `json:"missed,omitempty"`
	Replace string   `json:"replace,omitempty"` // the reason given to a replaced job
}

// CrontabCmd installs a user's crontab: its text and its schedules
// replace those of the previous one (Text "" and no schedules removes it).
type CrontabCmd struct {
	UID       uint32             `json:"uid"`
	User      string             `json:"user"`
	Text      string             `json:"text"`
	Schedules []api.CronSchedule `json:"schedules,omitempty"`
	CallerUID uint32             `json:"callerUid"`
	Now       int64              `json:"now"`
}

// CronSchedule returns one schedule, or nil.
func (s *State) CronSchedule(uid uint32, name string) *api.CronSchedule {
	raw, err := s.txn.First(tableCron, "id", uid, name)
	if err != nil || raw == nil {
		return nil
	}
	return raw.(*api.CronSchedule)
}

// CronSchedules returns every schedule (all: true) or uid's, by owner
// and name.
func (s *State) CronSchedules(uid uint32, all bool) []*api.CronSchedule {
	var it memdb.ResultIterator
	var err error
	if all {
		it, err = s.txn.Get(tableCron, "id")
	} else {
		it, err = s.txn.Get(tableCron, "uid", uid)
	}
	if err != nil {
		panic(fmt.Sprintf("raftfsm: iterate cron schedules: %v", err))
	}
	var out []*api.CronSchedule
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*api.CronSchedule))
	}
	sort.Slice(out, func(i, k int) bool {
		if out[i].UID != out[k].UID {
			return out[i].UID < out[k].UID
		}
		return out[i].Name < out[k].Name
	})
	return out
}

// WatchCron adds to ws the channel that fires when any schedule changes.
func (s *State) WatchCron(ws memdb.WatchSet) {
	it, err := s.txn.Get(tableCron, "id")
	if err != nil {
		panic(fmt.Sprintf("raftfsm: watch cron schedules: %v", err))
	}
	ws.Add(it.WatchCh())
	s.watchRestore(ws)
}

// Crontab returns uid's crontab, or nil.
func (s *State) Crontab(uid uint32) *api.Crontab {
	raw, err := s.txn.First(tableCrontabs, "id", uid)
	if err != nil || raw == nil {
		return nil
	}
	return raw.(*api.Crontab)
}

func (w writer) cronSchedule(uid uint32, name string) *api.CronSchedule {
	raw, err := w.txn.First(tableCron, "id", uid, name)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: read cron schedule %d/%s: %v", uid, name, err))
	}
	if raw == nil {
		return nil
	}
	c := *raw.(*api.CronSchedule)
	c.Firings = append([]api.CronFiring(nil), c.Firings...) // appended to below: not the stored slice
	return &c
}

// ownsSchedule refuses a caller who is neither root nor the owner.
func ownsSchedule(s *api.CronSchedule, uid uint32, verb string) *api.Error {
	if uid != 0 && uid != s.UID {
		return api.Errorf(api.CodeForbidden, "cron schedule %q belongs to %s; only its owner or root may %s it", s.Name, s.User, verb)
	}
	return nil
}

func errNoSchedule(uid uint32, name string) *api.Error {
	return api.Errorf(api.CodeNotFound, "cron schedule %q of uid %d does not exist", name, uid)
}

func (w writer) cronPut(c CronPutCmd) Result {
	s := c.Schedule
	if err := ownsSchedule(&s, c.CallerUID, "change"); err != nil {
		return Result{Err: err}
	}
	old := w.cronSchedule(s.UID, s.Name)
	switch {
	case c.Create && old != nil:
		return Result{Err: api.Errorf(api.CodeConflict, "cron schedule %q already exists: delete it first, or update it", s.Name).WithField("name")}
	case !c.Create && old == nil:
		return Result{Err: errNoSchedule(s.UID, s.Name)}
	case !c.Create && old.Crontab:
		return Result{Err: api.Errorf(api.CodeConflict, "cron schedule %q comes from %s's crontab: change it with scrontab -e", s.Name, old.User)}
	}
	s.From, s.UpdatedAt = c.Now, c.Now
	s.NextRun = 0
	if old != nil {
		// The record of what fired stays; slots count from now.
		s.CreatedAt, s.LastSlot, s.Firings, s.Paused, s.Error = old.CreatedAt, old.LastSlot, old.Firings, old.Paused, old.Error
	} else {
		s.CreatedAt, s.LastSlot, s.Firings, s.Error = c.Now, 0, nil, ""
	}
	w.put(tableCron, &s)
	return Result{}
}

func (w writer) cronDelete(c CronDeleteCmd) Result {
	s := w.cronSchedule(c.UID, c.Name)
	if s == nil {
		return Result{Err: errNoSchedule(c.UID, c.Name)}
	}
	if err := ownsSchedule(s, c.CallerUID, "delete"); err != nil {
		return Result{Err: err}
	}
	if s.Crontab {
		return Result{Err: api.Errorf(api.CodeConflict, "cron schedule %q comes from %s's crontab: remove its line with scrontab -e (or the whole crontab with scrontab -r)", s.Name, s.User)}
	}
	if err := w.txn.Delete(tableCron, s); err != nil {
		panic(fmt.Sprintf("raftfsm: delete cron schedule: %v", err))
	}
	return Result{}
}

func (w writer) cronPause(c CronPauseCmd) Result {
	s := w.cronSchedule(c.UID, c.Name)
	if s == nil {
		return Result{Err: errNoSchedule(c.UID, c.Name)}
	}
	verb := "resume"
	if c.Paused {
		verb = "pause"
	}
	if err := ownsSchedule(s, c.CallerUID, verb); err != nil {
		return Result{Err: err}
	}
	if s.Paused == c.Paused {
		return Result{} // already so: nothing changes, nothing is refired
	}
	s.Paused, s.UpdatedAt = c.Paused, c.Now
	if !c.Paused {
		s.From = c.Now // the slots passed while paused are not missed ones
	}
	w.put(tableCron, s)
	return Result{}
}

// cronFire records slot c.Slot of a schedule and, by its overlap policy,
// submits c.Job, all in this one transaction. A slot at or before the
// last recorded one is refused: it has fired (or been skipped) already.
func (w writer) cronFire(c CronFireCmd) Result {
	s := w.cronSchedule(c.UID, c.Name)
	switch {
	case s == nil:
		return Result{Err: errNoSchedule(c.UID, c.Name)}
	case c.Slot <= s.LastSlot:
		return Result{Err: api.Errorf(api.CodeConflict, "cron schedule %q: slot %d is not after the last one recorded (%d): it has fired already", s.Name, c.Slot, s.LastSlot)}
	case c.Slot <= s.From:
		return Result{Err: api.Errorf(api.CodeConflict, "cron schedule %q: slot %d is not after the schedule's start (%d)", s.Name, c.Slot, s.From)}
	case s.Paused:
		return Result{Err: api.Errorf(api.CodeConflict, "cron schedule %q is paused", s.Name)}
	}
	f := api.CronFiring{Slot: c.Slot, At: c.Now, Missed: c.Missed, Skipped: c.Skip, Error: c.Error}
	var res Result
	switch {
	case c.Error != "":
		s.Error = c.Error
	case c.Skip != "" || c.Job == nil:
		if f.Skipped == "" {
			f.Skipped = "no job given"
		}
	default:
		var active []*api.Job
		for _, prev := range s.Firings {
			if j := w.job(prev.JobID); prev.JobID != 0 && j != nil && !j.State.Terminal() {
				active = append(active, j)
			}
		}
		overlap := s.Overlap
		if overlap == "" {
			overlap = api.OverlapSkip
		}
		if len(active) > 0 && overlap == api.OverlapSkip {
			f.Skipped = fmt.Sprintf("job %d of an earlier slot is still %s (overlap skip)", active[len(active)-1].ID, active[len(active)-1].State)
			break
		}
		if overlap == api.OverlapReplace {
			reason := c.Replace
			if reason == "" {
				reason = fmt.Sprintf("Replaced by the next run of cron schedule %s", s.Name)
			}
			for _, j := range active {
				// As root: the schedule's owner owns its jobs.
				if r := w.stop(StopCmd{ID: j.ID, Reason: reason, Terminate: true, Now: c.Now}); r.Err == nil {
					f.Replaced = append(f.Replaced, j.ID)
				}
			}
		}
		m := w.meta()
		j := *c.Job
		w.store(&j, m.NextJobID, nil, 0, c.Now)
		f.JobID = j.ID
		m.NextJobID++
		w.put(tableMeta, &m)
		s.Error = ""
		res.IDs = []uint64{j.ID}
	}
	s.LastSlot = c.Slot
	s.Firings = append(s.Firings, f)
	if n := len(s.Firings) - api.MaxCronFirings; n > 0 {
		s.Firings = append([]api.CronFiring(nil), s.Firings[n:]...)
	}
	w.put(tableCron, s)
	return res
}

// crontab replaces uid's crontab and the schedules made from it.
func (w writer) crontab(c CrontabCmd) Result {
	if c.CallerUID != 0 && c.CallerUID != c.UID {
		return Result{Err: api.Errorf(api.CodeForbidden, "the crontab of %s is theirs; only they or root may change it", c.User)}
	}
	names := map[string]bool{}
	for _, s := range c.Schedules {
		if s.UID != c.UID || !s.Crontab || names[s.Name] {
			return Result{Err: api.Errorf(api.CodeInvalid, "crontab of %s: schedule %q is not one of its own lines", c.User, s.Name)}
		}
		names[s.Name] = true
		if old := w.cronSchedule(s.UID, s.Name); old != nil && !old.Crontab {
			return Result{Err: api.Errorf(api.CodeConflict, "crontab of %s: a cron schedule named %q exists and is not from the crontab: delete or rename it", c.User, s.Name)}
		}
	}
	it, err := w.txn.Get(tableCron, "uid", c.UID)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: read cron schedules: %v", err))
	}
	var old []*api.CronSchedule
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if s := raw.(*api.CronSchedule); s.Crontab {
			old = append(old, s)
		}
	}
	for _, s := range old {
		if err := w.txn.Delete(tableCron, s); err != nil {
			panic(fmt.Sprintf("raftfsm: delete cron schedule: %v", err))
		}
	}
	if _, err := w.txn.DeleteAll(tableCrontabs, "id", c.UID); err != nil {
		panic(fmt.Sprintf("raftfsm: delete crontab: %v", err))
	}
	if c.Text == "" && len(c.Schedules) == 0 {
		return Result{}
	}
	for _, s := range c.Schedules {
		s.CreatedAt, s.From, s.UpdatedAt, s.LastSlot, s.Firings, s.Error, s.NextRun = c.Now, c.Now, c.Now, 0, nil, "", 0
		w.put(tableCron, &s)
	}
	w.put(tableCrontabs, &api.Crontab{User: c.User, UID: c.UID, Text: c.Text, UpdatedAt: c.Now})
	return Result{}
}
