// Package archive is the controller's accounting history: finished jobs
// that have left the replicated in-memory state (after the retention
// window, Slurm's MinJobAge) are kept here for sacct, `shoal describe` and
// AWS describe-jobs, at any age.
//
// Archive is the interface; there are two backends. The default (Store)
// is an embedded bbolt file in the controller's data dir (mode 0600), one
// per controller: every replica applies the same raft log and so archives
// the same jobs, and raft snapshots carry them for a controller that
// starts from one. bbolt rather than SQLite: it is already in the module
// graph (raft-boltdb), it is pure Go with no schema to migrate, and the
// queries sacct needs are range scans over a handful of composite keys
// (end time, user, account, state), which its sorted buckets give
// directly. Sites that outgrow it point the controllers at PostgreSQL (PG,
// -archive-url): one table shared by the controllers of a cluster, each
// filter a WHERE term on an indexed column.
//
// Each record is the job's JSON, whole (its owner may still describe its
// environment and script); the indexes hold only what filters need. A job
// id is stored once: a second Put of it (a replayed log, another
// controller, a snapshot's history) leaves the first.
package archive
