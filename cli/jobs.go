package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client/core"
)

func describeCommand() *cli.Command {
	return &cli.Command{
		Name:      "describe",
		Usage:     "print a job as JSON: state, statusReason, exit code, times (epoch ms), node, and its attempts (every try: node, times, exit code, signal, reasons)",
		ArgsUsage: "JOB_ID",
		Action: func(c *cli.Context) error {
			j, err := theJob(c, "describe job")
			if err != nil {
				return err
			}
			j.Attempts = j.AttemptHistory() // the current one too, as AWS's describe-jobs lists them
			return printJSON(c.App.Writer, j)
		},
	}
}

// theJob fetches the one job the command line names; what says what the
// command does, for the error.
func theJob(c *cli.Context, what string) (api.Job, error) {
	id, err := oneJobID(c)
	if err != nil {
		return api.Job{}, err
	}
	j, err := clientOf(c).Job(ctx(c), id)
	if err != nil {
		return api.Job{}, fmt.Errorf("%s %d: %w", what, id, err)
	}
	return j, nil
}

func logsCommand() *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "print a job's output (stdout, then stderr; or one with --stream)",
		ArgsUsage: "JOB_ID",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "stream", Usage: "stdout or stderr (default: both, stdout first)"},
		},
		Action: func(c *cli.Context) error {
			id, err := oneJobID(c)
			if err != nil {
				return err
			}
			streams := []string{"stdout", "stderr"}
			if s := c.String("stream"); s != "" {
				streams = []string{s}
			} else if js, err := clientOf(c).ListJobs(ctx(c), api.ListJobsRequest{
				IDs: []uint64{id}, Fields: []string{"workingDir", "stdout", "stderr"},
			}); err == nil && len(js) == 1 && sameLog(js[0]) {
				// One file (sbatch's default, or -o and -e alike):
				// printed once. (An error is the logs call's to report.)
				streams = streams[:1]
			}
			for _, s := range streams {
				data, err := clientOf(c).Logs(ctx(c), id, s)
				if err != nil {
					return fmt.Errorf("logs of job %d: %w", id, err)
				}
				w := c.App.Writer
				if s == "stderr" && len(streams) > 1 {
					w = c.App.ErrWriter
				}
				if _, err := w.Write(data); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// sameLog reports whether a job's stdout and stderr go to one file: the
// same path as given (patterns such as %j expand alike), relative ones
// taken from the job's working directory. Paths hidden from the caller
// (both empty) or left to the node's log dir are two files.
func sameLog(j api.Job) bool {
	if j.Stdout == "" || j.Stderr == "" {
		return false
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return filepath.Clean(p)
		}
		return filepath.Join(j.Dir, p)
	}
	return abs(j.Stdout) == abs(j.Stderr)
}

func cancelCommand() *cli.Command {
	return stopCommand("cancel", "cancel a job that has not started (SUBMITTED, PENDING or RUNNABLE)",
		"Cancelled by user", (*core.Client).Cancel)
}

func terminateCommand() *cli.Command {
	return stopCommand("terminate", "stop a job that is STARTING or RUNNING (SIGTERM, then SIGKILL)",
		"Terminated by user", (*core.Client).Terminate)
}

func stopCommand(name, usage, defaultReason string, stop func(*core.Client, context.Context, uint64, string) error) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: "JOB_ID",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "reason", Usage: "statusReason the job ends with", Value: defaultReason},
		},
		Action: func(c *cli.Context) error {
			id, err := oneJobID(c)
			if err != nil {
				return err
			}
			if err := stop(clientOf(c), ctx(c), id, c.String("reason")); err != nil {
				return fmt.Errorf("%s job %d: %w", name, id, err)
			}
			return nil
		},
	}
}

func signalCommand() *cli.Command {
	return &cli.Command{
		Name:  "signal",
		Usage: "send a signal to a STARTING or RUNNING job: by default to every process but its first (the batch script)",
		Description: "SIGNAL is a number (1-64) or a name (USR1, SIGUSR1). The job's first process, PID 1 of its\n" +
			"sandbox, only gets a signal it has a handler for; one it would die of kills the job, which\n" +
			"then reports that signal.",
		ArgsUsage: "JOB_ID SIGNAL",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "batch", Aliases: []string{"b"}, Usage: "signal only the job's first process (the batch script)"},
			&cli.BoolFlag{Name: "full", Aliases: []string{"f"}, Usage: "signal every process of the job, the first one too"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return usagef("signal takes a job id and a signal, got %d arguments", c.NArg())
			}
			id, err := parseJobID(c.Args().Get(0))
			if err != nil {
				return err
			}
			sig, err := parseSignal(c.Args().Get(1))
			if err != nil {
				return err
			}
			scope := api.SignalSteps
			switch {
			case c.Bool("batch") && c.Bool("full"):
				return usagef("give --batch (the batch script alone) or --full (every process), not both")
			case c.Bool("batch"):
				scope = api.SignalBatch
			case c.Bool("full"):
				scope = api.SignalFull
			}
			if err := clientOf(c).Signal(ctx(c), id, sig, scope); err != nil {
				return fmt.Errorf("signal job %d: %w", id, err)
			}
			return nil
		},
	}
}

// parseSignal reads a signal number (1-64) or name (TERM, SIGTERM, usr1).
func parseSignal(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > api.MaxSignal {
			return 0, usagef("signal %d is out of range: give a number from 1 to %d or a name such as USR1", n, api.MaxSignal)
		}
		return n, nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if n := unix.SignalNum(name); n != 0 {
		return int(n), nil
	}
	return 0, usagef("%q is not a signal: give a number from 1 to %d or a name such as TERM, USR1 or SIGHUP", s, api.MaxSignal)
}

func nodesCommand() *cli.Command {
	return &cli.Command{
		Name:  "nodes",
		Usage: "list nodes: state, cpus, memory, gpus, allocated",
		Flags: []cli.Flag{outputFlag},
		Action: func(c *cli.Context) error {
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			nodes, err := clientOf(c).Nodes(ctx(c))
			if err != nil {
				return fmt.Errorf("list nodes: %w", err)
			}
			if asJSON {
				return printJSON(c.App.Writer, nodes)
			}
			t := newTable(c.App.Writer, "NODE", "STATE", "CPUS", "MEMORY", "GPUS", "ALLOCATED")
			for _, n := range nodes {
				t.row(n.Name, n.State, n.Capacity.CPUs, fmt.Sprintf("%dM", n.Capacity.MemoryMB), n.Capacity.GPUs,
					fmt.Sprintf("cpus=%d mem=%dM gpus=%d", n.Allocated.CPUs, n.Allocated.MemoryMB, n.Allocated.GPUs))
			}
			return t.flush()
		},
	}
}
