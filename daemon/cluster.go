package daemon

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
)

// A cluster is formed one controller at a time. The first (no -join)
// bootstraps itself as the one voter, as a dev controller does. Each
// other starts with -join (controllers' TCP API addresses) and the server
// token (DATA_DIR/server-token of the first: shoal-server:SECRET:CAHASH):
//
//  1. over TLS, pinning the CA hash of the token, it presents the secret
//     to a controller's API (PathClusterJoin) and receives what all
//     controllers share: the CA (certificate and key), the access-key
//     sealing key and the node join secret; and that controller's raft
//     address;
//  2. it starts raft with no state of its own, over mutual TLS with a
//     certificate from that CA;
//  3. it asks that controller, on its raft port (PathInternalAddVoter),
//     to add it as a voter; a follower passes the request to the leader,
//     which adds it and sends it the log or, if the log was compacted, a
//     snapshot.
//
// A controller that has raft state (a restart) starts as it is: it is
// in the configuration already, and needs no token. -bootstrap-expect N
// with no -join does not delay anything: the first controller leads alone
// until the others join, and the agent reports when N voters are in.
// With -join and a token of NewServerToken, N controllers started alike
// form the cluster together (cluster_bootstrap.go).

// serverTokenFile is where a controller keeps the server token.
const serverTokenFile = "server-token"

// loadServerToken returns the server secret kept at path, creating one on
// first start, and keeps the file's token pinned to caHash.
func loadServerToken(path, caHash string) (string, error) {
	var secret string
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if secret, _, err = api.ParseServerToken(string(data)); err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
	case os.IsNotExist(err):
		buf := make([]byte, 24)
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("make server token: %w", err)
		}
		secret = hex.EncodeToString(buf)
	default:
		return "", fmt.Errorf("read server token: %w", err)
	}
	want := api.FormatServerToken(secret, caHash) + "\n"
	if string(data) != want {
		if err := writePrivateFile(path, []byte(want)); err != nil {
			return "", fmt.Errorf("write server token: %w", err)
		}
	}
	return secret, nil
}

