package daemon

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/daemon/archive"
	"github.com/shoal-batch/shoal/internal/clock"
	"github.com/shoal-batch/shoal/internal/peercred"
	"github.com/shoal-batch/shoal/internal/sigv4"
	"github.com/shoal-batch/shoal/raftfsm"
	"github.com/shoal-batch/shoal/sched"
)

// Version is shoal's version, reported by the API.
const Version = "0.1.0"

// Config says where a controller keeps its state and listens.
type Config struct {
	DataDir string // raft log, snapshots, join token, CA, access-key sealing key
	Socket  string // unix socket for users and local nodes (mode 0666)
	Bind    string // optional TCP address, served with TLS ("" = none)
	// InsecureHTTP serves Bind as plain HTTP: join tokens and signed
	// requests then travel in clear. Only for a network nobody else is on.
	InsecureHTTP bool
	RaftAddr     string // raft transport address (127.0.0.1:0 for one voter)
	NodeID       string // raft server id
	Log          *slog.Logger
	// PrivateJobs hides other users' jobs from users (Slurm's PrivateData=jobs).
	PrivateJobs bool
	// NodeTTL is how long a node daemon may stay silent before it is set
	// DOWN and its jobs end or are requeued (0: DefaultNodeTTL). Nodes are
	// told to send heartbeats at a third of it.
	NodeTTL time.Duration
	// MinJobAge is how long a finished job stays in the replicated state
	// before it moves to the archive (Slurm's MinJobAge): 0 is
	// DefaultMinJobAge, a negative value keeps finished jobs for ever.
	MinJobAge time.Duration
	// MaxJobCount bounds the unfinished jobs (array tasks each count):
	// a submit past it is refused (Slurm's MaxJobCount). 0 is
	// DefaultMaxJobCount, a negative value no bound.
	MaxJobCount int
	// ArchiveURL is where finished jobs go after MinJobAge: "" is an
	// embedded file in DataDir (archive.db); postgres://USER@HOST/DB a
	// PostgreSQL database, which the controllers of a cluster share.
	ArchiveURL string
	// InMemory keeps raft's log, stable store and snapshots in memory
	// and talks to no peer (RaftAddr is unused): the state is lost at
	// Close. For tests of the API, which then need neither a disk-backed
	// raft nor its election delays; DataDir still holds the CA, the join
	// token and the archive.
	InMemory bool
	// Clock is the time the leader stamps into commands and times its
	// loops by (heartbeat deadlines, scheduled begin times, retention,
	// queue time limits); nil is the wall clock (tests give a
	// clock.Fake). Certificates and network waits keep the wall clock.
	Clock clock.Clock
	// CronClock is the cron loop's time (nil: Clock); its tests inject one.
	CronClock CronClock
	// Sched tunes the scheduler (default time limit, backfill window).
	Sched sched.Options
	// BurstDefer is how long submissions that come in a burst (less than
	// 50 ms apart) may hold the scheduler back, so that they are answered
	// first and their jobs placed together (Slurm's defer and
	// batch_sched_delay); 0: every change is planned at once.
	BurstDefer time.Duration
	// Licenses are the configured licenses (the agent's -licenses,
	// Slurm's Licenses= in slurm.conf): each time this controller comes
	// to lead, each is created or set to its configured total.
	Licenses []api.License
	// ExpectNode says a node daemon registers with this controller as it
	// starts (a dev agent's own): submits that come before any node has
	// registered wait for one (up to firstNodeWait) instead of being
	// refused for a queue without nodes.
	ExpectNode bool

	// RaftAdvertise is the raft address other controllers dial, when
	// RaftAddr is a wildcard ("": RaftAddr as bound).
	RaftAdvertise string
	// Join lists TCP API addresses of controllers of a cluster to join
	// (see cluster.go); none: bootstrap a cluster of which this is the
	// first voter.
	Join []string
	// ServerToken is presented to join (shoal-server:SECRET:CAHASH, an
	// existing controller's DATA_DIR/server-token); needed only by a
	// controller without raft state.
	ServerToken string
	// BootstrapExpect is how many voters the cluster is meant to have:
	// over one, raft runs with the timings of a cluster (see
	// clusterHeartbeatTimeout) from the first controller on.
	BootstrapExpect int
}

