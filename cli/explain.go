package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/cli/internal/termsafe"
)

func explainCommand() *cli.Command {
	return &cli.Command{
		Name:      "explain",
		Usage:     "say why a job waits and until when: its reason, what it lacks, the jobs ahead of it, its estimated start",
		ArgsUsage: "JOB_ID",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the controller's answer as JSON"},
		},
		Action: func(c *cli.Context) error {
			id, err := oneJobID(c)
			if err != nil {
				return err
			}
			var e api.Explanation
			if err := clientOf(c).Call(ctx(c), api.PathExplain, api.ExplainRequest{ID: id}, &e); err != nil {
				return fmt.Errorf("explain job %d: %w", id, err)
			}
			if c.Bool("json") {
				b, err := json.MarshalIndent(e, "", "  ")
				if err != nil {
					return fmt.Errorf("explain job %d: %w", id, err)
				}
				_, err = fmt.Fprintf(c.App.Writer, "%s\n", termsafe.JSON(b))
				return err
			}
			writeExplanation(c.App.Writer, e, time.Local)
			return nil
		},
	}
}

// writeExplanation prints one screen: the job, its state, why it waits
// (the reason code and the shortfall in words), the jobs ahead, when it
// may start, and what would change that.
func writeExplanation(w io.Writer, e api.Explanation, loc *time.Location) {
	j := e.Job
	now := time.UnixMilli(e.Now)
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%-11s %s\n", label+":", fmt.Sprintf(format, args...))
	}
	line("Job", "%d %s (user %s, queue %s)", j.ID, termsafe.String(j.Name), termsafe.String(j.User), termsafe.String(j.Queue))
	state := string(j.State)
	if j.State == api.StateRunnable && j.RunnableAt > 0 {
		state += ", waiting " + roughDuration(now.Sub(time.UnixMilli(j.RunnableAt)))
	}
	line("State", "%s", state)
	if !j.State.Cancellable() {
		if j.StartedAt > 0 {
			line("Started", "%s on %s", when(j.StartedAt, now, loc), termsafe.String(j.Node))
		}
		fmt.Fprintln(w, "It does not wait: nothing to explain.")
		return
	}
	line("Asks", "%s", asks(j))
	if e.Placeable {
		line("Reason", "None")
		fmt.Fprintln(w, "It fits now: the scheduler places it in its next pass.")
		return
	}
	line("Reason", "%s", termsafe.String(e.Reason))
	line("Why", "%s", termsafe.String(e.Detail))
	if s := e.Shortfall; s != nil && strings.HasPrefix(s.Resource, "license:") {
		line("Shortfall", "license %s: asks %d, %d free now, %d in all",
			termsafe.String(strings.TrimPrefix(s.Resource, "license:")), s.Asked, s.FreeNow, s.AtMost)
	} else if s != nil && s.Resource != "" {
		nodes := fmt.Sprintf("%d UP nodes", s.UpNodes)
		if s.UpNodes == 1 {
			nodes = "1 UP node"
		}
		line("Shortfall", "%s: asks %d, best node %s has %d free now, %d at most (%s in the queue)",
			s.Resource, s.Asked, orNone(s.BestNode), s.FreeNow, s.AtMost, nodes)
	}
	if e.Reason == "Resources" || e.Reason == "Priority" {
		ahead := fmt.Sprintf("%d jobs of queue %s wait for resources before it", e.Ahead, termsafe.String(j.Queue))
		if e.Ahead == 1 {
			ahead = fmt.Sprintf("1 job of queue %s waits for resources before it", termsafe.String(j.Queue))
		}
		var heads []string
		for _, h := range e.Heads {
			if h != j.ID {
				heads = append(heads, api.FormatID(h))
			}
		}
		if len(heads) > 0 && e.Ahead > 0 {
			ahead += " (first: " + strings.Join(heads, ", ") + ")"
		}
		line("Ahead", "%s", ahead)
	}
	switch {
	case e.EstimatedStartAt > 0 && e.Reserved:
		line("Start", "%s, reserved on %s: jobs behind it start early only if they do not delay it", when(e.EstimatedStartAt, now, loc), termsafe.String(e.Node))
	case e.EstimatedStartAt > 0:
		line("Start", "%s (estimate, from running jobs' time limits)", when(e.EstimatedStartAt, now, loc))
	default:
		line("Start", "unknown")
	}
	if j.TimeLimit == 0 && (e.Reason == "Resources" || e.Reason == "Priority") {
		fmt.Fprintln(w, "Hint:       it has no time limit, so it counts as running for ever; a limit (--time) lets it start early in gaps that backfill leaves.")
	}
}

func asks(j api.Job) string {
	r := j.Resources
	parts := []string{fmt.Sprintf("%d CPUs", r.CPUs), fmt.Sprintf("%d MiB memory", r.MemoryMB)}
	if r.GPUs > 0 {
		g := fmt.Sprintf("%d GPUs", r.GPUs)
		if r.GPUTypes != "" {
			g += " (" + string(r.GPUTypes) + ")"
		}
		parts = append(parts, g)
	}
	limit := "no time limit"
	if j.TimeLimit > 0 {
		limit = "time limit " + roughDuration(time.Duration(j.TimeLimit)*time.Second)
	}
	return strings.Join(append(parts, limit), ", ")
}

// when prints an epoch-ms time and how far it is from now.
func when(ms int64, now time.Time, loc *time.Location) string {
	t := time.UnixMilli(ms)
	d := t.Sub(now)
	rel := "in " + roughDuration(d)
	if d <= 0 {
		rel = "now"
	}
	return t.In(loc).Format("2006-01-02T15:04:05") + " (" + rel + ")"
}

// roughDuration is a duration to the minute (seconds under a minute).
func roughDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Truncate(time.Second).String()
	case d < 48*time.Hour:
		return strings.TrimSuffix(d.Truncate(time.Minute).String(), "0s")
	}
	return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return termsafe.String(s)
}
