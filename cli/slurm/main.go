package slurm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client/core"
	"github.com/shoal-batch/shoal/cli/internal/termsafe"
)

// Controller is the part of core.Client the Slurm commands use, so that
// tests can run them against a fake.
type Controller interface {
	Submit(ctx context.Context, req api.SubmitJobRequest) (api.SubmitJobResponse, error)
	ListJobs(ctx context.Context, req api.ListJobsRequest) ([]api.Job, error)
	ListJobsInto(ctx context.Context, req api.ListJobsRequest, into []api.Job) ([]api.Job, error)
	Job(ctx context.Context, id uint64) (api.Job, error)
	WaitJob(ctx context.Context, id uint64, states ...api.JobState) (api.Job, error)
	Cancel(ctx context.Context, id uint64, reason string) error
	Terminate(ctx context.Context, id uint64, reason string) error
	StopJobs(ctx context.Context, ids []uint64, reason string) ([]api.JobFailure, error)
	Stop(ctx context.Context, req api.StopJobsRequest) ([]api.JobFailure, error)
	Signal(ctx context.Context, id uint64, sig int, scope api.SignalScope) error
	Requeue(ctx context.Context, id uint64, reason string) error
	RequeueHold(ctx context.Context, id uint64, reason string) error
	Hold(ctx context.Context, ids []uint64, hold bool) error
	UpdateJob(ctx context.Context, req api.UpdateJobRequest) error
	UpdateNode(ctx context.Context, req api.UpdateNodeRequest) error
	Nodes(ctx context.Context) ([]api.Node, error)
	Cluster(ctx context.Context) (api.ClusterInfo, error)
	Logs(ctx context.Context, id uint64, stream string) ([]byte, error)
}

var _ Controller = (*core.Client)(nil)

// Ctx is what a command runs with: the controller, its standard streams,
// its environment (KEY=VAL) and who and where it runs.
type Ctx struct {
	Client   Controller
	Stdout   io.Writer
	Stderr   io.Writer
	Stdin    io.Reader
	Env      []string
	Now      func() time.Time
	Getwd    func() (string, error)
	Hostname string
	User     string // the current user's name ("": looked up when needed, see userName)
	// Wait waits d between the reports of --iterate and says whether to
	// go on; nil sleeps and goes on until the command is stopped.
	Wait func(d time.Duration) bool
	// GroupName names a gid; nil: the host's group database (tests give
	// a fixed one).
	GroupName func(gid uint32) string
}

// groupName names gid with c.GroupName, or the host's group database.
func (c *Ctx) groupName(gid uint32) string {
	if c.GroupName != nil {
		return c.GroupName(gid)
	}
	return systemGroupName(gid)
}

// Getenv returns the value of key in c.Env ("" if unset).
func (c *Ctx) Getenv(key string) string {
	v, _ := c.LookupEnv(key)
	return v
}

// LookupEnv returns the value of key in c.Env and whether it is set; the
// last definition wins, as with the C library.
func (c *Ctx) LookupEnv(key string) (string, bool) {
	for i := len(c.Env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(c.Env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// Errorf prints "CMD: error: MSG" on stderr, Slurm style. String and
// error arguments are made safe for a terminal first: they may quote a
// controller's message, a job name or a reason someone else wrote. (The
// format is the caller's own text and keeps its newlines.)
func (c *Ctx) Errorf(cmd, format string, args ...any) {
	safe := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			safe[i] = termsafe.String(v)
		case error:
			safe[i] = safeErr(v)
		default:
			safe[i] = a
		}
	}
	fmt.Fprintf(c.Stderr, "%s: error: %s\n", cmd, fmt.Sprintf(format, safe...))
}

// safeErr is an error's message made safe for a terminal (see Errorf).
func safeErr(err error) string { return termsafe.String(err.Error()) }

// commands maps each Slurm command name to its implementation.
var commands = map[string]func(*Ctx, []string) int{
	"sbatch":   Sbatch,
	"srun":     Srun,
	"scancel":  Scancel,
	"sacctmgr": Sacctmgr,
	"squeue":   Squeue,
	"sacct":    Sacct,
	"sinfo":    Sinfo,
	"scontrol": Scontrol,
	"scrontab": Scrontab,
	"sprio":    Sprio,
	"sshare":   Sshare,
}

// IsCommand reports whether name is a Slurm command shoal implements.
func IsCommand(name string) bool {
	_, ok := commands[name]
	return ok
}

// Main runs Slurm command name with args (without the command name) and
// returns its exit status. It talks to the controller at $SHOAL_ADDR, or
// api.DefaultSocket, checking a TCP one's certificate with the CA bundle
// in $SHOAL_CA_FILE (else the system's roots).
func Main(name string, args []string, stdin io.Reader, stdout, stderr io.Writer, env []string) int {
	run, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "shoal: %q is not a Slurm command shoal implements\n", name)
		return 1
	}
	c := &Ctx{Stdin: stdin, Stdout: stdout, Stderr: stderr, Env: env, Now: time.Now, Getwd: os.Getwd}
	addr, _ := c.LookupEnv("SHOAL_ADDR")
	if addr == "" {
		addr = api.DefaultSocket
	}
	caFile, _ := c.LookupEnv("SHOAL_CA_FILE")
	cl, err := core.NewWith(addr, core.Options{CAFile: caFile})
	if errors.Is(err, core.ErrNoTLS) {
		fmt.Fprintf(stderr, "%s: SHOAL_ADDR: %v\n", name, err)
		return 1
	} else if err != nil {
		fmt.Fprintf(stderr, "%s: SHOAL_CA_FILE: %v\n", name, err)
		return 1
	}
	c.Client = cl
	c.Hostname, _ = os.Hostname()
	return run(c, args)
}

// userName is the name of the user running the command: User, else
// looked up (and kept in User) on first use. sbatch, the command a loop
// runs, never needs it: reading the password file is left to those that do.
func (c *Ctx) userName() string {
	if c.User == "" {
		c.User = currentUser(c)
	}
	return c.User
}

// currentUser is the name of the user running the command: the password
// entry of the real uid, else $USER, else the uid in decimal.
func currentUser(c *Ctx) string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := c.Getenv("USER"); u != "" {
		return u
	}
	return fmt.Sprint(os.Getuid())
}
