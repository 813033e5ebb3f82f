package daemon

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/shoal-batch/shoal/daemon/archive"
	"github.com/shoal-batch/shoal/daemon/raftwal"
	"github.com/shoal-batch/shoal/raftfsm"
)

// raftFSM adapts raftfsm.FSM (which knows nothing of raft) to raft.FSM.
// archive, when set, receives the jobs the FSM expires; a snapshot waits
// for it (see fsmSnapshot.Persist).
type raftFSM struct {
	fsm     *raftfsm.FSM
	archive *archive.Writer
	// applied, when set, learns the index of every entry applied (a
	// follower waits on it to read what the leader committed for it).
	applied *appliedIndex
}

func (a raftFSM) Apply(l *raft.Log) any {
	if a.applied != nil {
		if hook := a.applied.beforeApply.Load(); hook != nil {
			(*hook)(l.Index)
		}
		defer a.applied.advance(l.Index)
	}
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
	// The index is advanced again by the entries raft applies after it.
	err := a.restore(rc)
	if a.applied != nil {
		a.applied.restored.Store(true)
		a.applied.advance(0) // waiters read raft's applied index again
	}
	return err
}

// restore reads a snapshot into the FSM and, when this controller keeps
// its own archive, the snapshot's archived jobs into it.
func (a raftFSM) restore(rc io.Reader) error {
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

// appliedIndex is the highest log index the FSM has applied, with a way to
// wait for it to reach a given one.
type appliedIndex struct {
	mu    sync.Mutex
	index uint64
	ch    chan struct{} // closed, and replaced, at every advance
	// beforeApply, when set (by tests), is called on raft's FSM goroutine
	// before each command is applied: a test holds the FSM back with it.
	beforeApply atomic.Pointer[func(index uint64)]
	// restored says the FSM restored a snapshot (at start, or one the
	// leader sent): its state then holds commands above index.
	restored atomic.Bool
}

func newAppliedIndex() *appliedIndex { return &appliedIndex{ch: make(chan struct{})} }

func (a *appliedIndex) advance(i uint64) {
	a.mu.Lock()
	if i > a.index {
		a.index = i
	}
	close(a.ch)
	a.ch = make(chan struct{})
	a.mu.Unlock()
}

// get returns the index and a channel closed at the next advance.
func (a *appliedIndex) get() (uint64, <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.index, a.ch
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
	raft      *raft.Raft
	transport raft.Transport
	// peers is the raft address's listener, raft's and the internal
	// API's (nil in memory).
	peers *peerMux
	// logs is the log store raft keeps its entries in (on disk or in
	// memory): stateCovers reads what kind of entries they are.
	logs raft.LogStore
	// closeStores releases the log store and the transport once raft
	// has shut down.
	closeStores func() error
}

// raftOptions say how to start a raft member.
type raftOptions struct {
	dir       string // the stores' directory
	id        string // this member's server id
	bind      string // raft address to listen on
	advertise string // address the others dial ("": bind's)
	// bootstrap forms a new one-voter cluster when dir holds no state;
	// without it a member with no state waits to be added by a leader.
	bootstrap bool
	// cluster: the timings of a cluster of several voters (else those of
	// a lone voter, which needs no election timeout to speak of).
	cluster bool
	tls     *peerTLS
	fsm     raftFSM
	log     *slog.Logger
}

// Raft timings of a cluster. A follower starts an election after
// clusterHeartbeatTimeout to twice that without hearing from the leader,
// so failover takes one to two of them and an election. A leader that
// has not heard from a quorum for clusterLeaseTimeout steps down (raft
// schedules that check for when the oldest contact expires): a leader cut
// off from the others stops leading, and serving reads from its own
// state, about half a heartbeat timeout before the others can start to
// elect a new one. The lease is not shorter so that a leader on a loaded
// machine does not step down for a late answer or two.
const (
	clusterHeartbeatTimeout = time.Second
	clusterElectionTimeout  = time.Second
	clusterLeaseTimeout     = 500 * time.Millisecond
)

// raftTrailingLogs is how many entries a snapshot leaves in the log, for
// followers that lag to catch up from: one further behind (or a new
// controller) is sent the snapshot. A variable for tests.
var raftTrailingLogs uint64 = 10240

// startRaft opens (or creates) the raft stores under o.dir and starts a
// member over the mutual-TLS transport.
func startRaft(o raftOptions) (*raftNode, error) {
	dir := o.dir
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
	logPath := filepath.Join(dir, raftwal.Dir)
	newest, err := checkSnapshots(fileSnaps, snaps.dir, logPath)
	if err != nil {
		return nil, err
	}
	// raftwal.Open checks every file of the log (and migrates a raft.db
	// of an earlier version into it) before raft-wal opens it.
	store, err := raftwal.Open(dir, o.log)
	if err != nil {
		return nil, corruptLogError(err, newest, snaps.dir)
	}
	if err := checkLogFollows(store, logPath, newest, snaps.dir); err != nil {
		store.Close()
		return nil, err
	}
	peers, err := listenPeers(o.bind, o.advertise, o.tls, o.log)
	if err != nil {
		store.Close()
		return nil, err
	}
	transport := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: raftStream{peers}, MaxPool: 3, Timeout: 10 * time.Second, Logger: hclog.NewNullLogger(),
	})
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(o.id)
	conf.Logger = hclogAdapter(o.log)
	conf.SnapshotThreshold = 16384
	conf.TrailingLogs = raftTrailingLogs
	conf.MaxAppendEntries = 1024
	if o.cluster {
		conf.HeartbeatTimeout = clusterHeartbeatTimeout
		conf.ElectionTimeout = clusterElectionTimeout
		conf.LeaderLeaseTimeout = clusterLeaseTimeout
	} else {
		// One voter needs no election timeout to speak of; keep restarts fast.
		conf.HeartbeatTimeout = 500 * time.Millisecond
		conf.ElectionTimeout = 500 * time.Millisecond
		conf.LeaderLeaseTimeout = 250 * time.Millisecond
	}

	if o.bootstrap {
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
	r, err := newRaft(conf, o.fsm, store, snaps, transport)
	if err != nil {
		store.Close()
		transport.Close()
		if newest != nil {
			return nil, fmt.Errorf("start raft from snapshot %s and log %s: %w", filepath.Join(snaps.dir, newest.ID), logPath, err)
		}
		return nil, fmt.Errorf("start raft from log %s: %w", logPath, err)
	}
	return &raftNode{raft: r, transport: transport, peers: peers, logs: store, closeStores: func() error {
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
	return &raftNode{raft: r, transport: transport, logs: store, closeStores: transport.Close}, nil
}

// hasRaftState reports whether dir holds a raft log or snapshot: a member
// that has been part of a cluster (and rejoins it as it is).
func hasRaftState(dir string) (bool, error) {
	has, err := raftwal.HasEntries(dir)
	if err != nil {
		return false, corruptLogError(err, nil, filepath.Join(dir, "snapshots"))
	}
	if has {
		return true, nil
	}
	snaps, err := os.ReadDir(filepath.Join(dir, "snapshots"))
	if err != nil && !os.IsNotExist(err) {
		return false, fmt.Errorf("raft snapshots: %w", err)
	}
	for _, e := range snaps {
		if e.IsDir() && !strings.HasSuffix(e.Name(), ".tmp") {
			return true, nil
		}
	}
	return false, nil
}

// newRaft is raft.NewRaft with a panic while it reads the stores (before
// it starts its goroutines) returned as an error: the checks in startRaft
// should leave none, and the operator is still owed an error.
func newRaft(conf *raft.Config, fsm raft.FSM, store *raftwal.Store, snaps raft.SnapshotStore, transport raft.Transport) (r *raft.Raft, err error) {
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