// Controller is a running controller: raft, the FSM, the API and the
// scheduling loop.
type Controller struct {
	cfg       Config
	jobCount  jobCount      // MaxJobCount's (jobcount.go)
	logCalls  chan struct{} // the logs calls under way (maxLogCalls)
	log       *slog.Logger
	clock     clock.Clock
	fsm       *raftfsm.FSM
	raft      *raftNode
	applier   *proposer   // commits here, or forwards to the leader
	burst     submitBurst // the submissions taken here, for the scheduling loop
	join      joinSecrets // the secret new node daemons present (jointoken.go)
	ca        *certAuthority
	secrets   *secretBox
	selfUID   uint32
	selfName  string
	selfNamed bool // selfName is a user name, not the uid's number
	startedAt int64
	// beats are the nodes' heartbeat timers, in this leader's memory.
	beats    *heartbeats
	verifier *sigv4.Verifier

	owners *ownerCache // resolved job owners (lookupOwner)
	// submitters serializes each user's submits where accounts count them.
	submitters submitLocks
	// fits remembers which queues and resources a node can hold (fitcache.go).
	fits fitCache

	// imageStore holds the images loaded for jobs (images()).
	imagesOnce sync.Once
	imageStore *imageStore

	archive      archive.Archive // finished jobs that left the state
	archiver     *archive.Writer // feeds archive from the FSM
	closeArchive func() error
	release      chan struct{} // asks the retention loop to give memory back
	answered     atomic.Int64  // bytes of job lists answered since memory was last given back
	bigLists     bigLists      // one big list answer at a time (biganswer.go)

	servers   []*http.Server
	listeners []net.Listener
	// requests is every request's base context: Close cancels it, with
	// errShuttingDown as the cause, before it stops the servers, so long
	// polls answer at once instead of holding Shutdown.
	requests    context.Context
	endRequests context.CancelCauseFunc
	ctx         context.Context // the loops'; ends at Close
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	closeOnce   sync.Once
	closeErr    error

	// The cluster (cluster.go, forward.go). serverSecret is what a
	// controller presents to join; applied is the FSM's applied index;
	// leader says whether this controller leads and has applied its
	// predecessors' entries.
	serverSecret string
	applied      *appliedIndex
	leader       *leadership
	peerClient   *http.Client  // the internal API of other controllers
	readIndexes  *readIndexer  // a follower's read-index requests, shared
	tokenCatchUp *tokenCatchUp // a follower's catch-ups to check Bearer tokens, shared
	// readIndexServed counts the read indexes this leader gave.
	readIndexServed atomic.Uint64
	nudging         atomic.Bool // a barrier is out to tell followers the commit index
	// nodeSeen: a node has registered (ExpectNode waits no more).
	nodeSeen atomic.Bool
}

// closeTimeout bounds each wait in Close: for the servers to drain, and
// for the loops and the applier to stop before raft is shut down under
// them (which fails what they still wait for).
const closeTimeout = 2 * time.Second

