package daemon

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/reply"
	"github.com/shoal-batch/shoal/raftfsm"
)

// bodySnapshot bounds a snapshot an operator restores (read into memory
// and checked whole before raft takes it).
const bodySnapshot = 4 << 30

// snapshotSave writes the replicated state, as raft snapshots hold it,
// to the operator: a backup that snapshotRestore takes back. The read
// barrier (see consistent) makes it the cluster's current state.
func (c *Controller) snapshotSave(w http.ResponseWriter, r *http.Request, _ caller) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		reply.Error(w, api.Errorf(api.CodeInvalid, "%s %s: use GET or POST", r.Method, r.URL.Path))
		return
	}
	snap := c.fsm.Snapshot()
	state := c.fsm.State()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Shoal-Index", strconv.FormatUint(state.Index(), 10))
	n, err := snap.WriteTo(w)
	if err != nil {
		// Headers are gone: cut the answer short, which the client sees.
		c.log.Error("write a snapshot to an operator", "bytes", n, "err", err)
		panic(http.ErrAbortHandler)
	}
	c.log.Info("snapshot saved by an operator", "bytes", n, "index", state.Index())
}

// snapshotRestore replaces the whole replicated state with a snapshot an
// operator saved: raft installs it on the leader and sends it to every
// follower. The file is decoded whole first: one that does not decode is
// refused with nothing changed.
func (c *Controller) snapshotRestore(w http.ResponseWriter, r *http.Request, _ caller) {
	if r.Method != http.MethodPost {
		reply.Error(w, api.Errorf(api.CodeInvalid, "%s %s: POST the snapshot file as the body", r.Method, r.URL.Path))
		return
	}
	if c.raft.raft.State() != raft.Leader {
		reply.Error(w, api.Errorf(api.CodeUnavailable, "restore a snapshot: only the leader restores one: send it to the leader (give the client every controller's address)"))
		return
	}
	data, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		reply.Error(w, errTooLarge(r.URL.Path, mbe.Limit))
		return
	}
	if err != nil {
		reply.Error(w, api.Errorf(api.CodeInvalid, "restore a snapshot: read it: %v", err))
		return
	}
	restored := raftfsm.New()
	if err := restored.Restore(bytes.NewReader(data), 0); err != nil {
		reply.Error(w, api.Errorf(api.CodeInvalid, "restore a snapshot: the file is not a shoal snapshot (shoal operator snapshot save writes one): %v", err))
		return
	}
	size := len(data)
	if data, err = c.keepJoinSecret(restored, data); err != nil { // jointoken.go
		reply.Error(w, err)
		return
	}
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Size: int64(len(data))}
	start := time.Now()
	if err := c.raft.raft.Restore(meta, bytes.NewReader(data), time.Minute); err != nil {
		reply.Error(w, raftChangeError("restore a snapshot", err))
		return
	}
	c.log.Warn("the replicated state was replaced by a snapshot an operator restored", "bytes", size, "took", time.Since(start).Round(time.Millisecond))
	reply.JSON(w, http.StatusOK, api.SnapshotRestoreResponse{Bytes: int64(size), Index: c.fsm.State().Index()})
}
