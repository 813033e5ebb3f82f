package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
)

// freePort returns a loopback address nobody listens on (a cluster's
// controllers keep their raft addresses across restarts).
// freePort returns a loopback address that no one listens on, for a
// controller started later. Its port is below Linux's ephemeral range
// (32768 and up), from which port 0 and every outgoing connection take
// theirs: one taken there could be a connection's local port by the time
// the controller listens on it (it was, once in a few hundred runs). No
// port is handed out twice in one test binary.
func freePort(t *testing.T) string {
	t.Helper()
	for range 1000 {
		port := 20000 + rand.IntN(12000)
		if _, taken := handedPorts.LoadOrStore(port, true); taken {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		return l.Addr().String()
	}
	t.Fatal("no free port in 20000-31999")
	return ""
}

var handedPorts sync.Map // port → true: handed out by freePort

type clusterMember struct {
	cfg Config
	c   *Controller
}

func startMember(t *testing.T, cfg Config) *Controller {
	t.Helper()
	c, err := Start(cfg)
	if err != nil {
		t.Fatalf("start controller %s: %v", cfg.NodeID, err)
	}
	return c
}

// startCluster starts n controllers on loopback: the first bootstraps, the
// others join it with its server token.
func startCluster(t *testing.T, n int) []*clusterMember { return startClusterWith(t, n, nil) }

// startClusterWith is startCluster with each controller's configuration
// changed by edit (nil: none).
func startClusterWith(t *testing.T, n int, edit func(*Config)) []*clusterMember {
	t.Helper()
	var ms []*clusterMember
	for i := 0; i < n; i++ {
		dir := t.TempDir()
		cfg := Config{DataDir: filepath.Join(dir, "data"), Socket: filepath.Join(dir, "shoal.sock"),
			Bind: "127.0.0.1:0", RaftAddr: freePort(t), NodeID: fmt.Sprintf("c%d", i+1), BootstrapExpect: n,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if testing.Verbose() {
			cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("ctl", cfg.NodeID)
		}
		if i > 0 {
			cfg.Join = []string{ms[0].c.Addrs()[1]}
			cfg.ServerToken = ms[0].c.ServerToken()
		}
		if edit != nil {
			edit(&cfg)
		}
		m := &clusterMember{cfg: cfg, c: startMember(t, cfg)}
		ms = append(ms, m)
		t.Cleanup(func() { m.c.Close() })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, m := range ms {
		if err := m.c.WaitVoters(ctx, n); err != nil {
			t.Fatalf("%s: %d voters: %v", m.cfg.NodeID, n, err)
		}
	}
	return ms
}

// waitLeading waits until c leads and has applied what it committed
// before (its leader-only work has started).
func waitLeading(t *testing.T, c *Controller) {
	t.Helper()
	if err := c.waitLeaderReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// A connection to the raft port without a certificate from the cluster
// CA, or with one from another CA, is refused in the handshake; one with
// a certificate from the cluster CA reaches the internal API.
func TestPeerTransportRefusesStrangers(t *testing.T) {
	dir := t.TempDir()
	c := startMember(t, Config{DataDir: filepath.Join(dir, "data"), Socket: filepath.Join(dir, "shoal.sock"),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer c.Close()
	addr := c.RaftAddr()
	refused := func(what string, conf *tls.Config) {
		t.Helper()
		conn, err := tls.Dial("tcp", addr, conf)
		if err == nil {
			// TLS 1.3: the server checks the client's certificate after
			// the client has finished; its refusal comes with the first read.
			conn.Write([]byte{muxRaft, 0})
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = conn.Read(make([]byte, 1))
			conn.Close()
		}
		if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%s: connection not refused (err %v)", what, err)
		}
		t.Logf("%s: refused: %v", what, err)
	}
	pool := c.raft.peers.tls.pool
	refused("no client certificate", &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	other, err := loadCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := other.peerTLS([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	refused("a certificate from another CA", &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{stranger.cert}})
	// The node join token's holder has no certificate at all: it cannot
	// reach the internal API either. A controller's certificate can, once
	// this controller leads (after its barrier) and so answers read indexes.
	waitLeading(t, c)
	var resp api.ReadIndexResponse
	if err := c.callPeer(context.Background(), addr, api.PathInternalReadIndex, empty{}, &resp); err != nil {
		t.Fatalf("read index with the cluster's certificate: %v", err)
	}
	if resp.Index == 0 {
		t.Fatalf("read index 0")
	}
	// Plain HTTP on the raft port gets nothing either.
	res, err := (&http.Client{Timeout: 5 * time.Second}).Post("http://"+addr+api.PathInternalApply, "application/json", nil)
	if err == nil {
		res.Body.Close()
		t.Fatalf("plain HTTP on the raft port answered %s", res.Status)
	}
}

// Three controllers form a cluster over mutual TLS; a command sent to a
// follower is forwarded to the leader and is visible on the follower as
// soon as the call returns; reads on the other follower are current. When
// the leader stops, another is elected and takes writes; the old one
// restarts with its data dir, without a token, and catches up.
func TestClusterForwardsAndFailsOver(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("submitting as root over the socket")
	}
	ms := startCluster(t, 3)
	leader := -1
	for i, m := range ms {
		if m.c.IsLeader() {
			leader = i
		}
	}
	if leader != 0 {
		t.Fatalf("the first controller should still lead, got %d", leader)
	}
	ctx := context.Background()
	f1, f2 := client.New(ms[1].cfg.Socket, ""), client.New(ms[2].cfg.Socket, "")
	// Registered through a follower (forwarded to the leader).
	if err := f2.Call(ctx, api.PathNodeRegister, api.RegisterNodeRequest{
		Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 8, MemoryMB: 8192}}, nil); err != nil {
		t.Fatalf("register a node through a follower: %v", err)
	}
	spec := api.JobSpec{Name: "ha", Script: "#!/bin/sh\ntrue\n"}
	resp, err := f1.Submit(ctx, api.SubmitJobRequest{JobSpec: spec})
	if err != nil {
		t.Fatalf("submit through a follower: %v", err)
	}
	if ms[1].c.fsm.State().Job(resp.ID) == nil {
		t.Fatalf("job %d not in the follower's state when its submit returned", resp.ID)
	}
	if j, err := f2.Job(ctx, resp.ID); err != nil || j.ID != resp.ID {
		t.Fatalf("read job %d on the other follower: %v", resp.ID, err)
	}
	// A submit with a client token, sent to one follower and again to the
	// other and to the leader (its answer lost): one job.
	var once []uint64
	for _, cl := range []*client.Client{f1, f2, client.New(ms[0].cfg.Socket, "")} {
		var r api.SubmitJobResponse
		if err := cl.CallWithToken(ctx, api.PathSubmit, "cluster-token", api.SubmitJobRequest{JobSpec: spec}, &r); err != nil {
			t.Fatalf("tokened submit: %v", err)
		}
		once = append(once, r.ID)
	}
	if once[0] != once[1] || once[0] != once[2] || once[0] == resp.ID {
		t.Fatalf("one tokened submit sent to three controllers: jobs %v, want one new job", once)
	}
	// Many reads at once on a follower share read-index requests.
	served := ms[0].c.readIndexServed.Load()
	var wg sync.WaitGroup
	readErrs := make(chan error, 200)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f2.Job(ctx, resp.ID); err != nil {
				readErrs <- err
			}
		}()
	}
	wg.Wait()
	close(readErrs)
	for err := range readErrs {
		t.Fatalf("concurrent read on a follower: %v", err)
	}
	asked := ms[0].c.readIndexServed.Load() - served
	t.Logf("200 concurrent reads on a follower asked the leader for %d read indexes", asked)
	if asked >= 200 {
		t.Errorf("200 concurrent reads asked for %d read indexes: they should share them", asked)
	}
	var jobs api.ListJobsResponse
	if err := f2.CallStale(ctx, api.PathListJobs, api.ListJobsRequest{IDs: []uint64{resp.ID}}, &jobs); err != nil {
		t.Fatalf("stale read: %v", err)
	}

	// The leader goes; a client of all three follows the new one.
	all := client.New(ms[0].cfg.Socket+","+ms[1].cfg.Socket+","+ms[2].cfg.Socket, "")
	stopped := time.Now()
	ms[0].c.Close()
	resp2, err := all.Submit(ctx, api.SubmitJobRequest{JobSpec: spec})
	if err != nil {
		t.Fatalf("submit after the leader stopped: %v", err)
	}
	t.Logf("writes accepted again %s after the leader stopped", time.Since(stopped).Round(time.Millisecond))
	if !ms[1].c.IsLeader() && !ms[2].c.IsLeader() {
		t.Fatalf("no follower leads after the failover")
	}

	// The old leader rejoins with its data dir and no token.
	cfg := ms[0].cfg
	cfg.ServerToken = ""
	cfg.Join = []string{ms[1].c.Addrs()[1]}
	ms[0].c = startMember(t, cfg)
	j, err := client.New(cfg.Socket, "").Job(ctx, resp2.ID)
	if err != nil || j.ID != resp2.ID {
		t.Fatalf("the restarted controller does not have job %d: %v", resp2.ID, err)
	}
	peers, err := ms[0].c.peers(ctx, caller{}, empty{})
	if err != nil || len(peers.Peers) != 3 {
		t.Fatalf("peers after the rejoin: %+v %v", peers, err)
	}
}

// startCompactingLeader starts a one-controller cluster that keeps a
// single trailing log entry after each snapshot (so a controller joining
// later must catch up from a snapshot) and registers a node n1 on it.
func startCompactingLeader(t *testing.T) ([]*clusterMember, *client.Client) {
	t.Helper()
	old := raftTrailingLogs
	raftTrailingLogs = 1
	t.Cleanup(func() { raftTrailingLogs = old })
	ms := startCluster(t, 1)
	cl := client.New(ms[0].cfg.Socket, "")
	if err := cl.Call(context.Background(), api.PathNodeRegister, api.RegisterNodeRequest{
		Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 8, MemoryMB: 8192}}, nil); err != nil {
		t.Fatal(err)
	}
	return ms, cl
}

// A controller that joins after the log was compacted catches up from the
// leader's snapshot.
func TestNewControllerCatchesUpFromSnapshot(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("submitting as root over the socket")
	}
	ms, cl := startCompactingLeader(t)
	first := ms[0].c
	ctx := context.Background()
	var ids []uint64
	for i := 0; i < 5; i++ {
		resp, err := cl.Submit(ctx, api.SubmitJobRequest{JobSpec: api.JobSpec{Name: "snap", Command: []string{"true"}}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, resp.ID)
	}
	if err := first.raft.raft.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	dir := t.TempDir()
	cfg := Config{DataDir: filepath.Join(dir, "data"), Socket: filepath.Join(dir, "shoal.sock"), Bind: "127.0.0.1:0",
		RaftAddr: freePort(t), NodeID: "c2", Join: []string{first.Addrs()[1]}, ServerToken: first.ServerToken(),
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("ctl", "c2")}
	joined := startMember(t, cfg)
	defer joined.Close()
	for _, id := range ids {
		if j, err := client.New(cfg.Socket, "").Job(ctx, id); err != nil || j.ID != id {
			t.Fatalf("job %d on the new controller: %v", id, err)
		}
	}
	// Its reads waited for it to catch up, which it did from the snapshot.
	if got := joined.raft.raft.Stats()["last_snapshot_index"]; got == "0" {
		t.Fatalf("the new controller did not receive a snapshot: %v", joined.raft.raft.Stats())
	}
}

// All the controllers of a cluster stop at once and start again from
// their data dirs: they elect a leader among themselves and have every
// job; five controllers go on taking writes with two of them gone.
func TestClusterRestartsWholeAndFiveTolerateTwoLosses(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("submitting as root over the socket")
	}
	ms := startCluster(t, 5)
	ctx := context.Background()
	var sockets []string
	for _, m := range ms {
		sockets = append(sockets, m.cfg.Socket)
	}
	all := client.New(strings.Join(sockets, ","), "")
	all.FailoverWait = time.Minute // elections of five on a loaded test machine
	if err := all.Call(ctx, api.PathNodeRegister, api.RegisterNodeRequest{
		Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 8, MemoryMB: 8192}}, nil); err != nil {
		t.Fatal(err)
	}
	submit := func() uint64 {
		t.Helper()
		resp, err := all.Submit(ctx, api.SubmitJobRequest{JobSpec: api.JobSpec{Name: "r", Command: []string{"true"}}})
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
		return resp.ID
	}
	ids := []uint64{submit()}
	// Two go, the leader among them: three of five are a quorum. (The
	// leader hands over as it stops: the second is one that did not lead.)
	leader := -1
	for i, m := range ms {
		if m.c.IsLeader() {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatal("no controller leads")
	}
	ms[leader].c.Close()
	ms[(leader+1)%len(ms)].c.Close()
	ids = append(ids, submit())

	// Every controller stops, then all start again at once.
	for _, m := range ms {
		m.c.Close()
	}
	errs := make(chan error, len(ms))
	for _, m := range ms {
		go func() {
			c, err := Start(m.cfg)
			m.c = c
			errs <- err
		}()
	}
	for range ms {
		if err := <-errs; err != nil {
			t.Fatalf("restart: %v", err)
		}
	}
	for _, m := range ms {
		t.Cleanup(func() { m.c.Close() })
	}
	ids = append(ids, submit())
	for _, m := range ms {
		for _, id := range ids {
			if j, err := client.New(m.cfg.Socket, "").Job(ctx, id); err != nil || j.ID != id {
				t.Fatalf("%s after the restart: job %d: %v", m.cfg.NodeID, id, err)
			}
		}
	}
}

// A leader cut off from the others (its raft port's traffic dropped, both
// ways) stops leading within its lease; the majority elects another and
// takes writes. The cut-off controller takes no write and serves no read
// as current (its state is stale), though it answers a read that asks for
// stale data; once healed it converges.
func TestPartitionedLeader(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("submitting as root over the socket")
	}
	ms := startCluster(t, 3)
	cut := ms[0].c
	if !cut.IsLeader() {
		t.Fatal("the first controller should lead")
	}
	ctx := context.Background()
	spec := api.JobSpec{Name: "p", Command: []string{"true"}}
	cutClient := client.New(ms[0].cfg.Socket, "")
	if err := cutClient.Call(ctx, api.PathNodeRegister, api.RegisterNodeRequest{
		Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 8, MemoryMB: 8192}}, nil); err != nil {
		t.Fatal(err)
	}
	before, err := cutClient.Submit(ctx, api.SubmitJobRequest{JobSpec: spec})
	if err != nil {
		t.Fatal(err)
	}

	cut.raft.peers.setPartitioned(true)
	majority := client.New(ms[1].cfg.Socket+","+ms[2].cfg.Socket, "")
	start := time.Now()
	after, err := majority.Submit(ctx, api.SubmitJobRequest{JobSpec: spec})
	if err != nil {
		t.Fatalf("the majority takes no write: %v", err)
	}
	t.Logf("the majority took a write %s after the leader was cut off", time.Since(start).Round(time.Millisecond))
	if cut.IsLeader() {
		t.Fatal("the cut-off controller still leads after the majority elected another")
	}

	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := cutClient.Submit(wctx, api.SubmitJobRequest{JobSpec: spec}); !api.IsCode(err, api.CodeUnavailable) {
		t.Fatalf("a write to the cut-off controller: %v, want Unavailable", err)
	}
	if j, err := cutClient.Job(wctx, after.ID); !api.IsCode(err, api.CodeUnavailable) {
		t.Fatalf("a current read on the cut-off controller: job %+v, %v; want Unavailable, not its stale state", j.ID, err)
	}
	var stale api.ListJobsResponse
	if err := cutClient.CallStale(wctx, api.PathListJobs, api.ListJobsRequest{IDs: []uint64{before.ID, after.ID}}, &stale); err != nil {
		t.Fatalf("a stale read on the cut-off controller: %v", err)
	}
	if len(stale.Jobs) != 1 || stale.Jobs[0].ID != before.ID {
		t.Fatalf("stale read: %+v, want only job %d (it has not seen %d)", stale.Jobs, before.ID, after.ID)
	}

	cut.raft.peers.setPartitioned(false)
	// It may take an election or two (the cut-off one has a stale log and
	// cannot win one), which a loaded test machine makes slower.
	healed := time.Now().Add(30 * time.Second)
	for {
		j, err := cutClient.Job(wctx, after.ID)
		if err == nil && j.ID == after.ID {
			break
		}
		if !api.IsCode(err, api.CodeUnavailable) || time.Now().After(healed) {
			t.Fatalf("after healing, the controller does not have job %d: %v", after.ID, err)
		}
	}
}

