package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/reply"
	"github.com/shoal-batch/shoal/raftfsm"
)

// proposer commits commands: on the leader through its applier (group
// commit); on a follower by forwarding the encoded command to the leader,
// which commits it through its own applier. Who asked was proven where
// the request came in, and the command says so; the leader's FSM checks
// it against the state as it applies it, as it does for its own.
type proposer struct {
	c     *Controller
	local *applier
}

// Apply commits one command and returns what the FSM made of it. On a
// follower it returns once this controller has applied the command too,
// so that what the caller reads next includes it.
func (p *proposer) Apply(ctx context.Context, op raftfsm.Op, body any) (raftfsm.Result, error) {
	if isLeaderOnly(ctx) || !p.follower() {
		return p.local.Apply(ctx, op, body)
	}
	entry, err := raftfsm.Encode(op, body)
	if err != nil {
		return raftfsm.Result{}, err
	}
	return p.c.forwardApply(ctx, entry)
}

// ApplyEntry is Apply for a command already encoded (raftfsm.EncodeSubmit).
func (p *proposer) ApplyEntry(ctx context.Context, entry []byte) (raftfsm.Result, error) {
	if isLeaderOnly(ctx) || !p.follower() {
		return p.local.applyEntry(ctx, entry)
	}
	return p.c.forwardApply(ctx, entry)
}

// follower reports whether this controller is a follower or a candidate
// (not the leader, and not shut down).
func (p *proposer) follower() bool {
	s := p.c.raft.raft.State()
	return s == raft.Follower || s == raft.Candidate
}

// appliedRecheck is how often waitApplied reads raft's applied index.
const appliedRecheck = 20 * time.Millisecond

// electionWait is how long a follower holds a request while no leader is
// known before it answers Unavailable: a few election timeouts.
const electionWait = 3 * clusterElectionTimeout

// forwardApply sends an encoded command to the leader.
func (c *Controller) forwardApply(ctx context.Context, entry []byte) (raftfsm.Result, error) {
	addr, err := c.leaderAddr(ctx)
	if err != nil {
		return raftfsm.Result{}, err
	}
	if addr == "" { // this controller leads now
		return c.applier.local.applyEntry(ctx, entry)
	}
	var resp api.ApplyResponse
	if err := c.callPeer(ctx, addr, api.PathInternalApply, api.ApplyRequest{Entry: entry}, &resp); err != nil {
		return raftfsm.Result{}, err
	}
	var res raftfsm.Result
	if err := json.Unmarshal(resp.Result, &res); err != nil {
		return raftfsm.Result{}, api.Errorf(api.CodeInternal, "the leader's answer to a forwarded command: %v (it may have been applied)", err)
	}
	if err := c.waitApplied(ctx, resp.Index); err != nil {
		c.log.Warn("a forwarded command committed, but this controller has not applied it yet", "index", resp.Index, "err", err)
	}
	return res, res.Error()
}

// leaderAddr returns the leader's raft address, "" when this controller
// leads. With none known it waits for an election, up to electionWait.
func (c *Controller) leaderAddr(ctx context.Context) (string, error) {
	addr, err := c.knownLeader()
	if addr != "" || err == nil {
		return addr, err
	}
	obs := make(chan raft.Observation, 16)
	o := raft.NewObserver(obs, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.LeaderObservation, raft.RaftState:
			return true
		}
		return false
	})
	c.raft.raft.RegisterObserver(o)
	defer c.raft.raft.DeregisterObserver(o)
	timer := time.NewTimer(electionWait)
	defer timer.Stop()
	for {
		addr, err := c.knownLeader()
		if addr != "" || err == nil {
			return addr, err
		}
		select {
		case <-obs:
		case <-timer.C:
			return "", err
		case <-ctx.Done():
			return "", context.Cause(ctx)
		}
	}
}

// knownLeader returns the leader's address, "" with a nil error when this
// controller leads, or an Unavailable error when none is known.
func (c *Controller) knownLeader() (string, error) {
	switch c.raft.raft.State() {
	case raft.Leader:
		return "", nil
	case raft.Shutdown:
		return "", errShuttingDown
	}
	if addr, id := c.raft.raft.LeaderWithID(); addr != "" && string(id) != c.cfg.NodeID {
		return string(addr), nil
	}
	return "", api.Errorf(api.CodeUnavailable, "no controller leads the cluster now (an election is under way, or too few controllers are up for a quorum): try again")
}

