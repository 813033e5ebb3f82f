package archive_test

import (
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shoal-batch/shoal/daemon/archive"
)

// TestWithDefaultUser: a PostgreSQL URL that names no user gets the
// controller's, as libpq's default would be, in a form pgx reads the
// same; one that names a user, a service or none of PostgreSQL is kept.
func TestWithDefaultUser(t *testing.T) {
	t.Setenv("PGUSER", "")
	t.Setenv("PGSERVICE", "")
	for _, tc := range []struct{ url, want, user, host string }{
		{url: "postgres://db.example/shoal", want: "postgres://slurm@db.example/shoal", user: "slurm", host: "db.example"},
		{url: "postgresql://:secret@db.example:5433/shoal?sslmode=disable", want: "postgresql://slurm:secret@db.example:5433/shoal?sslmode=disable", user: "slurm", host: "db.example"},
		{url: "postgres:///shoal?host=/run/postgresql", user: "slurm", host: "/run/postgresql"},
		{url: "postgres://alice@db.example/shoal", want: "postgres://alice@db.example/shoal", user: "alice", host: "db.example"},
		{url: "postgres://db.example/shoal?user=bob", want: "postgres://db.example/shoal?user=bob", user: "bob", host: "db.example"},
		{url: "postgres://db.example/shoal?service=archive", want: "postgres://db.example/shoal?service=archive"},
		{url: "", want: ""},
		{url: "mysql://db.example/shoal", want: "mysql://db.example/shoal"},
	} {
		got := archive.WithDefaultUser(tc.url, "slurm")
		if tc.want != "" && got != tc.want || tc.url == "" && got != "" {
			t.Errorf("WithDefaultUser(%q) = %q, want %q", tc.url, got, tc.want)
		}
		if tc.user == "" {
			continue
		}
		cfg, err := pgconn.ParseConfig(got)
		if err != nil {
			t.Errorf("pgx cannot read %q (from %q): %v", got, tc.url, err)
			continue
		}
		if cfg.User != tc.user || cfg.Host != tc.host {
			t.Errorf("pgx reads %q as user %q host %q, want %q %q", got, cfg.User, cfg.Host, tc.user, tc.host)
		}
	}
	t.Setenv("PGUSER", "carol")
	if got := archive.WithDefaultUser("postgres://db.example/shoal", "slurm"); got != "postgres://db.example/shoal" {
		t.Errorf("with PGUSER set: %q, want the URL as it was (PGUSER names the user)", got)
	}
}
