package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/shoal-batch/shoal/api"
)

// The AWS Batch objects from shoal's CLI: the same operations the aws CLI
// calls (POST /v1/<operation>), sent over the controller's unix socket.

func jobdefCommand() *cli.Command {
	return &cli.Command{
		Name:  "jobdef",
		Usage: "job definitions: register, list, deregister",
		Subcommands: []*cli.Command{
			{
				Name:  "register",
				Usage: "register a job definition (each register makes revision N+1)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "name", Required: true, Usage: "job definition name"},
					&cli.StringFlag{Name: "type", Value: "container", Usage: "container (runs an image) or script (runs on the host filesystem)"},
					&cli.StringFlag{Name: "file", Usage: "containerProperties as JSON (image, command, vcpus, memory, environment, ...)"},
					&cli.StringSliceFlag{Name: "parameters", Usage: "default parameter K=V (repeatable), replaces Ref::K in the command"},
					&cli.IntFlag{Name: "retry-attempts", Usage: "retryStrategy.attempts (1-10)"},
					&cli.Int64Flag{Name: "timeout", Usage: "timeout.attemptDurationSeconds (at least 60)"},
				},
				Action: func(c *cli.Context) error {
					req := api.AWSRegisterJobDefinitionRequest{JobDefinition: api.JobDefinition{Name: c.String("name"), Type: c.String("type")}}
					if f := c.String("file"); f != "" {
						var props api.ContainerProperties
						if err := readJSONFile(f, &props); err != nil {
							return err
						}
						req.ContainerProperties = &props
					}
					params, err := keyValues(c.StringSlice("parameters"), "--parameters")
					if err != nil {
						return err
					}
					req.Parameters = params
					if n := c.Int("retry-attempts"); n > 0 {
						req.RetryStrategy = &api.RetryStrategy{Attempts: n}
					}
					if t := c.Int64("timeout"); t > 0 {
						req.Timeout = &api.JobTimeout{AttemptDurationSeconds: t}
					}
					return callAndPrint(c, "registerjobdefinition", req)
				},
			},
			{
				Name:  "list",
				Usage: "describe job definitions (all, or one name)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "name", Usage: "only this name"},
					&cli.StringFlag{Name: "status", Usage: "ACTIVE or INACTIVE"},
				},
				Action: func(c *cli.Context) error {
					// Every page (the controller answers 100 at a time), printed as one.
					req := api.AWSDescribeJobDefinitionsRequest{Name: c.String("name"), Status: c.String("status")}
					var all api.AWSDescribeJobDefinitionsResponse
					for {
						var page api.AWSDescribeJobDefinitionsResponse
						if err := clientOf(c).Call(ctx(c), "/v1/describejobdefinitions", req, &page); err != nil {
							return fmt.Errorf("describejobdefinitions: %w", err)
						}
						all.JobDefinitions = append(all.JobDefinitions, page.JobDefinitions...)
						if page.NextToken == "" {
							break
						}
						req.NextToken = page.NextToken
					}
					return printJSON(c.App.Writer, all)
				},
			},
			{
				Name:      "deregister",
				Usage:     "mark a revision INACTIVE",
				ArgsUsage: "NAME:REVISION",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usagef("jobdef deregister takes one NAME:REVISION")
					}
					return callAndPrint(c, "deregisterjobdefinition", api.AWSDeregisterJobDefinitionRequest{JobDefinition: c.Args().First()})
				},
			},
		},
	}
}

func ceCommand() *cli.Command {
	return &cli.Command{
		Name:  "ce",
		Usage: "compute environments (sets of nodes): create, update, list",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "create a compute environment of the named nodes, the nodes with the labels, or all nodes",
				ArgsUsage: "NAME",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "type", Value: "UNMANAGED", Usage: "MANAGED or UNMANAGED"},
					&cli.StringFlag{Name: "state", Value: api.Enabled, Usage: "ENABLED or DISABLED"},
					&cli.StringSliceFlag{Name: "node", Usage: "a node that belongs (repeatable)"},
					&cli.StringSliceFlag{Name: "label", Usage: "K=V every node must carry (repeatable)"},
				},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usagef("ce create takes one NAME")
					}
					labels, err := keyValues(c.StringSlice("label"), "--label")
					if err != nil {
						return err
					}
					return callAndPrint(c, "createcomputeenvironment", api.ComputeEnvironment{
						Name: c.Args().First(), Type: c.String("type"), State: c.String("state"),
						Nodes: c.StringSlice("node"), NodeLabels: labels})
				},
			},
			{
				Name:      "update",
				Usage:     "enable or disable a compute environment, or change its nodes",
				ArgsUsage: "NAME",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "state", Usage: "ENABLED or DISABLED"},
					&cli.StringSliceFlag{Name: "node", Usage: "the nodes that belong (repeatable; replaces the list)"},
				},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usagef("ce update takes one NAME")
					}
					req := api.AWSUpdateComputeEnvironmentRequest{ComputeEnvironment: c.Args().First(), State: c.String("state")}
					if c.IsSet("node") {
						req.Nodes = c.StringSlice("node")
					}
					return callAndPrint(c, "updatecomputeenvironment", req)
				},
			},
			{
				Name:  "list",
				Usage: "describe compute environments",
				Action: func(c *cli.Context) error {
					return callAndPrint(c, "describecomputeenvironments", api.AWSDescribeComputeEnvironmentsRequest{ComputeEnvironments: c.Args().Slice()})
				},
			},
		},
	}
}

// The memory enforcement flags of queue create and update (api.RAMSpace).
var (
	constrainRAMFlag = &cli.StringFlag{Name: "constrain-ram-space",
		Usage: "yes or no, as Slurm's ConstrainRAMSpace: whether the queue's jobs' memory is limited at all (default yes)"}
	allowedRAMFlag = &cli.Float64Flag{Name: "allowed-ram-space",
		Usage: "as Slurm's AllowedRAMSpace: a job's memory limit as a percentage of what it asked for (default 100)"}
)

