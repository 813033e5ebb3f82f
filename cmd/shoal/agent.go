package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/cli"
	"github.com/shoal-batch/shoal/daemon"
	"github.com/shoal-batch/shoal/internal/timerslack"
	"github.com/shoal-batch/shoal/node"
	"github.com/shoal-batch/shoal/node/gpu"
	"github.com/shoal-batch/shoal/node/sandbox"
	"github.com/shoal-batch/shoal/sched"
)

func agentCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "agent",
		Usage: "run a controller, a node daemon, or both (-dev)",
		Flags: append([]ucli.Flag{
			&ucli.BoolFlag{Name: "dev", Usage: "one-machine cluster: a controller (one raft voter) and a node daemon in this process. As a node daemon's, its running jobs outlive it (SIGTERM or a crash) and are recovered when it starts again; jobs placed but not started go back to the queue"},
			&ucli.BoolFlag{Name: "node", Usage: "run only a node daemon, joining -controller"},
			&ucli.BoolFlag{Name: "server", Usage: "run only a controller (the default without -dev or -node), e.g. one of a cluster: see -join"},
			&ucli.StringFlag{Name: "join", Usage: "controllers of a cluster to join, their TCP API addresses (-bind), comma-separated: a controller without raft state presents -server-token to one of them and is added as a voter; one with state rejoins as it is. Without -join a controller with no state bootstraps a new cluster with itself as the one voter"},
			&ucli.StringFlag{Name: "server-token", EnvVars: []string{"SHOAL_SERVER_TOKEN"}, Usage: "with -join: the whole line of an existing controller's DATA_DIR/controller/server-token (shoal-server:SECRET:sha256:CAHASH): lets a new controller receive the cluster's CA and keys (a node's join token does not)"},
			&ucli.BoolFlag{Name: "new-server-token", Usage: "print a new server token and exit: give it (-server-token) to N controllers started alike with -bootstrap-expect N and -join listing all N, in any order: they form one cluster (the token seeds the cluster's CA and keys)"},
			&ucli.IntFlag{Name: "bootstrap-expect", Usage: "how many controllers the cluster is meant to have (3 or 5): over 1, raft uses a cluster's timings from the first controller on, and the first reports when that many voters have joined. With -join and a token of -new-server-token, N controllers started alike wait until they see N, then form the cluster together"},
			&ucli.StringFlag{Name: "raft-advertise", Usage: "the raft address other controllers dial, when -raft-addr is a wildcard"},
			&ucli.StringFlag{Name: "server-id", Usage: "this controller's raft server id, unique in the cluster and kept across restarts (default: controller-1 alone; in a cluster, the raft address)"},
			&ucli.StringFlag{Name: "data-dir", Value: "./shoal-data", Usage: "state directory (raft log, snapshots, job logs)"},
			&ucli.StringFlag{Name: "socket", Value: api.DefaultSocket, Usage: "the controller's unix socket"},
			&ucli.StringFlag{Name: "controller", EnvVars: []string{"SHOAL_ADDR"}, Value: api.DefaultSocket, Usage: "with -node: the controller to join: host:port (TLS, with -token), http://host:port (a controller run with -insecure-http) or a unix socket; the controllers of a cluster separated by commas (the node follows the leader)"},
			&ucli.StringFlag{Name: "bind", Usage: "also serve the API on this TCP address, with TLS from the controller's own CA (DATA_DIR/controller/ca.pem)"},
			&ucli.BoolFlag{Name: "insecure-http", Usage: "serve -bind, and a node's TCP -log-addr, as plain HTTP instead of TLS: join tokens, log tokens and requests travel in clear"},
			&ucli.StringFlag{Name: "raft-addr", Value: "127.0.0.1:0", Usage: "raft transport address"},
			&ucli.StringFlag{Name: "token", EnvVars: []string{"SHOAL_JOIN_TOKEN"}, Usage: "with -node over TCP: the join token, the whole line of the controller's DATA_DIR/controller/join-token (shoal-join:SECRET:sha256:CAHASH; the hash pins the controller's CA). On the command line every local user can read it (ps): prefer -token-file, or SHOAL_JOIN_TOKEN in the environment"},
			&ucli.StringFlag{Name: "token-file", Usage: "with -node over TCP: read the join token from this file, readable by its owner only (chmod 600; root's or the daemon's user's), or a systemd credential (LoadCredential=, in $CREDENTIALS_DIRECTORY): keeps the secret off the command line"},
			&ucli.StringFlag{Name: "ca-file", EnvVars: []string{"SHOAL_CA_FILE"}, Usage: "with -node: trust this CA bundle for the controller instead of the token's pin (for a token without a hash)"},
			&ucli.StringFlag{Name: "name", Usage: "node name (default: the host name)"},
			&ucli.IntFlag{Name: "node-cpus", Usage: "CPUs the node offers (default: all it has; more oversubscribes them)"},
			&ucli.StringFlag{Name: "node-memory", Usage: "memory the node offers, MiB or with a unit (default: all it has)"},
			&ucli.StringSliceFlag{Name: "label", Usage: "node label K=V, for compute environments that select by label (repeatable)"},
			&ucli.StringFlag{Name: "log-addr", Usage: "where the node serves job logs to the controller: a unix socket path, or host:port (TLS with a key made at each start and pinned by the controller) (default DATA_DIR/node.sock)"},
			&ucli.StringFlag{Name: "sandbox-root", Value: "/run/shoal/sandbox", Usage: "libcontainer state root (must not contain the shoal binary)"},
			&ucli.StringFlag{Name: "cgroup-parent", Value: "shoal", Usage: "cgroup under which jobs' cgroups are made"},
			&ucli.StringFlag{Name: "scratch-dir", Usage: "root-only directory for jobs' host-side scratch (image layers, mount binds), on a real disk and apart from -data-dir (default /var/tmp/shoal-scratch/CGROUP_PARENT)"},
			&ucli.StringFlag{Name: "job-tmp-size", Value: "0", Usage: "size of a job's private /tmp (a tmpfs charged to the job's memory) when sbatch --tmp does not say, MiB or with a unit (e.g. 1G); 0: the job's memory limit"},
			&ucli.StringFlag{Name: "max-log-size", Value: "1G", Usage: "most of a job's stdout, and of its stderr, kept in the node's log dir (DATA_DIR/node/logs: jobs given no output file, as shoal submit's and AWS's), MiB or with a unit; past it the output is dropped with a line saying so; 0: no limit"},
			&ucli.DurationFlag{Name: "log-retention", Value: node.DefaultLogRetention, Usage: "how long the node keeps the logs in its log dir (of jobs given no output file) after their last write, once their job has ended; 0: for ever"},
			&ucli.StringFlag{Name: "image-cache-size", Value: "100G", Usage: "most the images the node keeps unpacked (DATA_DIR/node/images) may take together, MiB or with a unit: past it the least recently used ones no running job uses are removed (those in use never are); fit it to the disk DATA_DIR is on; 0: no limit"},
			&ucli.StringFlag{Name: "max-image-size", Value: "32G", Usage: "most one image may take unpacked (never more than -image-cache-size), MiB or with a unit: a job of a larger image fails to start, saying so; 0: no limit but -image-cache-size"},
			&ucli.Int64Flag{Name: "job-pids-max", Value: 4096, Usage: "most processes and threads a job may have at once; 0: no limit"},
			&ucli.DurationFlag{Name: "node-ttl", Value: daemon.DefaultNodeTTL, Usage: "controller: a node daemon silent this long is set DOWN (Not responding) and its jobs end NODE_FAIL or are requeued; nodes send heartbeats at a third of it"},
			&ucli.DurationFlag{Name: "default-time-limit", Value: time.Duration(sched.DefaultTimeLimit) * time.Second, Usage: "controller: how long the backfill scheduler reckons a job without a time limit runs (the default, a year, is beyond its 7-day window: such jobs then hold no reservation back)"},
			&ucli.StringFlag{Name: "licenses", Usage: "controller: NAME:COUNT,... licenses (consumable resources) the cluster has, as Slurm's Licenses= in slurm.conf: created, or set to COUNT, whenever a controller comes to lead (shoal license manages others)"},
			&ucli.StringFlag{Name: "backfill", Value: "easy", Usage: "controller: easy (a reservation for each queue's first job waiting for resources) or conservative (one for every waiting job, in priority order, up to 500: a lower-priority job starts only if it delays none)"},
			&ucli.StringSliceFlag{Name: "queue-time-limit", Usage: "controller: QUEUE=DURATION: the time limit the backfill scheduler reckons for that queue's jobs without one (Slurm's partition DefaultTime; repeatable), instead of -default-time-limit"},
			&ucli.DurationFlag{Name: "grace", Value: 10 * time.Second, Usage: "time between SIGTERM and SIGKILL when a job is terminated"},
			&ucli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
			&ucli.DurationFlag{Name: "sched-burst-defer", Value: daemon.DefaultBurstDefer, Usage: "controller: how long submissions that come in a burst (less than 50 ms apart, as from a loop of sbatch) may hold the scheduler back, so that they are answered first and their jobs placed together (as Slurm's defer and batch_sched_delay); a lone submit is placed at once; 0 plans every change at once"},
			&ucli.DurationFlag{Name: "min-job-age", Value: daemon.DefaultMinJobAge, Usage: "as Slurm's MinJobAge: how long a finished job stays in the controller's live state (squeue) before it moves to the archive that sacct and describe read at any age; 0 keeps finished jobs live for ever"},
			&ucli.IntFlag{Name: "max-job-count", Value: daemon.DefaultMaxJobCount, Usage: "controller: as Slurm's MaxJobCount: how many unfinished jobs (each array task counts) the controller holds; submits past it are refused until some have ended"},
			&ucli.StringFlag{Name: "archive-url", EnvVars: []string{"SHOAL_ARCHIVE_URL"}, Usage: "controller: where finished jobs go after -min-job-age, for sacct and describe at any age: a PostgreSQL database, postgres://USER[:PASSWORD]@HOST[:PORT]/DB (the controllers of a cluster share it; the table is created if missing); default: an embedded file, DATA_DIR/controller/archive.db"},
			&ucli.StringFlag{Name: "private-data", Usage: "as Slurm's PrivateData: \"jobs\" hides other users' jobs from users entirely (their commands, scripts, environments and paths are hidden always)"},
		}, append(priorityFlags(), preemptFlags()...)...),
		Action: runAgent,
	}
}

