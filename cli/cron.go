package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/cron"
)

func cronCommand() *cli.Command {
	userFlag := &cli.StringFlag{Name: "user", Usage: "root and operators: another user's schedules (name or uid)"}
	byName := func(name, usage string, run func(c *cli.Context, req api.CronNameRequest) error) *cli.Command {
		return &cli.Command{
			Name: name, Usage: usage, ArgsUsage: "NAME", Flags: []cli.Flag{userFlag},
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return usagef("cron %s needs the schedule's name", name)
				}
				return run(c, api.CronNameRequest{Name: c.Args().First(), User: c.String("user")})
			},
		}
	}
	pause := func(paused bool) func(*cli.Context, api.CronNameRequest) error {
		return func(c *cli.Context, req api.CronNameRequest) error {
			err := clientOf(c).Call(ctx(c), api.PathCronPause, api.CronPauseRequest{Name: req.Name, User: req.User, Paused: paused}, nil)
			if err != nil {
				return fmt.Errorf("cron %s: %w", c.Command.Name, err)
			}
			return nil
		}
	}
	return &cli.Command{
		Name:  "cron",
		Usage: "schedules that submit a job at each slot of a cron expression (create, list, show, pause, resume, delete)",
		Subcommands: []*cli.Command{
			cronCreateCommand(userFlag),
			{
				Name: "list", Usage: "list schedules: name, schedule, zone, next run, last run's job and state",
				Flags: []cli.Flag{userFlag, outputFlag},
				Action: func(c *cli.Context) error {
					return cronList(c, api.CronListRequest{User: c.String("user")}, false)
				},
			},
			{
				Name: "show", Usage: "a schedule and its recent firings: slot, job id, outcome", ArgsUsage: "NAME",
				Flags: []cli.Flag{userFlag, outputFlag},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usagef("cron show needs the schedule's name")
					}
					return cronList(c, api.CronListRequest{Name: c.Args().First(), User: c.String("user")}, true)
				},
			},
			byName("delete", "delete a schedule (jobs it submitted run on)", func(c *cli.Context, req api.CronNameRequest) error {
				if err := clientOf(c).Call(ctx(c), api.PathCronDelete, req, nil); err != nil {
					return fmt.Errorf("cron delete: %w", err)
				}
				return nil
			}),
			byName("pause", "stop a schedule firing until it is resumed", pause(true)),
			byName("resume", "fire a paused schedule again, from its next slot on", pause(false)),
		},
	}
}

func cronCreateCommand(userFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create a schedule: each slot submits the job (a command, or --definition); prints its next run",
		ArgsUsage: "NAME [--] [COMMAND [ARG...]]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "schedule", Usage: "cron expression: 'MIN HOUR DAY MONTH WEEKDAY' (e.g. '0 3 * * *') or @hourly, @daily, @weekly, @monthly, @yearly", Required: true},
			&cli.StringFlag{Name: "timezone", Usage: "IANA time zone of the schedule, e.g. Asia/Tokyo (default UTC)"},
			&cli.StringFlag{Name: "overlap", Usage: "while an earlier run is active: skip the slot (default), allow a second run, or replace (cancel it and start)"},
			&cli.StringFlag{Name: "missed", Usage: "slots missed while no controller ran: run-once (one run; default) or skip"},
			&cli.BoolFlag{Name: "update", Usage: "replace an existing schedule's spec (its firings are kept)"},
			userFlag,
			&cli.StringFlag{Name: "name", Usage: "job name (default: the schedule's name)"},
			&cli.StringFlag{Name: "queue", Usage: "job queue", Value: api.DefaultQueue},
			&cli.IntFlag{Name: "cpus", Usage: "CPUs the job needs (default 1)"},
			&cli.StringFlag{Name: "mem", Usage: "memory the job may use: MiB, or with a unit (512M, 2G); default 1024"},
			&cli.Int64Flag{Name: "priority", Usage: "higher runs first (root only, as Slurm's --priority; others give --nice)"},
			&cli.StringSliceFlag{Name: "env", Usage: "KEY=VALUE set in the job's environment (repeatable)"},
			&cli.StringFlag{Name: "chdir", Usage: "working directory (default: the current directory)"},
			&cli.Int64Flag{Name: "time-limit", Usage: "seconds a run may take before it is stopped (0: none)"},
			&cli.StringFlag{Name: "definition", Usage: "submit from a job definition (NAME or NAME:REVISION) at each slot; a command, if given, overrides its command"},
			&cli.StringSliceFlag{Name: "parameters", Usage: "with --definition: parameter K=V (repeatable), replaces Ref::K"},
		},
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) == 0 {
				return usagef("cron create needs the schedule's name, e.g. shoal cron create nightly --schedule '0 3 * * *' -- ./backup.sh")
			}
			name, command := args[0], args[1:]
			if len(command) > 0 && command[0] == "--" {
				command = command[1:]
			}
			if _, err := cron.Parse(c.String("schedule")); err != nil {
				return usagef("--schedule: %v", err)
			}
			if _, err := cron.LoadLocation(c.String("timezone")); err != nil {
				return usagef("--timezone: %v", err)
			}
			spec := api.CronSpec{
				Name: name, Schedule: c.String("schedule"), Timezone: c.String("timezone"),
				Overlap: api.CronOverlap(c.String("overlap")), Missed: api.CronMissed(c.String("missed")),
				Definition: c.String("definition"),
			}
			job := &spec.Job
			job.Name, job.Queue, job.Command, job.Priority, job.Dir = c.String("name"), c.String("queue"), command, c.Int64("priority"), c.String("chdir")
			job.TimeLimit = c.Int64("time-limit")
			job.Resources.CPUs = c.Int("cpus")
			if m := c.String("mem"); m != "" {
				mib, err := ParseMemoryMiB(m)
				if err != nil {
					return usagef("--mem: %v", err)
				}
				job.Resources.MemoryMB = mib
			}
			env, err := keyValues(c.StringSlice("env"), "--env")
			if err != nil {
				return err
			}
			job.Env = env
			if spec.Parameters, err = keyValues(c.StringSlice("parameters"), "--parameters"); err != nil {
				return err
			}
			switch {
			case spec.Definition == "" && len(command) == 0:
				return usagef("cron create needs what to run: -- COMMAND [ARG...], or --definition DEF")
			case spec.Definition == "" && job.Dir == "":
				wd, err := os.Getwd()
				if err != nil {
					return fmt.Errorf("find the current directory for the job: %w (give --chdir)", err)
				}
				job.Dir = wd
			}
			var s api.CronSchedule
			if err := clientOf(c).Call(ctx(c), api.PathCronPut, api.CronPutRequest{Spec: spec, Update: c.Bool("update"), User: c.String("user")}, &s); err != nil {
				return fmt.Errorf("cron create: %w", err)
			}
			fmt.Fprintf(c.App.Writer, "%s: next run %s\n", s.Name, cronTime(s.NextRun, s))
			return nil
		},
	}
}