// ramFlags reads --constrain-ram-space: nil if not given.
func ramFlags(c *cli.Context) (*bool, error) {
	if !c.IsSet("constrain-ram-space") {
		return nil, nil
	}
	var on bool
	switch strings.ToLower(c.String("constrain-ram-space")) {
	case "yes", "true":
		on = true
	case "no", "false":
	default:
		return nil, usagef("--constrain-ram-space %q: give yes or no", c.String("constrain-ram-space"))
	}
	return &on, nil
}

// queueObjectCommands are the job-queue subcommands of `shoal queue` (which
// by itself lists jobs).
func queueObjectCommands() []*cli.Command {
	return []*cli.Command{
		{
			Name:      "create",
			Usage:     "create a job queue sending jobs to compute environments in order",
			ArgsUsage: "NAME",
			Flags: []cli.Flag{
				&cli.IntFlag{Name: "priority", Usage: "higher-priority queues' jobs are placed first"},
				&cli.StringSliceFlag{Name: "ce", Required: true, Usage: "compute environment, in order (repeatable)"},
				&cli.StringFlag{Name: "state", Value: api.Enabled, Usage: "ENABLED or DISABLED"},
				constrainRAMFlag, allowedRAMFlag,
			},
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return usagef("queue create takes one NAME")
				}
				q := api.JobQueue{Name: c.Args().First(), Priority: c.Int("priority"), State: c.String("state")}
				constrain, err := ramFlags(c)
				if err != nil {
					return err
				}
				q.ConstrainRAMSpace, q.AllowedRAMSpace = constrain, c.Float64("allowed-ram-space")
				for i, ce := range c.StringSlice("ce") {
					q.ComputeEnvironmentOrder = append(q.ComputeEnvironmentOrder, api.ComputeEnvironmentOrder{Order: i + 1, ComputeEnvironment: ce})
				}
				return callAndPrint(c, "createjobqueue", q)
			},
		},
		{
			Name:      "update",
			Usage:     "enable or disable a job queue, or change its priority or memory enforcement",
			ArgsUsage: "NAME",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "state", Usage: "ENABLED or DISABLED"},
				&cli.IntFlag{Name: "priority", Usage: "new priority"},
				constrainRAMFlag, allowedRAMFlag,
			},
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return usagef("queue update takes one NAME")
				}
				req := api.AWSUpdateJobQueueRequest{JobQueue: c.Args().First(), State: c.String("state")}
				if c.IsSet("priority") {
					p := c.Int("priority")
					req.Priority = &p
				}
				constrain, err := ramFlags(c)
				if err != nil {
					return err
				}
				req.ConstrainRAMSpace = constrain
				if c.IsSet("allowed-ram-space") {
					a := c.Float64("allowed-ram-space")
					req.AllowedRAMSpace = &a
				}
				return callAndPrint(c, "updatejobqueue", req)
			},
		},
		{
			Name:  "list",
			Usage: "describe job queues",
			Action: func(c *cli.Context) error {
				return callAndPrint(c, "describejobqueues", api.AWSDescribeJobQueuesRequest{JobQueues: c.Args().Slice()})
			},
		},
	}
}

func keysCommand() *cli.Command {
	return &cli.Command{
		Name:  "keys",
		Usage: "access keys for the AWS-compatible API (root only): create, list, delete",
		Subcommands: []*cli.Command{
			{
				Name:  "create",
				Usage: "issue a key to a user; prints the id and the secret (shown once)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "user", Required: true, Usage: "the user the key acts as"},
					&cli.BoolFlag{Name: "allow-root", Usage: "issue a key to a user of uid 0 (it runs jobs as root from wherever the TCP API reaches)"},
				},
				Action: func(c *cli.Context) error {
					return keysCall(c, api.KeysRequest{Create: true, User: c.String("user"), AllowRoot: c.Bool("allow-root")})
				},
			},
			{
				Name:  "list",
				Usage: "list keys (without secrets)",
				Flags: []cli.Flag{&cli.StringFlag{Name: "user", Usage: "only this user's"}},
				Action: func(c *cli.Context) error {
					return keysCall(c, api.KeysRequest{User: c.String("user")})
				},
			},
			{
				Name:      "delete",
				Usage:     "revoke a key",
				ArgsUsage: "ACCESS_KEY_ID",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usagef("keys delete takes one ACCESS_KEY_ID")
					}
					return keysCall(c, api.KeysRequest{Delete: c.Args().First()})
				},
			},
		},
	}
}

func keysCall(c *cli.Context, req api.KeysRequest) error {
	var resp json.RawMessage
	if err := clientOf(c).Call(ctx(c), api.PathKeys, req, &resp); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	return printRaw(c, resp)
}

// callAndPrint calls an AWS Batch operation and prints its JSON answer.
func callAndPrint(c *cli.Context, operation string, req any) error {
	var resp json.RawMessage
	if err := clientOf(c).Call(ctx(c), "/v1/"+operation, req, &resp); err != nil {
		return fmt.Errorf("%s: %w", operation, err)
	}
	return printRaw(c, resp)
}

func printRaw(c *cli.Context, raw json.RawMessage) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	return printJSON(c.App.Writer, v)
}

func readJSONFile(path string, v any) error {
	data, err := os.ReadFile(strings.TrimPrefix(path, "file://"))
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return usagef("%s is not the JSON expected: %v", path, err)
	}
	return nil
}

// keyValues reads K=V flags into a map (nil when none).
func keyValues(list []string, flag string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("%s %q: want KEY=VALUE", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}
