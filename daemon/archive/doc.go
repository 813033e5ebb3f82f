// Package archive is the controller's accounting history: finished jobs
// that have left the replicated in-memory state (after the retention
// window, Slurm's MinJobAge) are kept here for sacct, `shoal describe` and
// AWS describe-jobs, at any age.
//
// The store is an embedded bbolt file in the controller's data dir (mode
// 0600), one per controller: every replica applies the same raft log and
// so archives the same jobs. bbolt rather than SQLite: it is already in
// the module graph (raft-boltdb), it is pure Go with no schema to migrate,
// and the queries sacct needs are range scans over a handful of composite
// keys (end time, user, account, state), which its sorted buckets give
// directly. Each record is the job's JSON, whole (its owner may still
// describe its environment and script); only its key lives in the indexes.
package archive