// joinCluster asks the controllers at cfg.Join, in turn, for the
// cluster's secrets and writes them into the data dir (step 1 above). It
// returns the raft address of the controller that answered.
func joinCluster(cfg Config) (string, error) {
	if cfg.ServerToken == "" {
		return "", fmt.Errorf("this controller has no raft state yet and -join is given: give -server-token (or SHOAL_SERVER_TOKEN), the whole line of an existing controller's DATA_DIR/controller/server-token")
	}
	secret, hash, err := api.ParseServerToken(cfg.ServerToken)
	if err != nil {
		return "", err
	}
	var errs []error
	for _, addr := range cfg.Join {
		if strings.HasPrefix(addr, "http://") {
			return "", fmt.Errorf("-join %s: the cluster's CA key and secrets do not travel over plain HTTP: give the controller's TLS address (HOST:PORT of its -bind)", addr)
		}
		cl, err := client.NewWith(addr, client.Options{CAHash: hash})
		if err != nil {
			return "", fmt.Errorf("-join %s: %w", addr, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var resp api.ClusterJoinResponse
		err = cl.Call(ctx, api.PathClusterJoin, api.ClusterJoinRequest{Secret: secret, ID: cfg.NodeID, RaftAddr: cfg.RaftAddr}, &resp)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			continue
		}
		if err := writeClusterSecrets(cfg.DataDir, hash, secret, resp); err != nil {
			return "", err
		}
		return resp.RaftAddr, nil
	}
	return "", fmt.Errorf("join the cluster: no controller of -join answered: %w", errors.Join(errs...))
}

// writeClusterSecrets stores what a joining controller received, after
// checking that the CA is the one its token pins.
func writeClusterSecrets(dir, hash, serverSecret string, resp api.ClusterJoinResponse) error {
	caPath := filepath.Join(dir, caCertFile)
	for _, f := range []struct {
		name string
		data []byte
	}{{caKeyFile, resp.CAKey}, {caCertFile, resp.CACert}, {keysKeyFile, resp.KeysKey}} {
		if err := writePrivateFile(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	ca, err := loadCA(dir)
	if err != nil {
		return fmt.Errorf("the CA received from the cluster: %w", err)
	}
	if ca.hash() != hash {
		os.Remove(caPath)
		return fmt.Errorf("the CA received from the cluster (%s) is not the one the server token pins (%s)", ca.hash(), hash)
	}
	if err := writeJoinToken(filepath.Join(dir, joinTokenFile), resp.JoinSecret, hash); err != nil {
		return err
	}
	return writePrivateFile(filepath.Join(dir, serverTokenFile), []byte(api.FormatServerToken(serverSecret, hash)+"\n"))
}

// clusterJoin answers a controller that presents the server secret with
// the cluster's secrets. It is served on the TLS API to anyone: the
// secret is the proof, and the caller checked this controller's CA
// against the token's pin before sending it.
func (c *Controller) clusterJoin(_ context.Context, _ caller, req api.ClusterJoinRequest) (api.ClusterJoinResponse, error) {
	if c.cfg.InsecureHTTP {
		return api.ClusterJoinResponse{}, api.Errorf(api.CodeForbidden,
			"join the cluster: this controller serves plain HTTP (-insecure-http), over which the cluster's CA key would travel in clear: join through a controller serving TLS")
	}
	if subtle.ConstantTimeCompare([]byte(req.Secret), []byte(c.serverSecret)) != 1 {
		return api.ClusterJoinResponse{}, api.Errorf(api.CodeUnauthenticated,
			"join the cluster: the server secret is not this cluster's: give the joining controller -server-token from an existing controller's DATA_DIR/controller/server-token")
	}
	resp := api.ClusterJoinResponse{RaftAddr: string(c.raft.transport.LocalAddr()), ID: c.cfg.NodeID, Formed: c.hasConfiguration()}
	if req.Discover {
		c.log.Debug("a controller forming the cluster asked who this one is", "id", req.ID, "raftAddr", req.RaftAddr)
		return resp, nil
	}
	var err error
	for _, f := range []struct {
		name string
		to   *[]byte
	}{{caCertFile, &resp.CACert}, {caKeyFile, &resp.CAKey}, {keysKeyFile, &resp.KeysKey}} {
		if *f.to, err = os.ReadFile(filepath.Join(c.cfg.DataDir, f.name)); err != nil {
			return api.ClusterJoinResponse{}, api.Errorf(api.CodeInternal, "join the cluster: read %s: %v", f.name, err)
		}
	}
	if resp.JoinSecret, err = c.joinSecret(); err != nil { // the current one, rotated or not
		return api.ClusterJoinResponse{}, err
	}
	c.log.Info("a controller asked to join: it was given the cluster's secrets", "id", req.ID, "raftAddr", req.RaftAddr)
	return resp, nil
}

// askVoter asks the controller at raftAddr (step 3 above) to add this one
// as a voter, retrying while no leader is known.
func (c *Controller) askVoter(ctx context.Context, raftAddr string) error {
	req := api.RaftPeerRequest{ID: c.cfg.NodeID, Address: string(c.raft.transport.LocalAddr())}
	var last error
	for attempt := 0; attempt < 30; attempt++ {
		err := c.callPeer(ctx, raftAddr, api.PathInternalAddVoter, req, nil)
		if err == nil {
			c.log.Info("joined the cluster as a voter", "id", req.ID, "via", raftAddr)
			return nil
		}
		last = err
		if !api.IsCode(err, api.CodeUnavailable) {
			return fmt.Errorf("join the cluster as a voter via %s: %w", raftAddr, err)
		}
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return fmt.Errorf("join the cluster as a voter via %s: %w", raftAddr, last)
}

// addVoter adds a voter (the leader), or passes the request to the leader.
func (c *Controller) addVoter(ctx context.Context, req api.RaftPeerRequest) error {
	if req.ID == "" || req.Address == "" {
		return api.Errorf(api.CodeInvalid, "add a raft peer: give its id and its raft address (HOST:PORT)")
	}
	if c.raft.raft.State() != raft.Leader {
		addr, err := c.leaderAddr(ctx)
		if err != nil {
			return err
		}
		if addr != "" {
			return c.callPeer(ctx, addr, api.PathInternalAddVoter, req, nil)
		}
	}
	if err := c.raft.raft.AddVoter(raft.ServerID(req.ID), raft.ServerAddress(req.Address), 0, 30*time.Second).Error(); err != nil {
		return raftChangeError("add voter "+req.ID, err)
	}
	c.log.Info("added a raft voter", "id", req.ID, "address", req.Address)
	return nil
}

// removePeer removes a member (the leader), or passes the request to it.
func (c *Controller) removePeer(ctx context.Context, req api.RaftPeerRequest) error {
	if req.ID == "" {
		return api.Errorf(api.CodeInvalid, "remove a raft peer: give its id (shoal operator raft list-peers shows them)")
	}
	f := c.raft.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return api.Errorf(api.CodeUnavailable, "read the raft configuration: %v", err)
	}
	known := false
	for _, s := range f.Configuration().Servers {
		known = known || string(s.ID) == req.ID
	}
	if !known {
		return api.Errorf(api.CodeNotFound, "remove a raft peer: %s is not in the configuration (shoal operator raft list-peers shows who is)", req.ID)
	}
	if c.raft.raft.State() != raft.Leader {
		addr, err := c.leaderAddr(ctx)
		if err != nil {
			return err
		}
		if addr != "" {
			return c.callPeer(ctx, addr, api.PathInternalRemove, req, nil)
		}
	}
	if err := c.raft.raft.RemoveServer(raft.ServerID(req.ID), 0, 30*time.Second).Error(); err != nil {
		return raftChangeError("remove peer "+req.ID, err)
	}
	c.log.Info("removed a raft peer", "id", req.ID)
	return nil
}

func raftChangeError(what string, err error) error {
	if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrRaftShutdown) {
		return api.Errorf(api.CodeUnavailable, "%s: %v: try again once a leader is elected", what, err)
	}
	return api.Errorf(api.CodeInternal, "%s: %v", what, err)
}

// peers lists the raft configuration (this controller's view: answered
// without a leader, to see what is wrong when there is none).
func (c *Controller) peers(_ context.Context, _ caller, _ empty) (api.RaftPeersResponse, error) {
	f := c.raft.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return api.RaftPeersResponse{}, api.Errorf(api.CodeUnavailable, "read the raft configuration: %v", err)
	}
	_, leader := c.raft.raft.LeaderWithID()
	resp := api.RaftPeersResponse{Index: f.Index()}
	for _, s := range f.Configuration().Servers {
		resp.Peers = append(resp.Peers, api.RaftPeer{ID: string(s.ID), Address: string(s.Address),
			Suffrage: s.Suffrage.String(), Leader: s.ID == leader})
	}
	return resp, nil
}

func (c *Controller) operatorAddPeer(ctx context.Context, _ caller, req api.RaftPeerRequest) (empty, error) {
	return empty{}, c.addVoter(ctx, req)
}

func (c *Controller) operatorRemovePeer(ctx context.Context, _ caller, req api.RaftPeerRequest) (empty, error) {
	return empty{}, c.removePeer(ctx, req)
}

// leadership is whether this controller leads and has applied every entry
// of earlier terms (a barrier in its own term): reads from its state are
// then current, and the leader-only loops run.
type leadership struct {
	mu      sync.Mutex
	ready   bool
	term    uint64        // the term of the barrier that made it ready
	changed chan struct{} // closed, and replaced, at every change
}

func newLeadership() *leadership { return &leadership{changed: make(chan struct{})} }

func (l *leadership) set(ready bool, term uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ready != ready || l.term != term {
		l.ready, l.term = ready, term
		close(l.changed)
		l.changed = make(chan struct{})
	}
}

func (l *leadership) get() (bool, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ready, l.changed
}

// leaderReady reports whether this controller leads now and has applied
// the entries of former terms: its barrier was of the term it leads in. A
// controller that lost leadership and won it again has a ready flag of the
// former term until lead sees the change: in between, another leader may
// have committed entries that it has not applied.
func (c *Controller) leaderReady() (bool, <-chan struct{}) {
	c.leader.mu.Lock()
	ready, term, changed := c.leader.ready, c.leader.term, c.leader.changed
	c.leader.mu.Unlock()
	return ready && c.raft.raft.State() == raft.Leader && c.raft.raft.CurrentTerm() == term, changed
}

// leaderTask is work only the leader does: it runs from when this
// controller leads (after a barrier) until it stops leading or shuts down.
type leaderTask struct {
	name string
	// begin, if set, runs before any task and before this controller
	// is ready as leader: what a request may count on once it is.
	begin func()
	run   func(ctx context.Context)
}

// leaderLoop runs tasks while this controller leads, as the cron loop
// does: it watches raft's state changes, and on taking office waits for
// a barrier (every entry of former leaders applied) before it starts
// them, so that they act on the whole state; on stepping down it cancels
// them and waits for them to return before the next term can start them
// again, so that two of the same task never run at once. Their commands
// are never forwarded (leaderOnly): one that a former leader proposes
// fails, it is not passed on to its successor.
func (c *Controller) leaderLoop(ctx context.Context, tasks []leaderTask) {
	obs := make(chan raft.Observation, 16)
	o := raft.NewObserver(obs, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.RaftState)
		return ok
	})
	c.raft.raft.RegisterObserver(o)
	defer c.raft.raft.DeregisterObserver(o)
	for ctx.Err() == nil {
		var retry <-chan time.Time
		if c.raft.raft.State() == raft.Leader {
			term := c.raft.raft.CurrentTerm()
			if err := c.raft.raft.Barrier(10 * time.Second).Error(); err != nil {
				c.log.Warn("leader: wait for the log before starting leader work", "err", err)
				retry = time.After(time.Second)
			} else if c.raft.raft.State() == raft.Leader && c.raft.raft.CurrentTerm() == term {
				c.lead(ctx, obs, tasks, term)
				continue
			} else {
				continue // another term began: its own barrier
			}
		}
		select {
		case <-obs:
		case <-retry:
		case <-ctx.Done():
		}
	}
}