// waitApplied waits until this controller's state includes every entry
// up to index (stateCovers), up to electionWait. It wakes at every
// command the FSM applies; raft's applied index, which stateCovers also
// reads, moves without the FSM (entries it never sees, an installed
// snapshot) and nothing announces it: it is read again every
// appliedRecheck.
func (c *Controller) waitApplied(ctx context.Context, index uint64) error {
	timer := time.NewTimer(electionWait)
	defer timer.Stop()
	recheck := time.NewTicker(appliedRecheck)
	defer recheck.Stop()
	for {
		have, changed := c.applied.get()
		if c.stateCovers(index, have) {
			return nil
		}
		select {
		case <-changed:
		case <-recheck.C:
		case <-timer.C:
			return api.Errorf(api.CodeUnavailable, "this controller has applied the log up to %d, behind the leader's %d: try again, or ask another controller", have, index)
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// stateCovers reports whether this controller's state includes every
// entry up to index, given that the FSM has applied the commands up to
// have. Raft's applied index alone does not say so: raft advances it when
// it hands entries to the FSM, which may still be applying them (after a
// restart, the whole log since the last snapshot at once); and it counts
// entries the FSM never sees (elections' no-ops, barriers, configuration
// changes), which change nothing in the state. So once raft has handed
// over index, the state covers it when the FSM has applied the last
// command at or below it: one at or below have, or one in a snapshot this
// controller took from its state or restored (raft drops entries from the
// log only once a snapshot holds them).
func (c *Controller) stateCovers(index, have uint64) bool {
	if have >= index {
		return true
	}
	if c.raft.raft.AppliedIndex() < index {
		return false
	}
	for i := index; i > have; i-- {
		var l raft.Log
		if err := c.raft.logs.GetLog(i, &l); errors.Is(err, raft.ErrLogNotFound) {
			return true // compacted: in a snapshot that this state includes
		} else if err != nil {
			c.log.Warn("read the raft log to see what the state includes", "index", i, "err", err)
			return false
		}
		if l.Type == raft.LogCommand {
			// Above have: applied only if a snapshot restored holds it
			// (one this FSM took holds only commands up to have).
			if !c.applied.restored.Load() {
				return false
			}
			snap, _ := strconv.ParseUint(c.raft.raft.Stats()["last_snapshot_index"], 10, 64)
			return i <= snap
		}
	}
	return true
}

// readBarrier makes the state this controller serves a read from current:
// the leader's, once it has applied the entries of former terms; a
// follower's, once it has applied what the leader had applied when the
// leader confirmed (with a quorum) that it still leads: a read index.
// A leader cut off from the others steps down within its lease (see
// clusterLeaseTimeout), before another can be elected, so a leader's own
// state is current while it leads.
func (c *Controller) readBarrier(ctx context.Context) error {
	timer := time.NewTimer(electionWait)
	defer timer.Stop()
	for {
		ready, changed := c.leaderReady()
		if ready {
			return nil
		}
		addr, err := c.leaderAddr(ctx)
		if err != nil {
			return err
		}
		if addr != "" {
			index, err := c.readIndexes.get(ctx, addr)
			if err != nil {
				return err
			}
			return c.waitApplied(ctx, index)
		}
		// Leads, but has not applied its predecessors' entries yet.
		select {
		case <-changed:
		case <-timer.C:
			return api.Errorf(api.CodeUnavailable, "this controller was elected leader and is still applying the log: try again")
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// readIndex is the leader's side of a follower's read: it checks with a
// quorum that it still leads and returns the index it has applied.
// Just elected, it first applies the log of former terms (its barrier),
// up to electionWait: a follower's read waits for that, as a read on the
// leader does.
func (c *Controller) readIndex(ctx context.Context) (api.ReadIndexResponse, error) {
	timer := time.NewTimer(electionWait)
	defer timer.Stop()
	for {
		ready, changed := c.leaderReady()
		if ready {
			break
		}
		if c.raft.raft.State() != raft.Leader {
			return api.ReadIndexResponse{}, api.Errorf(api.CodeUnavailable, "this controller does not lead: try again")
		}
		select {
		case <-changed:
		case <-timer.C:
			return api.ReadIndexResponse{}, api.Errorf(api.CodeUnavailable, "this controller was elected leader and is still applying the log: try again")
		case <-ctx.Done():
			return api.ReadIndexResponse{}, context.Cause(ctx)
		}
	}
	c.readIndexServed.Add(1)
	if err := c.raft.raft.VerifyLeader().Error(); err != nil {
		return api.ReadIndexResponse{}, api.Errorf(api.CodeUnavailable, "this controller could not confirm it leads: %v: try again", err)
	}
	have, _ := c.applied.get()
	c.nudgeFollowers() // the asker waits to have applied it
	return api.ReadIndexResponse{Index: max(have, c.raft.raft.AppliedIndex())}, nil
}

// consistent wraps a route's handler with the read barrier, unless the
// request asks for a stale read (?stale=true): answered from this
// controller's state as it is.
func (c *Controller) consistent(rt route) serveFunc {
	writeErr := reply.Error
	if rt.aws {
		writeErr = writeAWSError
	}
	serve := rt.serve
	return func(w http.ResponseWriter, r *http.Request, who caller) {
		if stale, _ := strconv.ParseBool(r.URL.Query().Get(api.StaleParam)); !stale {
			if err := c.readBarrier(r.Context()); err != nil {
				writeErr(w, err)
				return
			}
		}
		serve(w, r, who)
	}
}

// noBarrier lists the routes served without a read barrier: the health
// check, joining, and the raft configuration (which must answer when
// there is no leader, to show why).
var noBarrier = map[string]bool{
	api.PathHealth: true, api.PathClusterJoin: true, api.PathOperatorPeers: true,
	api.PathOperatorAddPeer: true, api.PathOperatorRemove: true, api.PathNodeBeat: true,
	api.PathSnapshotRestore: true,
}

// dialError marks an error of dialling a peer: nothing was sent.
type dialError struct{ err error }

func (e dialError) Error() string { return e.err.Error() }
func (e dialError) Unwrap() error { return e.err }

// peerClient is the HTTP client of the internal API: over the raft port,
// with mutual TLS.
func (c *Controller) newPeerClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialTLSContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			conn, err := c.raft.peers.dial(ctx, addr, muxRPC)
			if err != nil {
				return nil, dialError{err}
			}
			return conn, nil
		},
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}}
}

// callPeer POSTs req to path on the controller at raft address addr and
// decodes its answer into resp. A controller that cannot be reached is
// Unavailable (nothing was sent); a connection lost after the request was
// sent leaves the outcome unknown (Internal).
func (c *Controller) callPeer(ctx context.Context, addr, path string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode %s request: %w", path, err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build %s request: %w", path, err)
	}
	hr.Header.Set("Content-Type", "application/json")
	res, err := c.peerClient.Do(hr)
	if err != nil {
		var de dialError
		if errors.As(err, &de) {
			return api.Errorf(api.CodeUnavailable, "the leader (%s) cannot be reached: %v: try again once another is elected", addr, de.err)
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if path != api.PathInternalApply { // reads and membership changes may be asked again
			return api.Errorf(api.CodeUnavailable, "the connection to the leader (%s) broke: %v: try again", addr, err)
		}
		return api.Errorf(api.CodeOutcomeUnknown, "the connection to the leader (%s) broke during the request: %v: it may or may not have been done; check before you repeat it (a submit sent with a client token may be sent again)", addr, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		if path != api.PathInternalApply {
			return api.Errorf(api.CodeUnavailable, "read the leader's answer to %s: %v: try again", path, err)
		}
		return api.Errorf(api.CodeOutcomeUnknown, "read the leader's answer to %s: %v: it may or may not have been done (a submit sent with a client token may be sent again)", path, err)
	}
	if res.StatusCode/100 != 2 {
		var e api.Error
		if json.Unmarshal(data, &e) == nil && e.Message != "" {
			return &e
		}
		return api.Errorf(api.CodeInternal, "%s at %s: HTTP %d: %s", path, addr, res.StatusCode, bytes.TrimSpace(data))
	}
	if resp == nil {
		return nil
	}
	if err := json.Unmarshal(data, resp); err != nil {
		return api.Errorf(api.CodeInternal, "decode the answer of %s at %s: %v", path, addr, err)
	}
	return nil
}

// serveInternal serves the internal API on the raft port's RPC
// connections: only controllers, with certificates from the cluster CA,
// get there.
func (c *Controller) serveInternal() {
	if c.raft.peers == nil { // in memory (Config.InMemory): one voter, no peers
		return
	}
	mux := http.NewServeMux()
	internal := func(path string, fn func(ctx context.Context, body []byte) (any, error)) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || r.Method != http.MethodPost {
				reply.Error(w, api.Errorf(api.CodeForbidden, "%s: only controllers may call this, over mutual TLS", path))
				return
			}
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 2*bodySubmitBatch)) // the largest command, in base64
			if err != nil {
				reply.Error(w, api.Errorf(api.CodeInvalid, "%s: read the request: %v", path, err))
				return
			}
			out, err := fn(r.Context(), body)
			if err != nil {
				reply.Error(w, err)
				return
			}
			reply.JSON(w, http.StatusOK, out)
		})
	}
	internal(api.PathInternalApply, func(ctx context.Context, body []byte) (any, error) {
		var req api.ApplyRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, api.Errorf(api.CodeInvalid, "forwarded command: %v", err)
		}
		if c.raft.raft.State() != raft.Leader {
			return nil, api.Errorf(api.CodeUnavailable, "this controller no longer leads: try again")
		}
		res, err := c.applier.local.applyEntry(ctx, req.Entry)
		if err != nil && res.Err == nil {
			var ae *api.Error
			if !errors.As(err, &ae) {
				ae = api.Errorf(api.CodeInternal, "%v", err)
			}
			res.Err = ae
		}
		data, err := json.Marshal(res)
		if err != nil {
			return nil, api.Errorf(api.CodeInternal, "encode the result: %v", err)
		}
		have, _ := c.applied.get()
		c.nudgeFollowers()
		return api.ApplyResponse{Result: data, Index: have}, nil
	})
	internal(api.PathInternalReadIndex, func(ctx context.Context, _ []byte) (any, error) {
		return c.readIndex(ctx)
	})
	internal(api.PathInternalAddVoter, func(ctx context.Context, body []byte) (any, error) {
		var req api.RaftPeerRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, api.Errorf(api.CodeInvalid, "add voter: %v", err)
		}
		return empty{}, c.addVoter(ctx, req)
	})
	internal(api.PathInternalRemove, func(ctx context.Context, body []byte) (any, error) {
		var req api.RaftPeerRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, api.Errorf(api.CodeInvalid, "remove peer: %v", err)
		}
		return empty{}, c.removePeer(ctx, req)
	})
	l := &rpcListener{m: c.raft.peers, closed: make(chan struct{})}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ConnState: c.raft.peers.connState,
		BaseContext: func(net.Listener) context.Context { return c.requests },
		ErrorLog:    slog.NewLogLogger(c.log.Handler(), slog.LevelWarn)}
	c.servers = append(c.servers, srv)
	c.goRun(func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error("internal api server stopped", "err", err)
		}
	})
}

