package daemon

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/shoal-batch/shoal/daemon/archive"
	"github.com/shoal-batch/shoal/internal/boltcheck"
	"github.com/shoal-batch/shoal/raftfsm"
)

// raftFSM adapts raftfsm.FSM (which knows nothing of raft) to raft.FSM.
// archive, when set, receives the jobs the FSM expires; a snapshot waits
// for it (see fsmSnapshot.Persist).
type raftFSM struct {
	fsm     *raftfsm.FSM
	archive *archive.Writer
}

func (a raftFSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	return a.fsm.Apply(l.Index, l.Data)
}

func (a raftFSM) Snapshot() (raft.FSMSnapshot, error) {
	s := fsmSnapshot{snap: a.fsm.Snapshot(), archive: a.archive}
	if a.archive != nil {
		// On raft's apply goroutine: every job expired by an entry
		// this snapshot covers has been queued.
		s.archived = a.archive.Queued()
	}
	return s, nil
}

func (a raftFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if a.archive == nil {
		// The index is advanced again by the entries raft applies after it.
		return a.fsm.Restore(rc, 0)
	}
	// The snapshot's archived jobs go to the archive, the rest to the
	// FSM (snapshot_archive.go).
	split := newArchiveSplitter(rc, a.archive.Store())
	if err := a.fsm.Restore(split, 0); err != nil {
		return err
	}
	// The FSM's decoder stops at the end of its last record: read on,
	// for archived jobs after it and the last batch.
	if _, err := io.Copy(io.Discard, split); err != nil {
		return err
	}
	return nil
}

type fsmSnapshot struct {
	snap     *raftfsm.Snapshot
	archive  *archive.Writer
	archived uint64 // the archive's queue mark when the snapshot was taken
}

// Persist writes the snapshot once the jobs that the entries it covers
// expired are in the archive: once it is kept, raft may drop those
// entries, and with them the only other copy of the jobs.
func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if s.archive != nil {
		if err := waitArchived(s.archive, s.archived); err != nil {
			sink.Cancel()
			return err
		}
	}
	if _, err := s.snap.WriteTo(sink); err != nil {
		sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	// The history, for a controller that starts from this snapshot and
	// so never applies the entries that archived it (snapshot_archive.go).
	if s.archive != nil && !s.archive.Store().Shared() {
		if err := writeArchived(sink, s.archive.Store()); err != nil {
			sink.Cancel()
			return fmt.Errorf("persist snapshot: %w", err)
		}
	}
	return sink.Close()
}

func (s fsmSnapshot) Release() {}

// privateSnapshots is raft's file snapshot store with the modes of what it
// writes narrowed to the owner: it makes directories 0755 and files with
// the process umask (0644), and the umask stays as it is for job files.
type privateSnapshots struct {
	*raft.FileSnapshotStore
	dir string // the store's snapshots directory
}

// Create starts a snapshot. FileSnapshotStore.Create has made its
// directory and files (nothing of the state is written yet): they are
// narrowed before the state goes in.
func (s privateSnapshots) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	sink, err := s.FileSnapshotStore.Create(version, index, term, configuration, configurationIndex, trans)
	if err != nil {
		return nil, err
	}
	// The store writes into ID+".tmp" and renames it to ID on Close.
	if err := privateTree(filepath.Join(s.dir, sink.ID()+".tmp")); err != nil {
		sink.Cancel()
		return nil, fmt.Errorf("create snapshot: %w", err)
	}
	return privateSink{sink, filepath.Join(s.dir, sink.ID())}, nil
}

type privateSink struct {
	raft.SnapshotSink
	final string
}

// Close completes the snapshot and checks the modes of what it left.
func (s privateSink) Close() error {
	if err := s.SnapshotSink.Close(); err != nil {
		return err
	}
	return privateTree(s.final)
}

// privateTree takes the group and other permission bits off every
// directory and regular file under root (root included).
func privateTree(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return fmt.Errorf("narrow modes under %s: %w", root, err)
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil // sockets, links: not ours to change
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("narrow modes under %s: %w", root, err)
		}
		if mode := info.Mode().Perm(); mode&0o077 != 0 {
			if err := os.Chmod(path, mode&^0o077); err != nil {
				return fmt.Errorf("narrow modes under %s: %w", root, err)
			}
		}
		return nil
	})
}

// raftNode is one raft member and the stores it owns.
type raftNode struct {
	raft *raft.Raft
	// closeStores releases the log store and the transport once raft
	// has shut down.
	closeStores func() error
	// logStore is the log store on disk (nil in memory): releaseMemory
	// drops its mapped pages.
	logStore *raftboltdb.BoltStore
}