// lead runs tasks until this controller stops leading or ctx ends.
func (c *Controller) lead(ctx context.Context, obs <-chan raft.Observation, tasks []leaderTask, term uint64) {
	lctx, cancel := context.WithCancel(withLeaderOnly(ctx))
	for _, t := range tasks {
		if t.begin != nil {
			t.begin()
		}
	}
	var wg sync.WaitGroup
	for _, t := range tasks {
		wg.Add(1)
		go func() { defer wg.Done(); t.run(lctx) }()
	}
	c.leader.set(true, term)
	c.log.Info("leading: leader work started", "id", c.cfg.NodeID, "term", term)
	for lctx.Err() == nil {
		select {
		case <-obs:
			// Lost, or lost and won again in another term: the next
			// term's work starts after its own barrier.
			if c.raft.raft.State() != raft.Leader || c.raft.raft.CurrentTerm() != term {
				cancel()
			}
		case <-lctx.Done():
		}
	}
	c.leader.set(false, 0)
	cancel()
	wg.Wait()
	if ctx.Err() == nil {
		c.log.Info("no longer leading: leader work stopped", "id", c.cfg.NodeID)
	}
}

type leaderOnlyKey struct{}

// withLeaderOnly marks ctx as leader work: its commands are proposed
// here or fail, never forwarded.
func withLeaderOnly(ctx context.Context) context.Context {
	return context.WithValue(ctx, leaderOnlyKey{}, true)
}

