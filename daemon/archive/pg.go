package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shoal-batch/shoal/api"
)

// PG is an archive in a PostgreSQL database, for sites that outgrow the
// embedded file (Slurm sites run slurmdbd on MySQL for the same reason).
// Several controllers may share one database: each applies the same raft
// log and puts the same jobs, and a put of a job already there does
// nothing (ON CONFLICT DO NOTHING).
//
// One table, shoal_jobs: the job's JSON whole (jsonb: an operator may
// query it with SQL), and the columns sacct filters on, each indexed with
// the end time so that a filter and a -S window are one index range
// (users', accounts', states', queues', or end times alone).
type PG struct {
	pool *pgxpool.Pool
	name string // the URL without its password
}

// pgTimeout bounds one statement (a list: the whole of it).
const (
	pgTimeout     = 30 * time.Second
	pgListTimeout = 30 * time.Minute
)

// pgSchema creates the table and its indexes if they are not there. It
// runs under a transaction-scoped advisory lock: controllers that start
// together would otherwise race on CREATE … IF NOT EXISTS.
var pgSchema = []string{
	`SELECT pg_advisory_xact_lock(7021788430162558300)`,
	`CREATE TABLE IF NOT EXISTS shoal_jobs (
		id         bigint PRIMARY KEY,
		ended_at   bigint NOT NULL,
		created_at bigint NOT NULL,
		user_name  text   NOT NULL,
		account    text   NOT NULL,
		state      text   NOT NULL,
		queue      text   NOT NULL,
		job        jsonb  NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS shoal_jobs_ended ON shoal_jobs (ended_at)`,
	`CREATE INDEX IF NOT EXISTS shoal_jobs_user ON shoal_jobs (user_name, ended_at)`,
	`CREATE INDEX IF NOT EXISTS shoal_jobs_account ON shoal_jobs (account, ended_at)`,
	`CREATE INDEX IF NOT EXISTS shoal_jobs_state ON shoal_jobs (state, ended_at)`,
	`CREATE INDEX IF NOT EXISTS shoal_jobs_queue ON shoal_jobs (queue, ended_at)`,
}

// OpenPG connects to the database at rawURL (a libpq URL or key=value
// string: postgres://USER[:PASSWORD]@HOST[:PORT]/DB?sslmode=…, or
// host=/run/postgresql for a unix socket) and creates the archive's table
// if it is not there.
func OpenPG(rawURL string) (*PG, error) {
	name := redactURL(rawURL)
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("archive URL %s: %v: give postgres://USER@HOST/DB", name, redactPGErr(err))
	}
	cfg.MaxConns = 8
	ctx, cancel := context.WithTimeout(context.Background(), pgTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open job archive %s: %w", name, err)
	}
	p := &PG{pool: pool, name: name}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, stmt := range pgSchema {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open job archive %s: create its table: %w (is the server up, and may this user create tables in the database?)", name, err)
	}
	return p, nil
}

// redactPGErr keeps a password out of pgx's parse errors (they quote the
// connection string).
func redactPGErr(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "cannot parse `"); i >= 0 {
		if j := strings.Index(msg[i+14:], "`"); j >= 0 {
			msg = msg[:i] + "cannot parse the URL" + msg[i+14+j+1:]
		}
	}
	return msg
}

// Close closes the pool.
func (p *PG) Close() error { p.pool.Close(); return nil }

// Shared is true: the controllers of a cluster point at one database.
func (p *PG) Shared() bool { return true }

// String names the database (without a password).
func (p *PG) String() string { return "PostgreSQL archive " + p.name }

// Put inserts jobs in one statement (one round trip, one commit: durable
// when it returns, as the server's synchronous_commit says); ids already
// there are left as they are.
func (p *PG) Put(jobs []*api.Job) error { return p.PutEach(len(jobs), slices.Values(jobs)) }

