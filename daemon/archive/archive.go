package archive

import (
	"errors"
	"fmt"
	"iter"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// Archive is where finished jobs go once they leave the live state. Two
// implementations: Store (an embedded bbolt file per controller, the
// default) and PG (a PostgreSQL database, possibly shared by the
// controllers of a cluster).
//
// Every controller replica applies the same raft log and so archives the
// same jobs, and a replayed log archives them again: Put keeps the first
// copy of a job id and ignores the rest (the FSM is deterministic, so
// they are the same job).
type Archive interface {
	// Put stores finished jobs durably before it returns; a job id
	// already stored is left as it is.
	Put(jobs []*api.Job) error
	// PutEach is Put over n jobs given one at a time: the job each step
	// gives is the archive's only until the next step, so that a write's
	// jobs need not all be made at once (the Writer loads each queued
	// job into one api.Job it reuses: 2,000 made together were the
	// largest part of the controller's live heap in a burst of short
	// jobs).
	PutEach(n int, jobs iter.Seq[*api.Job]) error
	// Get returns an archived job, or nil if the archive does not hold it.
	Get(id uint64) (*api.Job, error)
	// List calls fn, in id order, with every archived job that f selects,
	// until fn returns false. A job is fn's only until fn returns: List
	// decodes the next into the same memory (a list of the whole history
	// made a new job of each record, most of the controller's garbage).
	List(f Filter, fn func(*api.Job) bool) error
	// Count returns how many jobs the archive holds.
	Count() (int, error)
	// Close releases the archive.
	Close() error
	// Shared reports whether the controllers of a cluster share this
	// archive (a database server): then a controller that starts from a
	// raft snapshot finds the history already there, and snapshots need
	// not carry it.
	Shared() bool
	// String says where the archive is, for logs and errors (never with
	// a password).
	String() string
}

var (
	_ Archive = (*Store)(nil)
	_ Archive = (*PG)(nil)
)

// Filter selects archived jobs; empty fields match everything. A job
// passes when it passes every field given.
type Filter struct {
	Users    []string       // user names
	Accounts []string       // accounts as AccountOf gives them
	States   []api.JobState // SUCCEEDED, FAILED (nothing else is archived)
	Queue    string
	// EndedAfter leaves out jobs that ended before it (epoch ms; 0: none).
	EndedAfter int64
	// SubmittedBefore leaves out jobs created after it (epoch ms; 0: none).
	SubmittedBefore int64
	// AfterID leaves out jobs with ids up to it: the next page of a list
	// starts after the last id of the one before.
	AfterID uint64
	// Limit is the most jobs List gives (0: no limit).
	Limit int
	// NoEnv gives the jobs without their environments, and NoScript
	// without their batch scripts, which a list that does not send them
	// need not read.
	NoEnv, NoScript bool
}

// Match reports whether f selects j (all but Limit, NoEnv and NoScript).
func (f Filter) Match(j *api.Job) bool {
	return (len(f.Users) == 0 || slices.Contains(f.Users, j.User)) &&
		(len(f.Accounts) == 0 || slices.Contains(f.Accounts, AccountOf(j))) &&
		(len(f.States) == 0 || slices.Contains(f.States, j.State)) &&
		(f.Queue == "" || j.Queue == f.Queue) &&
		endOf(j) >= f.EndedAfter &&
		(f.SubmittedBefore == 0 || j.CreatedAt <= f.SubmittedBefore) &&
		j.ID > f.AfterID
}

// AccountOf is the account a job is accounted to: its own, else its
// user's name (as sacct shows it).
func AccountOf(j *api.Job) string {
	if j.Account != "" {
		return j.Account
	}
	return j.User
}

// endOf is when j ended (epoch ms); a job archived without an end (none
// should be) counts as ending when it was created.
func endOf(j *api.Job) int64 {
	if j.StoppedAt > 0 {
		return j.StoppedAt
	}
	return max(j.CreatedAt, 0)
}

// BoltFile is the embedded archive's file in a controller's data dir.
const BoltFile = "archive.db"

// OpenURL opens the archive a controller is configured with: "" is the
// embedded bbolt file in dataDir; postgres://… or postgresql://… (a
// libpq connection URL) a PostgreSQL database.
func OpenURL(rawURL, dataDir string) (Archive, error) {
	if rawURL == "" {
		return Open(filepath.Join(dataDir, BoltFile))
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("archive URL: %w: give postgres://USER@HOST/DB, or none for the embedded archive in the data dir", redactErr(err))
	}
	switch strings.ToLower(u.Scheme) {
	case "postgres", "postgresql":
		return OpenPG(rawURL)
	default:
		return nil, fmt.Errorf("archive URL %q: scheme %q is not one the archive knows: give postgres://USER@HOST/DB (PostgreSQL), or no URL for the embedded archive in the data dir", redactURL(rawURL), u.Scheme)
	}
}

// WithDefaultUser is rawURL naming user as its PostgreSQL user when
// nothing else names one: not the URL (USER@ or ?user=), nor a service
// (?service=), nor PGUSER or PGSERVICE. Otherwise pgx looks the process's
// own user up through the name service, in the controller, whose lookups
// run in a child process (internal/accounts) so that the name service's
// modules stay out of it. Anything else is returned as it is.
func WithDefaultUser(rawURL, user string) string {
	u, err := url.Parse(rawURL)
	if err != nil || user == "" {
		return rawURL
	}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme != "postgres" && scheme != "postgresql",
		u.User.Username() != "", // Userinfo's methods take a nil one
		u.Query().Get("user") != "", u.Query().Get("service") != "",
		os.Getenv("PGUSER") != "", os.Getenv("PGSERVICE") != "":
		return rawURL
	}
	if pw, ok := u.User.Password(); ok { // ":PASSWORD@" without a user
		u.User = url.UserPassword(user, pw)
	} else {
		u.User = url.User(user)
	}
	return u.String()
}

// redactURL is rawURL without its password.
func redactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(an unparsable URL)"
	}
	return u.Redacted()
}

// redactErr keeps a URL's password out of url.Parse's error.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