func isLeaderOnly(ctx context.Context) bool {
	v, _ := ctx.Value(leaderOnlyKey{}).(bool)
	return v
}

// leaderTasks is the leader's work: node liveness, scheduling, time
// limits, deadlines and sealing access keys stored in clear.
func (c *Controller) leaderTasks() []leaderTask {
	return []leaderTask{
		// The nodes' timers run before the leader is ready: a node's
		// heartbeat (or registration) is never refused by a leader
		// that is (see beatLeading).
		{name: "heartbeats", begin: c.startHeartbeats, run: func(ctx context.Context) {
			<-ctx.Done()
			c.stopHeartbeats()
		}},
		{name: "scheduler", run: c.scheduleLoop},
		{name: "priority settings", run: c.syncPrioritySettings},
		{name: "running usage", run: c.chargeRunningUsage},
		{name: "state time limits", run: c.stateTimeLimits},
		{name: "deadlines", run: c.deadlines},
		{name: "configured licenses", run: c.configureLicenses},
		{name: "seal keys", run: func(ctx context.Context) {
			if err := c.sealKeys(ctx); err != nil && ctx.Err() == nil {
				c.log.Error("seal access keys", "err", err)
			}
		}},
	}
}

// cluster reports whether cfg forms or joins a cluster of several
// controllers (raft timings of a cluster, reads checked with the leader).
func (cfg Config) cluster() bool { return len(cfg.Join) > 0 || cfg.BootstrapExpect > 1 }

