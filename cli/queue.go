package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/shoal-batch/shoal/api"
)

func queueCommand() *cli.Command {
	return &cli.Command{
		Name:        "queue",
		Usage:       "list jobs: id, name, user, state, queue, node, age (create, update, list: job queues)",
		Subcommands: queueObjectCommands(),
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "state", Usage: "only jobs in these lifecycle states (repeat or comma-separate), e.g. RUNNABLE,RUNNING"},
			&cli.StringFlag{Name: "user", Usage: "only this user's jobs"},
			&cli.StringFlag{Name: "queue", Usage: "only jobs of this queue"},
			outputFlag,
		},
		Action: func(c *cli.Context) error {
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			req := api.ListJobsRequest{User: c.String("user"), Queue: c.String("queue")}
			if req.States, err = stateFlag(c); err != nil {
				return err
			}
			jobs, err := clientOf(c).ListJobs(ctx(c), req)
			if err != nil {
				return fmt.Errorf("list jobs: %w", err)
			}
			if asJSON {
				return printJSON(c.App.Writer, jobs)
			}
			now := time.Now()
			t := newTable(c.App.Writer, "ID", "NAME", "USER", "STATE", "QUEUE", "NODE", "AGE")
			for _, j := range jobs {
				t.row(j.ID, j.Name, j.User, j.State, j.Queue, orDash(j.Node), age(now, j.CreatedAt))
			}
			return t.flush()
		},
	}
}

// stateFlag reads the repeatable, comma-separated --state flag.
func stateFlag(c *cli.Context) ([]api.JobState, error) {
	var states []api.JobState
	for _, list := range c.StringSlice("state") {
		for _, s := range strings.Split(list, ",") {
			st, ok := api.ParseJobState(strings.TrimSpace(s))
			if !ok {
				return nil, usagef("--state %q: not a job state; use one of %v", s, api.AllStates)
			}
			states = append(states, st)
		}
	}
	return states, nil
}
