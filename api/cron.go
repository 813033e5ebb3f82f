package api

// Cron: schedules that submit an ordinary job at each slot of a cron
// expression (shoal cron, Slurm's scrontab). Schedules live in the
// replicated state; the leader fires each slot once.

// API paths of cron schedules (users; each sees and changes only their own,
// root and operators any).
const (
	PathCronPut     = "/shoal/v1/cron/put"     // CronPutRequest -> CronSchedule
	PathCronDelete  = "/shoal/v1/cron/delete"  // CronNameRequest
	PathCronPause   = "/shoal/v1/cron/pause"   // CronPauseRequest
	PathCronList    = "/shoal/v1/cron/list"    // CronListRequest -> CronListResponse
	PathCrontabGet  = "/shoal/v1/cron/crontab" // CrontabRequest -> Crontab
	PathCrontabPut  = "/shoal/v1/cron/crontab/put"
	MaxCronFirings  = 10 // firings kept per schedule
	MaxCrontabBytes = 256 << 10
	MaxCrontabLines = 1000 // jobs of one crontab
	// MaxUserSchedules and MaxUserScheduleBytes bound one user's
	// schedules, named and crontab lines together, and what their jobs
	// hold (scripts, commands, environments): every controller keeps
	// them in memory.
	MaxUserSchedules     = 1000
	MaxUserScheduleBytes = 16 << 20
)

// CronOverlap says what a slot does while an earlier firing's job runs.
type CronOverlap string

// Overlap policies.
const (
	OverlapSkip    CronOverlap = "skip"    // the slot is skipped (default)
	OverlapAllow   CronOverlap = "allow"   // the new job runs beside it
	OverlapReplace CronOverlap = "replace" // the earlier job is cancelled, the new one runs
)

// CronMissed says what a controller that was down does with the slots it
// missed.
type CronMissed string

// Missed-slot policies.
const (
	MissedRunOnce CronMissed = "run-once" // one run for all the missed slots (default)
	MissedSkip    CronMissed = "skip"     // none: wait for the next slot
)

// CronSpec is a schedule as a user asks for it.
type CronSpec struct {
	Name string `json:"name"`
	// Schedule is a cron expression (5 fields or an @ alias).
	Schedule string `json:"schedule"`
	// Timezone is an IANA zone name ("" is UTC).
	Timezone string      `json:"timezone,omitempty"`
	Overlap  CronOverlap `json:"overlap,omitempty"`
	Missed   CronMissed  `json:"missed,omitempty"`
	// Job is what each firing submits: a command or script with its
	// options, as shoal submit and sbatch send it.
	Job SubmitJobRequest `json:"job"`
	// Definition, if set, submits from this job definition (NAME or
	// NAME:REVISION, resolved at each firing) with Parameters; Job's
	// command, if any, overrides the definition's, and Job's queue and
	// name are the job's.
	Definition string            `json:"definition,omitempty"`
	Parameters map[string]string `json:"parameters,omitempty"`
}

// CronFiring is one slot of a schedule: the job it submitted, or why none.
type CronFiring struct {
	// Slot is the slot's time, At when it was fired (epoch ms).
	Slot  int64  `json:"slot"`
	At    int64  `json:"at"`
	JobID uint64 `json:"jobId,omitempty"`
	// Skipped says why no job was submitted (overlap, missed slots).
	Skipped string `json:"skipped,omitempty"`
	// Error is why the job could not be made (a deleted definition).
	Error string `json:"error,omitempty"`
	// Missed counts the slots before this one that passed while no
	// controller led.
	Missed int `json:"missed,omitempty"`
	// Replaced is the earlier run this one cancelled (overlap replace).
	Replaced []uint64 `json:"replaced,omitempty"`
	// State and Reason are the job's, filled in by answers (not stored).
	State  JobState `json:"jobState,omitempty"`
	Reason string   `json:"jobReason,omitempty"`
}

// CronSchedule is a stored schedule.
type CronSchedule struct {
	CronSpec
	// The owner, as the connection that created it proved: firings run
	// as this user.
	User   string   `json:"user"`
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Groups []uint32 `json:"groups,omitempty"`
	Paused bool     `json:"paused,omitempty"`
	// CreatedAt, UpdatedAt: epoch ms. From: only slots after it fire
	// (set at create, update and resume).
	CreatedAt int64 `json:"createdAt"`
	UpdatedAt int64 `json:"updatedAt,omitempty"`
	From      int64 `json:"from"`
	// LastSlot is the last slot fired or skipped: a slot at or before it
	// never fires again, whoever leads.
	LastSlot int64 `json:"lastSlot,omitempty"`
	// Firings are the latest MaxCronFirings, oldest first.
	Firings []CronFiring `json:"firings,omitempty"`
	// Error is the last firing's error ("" once one succeeds).
	Error string `json:"error,omitempty"`
	// Crontab marks a schedule made by scrontab from line Line of its
	// owner's crontab.
	Crontab bool `json:"crontab,omitempty"`
	Line    int  `json:"line,omitempty"`
	// NextRun is the next slot (epoch ms), filled in by answers.
	NextRun int64 `json:"nextRun,omitempty"`
}

// CronPutRequest creates a schedule, or replaces an existing one's spec
// (Update). User, for root and operators, names another user's schedule.
type CronPutRequest struct {
	Spec   CronSpec `json:"spec"`
	Update bool     `json:"update,omitempty"`
	User   string   `json:"user,omitempty"`
}

// CronNameRequest names one schedule: the caller's own, or (root and
// operators) User's.
type CronNameRequest struct {
	Name string `json:"name"`
	User string `json:"user,omitempty"`
}

// CronPauseRequest pauses or resumes a schedule.
type CronPauseRequest struct {
	Name   string `json:"name"`
	User   string `json:"user,omitempty"`
	Paused bool   `json:"paused"`
}

// CronListRequest lists the caller's schedules (root and operators: all,
// or User's); Name keeps one.
type CronListRequest struct {
	Name string `json:"name,omitempty"`
	User string `json:"user,omitempty"`
}

// CronListResponse lists schedules by owner and name.
type CronListResponse struct {
	Schedules []CronSchedule `json:"schedules"`
}

// Crontab is a user's scrontab file as installed.
type Crontab struct {
	User      string `json:"user"`
	UID       uint32 `json:"uid"`
	Text      string `json:"text"`
	UpdatedAt int64  `json:"updatedAt"`
}

// CrontabRequest reads a user's crontab (the caller's, or User's for root).
type CrontabRequest struct {
	User string `json:"user,omitempty"`
}

// CrontabEntry is one job line of a crontab, parsed by the client.
type CrontabEntry struct {
	Line     int              `json:"line"` // 1-based, the cron line's
	Schedule string           `json:"schedule"`
	Job      SubmitJobRequest `json:"job"`
}

// CrontabPutRequest installs (or, with Remove, removes) a crontab: its
// text as written, and the job of each cron line. It replaces every
// schedule of the user's previous crontab.
type CrontabPutRequest struct {
	User    string         `json:"user,omitempty"`
	Text    string         `json:"text"`
	Entries []CrontabEntry `json:"entries,omitempty"`
	Remove  bool           `json:"remove,omitempty"`
}
