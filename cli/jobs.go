package cli

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/shoal-batch/shoal/api"
)

func describeCommand() *cli.Command {
	return &cli.Command{
		Name:      "describe",
		Usage:     "print a job as JSON: state, statusReason, exit code, times (epoch ms), node",
		ArgsUsage: "JOB_ID",
		Action: func(c *cli.Context) error {
			id, err := oneJobID(c)
			if err != nil {
				return err
			}
			j, err := client(c).Job(ctx(c), id)
			if err != nil {
				return fmt.Errorf("describe job %d: %w", id, err)
			}
			return printJSON(c.App.Writer, j)
		},
	}
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
			}
			for _, s := range streams {
				data, err := client(c).Logs(ctx(c), id, s)
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

func cancelCommand() *cli.Command {
	return stopCommand("cancel", "cancel a job that has not started (SUBMITTED, PENDING or RUNNABLE)",
		"Cancelled by user", (*api.Client).Cancel)
}

func terminateCommand() *cli.Command {
	return stopCommand("terminate", "stop a job that is STARTING or RUNNING (SIGTERM, then SIGKILL)",
		"Terminated by user", (*api.Client).Terminate)
}

func stopCommand(name, usage, defaultReason string, stop func(*api.Client, context.Context, uint64, string) error) *cli.Command {
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
			if err := stop(client(c), ctx(c), id, c.String("reason")); err != nil {
				return fmt.Errorf("%s job %d: %w", name, id, err)
			}
			return nil
		},
	}
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
			nodes, err := client(c).Nodes(ctx(c))
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