// Start opens the state in cfg.DataDir and serves the API. Without
// cfg.Join it becomes the one voter of a new cluster if there is none yet
// (a dev controller, or the first of a cluster); with it, a controller
// without raft state joins the cluster of those controllers (see
// cluster.go), and one with state rejoins as it is.
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
	if cfg.NodeTTL < 0 {
		return nil, fmt.Errorf("node TTL %s: give a positive duration (or 0 for %s)", cfg.NodeTTL, DefaultNodeTTL)
	}
	if cfg.NodeTTL == 0 {
		cfg.NodeTTL = DefaultNodeTTL
	}
	if err := normalizePreempt(&cfg.Sched); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	// Nothing under the data dir is for anyone but the controller's user,
	// whatever an older version or an admin's copy left there.
	if err := privateTree(cfg.DataDir); err != nil {
		return nil, err
	}
	raftDir := filepath.Join(cfg.DataDir, "raft")
	var joinVia string // the raft address to ask to be made a voter
	form := false      // form the cluster with the others (cluster_bootstrap.go)
	if len(cfg.Join) > 0 {
		has, err := hasRaftState(raftDir)
		if err != nil {
			return nil, err
		}
		if secret, hash, seeded := seededToken(cfg.ServerToken); !has && seeded && cfg.BootstrapExpect > 1 {
			if err := writeSeededSecrets(cfg.DataDir, secret, hash); err != nil {
				return nil, err
			}
			form = true
		} else if !has {
			if joinVia, err = joinCluster(cfg); err != nil {
				return nil, err
			}
		}
	}
	ca, err := loadCA(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	secrets, err := loadSecretBox(filepath.Join(cfg.DataDir, keysKeyFile))
	if err != nil {
		return nil, err
	}
	token, err := loadJoinToken(filepath.Join(cfg.DataDir, joinTokenFile), ca.hash())
	if err != nil {
		return nil, err
	}
	serverSecret, err := loadServerToken(filepath.Join(cfg.DataDir, serverTokenFile), ca.hash())
	if err != nil {
		return nil, err
	}
	clk := clock.Or(cfg.Clock)
	c := &Controller{cfg: cfg, log: cfg.Log, clock: clk, logCalls: make(chan struct{}, maxLogCalls), bigLists: newBigLists(), owners: newOwnerCache(clk, cfg.Log, resolveOwner), fsm: raftfsm.New(), join: joinSecrets{secret: token}, serverSecret: serverSecret, ca: ca, secrets: secrets,
		selfUID: uint32(os.Getuid()), startedAt: clk.Now().UnixMilli(), release: make(chan struct{}, 1),
		applied: newAppliedIndex(), leader: newLeadership()}
	c.selfName, c.selfNamed = selfName(c.owners.ctx, c.selfUID)
	c.beats = newHeartbeats(cfg.NodeTTL, clk, c.nodeExpired)
	c.verifier = &sigv4.Verifier{Keys: keyStore{fsm: c.fsm, secrets: secrets, log: cfg.Log}, Service: "batch"}
	hosts, err := certHosts(cmp.Or(cfg.RaftAdvertise, cfg.RaftAddr))
	if err != nil {
		return nil, fmt.Errorf("raft address: %w", err)
	}
	peerTLS, err := ca.peerTLS(hosts)
	if err != nil {
		return nil, err
	}
	if err := c.openArchive(); err != nil {
		return nil, err
	}
	if cfg.InMemory {
		c.raft, err = startMemRaft(cfg.NodeID, raftFSM{c.fsm, c.archiver, c.applied}, cfg.Log)
	} else {
		c.raft, err = startRaft(raftOptions{dir: raftDir, id: cfg.NodeID, bind: cfg.RaftAddr, advertise: cfg.RaftAdvertise,
			bootstrap: len(cfg.Join) == 0, cluster: cfg.cluster(), tls: peerTLS,
			fsm: raftFSM{c.fsm, c.archiver, c.applied}, log: cfg.Log})
	}
	if err != nil {
		c.closeArchive()
		return nil, err
	}
	c.peerClient = c.newPeerClient()
	c.readIndexes = &readIndexer{c: c}
	c.tokenCatchUp = &tokenCatchUp{c: c}
	// The one voter of its configuration (a dev controller, the first of
	// a cluster before others join) leads at once: wait for it, so that
	// the API answers as soon as it serves.
	alone := c.aloneInConfiguration()
	if alone {
		if err := c.waitLeader(10 * time.Second); err != nil {
			c.raft.close()
			c.closeArchive()
			return nil, err
		}
	}
	c.applier = &proposer{c: c, local: newApplier(c.raft.raft)}
	ctx, cancel := context.WithCancel(context.Background())
	c.ctx, c.cancel = ctx, cancel
	c.requests, c.endRequests = context.WithCancelCause(context.Background())
	c.goRun(func() { c.applier.local.run(ctx) })
	// Leader work runs while this controller leads (leaderLoop).
	c.goRun(func() { c.leaderLoop(ctx, c.leaderTasks()) })
	// Every controller takes the join secret the cluster is rotated to.
	c.goRun(func() { c.followJoinSecret(ctx) })
	// The retention loop gives memory back on every controller, and
	// expires jobs only while it leads.
	c.goRun(func() { c.retentionLoop(withLeaderOnly(ctx)) })
	c.goRun(func() { c.cronLoop(ctx) })
	if alone {
		// Serve once its leader work runs: until then a node's
		// registration is written even when it changes nothing, and a
		// read waits for the leader to be ready.
		if err := c.waitLeaderReady(10 * time.Second); err != nil {
			c.Close()
			return nil, err
		}
		if err := c.sealKeys(withLeaderOnly(ctx)); err != nil {
			c.Close()
			return nil, err
		}
	}
	c.serveInternal()
	if err := c.serve(); err != nil {
		c.Close()
		return nil, err
	}
	if form {
		c.goRun(func() { c.formCluster(ctx) })
	}
	if joinVia != "" {
		jctx, cancel := context.WithTimeout(c.requests, time.Minute)
		err := c.askVoter(jctx, joinVia)
		cancel()
		if err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// aloneInConfiguration reports whether this controller is the only voter
// of the raft configuration it has.
func (c *Controller) aloneInConfiguration() bool {
	f := c.raft.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	servers := f.Configuration().Servers
	return len(servers) == 1 && string(servers[0].ID) == c.cfg.NodeID && servers[0].Suffrage == raft.Voter
}

// waitLeaderReady waits until this controller's leader work has started
// (leaderLoop), or the timeout passes.
func (c *Controller) waitLeaderReady(timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		ready, changed := c.leaderReady()
		if ready {
			return nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return fmt.Errorf("leader work not started after %s (raft state %s)", timeout, c.raft.raft.State())
		}
	}
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
		tl, err := c.listenTCP()
		if err != nil {
			return err
		}
		c.listen(tl, mux)
	}
	return nil
}