// readIndexer shares a follower's read-index requests among the reads
// that wait for one: a read is answered by a request that started after
// it came (so the index covers every write acknowledged before it), and
// while one request is out, the reads that come meanwhile wait for the
// next, which asks for them all: under many reads, one round trip to the
// leader at a time, not one per read.
type readIndexer struct {
	c       *Controller
	mu      sync.Mutex
	waiting []chan readIndexResult // reads for the next request
	addr    string                 // the leader the latest read was told of
	running bool
}

type readIndexResult struct {
	index uint64
	err   error
}

// get returns a read index from the leader at addr that was asked for
// after get was called.
func (r *readIndexer) get(ctx context.Context, addr string) (uint64, error) {
	ch := make(chan readIndexResult, 1)
	r.mu.Lock()
	r.waiting = append(r.waiting, ch)
	r.addr = addr
	if !r.running {
		r.running = true
		go r.run()
	}
	r.mu.Unlock()
	select {
	case res := <-ch:
		return res.index, res.err
	case <-ctx.Done():
		return 0, context.Cause(ctx)
	}
}

// run asks the leader for read indexes while reads wait for one (the
// leader as the latest of them knew it: leadership may have moved).
func (r *readIndexer) run() {
	for {
		r.mu.Lock()
		batch, addr := r.waiting, r.addr
		r.waiting = nil
		if len(batch) == 0 {
			r.running = false
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		ctx, cancel := context.WithTimeout(r.c.requests, electionWait)
		var resp api.ReadIndexResponse
		err := r.c.callPeer(ctx, addr, api.PathInternalReadIndex, empty{}, &resp)
		cancel()
		for _, ch := range batch {
			ch <- readIndexResult{resp.Index, err}
		}
	}
}

// nudgeFollowers tells the followers soon that what the leader just
// committed is committed: raft sends its commit index with the next
// entries, or else with the next heartbeat, up to a tenth of the heartbeat
// timeout later, while the follower that forwarded a command waits to
// have applied it. A barrier is such an entry. One at a time: under load
// the commands' own entries carry the news.
func (c *Controller) nudgeFollowers() {
	if !c.nudging.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer c.nudging.Store(false)
		c.raft.raft.Barrier(electionWait).Error()
	}()
}
