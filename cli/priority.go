package cli

import (
	"encoding/json"
	"fmt"

	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/cli/internal/termsafe"
)

// priorityCommand is `shoal priority`: the waiting jobs' priorities and
// the weighted factors that make them (Slurm's sprio -l), as the
// controller's scheduler computes them now.
func priorityCommand() *cli.Command {
	return &cli.Command{
		Name:      "priority",
		Usage:     "show waiting jobs' priorities and their factors (age, fair share, job size, queue, QOS, nice), as sprio -l",
		ArgsUsage: "[JOB_ID...]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "user", Usage: "only this user's jobs"},
			&cli.StringFlag{Name: "queue", Usage: "only this queue's jobs"},
			&cli.BoolFlag{Name: "json", Usage: "print the controller's answer as JSON"},
		},
		Action: func(c *cli.Context) error {
			var req api.PriorityRequest
			for _, a := range c.Args().Slice() {
				id, err := parseJobID(a)
				if err != nil {
					return err
				}
				req.Jobs = append(req.Jobs, id)
			}
			if u := c.String("user"); u != "" {
				req.Users = []string{u}
			}
			if q := c.String("queue"); q != "" {
				req.Queues = []string{q}
			}
			var resp api.PriorityResponse
			if err := clientOf(c).Call(ctx(c), api.PathPriority, req, &resp); err != nil {
				return fmt.Errorf("priority: %w", err)
			}
			if c.Bool("json") {
				b, err := json.MarshalIndent(resp, "", "  ")
				if err != nil {
					return fmt.Errorf("priority: %w", err)
				}
				_, err = fmt.Fprintf(c.App.Writer, "%s\n", termsafe.JSON(b))
				return err
			}
			w := resp.Weights
			if !resp.Multifactor {
				fmt.Fprintln(c.App.Writer, "Priorities are priority/basic (no weight set: shoal agent -priority-weight-*): jobs run by their submit priority.")
			} else {
				fmt.Fprintf(c.App.Writer, "Weights: age %d, fair share %d, job size %d, queue %d, QOS %d\n", w.Age, w.FairShare, w.JobSize, w.Partition, w.QOS)
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "JOBID\tUSER\tACCOUNT\tQUEUE\tPRIORITY\tAGE\tFAIRSHARE\tJOBSIZE\tQUEUEPRIO\tQOS\tNICE\t")
			for _, j := range resp.Jobs {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%d\t\n", j.JobID, termsafe.String(j.User),
					termsafe.String(j.Account), termsafe.String(j.Queue), j.Priority, j.Age, j.FairShare, j.JobSize, j.Partition, j.QOS, j.Nice)
			}
			return tw.Flush()
		},
	}
}