// listenTCP listens on cfg.Bind, with TLS unless InsecureHTTP: a server
// certificate from the controller's CA that names the bind address (made
// again when it does not).
func (c *Controller) listenTCP() (net.Listener, error) {
	var conf *tls.Config
	if !c.cfg.InsecureHTTP {
		hosts, err := certHosts(c.cfg.Bind)
		if err != nil {
			return nil, err
		}
		cert, err := c.ca.serverCert(hosts)
		if err != nil {
			return nil, err
		}
		conf = serverTLS(cert)
	}
	l, err := net.Listen("tcp", c.cfg.Bind)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", c.cfg.Bind, err)
	}
	if conf == nil {
		c.log.Warn("serving the TCP API as plain HTTP (-insecure-http): join tokens and requests travel in clear", "addr", l.Addr().String())
		return l, nil
	}
	return tls.NewListener(l, conf), nil
}

func (c *Controller) listen(l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ConnContext: peercred.ConnContext, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return c.requests },
		// TLS handshake failures (a node pinning another CA, plain HTTP
		// on the TLS port) go to the controller's log, not bare stderr.
		ErrorLog: slog.NewLogLogger(c.log.Handler(), slog.LevelWarn)}
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

// JoinToken is the secret new node daemons present (as a bearer token),
// as of now (shoal operator join-token rotate replaces it); "" if the
// cluster's cannot be opened here (logged).
func (c *Controller) JoinToken() string {
	secret, err := c.joinSecret()
	if err != nil {
		c.log.Error("the node join token", "err", err)
	}
	return secret
}