// WaitVoters waits until the raft configuration has n voters or ctx ends
// (the agent's -bootstrap-expect report).
func (c *Controller) WaitVoters(ctx context.Context, n int) error {
	obs := make(chan raft.Observation, 16)
	o := raft.NewObserver(obs, false, nil)
	c.raft.raft.RegisterObserver(o)
	defer c.raft.raft.DeregisterObserver(o)
	tick := time.NewTicker(time.Second) // configuration changes are not all observed
	defer tick.Stop()
	for {
		if f := c.raft.raft.GetConfiguration(); f.Error() == nil {
			voters := 0
			for _, s := range f.Configuration().Servers {
				if s.Suffrage == raft.Voter {
					voters++
				}
			}
			if voters >= n {
				return nil
			}
		}
		select {
		case <-obs:
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// RaftAddr is the address other controllers reach this one's raft at.
func (c *Controller) RaftAddr() string { return string(c.raft.transport.LocalAddr()) }

// ServerToken is what a new controller is given to join this one's
// cluster: shoal-server:SECRET:sha256:CAHASH (DATA_DIR/server-token).
func (c *Controller) ServerToken() string { return api.FormatServerToken(c.serverSecret, c.ca.hash()) }

// IsLeader reports whether this controller leads now.
func (c *Controller) IsLeader() bool { return c.raft.raft.State() == raft.Leader }

// handOver passes leadership to another voter before this controller
// stops (a planned restart): the cluster has a leader again within a
// round trip, not after an election timeout.
func (c *Controller) handOver() {
	if c.raft == nil || c.raft.raft.State() != raft.Leader || c.aloneInConfiguration() {
		return
	}
	done := make(chan error, 1)
	go func() { done <- c.raft.raft.LeadershipTransfer().Error() }()
	select {
	case err := <-done:
		if err != nil {
			c.log.Warn("hand leadership over before stopping", "err", err)
		} else {
			c.log.Info("handed leadership over before stopping")
		}
	case <-time.After(closeTimeout):
		c.log.Warn("leadership not handed over within " + closeTimeout.String() + "; stopping anyway")
	}
}
