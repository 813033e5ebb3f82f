package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/shoal-batch/shoal/api"
)

func waitCommand() *cli.Command {
	return &cli.Command{
		Name:      "wait",
		Usage:     "block until a job ends (or reaches --state); prints its state; exit 0 if SUCCEEDED or the state was reached, 1 otherwise",
		ArgsUsage: "JOB_ID",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "state", Usage: "wait for one of these states instead of the end"},
		},
		Action: func(c *cli.Context) error {
			id, err := oneJobID(c)
			if err != nil {
				return err
			}
			states, err := stateFlag(c)
			if err != nil {
				return err
			}
			j, err := clientOf(c).WaitJob(ctx(c), id, states...)
			if err != nil {
				return fmt.Errorf("wait for job %d: %w", id, err)
			}
			fmt.Fprintln(c.App.Writer, j.State)
			if len(states) == 0 && j.State != api.StateSucceeded {
				return cli.Exit("", ExitError)
			}
			return nil
		},
	}
}