// NodeJoinToken is what a remote node daemon is given to join:
// shoal-join:SECRET:sha256:CAHASH, the secret and the pin of this
// controller's CA (also the content of DATA_DIR/join-token).
func (c *Controller) NodeJoinToken() string { return api.FormatJoinToken(c.JoinToken(), c.ca.hash()) }

// CAFile is the PEM file of the CA that signs the TCP API's certificate:
// the bundle clients trust (aws --ca-bundle, SHOAL_CA_FILE).
func (c *Controller) CAFile() string { return filepath.Join(c.cfg.DataDir, caCertFile) }

// CAHash is the pin of the controller's CA (sha256:HEX of its public key).
func (c *Controller) CAHash() string { return c.ca.hash() }

// Close stops serving, the loops and raft. State stays in DataDir. It
// returns within a few seconds whatever is in flight: long polls (node
// work, job waits) end at once, commands not yet committed fail with
// "controller is shutting down", and raft is shut down under anything
// that is still waiting after closeTimeout. Calling it again returns the
// first call's error.
func (c *Controller) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.close() })
	return c.closeErr
}

func (c *Controller) close() error {
	c.handOver()
	if c.endRequests != nil {
		c.endRequests(errShuttingDown) // long polls answer now
	}
	c.owners.stop() // user lookups under way (each a process) end: no handler waits on one
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	for _, s := range c.servers {
		// Handlers that still run after the timeout (a command that
		// waits for raft) are answered when raft stops below; their
		// connections are closed here.
		if err := s.Shutdown(ctx); err != nil {
			c.log.Warn("api server did not drain in time; closing its connections", "err", err)
			s.Close()
		}
	}
	if c.beats != nil {
		c.stopHeartbeats() // no node is set DOWN because its controller went away
	}
	if c.cancel != nil {
		c.cancel() // the loops and the applier stop; queued commands fail
	}
	stopped := make(chan struct{})
	go func() { c.wg.Wait(); close(stopped) }()
	var err error
	select {
	case <-stopped:
		err = c.raft.close()
	case <-time.After(closeTimeout):
		// Raft has not answered entries in flight (a stalled disk):
		// shutting it down fails them, and the applier then stops.
		c.log.Warn("raft entries still in flight after " + closeTimeout.String() + "; shutting raft down under them")
		err = c.raft.close()
		select {
		case <-stopped:
		case <-time.After(closeTimeout / 2):
			c.log.Error("controller loops did not stop after raft shut down")
		}
	}
	if c.peerClient != nil {
		c.peerClient.CloseIdleConnections()
	}
	if aerr := c.closeArchive(); err == nil {
		err = aerr
	}
	os.Remove(c.cfg.Socket)
	return err
}

// loadJoinToken returns the node join secret kept at path, creating one on
// first start. The file holds the whole token a node is given,
// shoal-join:SECRET:CAHASH, rewritten when the CA changed (an older
// controller's file holds the bare secret).
func loadJoinToken(path, caHash string) (string, error) {
	var secret string
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if secret, _, err = api.ParseJoinToken(string(data)); err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
	case os.IsNotExist(err):
		if secret, err = newJoinSecret(); err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("read join token: %w", err)
	}
	if secret == "" || strings.ContainsAny(secret, ": \t\r\n") {
		return "", fmt.Errorf("%s: the join secret is empty or has ':' or spaces; remove the file to make a new one", path)
	}
	if err := writeJoinToken(path, secret, caHash); err != nil {
		return "", err
	}
	return secret, nil
}

// nowMillis is the controller's clock (Config.Clock) in Unix
// milliseconds: the time the leader stamps into commands (submit, plan,
// end, expiry), which the FSM applies and never reads itself.
func (c *Controller) nowMillis() int64 { return c.clock.Now().UnixMilli() }
