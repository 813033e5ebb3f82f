package daemon

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shoal-batch/shoal/daemon/raftwal"
)

// The checks here run before raft starts, so that a damaged store stops
// the controller with an error that names the file, says what is wrong
// and how to recover, instead of a panic in one of raft's goroutines or a
// cluster that starts with part of its state silently gone.
//
// The recoveries they offer are the ones a one-voter controller has: raft
// starts from the newest snapshot plus the log entries after it, so
//   - without its log (raft/wal) it restores the newest snapshot and loses what was
//     committed after it (or, with no snapshot, starts empty);
//   - without the newest snapshot it restores the one before, provided the
//     log still holds the entries since that one (checkLogFollows).
// Finished jobs that already left the live state stay in the archive.

// checkSnapshots checks that every snapshot in dir has metadata raft can
// read (raft skips one it cannot, and would start from an older state
// without a word), and that the newest one's data matches its checksum.
// It returns the newest snapshot's metadata, nil when there is none.
func checkSnapshots(store *raft.FileSnapshotStore, dir, logPath string) (*raft.SnapshotMeta, error) {
	metas, err := store.List() // newest first, only those raft can read
	if err != nil {
		return nil, fmt.Errorf("list raft snapshots in %s: %w", dir, err)
	}
	known := make(map[string]bool, len(metas))
	for _, m := range metas {
		known[m.ID] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list raft snapshots in %s: %w", dir, err)
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") || known[e.Name()] {
			continue
		}
		path := filepath.Join(dir, e.Name())
		_, merr := os.ReadFile(filepath.Join(path, "meta.json"))
		what := "its meta.json does not parse or names a snapshot version this raft does not know"
		if merr != nil {
			what = merr.Error()
		}
		return nil, corruptSnapshotError(path, what, metas, -1, logPath)
	}
	if len(metas) == 0 {
		return nil, nil
	}
	newest := metas[0]
	_, rc, err := store.Open(newest.ID) // reads it all: checks the CRC
	if err == nil {
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
	}
	if err != nil {
		return nil, corruptSnapshotError(filepath.Join(dir, newest.ID), err.Error(), metas, 0, logPath)
	}
	return newest, nil
}

// corruptSuffix is what the recovery advice asks an operator to add to a
// damaged file's name.
const corruptSuffix = ".corrupt"

func corruptSnapshotError(path, what string, metas []*raft.SnapshotMeta, bad int, logPath string) error {
	var b strings.Builder
	// Out of the snapshots directory: raft lists every directory in it by
	// the id in its meta.json, whatever the directory is called.
	aside := filepath.Join(filepath.Dir(filepath.Dir(path)), "snapshot-"+filepath.Base(path)+corruptSuffix)
	fmt.Fprintf(&b, "raft snapshot %s is corrupt: %s. To recover, stop the controller and move it out of the snapshots directory: mv %s %s; ", path, what, path, aside)
	var older *raft.SnapshotMeta
	for i, m := range metas {
		if i != bad {
			older = m
			break
		}
	}
	if older != nil {
		fmt.Fprintf(&b, "the controller then starts from snapshot %s (entry %d) and the log %s, and says so if the log no longer holds the entries since that snapshot",
			older.ID, older.Index, logPath)
	} else {
		fmt.Fprintf(&b, "there is no other snapshot, so the controller then replays the log %s alone, and says so if the log no longer starts at its first entry", logPath)
	}
	return errors.New(b.String())
}

// corruptLogError says the raft log cannot be read (a *raftwal.CorruptError:
// which file, and what to move away), and what moving it away would cost.
// Other errors are returned as they are.
func corruptLogError(err error, newest *raft.SnapshotMeta, snapDir string) error {
	var c *raftwal.CorruptError
	if !errors.As(err, &c) {
		return err
	}
	return fmt.Errorf("raft log %s is corrupt: %w. %s", c.Path, err, moveLogAdvice(c.Path, newest, snapDir))
}

func moveLogAdvice(logPath string, newest *raft.SnapshotMeta, snapDir string) string {
	advice := fmt.Sprintf("It holds what this controller committed since its newest snapshot. To recover (a one-voter controller), stop it and move it away: mv %s %s%s; ", logPath, logPath, corruptSuffix)
	if newest == nil {
		return advice + "there is no snapshot in " + snapDir + ", so the controller then starts EMPTY: queued and running jobs, nodes, queues and access keys are lost (finished jobs already archived stay in the archive)"
	}
	when := ""
	if _, _, ms, ok := snapshotIDParts(newest.ID); ok {
		when = ", taken " + time.UnixMilli(ms).UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%sthe controller then starts from snapshot %s (entry %d%s) and loses what was committed after it",
		advice, filepath.Join(snapDir, newest.ID), newest.Index, when)
}

// snapshotIDParts splits raft's snapshot id, TERM-INDEX-UNIXMILLIS.
func snapshotIDParts(id string) (term, index uint64, ms int64, ok bool) {
	n, err := fmt.Sscanf(id, "%d-%d-%d", &term, &index, &ms)
	return term, index, ms, err == nil && n == 3
}

// checkLogFollows checks that the log continues the newest snapshot: raft
// replays the entries after the snapshot, and an entry it cannot find is a
// panic. That happens when the newest snapshot was moved away and the log
// was compacted past the one before.
func checkLogFollows(store raft.LogStore, logPath string, newest *raft.SnapshotMeta, snapDir string) error {
	first, err := store.FirstIndex()
	if err != nil {
		return corruptLogError(&raftwal.CorruptError{Path: logPath, File: logPath, Err: fmt.Errorf("read its first index: %w", err)}, newest, snapDir)
	}
	last, err := store.LastIndex()
	if err != nil {
		return corruptLogError(&raftwal.CorruptError{Path: logPath, File: logPath, Err: fmt.Errorf("read its last index: %w", err)}, newest, snapDir)
	}
	var from uint64 // the last entry the snapshot covers
	if newest != nil {
		from = newest.Index
	}
	if last == 0 || first <= from+1 {
		return nil
	}
	base, left := "there is no snapshot", "nothing (an empty start)"
	if newest != nil {
		base = fmt.Sprintf("the newest snapshot %s ends at entry %d", filepath.Join(snapDir, newest.ID), newest.Index)
		left = "that snapshot"
	}
	return fmt.Errorf("raft log %s starts at entry %d but %s: entries %d to %d are in neither, so the state cannot be rebuilt. "+
		"If a newer snapshot was moved away, put it back. Otherwise the state up to %s is all that is left: move the log away (mv %s %s%s) to start from it, and lose what was committed after it",
		logPath, first, base, from+1, first-1, left, logPath, logPath, corruptSuffix)
}