func runAgent(c *ucli.Context) error {
	if c.Bool("new-server-token") {
		token, err := daemon.NewServerToken()
		if err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		fmt.Fprintln(c.App.Writer, token)
		return nil
	}
	dev, nodeOnly := c.Bool("dev"), c.Bool("node")
	if dev && nodeOnly {
		return fmt.Errorf("agent: give -dev or -node, not both")
	}
	if c.Bool("server") && (dev || nodeOnly) {
		return fmt.Errorf("agent: -server runs a controller alone: give it without -dev and -node")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return fmt.Errorf("agent: -log-level %q: use debug, info, warn or error", c.String("log-level"))
	}
	log := slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: level}))
	// Its timers may fire up to a millisecond late, for far fewer
	// wake-ups; jobs get the kernel's default back (see timerslack).
	if err := timerslack.SetProcess(timerslack.Daemon); err != nil {
		log.Debug("timer slack left as it was", "err", err)
	}
	dataDir, err := filepath.Abs(c.String("data-dir"))
	if err != nil {
		return fmt.Errorf("agent: data dir: %w", err)
	}
	// Traversable by all: jobs open their logs under it as their own user.
	// Others may only pass through the data dir (0711), to their own files
	// in the node's spool (see node.StartAgent); controller/ is 0700.
	if err := os.MkdirAll(dataDir, 0o711); err != nil {
		return fmt.Errorf("agent: create data dir: %w", err)
	}
	if err := os.Chmod(dataDir, 0o711); err != nil {
		return fmt.Errorf("agent: data dir: %w", err)
	}

	var ctl *daemon.Controller
	controllerAddr := c.String("controller")
	token, err := joinToken(c, log) // agent_token.go: -token-file, -token or SHOAL_JOIN_TOKEN
	if err != nil {
		return err
	}
	if c.Duration("node-ttl") <= 0 {
		return fmt.Errorf("agent: -node-ttl %s: give a positive duration, e.g. 30s", c.Duration("node-ttl"))
	}
	if !nodeOnly {
		privateJobs, err := daemon.PrivateData(c.String("private-data"))
		if err != nil {
			return fmt.Errorf("agent: -private-data: %w", err)
		}
		minJobAge := c.Duration("min-job-age")
		queueLimits, err := sched.ParseQueueTimeLimits(c.StringSlice("queue-time-limit"))
		if err != nil {
			return fmt.Errorf("agent: -queue-time-limit: %w", err)
		}
		conservative, err := sched.ParseBackfill(c.String("backfill"))
		if err != nil {
			return fmt.Errorf("agent: -backfill: %w", err)
		}
		prio, err := priorityConfig(c)
		if err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		if c.Duration("default-time-limit") < time.Second {
			return fmt.Errorf("agent: -default-time-limit %s: give a duration of at least 1s, e.g. 24h", c.Duration("default-time-limit"))
		}
		if c.Duration("sched-burst-defer") < 0 {
			return fmt.Errorf("agent: -sched-burst-defer %s must not be negative: give a duration such as 500ms, or 0 to place every job as it comes", c.Duration("sched-burst-defer"))
		}
		if c.Int("max-job-count") < 1 {
			return fmt.Errorf("agent: -max-job-count %d: give how many unfinished jobs the controller may hold, at least 1 (default %d)", c.Int("max-job-count"), daemon.DefaultMaxJobCount)
		}
		switch {
		case minJobAge < 0:
			return fmt.Errorf("agent: -min-job-age %s must not be negative: give a duration such as 300s, or 0 to keep finished jobs live", minJobAge)
		case minJobAge == 0:
			minJobAge = -1 // daemon.Config: never expire (its 0 is the default)
		}
		cluster, err := clusterConfig(c)
		if err != nil {
			return err
		}
		licenses, err := daemon.ParseLicenseConfig(c.String("licenses"))
		if err != nil {
			return fmt.Errorf("agent: -licenses: %w", err)
		}
		schedOpts := sched.Options{DefaultTimeLimit: int64(c.Duration("default-time-limit") / time.Second), QueueTimeLimits: queueLimits, Priority: prio, Conservative: conservative}
		if err := preemptConfig(c, &schedOpts); err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		ctl, err = daemon.Start(daemon.Config{
			DataDir: filepath.Join(dataDir, "controller"), Socket: c.String("socket"), Bind: c.String("bind"),
			InsecureHTTP: c.Bool("insecure-http"), RaftAddr: c.String("raft-addr"), Log: log, PrivateJobs: privateJobs,
			NodeTTL:   c.Duration("node-ttl"),
			MinJobAge: minJobAge, MaxJobCount: c.Int("max-job-count"),
			ArchiveURL: c.String("archive-url"),
			Sched:      schedOpts,
			BurstDefer: c.Duration("sched-burst-defer"),
			NodeID:     cluster.NodeID, RaftAdvertise: cluster.RaftAdvertise, Join: cluster.Join,
			ServerToken: cluster.ServerToken, BootstrapExpect: cluster.BootstrapExpect,
			Licenses: licenses, ExpectNode: dev,
		})
		if err != nil {
			return fmt.Errorf("start controller: %w", err)
		}
		defer ctl.Close()
		if n := cluster.BootstrapExpect; n > 1 {
			go func() {
				if ctl.WaitVoters(c.Context, n) == nil {
					log.Info("the cluster has the voters it expects", "voters", n)
				}
			}()
			log.Info("controller in a cluster", "id", cluster.NodeID, "raft", ctl.RaftAddr(),
				"server-token-file", filepath.Join(dataDir, "controller", "server-token"))
		}
		controllerAddr, token = c.String("socket"), ctl.JoinToken()
		if c.String("bind") != "" && !c.Bool("insecure-http") {
			log.Info("controller TLS", "ca", ctl.CAFile(), "ca-hash", ctl.CAHash(),
				"join-token-file", filepath.Join(dataDir, "controller", "join-token"))
		}
		log.Info("controller serving", "addrs", strings.Join(ctl.Addrs(), " "))
	}
	var (
		agent  *node.Agent
		runner *sandbox.Runner
	)
	// Catch SIGTERM before the node daemon starts: whoever sends it as
	// soon as "node daemon running" is logged gets an orderly shutdown.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	if dev || nodeOnly {
		logAddr := c.String("log-addr")
		if logAddr == "" {
			logAddr = filepath.Join(dataDir, "node.sock")
		}
		scratch := c.String("scratch-dir")
		if scratch == "" {
			scratch = filepath.Join("/var/tmp/shoal-scratch", c.String("cgroup-parent"))
		}
		tmpMiB, err := cli.ParseMemoryMiB(c.String("job-tmp-size"))
		if err != nil {
			return fmt.Errorf("agent: -job-tmp-size: %w", err)
		}
		logMiB, err := cli.ParseMemoryMiB(c.String("max-log-size"))
		if err != nil {
			return fmt.Errorf("agent: -max-log-size: %w", err)
		}
		cacheMiB, err := cli.ParseMemoryMiB(c.String("image-cache-size"))
		if err != nil {
			return fmt.Errorf("agent: -image-cache-size: %w", err)
		}
		imageMiB, err := cli.ParseMemoryMiB(c.String("max-image-size"))
		if err != nil {
			return fmt.Errorf("agent: -max-image-size: %w", err)
		}
		if c.Int64("job-pids-max") < 0 {
			return fmt.Errorf("agent: -job-pids-max %d: give a number of processes, or 0 for no limit", c.Int64("job-pids-max"))
		}
		// Jobs' supervisors start from the small shoal-sandbox binary
		// next to this one when it is there (much cheaper to start).
		supervisor, err := sandbox.SiblingSupervisor()
		if err != nil {
			log.Warn("not using the supervisor binary next to shoal: each job's supervisor re-executes shoal itself", "err", err)
		}
		runner = &sandbox.Runner{
			Root: c.String("sandbox-root"), CgroupParent: c.String("cgroup-parent"), TmpRoot: scratch, Supervisor: supervisor,
		}
		if err := runner.Check(); err != nil {
			return fmt.Errorf("start node daemon: -sandbox-root %s: %w (put the shoal binary elsewhere, or choose another -sandbox-root)",
				runner.Root, err)
		}
		capacity, gpus, err := node.Discover(gpu.NVML{}, log)
		if err != nil {
			return fmt.Errorf("start node daemon: %w", err)
		}
		if n := c.Int("node-cpus"); n > 0 {
			if n > capacity.CPUs {
				// As Slurm's config_overrides: the site's choice; each
				// job's CFS quota still bounds it.
				log.Warn("the node offers more CPUs than it has: jobs will share them", "offered", n, "has", capacity.CPUs)
			}
			capacity.CPUs = n
		}
		if m := c.String("node-memory"); m != "" {
			mib, err := cli.ParseMemoryMiB(m)
			if err != nil {
				return fmt.Errorf("agent: -node-memory: %w", err)
			}
			capacity.MemoryMB = min(mib, capacity.MemoryMB)
		}
		// Memory a job leaves charged when it ends (a descriptor it
		// passed on) counts against the node's jobs, not the host's.
		if err := runner.LimitJobsMemory(capacity.MemoryMB << 20); err != nil {
			log.Warn("the memory of all jobs together is not bounded by the node's", "err", err)
		}
		labels := map[string]string{}
		for _, kv := range c.StringSlice("label") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return fmt.Errorf("agent: -label %q: want K=V", kv)
			}
			labels[k] = v
		}
		client, err := nodeClient(controllerAddr, token, c.String("ca-file"), log)
		if err != nil {
			return fmt.Errorf("start node daemon: %w", err)
		}
		agent, err = node.StartAgent(node.Config{
			Name: c.String("name"), Client: client, DataDir: filepath.Join(dataDir, "node"),
			Capacity: capacity, GPUs: gpus, GPULib: gpu.NVML{}, Labels: labels,
			Executor: node.SandboxExecutor{Runner: runner}, LogAddr: logAddr, LogInsecureHTTP: c.Bool("insecure-http"),
			Grace: c.Duration("grace"), Log: log, JobTmpBytes: tmpMiB << 20, JobPidsMax: c.Int64("job-pids-max"),
			MaxLogBytes: logMiB << 20, LogRetention: max(c.Duration("log-retention"), 0),
			ImageCacheBytes: cacheMiB << 20, MaxImageBytes: imageMiB << 20,
		})
		if err != nil {
			return fmt.Errorf("start node daemon: %w", err)
		}
		log.Info("node daemon running", "name", agent.Name())
	}

	ctx := c.Context
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case s := <-sigs:
		log.Info("shutting down", "signal", s.String())
	case <-ctx.Done():
	}
	if agent != nil {
		if err := agent.Close(); err != nil {
			log.Warn("stop node daemon", "err", err)
		}
		// Jobs still running run on under their supervisors, for the
		// next node daemon to recover; with none left, leave no cgroup
		// parent or skeleton behind.
		if err := runner.Remove(); err != nil {
			log.Warn("remove sandbox directories", "err", err)
		}
	}
	return nil
}