// startRaft opens (or creates) the raft stores under dir and starts a member
// with id at bindAddr. With bootstrap set and no existing state it forms a
// new one-voter cluster.
func startRaft(dir, id, bindAddr string, bootstrap bool, fsm raftFSM, log *slog.Logger) (*raftNode, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create raft dir: %w", err)
	}
	fileSnaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hclog.NewNullLogger())
	if err != nil {
		return nil, fmt.Errorf("open snapshot store: %w", err)
	}
	snaps := privateSnapshots{fileSnaps, filepath.Join(dir, "snapshots")}
	if err := privateTree(snaps.dir); err != nil {
		return nil, err
	}
	// Read everything before raft does: raft reads its stores on
	// goroutines of its own, where a corrupt page is a crash.
	logPath := filepath.Join(dir, "raft.db")
	newest, err := checkSnapshots(fileSnaps, snaps.dir, logPath)
	if err != nil {
		return nil, err
	}
	// raft-boltdb opens it with bbolt's default options.
	if err := boltcheck.Check(logPath, bolt.Options{Timeout: 5 * time.Second}); err != nil {
		return nil, corruptLogError(logPath, err, newest, snaps.dir)
	}
	store, err := raftboltdb.NewBoltStore(logPath)
	if err != nil {
		return nil, corruptLogError(logPath, err, newest, snaps.dir)
	}
	if err := checkLogFollows(store, logPath, newest, snaps.dir); err != nil {
		store.Close()
		return nil, err
	}
	addr, err := net.ResolveTCPAddr("tcp", bindAddr)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("raft address %q: %w", bindAddr, err)
	}
	transport, err := raft.NewTCPTransportWithLogger(bindAddr, addr, 3, 10*time.Second, hclog.NewNullLogger())
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("raft transport on %s: %w", bindAddr, err)
	}
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(id)
	conf.Logger = hclogAdapter(log)
	conf.SnapshotThreshold = 16384
	conf.MaxAppendEntries = 1024
	// One voter needs no election timeout to speak of; keep restarts fast.
	conf.HeartbeatTimeout = 500 * time.Millisecond
	conf.ElectionTimeout = 500 * time.Millisecond
	conf.LeaderLeaseTimeout = 250 * time.Millisecond

	if bootstrap {
		has, err := raft.HasExistingState(store, store, snaps)
		if err != nil {
			store.Close()
			transport.Close()
			return nil, fmt.Errorf("read raft state: %w", err)
		}
		if !has {
			cfg := raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: transport.LocalAddr()}}}
			if err := raft.BootstrapCluster(conf, store, store, snaps, transport, cfg); err != nil {
				store.Close()
				transport.Close()
				return nil, fmt.Errorf("bootstrap raft: %w", err)
			}
		}
	}
	r, err := newRaft(conf, fsm, store, snaps, transport)
	if err != nil {
		store.Close()
		transport.Close()
		if newest != nil {
			return nil, fmt.Errorf("start raft from snapshot %s and log %s: %w", filepath.Join(snaps.dir, newest.ID), logPath, err)
		}
		return nil, fmt.Errorf("start raft from log %s: %w", logPath, err)
	}
	return &raftNode{raft: r, logStore: store, closeStores: func() error {
		transport.Close()
		return store.Close()
	}}, nil
}

// startMemRaft starts the one voter of a cluster whose log, stable store,
// snapshots and transport are all in memory (Config.InMemory): nothing
// touches the disk or the network, nothing survives close, and with
// timeouts far below the disk-backed member's it leads within a few
// milliseconds. For tests of the controller's API.
func startMemRaft(id string, fsm raftFSM, log *slog.Logger) (*raftNode, error) {
	store := raft.NewInmemStore()
	snaps := raft.NewInmemSnapshotStore()
	_, transport := raft.NewInmemTransport("")
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(id)
	conf.Logger = hclogAdapter(log)
	conf.SnapshotThreshold = 16384
	conf.MaxAppendEntries = 1024
	conf.HeartbeatTimeout = 20 * time.Millisecond
	conf.ElectionTimeout = 20 * time.Millisecond
	conf.LeaderLeaseTimeout = 10 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	cfg := raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: transport.LocalAddr()}}}
	if err := raft.BootstrapCluster(conf, store, store, snaps, transport, cfg); err != nil {
		return nil, fmt.Errorf("bootstrap in-memory raft: %w", err)
	}
	r, err := raft.NewRaft(conf, fsm, store, store, snaps, transport)
	if err != nil {
		return nil, fmt.Errorf("start in-memory raft: %w", err)
	}
	return &raftNode{raft: r, closeStores: transport.Close}, nil
}

// newRaft is raft.NewRaft with a panic while it reads the stores (before
// it starts its goroutines) returned as an error: the checks in startRaft
// should leave none, and the operator is still owed an error.
func newRaft(conf *raft.Config, fsm raftFSM, store *raftboltdb.BoltStore, snaps raft.SnapshotStore, transport raft.Transport) (r *raft.Raft, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("reading the stores panicked: %v", p)
		}
	}()
	return raft.NewRaft(conf, fsm, store, store, snaps, transport)
}

// close stops raft and releases its stores.
func (n *raftNode) close() error {
	err := n.raft.Shutdown().Error()
	if cerr := n.closeStores(); err == nil {
		err = cerr
	}
	return err
}

// hclogAdapter sends raft's logs at warn and above to slog; raft's info
// lines (elections, snapshots) are kept at debug.
func hclogAdapter(log *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:   "raft",
		Level:  hclog.Error,
		Output: slogWriter{log},
	})
}

type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Warn(string(trimNewline(p)))
	return len(p), nil
}

func trimNewline(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}
