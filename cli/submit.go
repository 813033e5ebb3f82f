package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/shoal-batch/shoal/api"
)

func submitCommand() *cli.Command {
	return &cli.Command{
		Name:      "submit",
		Usage:     "submit a job; prints its id",
		ArgsUsage: "[--] COMMAND [ARG...]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "job name (default: the command's base name)"},
			&cli.StringFlag{Name: "queue", Usage: "job queue", Value: api.DefaultQueue},
			&cli.IntFlag{Name: "cpus", Usage: "CPUs the job needs (default 1)"},
			&cli.StringFlag{Name: "mem", Usage: "memory the job may use: MiB, or with a unit (512M, 2G); default 1024"},
			&cli.Int64Flag{Name: "priority", Usage: "higher runs first"},
			&cli.StringSliceFlag{Name: "depends-on", Usage: "job ids that must succeed first (repeat or comma-separate)"},
			&cli.StringSliceFlag{Name: "env", Usage: "KEY=VALUE set in the job's environment (repeatable)"},
			&cli.StringFlag{Name: "chdir", Usage: "working directory (default: the current directory)"},
			&cli.StringFlag{Name: "definition", Usage: "submit from a job definition (NAME or NAME:REVISION); the command, if given, overrides its command"},
			&cli.StringSliceFlag{Name: "parameters", Usage: "with --definition: parameter K=V (repeatable), replaces Ref::K"},
			&cli.StringFlag{Name: "overrides", Usage: "with --definition: containerOverrides JSON, e.g. '{\"memory\":100}'"},
			&cli.IntFlag{Name: "array-size", Usage: "with --definition: an array job of N tasks"},
		},
		Action: func(c *cli.Context) error {
			if c.IsSet("definition") {
				return submitFromDefinition(c)
			}
			req, err := submitRequest(c)
			if err != nil {
				return err
			}
			resp, err := clientOf(c).Submit(ctx(c), req)
			if err != nil {
				return fmt.Errorf("submit job: %w", err)
			}
			fmt.Fprintln(c.App.Writer, resp.ID)
			return nil
		},
	}
}

// submitRequest turns the submit command line into a request.
func submitRequest(c *cli.Context) (api.SubmitJobRequest, error) {
	if c.NArg() == 0 {
		return api.SubmitJobRequest{}, usagef("submit needs a command to run, e.g. shoal submit -- echo hello")
	}
	req := api.SubmitJobRequest{
		JobSpec: api.JobSpec{
			Name: c.String("name"), Queue: c.String("queue"), Command: c.Args().Slice(),
			Priority: c.Int64("priority"), Dir: c.String("chdir"),
		},
	}
	req.Resources.CPUs = c.Int("cpus")
	if m := c.String("mem"); m != "" {
		mib, err := ParseMemoryMiB(m)
		if err != nil {
			return req, usagef("--mem: %v", err)
		}
		req.Resources.MemoryMB = mib
	}
	for _, list := range c.StringSlice("depends-on") {
		for _, s := range strings.Split(list, ",") {
			id, err := parseJobID(s)
			if err != nil {
				return req, usagef("--depends-on: %v", err)
			}
			req.DependsOn = append(req.DependsOn, api.Dependency{JobID: id, Type: api.AfterOK})
		}
	}
	for _, kv := range c.StringSlice("env") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return req, usagef("--env %q: want KEY=VALUE", kv)
		}
		if req.Env == nil {
			req.Env = map[string]string{}
		}
		req.Env[k] = v
	}
	if req.Dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return req, fmt.Errorf("find the current directory for the job: %w (give --chdir)", err)
		}
		req.Dir = wd
	}
	return req, nil
}

// submitFromDefinition submits through the AWS Batch operation: the job is
// the definition with its parameters and overrides. As through the aws CLI,
// a job no node can run is accepted and held RUNNABLE with a
// MISCONFIGURATION statusReason that quantifies the shortfall.
func submitFromDefinition(c *cli.Context) error {
	params, err := keyValues(c.StringSlice("parameters"), "--parameters")
	if err != nil {
		return err
	}
	name := c.String("name")
	if name == "" {
		name = strings.Split(c.String("definition"), ":")[0]
	}
	req := api.AWSSubmitJobRequest{JobName: name, JobQueue: c.String("queue"), JobDefinition: c.String("definition"), Parameters: params}
	var overrides api.ContainerOverrides
	if o := c.String("overrides"); o != "" {
		dec := json.NewDecoder(strings.NewReader(o))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&overrides); err != nil {
			return usagef("--overrides: %v: give containerOverrides as JSON (command, vcpus, memory, environment, resourceRequirements)", err)
		}
	}
	if c.NArg() > 0 {
		overrides.Command = c.Args().Slice()
	}
	if !reflect.ValueOf(overrides).IsZero() {
		req.ContainerOverrides = &overrides
	}
	if n := c.Int("array-size"); n > 0 {
		req.ArrayProperties = &api.ArrayProperties{Size: n}
	}
	for _, list := range c.StringSlice("depends-on") {
		for _, s := range strings.Split(list, ",") {
			req.DependsOn = append(req.DependsOn, api.JobDependency{JobID: strings.TrimSpace(s)})
		}
	}
	var resp api.AWSSubmitJobResponse
	if err := clientOf(c).Call(ctx(c), "/v1/submitjob", req, &resp); err != nil {
		return fmt.Errorf("submit job: %w", err)
	}
	fmt.Fprintln(c.App.Writer, resp.JobID)
	return nil
}