// PutEach is Put over jobs given one at a time: each is encoded into the
// statement's arguments before the next is asked for.
func (p *PG) PutEach(n int, jobs iter.Seq[*api.Job]) error {
	if n == 0 {
		return nil
	}
	ids, ends, created := make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n)
	users, accounts, states, queues, docs := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	for j := range jobs {
		data, err := json.Marshal(j)
		if err != nil {
			return fmt.Errorf("archive %d jobs: encode job %d: %w", n, j.ID, err)
		}
		ids, ends, created = append(ids, int64(j.ID)), append(ends, endOf(j)), append(created, j.CreatedAt)
		users, accounts, states = append(users, j.User), append(accounts, AccountOf(j)), append(states, string(j.State))
		queues, docs = append(queues, j.Queue), append(docs, string(data))
	}
	ctx, cancel := context.WithTimeout(context.Background(), pgTimeout)
	defer cancel()
	_, err := p.pool.Exec(ctx, `INSERT INTO shoal_jobs (id, ended_at, created_at, user_name, account, state, queue, job)
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]::jsonb[])
		ON CONFLICT (id) DO NOTHING`, ids, ends, created, users, accounts, states, queues, docs)
	if err != nil {
		return fmt.Errorf("archive %d jobs in %s: %w", n, p.name, err)
	}
	return nil
}

// Get returns an archived job, or nil.
func (p *PG) Get(id uint64) (*api.Job, error) {
	ctx, cancel := context.WithTimeout(context.Background(), pgTimeout)
	defer cancel()
	var data []byte
	err := p.pool.QueryRow(ctx, `SELECT job FROM shoal_jobs WHERE id = $1`, int64(id)).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read archived job %d from %s: %w", id, p.name, err)
	}
	j := new(api.Job)
	var dec api.JobDecoder
	if err := dec.Decode(data, j); err != nil {
		return nil, fmt.Errorf("decode archived job %d: %w", id, err)
	}
	return j, nil
}

// listQuery is f as SQL: every filter a WHERE term on an indexed column.
func listQuery(f Filter) (string, []any) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(f.Users) > 0 {
		where = append(where, "user_name = ANY("+arg(f.Users)+"::text[])")
	}
	if len(f.Accounts) > 0 {
		where = append(where, "account = ANY("+arg(f.Accounts)+"::text[])")
	}
	if len(f.States) > 0 {
		states := make([]string, len(f.States))
		for i, st := range f.States {
			states[i] = string(st)
		}
		where = append(where, "state = ANY("+arg(states)+"::text[])")
	}
	if f.Queue != "" {
		where = append(where, "queue = "+arg(f.Queue))
	}
	if f.EndedAfter > 0 {
		where = append(where, "ended_at >= "+arg(f.EndedAfter))
	}
	if f.SubmittedBefore != 0 {
		where = append(where, "created_at <= "+arg(f.SubmittedBefore))
	}
	if f.AfterID > 0 {
		where = append(where, "id > "+arg(int64(min(f.AfterID, 1<<63-1))))
	}
	// The server leaves out what is not wanted: most of a job's bytes.
	q := "SELECT job"
	if f.NoEnv {
		q += " - 'environment'"
	}
	if f.NoScript {
		q += " - 'script'"
	}
	q += " FROM shoal_jobs"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id"
	if f.Limit > 0 {
		q += " LIMIT " + arg(f.Limit)
	}
	return q, args
}

// List runs f as one query and decodes the rows as the server sends
// them: a list of the whole history holds one row at a time.
func (p *PG) List(f Filter, fn func(*api.Job) bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), pgListTimeout)
	defer cancel()
	q, args := listQuery(f)
	rows, err := p.pool.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("list archived jobs in %s: %w", p.name, err)
	}
	defer rows.Close()
	var data []byte
	dec := api.JobDecoder{SkipEnv: f.NoEnv}
	var j api.Job // each row's job in the same memory
	for rows.Next() {
		if err := rows.Scan(&data); err != nil {
			return fmt.Errorf("list archived jobs in %s: %w", p.name, err)
		}
		if err := dec.Decode(data, &j); err != nil {
			return fmt.Errorf("decode an archived job from %s: %w", p.name, err)
		}
		if !fn(&j) {
			cancel() // before rows.Close, which would read the rest
			return nil
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list archived jobs in %s: %w", p.name, err)
	}
	return nil
}

// Count returns how many jobs the table holds.
func (p *PG) Count() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), pgTimeout)
	defer cancel()
	var n int64
	if err := p.pool.QueryRow(ctx, `SELECT count(*) FROM shoal_jobs`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count archived jobs in %s: %w", p.name, err)
	}
	return int(n), nil
}