// nodeClient returns the client a node daemon reaches its controller with.
// Over TLS the controller must prove it holds the CA the token pins (or
// one in caFile): a token without a hash is refused there, since the
// secret would go to whoever answers.
func nodeClient(addr, token, caFile string, log *slog.Logger) (*client.Client, error) {
	secret, hash, err := api.ParseJoinToken(token)
	if err != nil {
		return nil, fmt.Errorf("-token: %w", err)
	}
	unix := strings.HasPrefix(addr, "/") || strings.HasPrefix(addr, "./") || strings.HasPrefix(addr, "unix:")
	switch {
	case unix:
	case strings.HasPrefix(addr, "http://"):
		log.Warn("joining the controller over plain HTTP: the join token travels in clear", "controller", addr)
	case hash == "" && caFile == "" && secret != "":
		return nil, fmt.Errorf("-token holds no CA hash to check the controller %s with: give the whole line of the controller's DATA_DIR/controller/join-token (shoal-join:SECRET:sha256:CAHASH), or -ca-file with its ca.pem", addr)
	}
	client, err := client.NewWith(addr, client.Options{Token: token, CAFile: caFile})
	if err != nil {
		return nil, fmt.Errorf("controller %s: %w", addr, err)
	}
	return client, nil
}

// clusterConfig reads the agent's cluster flags into the controller's
// configuration (only its cluster fields are set).
func clusterConfig(c *ucli.Context) (daemon.Config, error) {
	cfg := daemon.Config{Join: client.SplitAddrs(c.String("join")), ServerToken: c.String("server-token"),
		BootstrapExpect: c.Int("bootstrap-expect"), RaftAdvertise: c.String("raft-advertise"), NodeID: c.String("server-id")}
	if cfg.BootstrapExpect < 0 {
		return cfg, fmt.Errorf("agent: -bootstrap-expect %d: give the number of controllers (3 or 5), or leave it out for one", cfg.BootstrapExpect)
	}
	if cfg.ServerToken != "" {
		if _, _, err := api.ParseServerToken(cfg.ServerToken); err != nil {
			return cfg, fmt.Errorf("agent: -server-token: %w", err)
		}
	}
	clustered := len(cfg.Join) > 0 || cfg.BootstrapExpect > 1
	if clustered && cfg.NodeID == "" {
		addr := cfg.RaftAdvertise
		if addr == "" {
			addr = c.String("raft-addr")
		}
		if strings.HasSuffix(addr, ":0") {
			return cfg, fmt.Errorf("agent: -raft-addr %s: a controller of a cluster needs a fixed raft port, which the others keep in their configuration (e.g. -raft-addr 10.0.0.1:7301)", addr)
		}
		cfg.NodeID = addr
	}
	if clustered && c.String("bind") == "" {
		return cfg, fmt.Errorf("agent: a controller of a cluster serves its API on TCP too (for controllers joining, and for clients and nodes following the leader): give -bind HOST:PORT")
	}
	return cfg, nil
}
