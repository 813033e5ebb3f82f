package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/cli/internal/termsafe"
)

func watchCommand() *cli.Command {
	return &cli.Command{
		Name:      "watch",
		Usage:     "follow jobs as they change: a line each time one's state, wait reason or node changes (the controller answers when they do: no polling); with job ids, it ends once they all have",
		ArgsUsage: "[JOB_ID...]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "user", Usage: "watch this user's jobs"},
			&cli.StringFlag{Name: "queue", Usage: "watch this queue's jobs"},
		},
		Action: func(c *cli.Context) error {
			req := api.WatchJobsRequest{User: c.String("user"), Queue: c.String("queue"), WaitMillis: 60_000}
			for _, a := range c.Args().Slice() {
				id, err := parseJobID(a)
				if err != nil {
					return err
				}
				req.IDs = append(req.IDs, id)
			}
			if len(req.IDs) == 0 && req.User == "" && req.Queue == "" {
				return usagef("watch: name job ids, --user or --queue")
			}
			return watchJobs(c, req, c.App.Writer)
		},
	}
}

// watchJobs prints a line per change of each watched job until, when ids
// were given, every one of them has ended.
func watchJobs(c *cli.Context, req api.WatchJobsRequest, w io.Writer) error {
	last := map[uint64]string{}
	for {
		var resp api.WatchJobsResponse
		if err := clientOf(c).Call(ctx(c), api.PathWatch, req, &resp); err != nil {
			return fmt.Errorf("watch: %w", err)
		}
		req.AfterDigest = resp.Digest
		found := map[uint64]bool{}
		ended := 0
		for _, j := range resp.Jobs {
			found[j.ID] = true
			if j.State.Terminal() {
				ended++
			}
			line := watchLine(j)
			if last[j.ID] != line {
				last[j.ID] = line
				fmt.Fprintf(w, "%s %s\n", time.Now().Format("2006-01-02T15:04:05"), line)
			}
		}
		for _, id := range req.IDs {
			if !found[id] {
				return fmt.Errorf("watch: job %d does not exist", id)
			}
		}
		if len(req.IDs) > 0 && ended == len(req.IDs) {
			return nil
		}
	}
}

// watchLine is what a watcher is told of a job: id, name, state, and why
// it waits (with its estimated start), where it runs, or how it ended.
func watchLine(j api.Job) string {
	s := fmt.Sprintf("%d %s %s", j.ID, termsafe.String(j.Name), j.State)
	switch {
	case j.State == api.StateRunnable && j.WaitReason != "":
		s += " " + termsafe.String(j.WaitReason)
		if j.EstimatedStartAt > 0 {
			s += " (start " + time.UnixMilli(j.EstimatedStartAt).Format("2006-01-02T15:04:05") + ")"
		}
	case j.State == api.StatePending && j.Held:
		s += " held"
	case j.State == api.StatePending:
		s += " waiting for dependencies"
	case j.State.Terminable():
		s += " on " + termsafe.String(j.Node)
	case j.State.Terminal() && j.StatusReason != "":
		s += ": " + termsafe.String(j.StatusReason)
	}
	return s
}
