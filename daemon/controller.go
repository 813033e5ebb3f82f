package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shoal-batch/shoal/internal/peercred"
	"github.com/shoal-batch/shoal/internal/sigv4"
	"github.com/shoal-batch/shoal/raftfsm"
)

// Version is shoal's version, reported by the API.
const Version = "0.1.0"

// Config says where a controller keeps its state and listens.
type Config struct {
	DataDir  string // raft log, snapshots, join token
	Socket   string // unix socket for users and local nodes (mode 0666)
	Bind     string // optional TCP address for remote nodes ("" = none)
	RaftAddr string // raft transport address (127.0.0.1:0 for one voter)
	NodeID   string // raft server id
	Log      *slog.Logger
	// PrivateJobs hides other users' jobs from users (Slurm's PrivateData=jobs).
	PrivateJobs bool
}

// Controller is a running controller: raft, the FSM, the API and the
// scheduling loop.
type Controller struct {
	cfg       Config
	log       *slog.Logger
	fsm       *raftfsm.FSM
	raft      *raftNode
	applier   *applier
	joinToken string
	selfUID   uint32
	startedAt int64
	verifier  *sigv4.Verifier

	servers   []*http.Server
	listeners []net.Listener
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// Start opens the state in cfg.DataDir, becomes the one voter of a dev
// cluster if there is none yet, and serves the API.
func Start(cfg Config) (*Controller, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.RaftAddr == "" {
		cfg.RaftAddr = "127.0.0.1:0"
	}
	if cfg.NodeID == "" {
		cfg.NodeID = "controller-1"
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	token, err := loadJoinToken(filepath.Join(cfg.DataDir, "join-token"))
	if err != nil {
		return nil, err
	}
	c := &Controller{cfg: cfg, log: cfg.Log, fsm: raftfsm.New(), joinToken: token, selfUID: uint32(os.Getuid()), startedAt: nowMillis()}
	c.verifier = &sigv4.Verifier{Keys: keyStore{c.fsm}, Service: "batch"}
	c.raft, err = startRaft(filepath.Join(cfg.DataDir, "raft"), cfg.NodeID, cfg.RaftAddr, true, c.fsm, cfg.Log)
	if err != nil {
		return nil, err
	}
	if err := c.waitLeader(10 * time.Second); err != nil {
		c.raft.close()
		return nil, err
	}
	c.applier = newApplier(c.raft.raft)
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.goRun(func() { c.applier.run(ctx) })
	c.goRun(func() { c.scheduleLoop(ctx) })
	c.goRun(func() { c.stateTimeLimits(ctx) })
	if err := c.serve(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Controller) goRun(fn func()) {
	c.wg.Add(1)
	go func() { defer c.wg.Done(); fn() }()
}

// waitLeader waits until this member leads (a one-voter cluster elects
// itself) or the timeout passes.
func (c *Controller) waitLeader(timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	obs := make(chan raft.Observation, 4)
	o := raft.NewObserver(obs, false, nil)
	c.raft.raft.RegisterObserver(o)
	defer c.raft.raft.DeregisterObserver(o)
	for c.raft.raft.State() != raft.Leader {
		select {
		case <-obs:
		case <-timer.C:
			return fmt.Errorf("no raft leader after %s (state %s)", timeout, c.raft.raft.State())
		}
	}
	// Apply everything committed before we lead, so reads see it.
	return c.raft.raft.Barrier(timeout).Error()
}

// serve starts the unix socket (and TCP if configured) listeners.
func (c *Controller) serve() error {
	mux := c.routes()
	sock := c.cfg.Socket
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		return fmt.Errorf("create socket dir: %w", err)
	}
	if err := removeStaleSocket(sock); err != nil {
		return err
	}
	ul, err := net.Listen("unix", sock)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", sock, err)
	}
	// Every local user may connect; who they are comes from SO_PEERCRED.
	if err := os.Chmod(sock, 0o666); err != nil {
		ul.Close()
		return fmt.Errorf("chmod socket: %w", err)
	}
	c.listen(ul, mux)
	if c.cfg.Bind != "" {
		tl, err := net.Listen("tcp", c.cfg.Bind)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", c.cfg.Bind, err)
		}
		c.listen(tl, mux)
	}
	return nil
}

func (c *Controller) listen(l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ConnContext: peercred.ConnContext, ReadHeaderTimeout: 10 * time.Second}
	c.servers = append(c.servers, srv)
	c.listeners = append(c.listeners, l)
	c.goRun(func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error("api server stopped", "addr", l.Addr().String(), "err", err)
		}
	})
}

// removeStaleSocket removes a socket left by a dead controller, but refuses
// to take over one that still answers.
func removeStaleSocket(path string) error {
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return nil
	}
	if conn, err := net.DialTimeout("unix", path, time.Second); err == nil {
		conn.Close()
		return fmt.Errorf("another controller is serving %s; stop it or choose another -socket", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	return nil
}

// Addrs returns the addresses the API listens on (the socket first).
func (c *Controller) Addrs() []string {
	out := make([]string, len(c.listeners))
	for i, l := range c.listeners {
		out[i] = l.Addr().String()
	}
	return out
}

// JoinToken is the secret remote node daemons present on TCP.
func (c *Controller) JoinToken() string { return c.joinToken }

// Close stops serving, the loops and raft. State stays in DataDir.
func (c *Controller) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range c.servers {
		s.Shutdown(ctx)
	}
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
	err := c.raft.close()
	os.Remove(c.cfg.Socket)
	return err
}

// loadJoinToken reads the node join token, creating one on first start.
func loadJoinToken(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(data)), nil
	}
	if !os.IsNotExist(err) {
		return "", fmt.Errorf("read join token: %w", err)
	}
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("make join token: %w", err)
	}
	tok := hex.EncodeToString(buf)
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write join token: %w", err)
	}
	return tok, nil
}

func nowMillis() int64 { return time.Now().UnixMilli() }