// TestSnapshotFigures measures, with SHOAL_HA_SNAPSHOT_JOBS=N jobs in the
// live state (queued: finished jobs leave it for the archive, which is
// each controller's own and not in raft snapshots), how long the leader
// takes to snapshot, the snapshot's size, and how long a new controller
// takes to join and catch up from it.
func TestSnapshotFigures(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SHOAL_HA_SNAPSHOT_JOBS"))
	if n <= 0 || os.Getuid() != 0 {
		t.Skip("set SHOAL_HA_SNAPSHOT_JOBS=N (as root) to measure")
	}
	ms, cl := startCompactingLeader(t)
	first := ms[0].c
	ctx := context.Background()
	// Held: they stay queued, as a backlog does.
	batch := api.SubmitBatchRequest{}
	for i := 0; i < 1000; i++ {
		batch.Jobs = append(batch.Jobs, api.SubmitJobRequest{JobSpec: api.JobSpec{Name: "s", Command: []string{"true"}, Held: true}})
	}
	start := time.Now()
	for done := 0; done < n; done += len(batch.Jobs) {
		if err := cl.Call(ctx, api.PathSubmitBatch, batch, nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d jobs submitted in %s", n, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if err := first.raft.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	snaps, _ := filepath.Glob(filepath.Join(ms[0].cfg.DataDir, "raft", "snapshots", "*", "state.bin"))
	var size int64
	for _, s := range snaps {
		if fi, err := os.Stat(s); err == nil {
			size = fi.Size()
		}
	}
	t.Logf("snapshot of %d live jobs: %s, %.1f MiB", n, took.Round(time.Millisecond), float64(size)/(1<<20))
	dir := t.TempDir()
	cfg := Config{DataDir: filepath.Join(dir, "data"), Socket: filepath.Join(dir, "shoal.sock"), Bind: "127.0.0.1:0",
		RaftAddr: freePort(t), NodeID: "c2", Join: []string{first.Addrs()[1]}, ServerToken: first.ServerToken(),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	start = time.Now()
	joined := startMember(t, cfg)
	defer joined.Close()
	have, _ := first.applied.get()
	deadline := time.Now().Add(5 * time.Minute)
	for err := joined.waitApplied(ctx, have); err != nil; err = joined.waitApplied(ctx, have) {
		if !api.IsCode(err, api.CodeUnavailable) || time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	t.Logf("a new controller joined and caught up from it in %s", time.Since(start).Round(time.Millisecond))
}

// A controller joins only with the cluster's server token: a wrong
// secret, a node's join token, or a token pinning another CA is refused,
// and the refused controller is given (and keeps) none of the secrets.
func TestJoinRefusals(t *testing.T) {
	ms := startCluster(t, 1)
	first := ms[0].c
	secret, hash, err := api.ParseServerToken(first.ServerToken())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ token, want string }{
		{api.FormatServerToken("not-the-secret", hash), "server secret is not this cluster's"},
		{first.NodeJoinToken(), "a node's join token (shoal-join:) does not let a controller join"},
		{api.FormatServerToken(secret, "sha256:"+strings.Repeat("ab", 32)), client.ErrCAMismatch.Error()},
		{"", "give -server-token"},
	} {
		dir := t.TempDir()
		_, err := Start(Config{DataDir: filepath.Join(dir, "data"), Socket: filepath.Join(dir, "shoal.sock"),
			RaftAddr: freePort(t), NodeID: "c2", Join: []string{first.Addrs()[1]}, ServerToken: tc.token,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("join with %.20q: %v, want an error saying %q", tc.token, err, tc.want)
		}
		if _, err := os.Stat(filepath.Join(dir, "data", caKeyFile)); !os.IsNotExist(err) {
			t.Errorf("join with %.20q: the refused controller has a CA key (%v)", tc.token, err)
		}
	}
}