// cronTime prints an epoch-ms time in the schedule's zone.
func cronTime(ms int64, s api.CronSchedule) string {
	if ms == 0 {
		return "-"
	}
	loc := time.Local
	if s.Timezone != "" {
		if l, err := cron.LoadLocation(s.Timezone); err == nil {
			loc = l
		}
	} else if !s.Crontab {
		loc = time.UTC
	}
	return time.UnixMilli(ms).In(loc).Format("2006-01-02T15:04:05 MST")
}

func cronList(c *cli.Context, req api.CronListRequest, detail bool) error {
	asJSON, err := wantJSON(c)
	if err != nil {
		return err
	}
	var resp api.CronListResponse
	if err := clientOf(c).Call(ctx(c), api.PathCronList, req, &resp); err != nil {
		return fmt.Errorf("cron %s: %w", c.Command.Name, err)
	}
	if asJSON {
		if detail && len(resp.Schedules) == 1 {
			return printJSON(c.App.Writer, resp.Schedules[0])
		}
		return printJSON(c.App.Writer, resp.Schedules)
	}
	if detail {
		return cronShow(c, resp.Schedules[0])
	}
	t := newTable(c.App.Writer, "NAME", "USER", "SCHEDULE", "TZ", "NEXT", "LAST_JOB", "STATE")
	for _, s := range resp.Schedules {
		next := cronTime(s.NextRun, s)
		if s.Paused {
			next = "paused"
		}
		lastJob, state := "-", "-"
		if n := len(s.Firings); n > 0 {
			f := s.Firings[n-1]
			lastJob, state = firingOutcome(f)
		}
		if s.Error != "" {
			state = "ERROR"
		}
		t.row(s.Name, s.User, s.Schedule, orDash(zoneName(s)), next, lastJob, state)
	}
	return t.flush()
}

func zoneName(s api.CronSchedule) string {
	if s.Timezone == "" && s.Crontab {
		return "(controller)"
	}
	if s.Timezone == "" {
		return "UTC"
	}
	return s.Timezone
}

// firingOutcome is a firing's job id and state, or why it has none.
func firingOutcome(f api.CronFiring) (job, outcome string) {
	switch {
	case f.Error != "":
		return "-", "error: " + f.Error
	case f.JobID == 0:
		return "-", "skipped: " + f.Skipped
	}
	state := string(f.State)
	if state == "" {
		state = "(expired)"
	}
	if f.Reason != "" && f.State == api.StateFailed {
		state += " (" + f.Reason + ")"
	}
	return api.FormatID(f.JobID), state
}

func cronShow(c *cli.Context, s api.CronSchedule) error {
	w := c.App.Writer
	kv := newTable(w, "Name:", s.Name)
	what := strings.Join(s.Job.Command, " ")
	if s.Definition != "" {
		what = "definition " + s.Definition + " " + what
	}
	if s.Crontab {
		what = fmt.Sprintf("crontab line %d", s.Line)
	}
	next := cronTime(s.NextRun, s)
	if s.Paused {
		next = "paused"
	}
	for _, row := range [][2]string{
		{"User:", s.User}, {"Schedule:", s.Schedule}, {"Timezone:", zoneName(s)},
		{"Overlap:", string(s.Overlap)}, {"Missed:", string(s.Missed)}, {"Runs:", what},
		{"Next run:", next}, {"Last slot:", cronTime(s.LastSlot, s)}, {"Error:", orDash(s.Error)},
	} {
		kv.row(row[0], row[1])
	}
	if err := kv.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	t := newTable(w, "SLOT", "FIRED", "JOB", "OUTCOME", "MISSED")
	for i := len(s.Firings) - 1; i >= 0; i-- {
		f := s.Firings[i]
		job, outcome := firingOutcome(f)
		t.row(cronTime(f.Slot, s), time.UnixMilli(f.At).Local().Format("15:04:05"), job, outcome, f.Missed)
	}
	return t.flush()
}
