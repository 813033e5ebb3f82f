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
			&cli.Int64Flag{Name: "priority", Usage: "higher runs first (root only, as Slurm's --priority; others give --nice)"},
			&cli.StringSliceFlag{Name: "depends-on", Usage: "job ids that must succeed first (repeat or comma-separate)"},
			&cli.StringSliceFlag{Name: "env", Usage: "KEY=VALUE set in the job's environment (repeatable)"},
			&cli.StringFlag{Name: "chdir", Usage: "working directory (default: the current directory)"},
			&cli.StringFlag{Name: "definition", Usage: "submit from a job definition (NAME or NAME:REVISION); the command, if given, overrides its command"},
			&cli.StringSliceFlag{Name: "parameters", Usage: "with --definition: parameter K=V (repeatable), replaces Ref::K"},
			&cli.StringFlag{Name: "overrides", Usage: "with --definition: containerOverrides JSON, e.g. '{\"memory\":100}'"},
			&cli.IntFlag{Name: "array-size", Usage: "with --definition: an array job of N tasks"},
			&cli.IntFlag{Name: "retry", Usage: "attempts in all (2-10): a failed attempt runs again while attempts are left (with --definition: retryStrategy.attempts)"},
			&cli.StringFlag{Name: "retry-on", Usage: "with --retry: retry only these failures, comma-separated: exit:CODE (a trailing * matches a prefix), oom, node-fail, timeout"},
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
	var err error
	if req.RetryAttempts, req.RetryRules, err = retryFlags(c); err != nil {
		return req, err
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
	if n, rules, err := retryFlags(c); err != nil {
		return err
	} else if n > 0 {
		req.RetryStrategy = &api.RetryStrategy{Attempts: n, EvaluateOnExit: rules}
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

// retryFlags reads --retry N and --retry-on LIST into attempts and AWS
// evaluateOnExit rules: one RETRY rule per failure named, then a rule that
// ends the job on any other failure.
func retryFlags(c *cli.Context) (int, []api.RetryRule, error) {
	n, on := c.Int("retry"), c.String("retry-on")
	if on == "" {
		if c.IsSet("retry") && (n < 1 || n > 10) {
			return 0, nil, usagef("--retry %d: give the attempts in all, 1 to 10", n)
		}
		return n, nil, nil
	}
	if n < 2 || n > 10 {
		return 0, nil, usagef("--retry-on needs --retry N, the attempts in all (2 to 10)")
	}
	rules, err := RetryOnRules(on)
	return n, rules, err
}

// RetryOnRules translates --retry-on's failures into retry rules: exit:CODE
// (CODE digits, optionally ending in *), oom, node-fail and timeout each
// retry; any other failure ends the job (a final EXIT rule).
func RetryOnRules(list string) ([]api.RetryRule, error) {
	var rules []api.RetryRule
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		var r api.RetryRule
		switch {
		case strings.HasPrefix(item, "exit:"):
			code := strings.TrimPrefix(item, "exit:")
			if strings.Trim(strings.TrimSuffix(code, "*"), "0123456789") != "" || code == "" {
				return nil, usagef("--retry-on %s: give exit:CODE with CODE digits, optionally ending in * (exit:3, exit:1*)", item)
			}
			if err := retryExitCode(item, code); err != nil { // retryon.go
				return nil, err
			}
			r.OnExitCode = code
		case item == "oom":
			r.OnReason = "OutOfMemoryError*"
		case item == "node-fail":
			r.OnStatusReason = "Host*"
		case item == "timeout":
			r.OnStatusReason = api.ReasonTimeout
		default:
			return nil, usagef("--retry-on %q: use exit:CODE, oom, node-fail or timeout, comma-separated", item)
		}
		r.Action = api.RetryActionRetry
		rules = append(rules, r)
	}
	// AWS allows 5 rules: the final EXIT takes one.
	if len(rules) > api.MaxRetryRules-1 {
		return nil, usagef("--retry-on names %d failures; at most %d", len(rules), api.MaxRetryRules-1)
	}
	return append(rules, api.RetryRule{OnReason: "*", Action: api.RetryActionExit}), nil
}
