package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client/core"
	"github.com/shoal-batch/shoal/cli/internal/termsafe"
)

// Exit codes scripts can rely on.
const (
	ExitOK    = 0
	ExitError = 1 // the request failed (refused, not found, controller down)
	ExitUsage = 2 // the command line was wrong
)

// NewApp builds the shoal command line. extra adds commands that live
// outside this package (the agent, which needs the daemon and node).
func NewApp(stdout, stderr io.Writer, extra ...*cli.Command) *cli.App {
	app := &cli.App{
		Name:      "shoal",
		Usage:     "a batch system for shared research clusters",
		Writer:    stdout,
		ErrWriter: stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{
				Name:    "controller",
				Usage:   "controller address: a unix socket path, host:port or https://host:port (TLS), or http://host:port (a controller run with -insecure-http); several controllers of a cluster separated by commas (requests follow the leader)",
				EnvVars: []string{"SHOAL_ADDR"},
				Value:   api.DefaultSocket,
			},
			&cli.StringFlag{
				Name:    "ca-file",
				Usage:   "CA bundle to check a TCP controller's certificate with (a copy of its DATA_DIR/controller/ca.pem)",
				EnvVars: []string{"SHOAL_CA_FILE"},
			},
		},
		// The client is made once, before any command: a CA file that
		// cannot be read is reported as such, not as a failed call.
		Before: func(c *cli.Context) error {
			cl, err := core.NewWith(c.String("controller"), core.Options{CAFile: c.String("ca-file")})
			if errors.Is(err, core.ErrNoTLS) {
				return fmt.Errorf("--controller: %w", err)
			} else if err != nil {
				return usagef("--ca-file: %v", err)
			}
			c.App.Metadata = map[string]any{clientKey: cl}
			return nil
		},
		Commands: append([]*cli.Command{
			submitCommand(),
			queueCommand(),
			describeCommand(),
			effCommand(),
			logsCommand(),
			cancelCommand(),
			terminateCommand(),
			signalCommand(),
			nodesCommand(),
			waitCommand(),
			jobdefCommand(),
			ceCommand(),
			licenseCommand(),
			keysCommand(),
			imageCommand(),
			cronCommand(),
			explainCommand(),
			priorityCommand(),
			operatorCommand(),
			watchCommand(),
		}, extra...),
		ExitErrHandler: func(*cli.Context, error) {}, // Run's caller reports
		// Values such as --parameters 'Target=Hello, Tokyo!' keep their
		// commas; list flags split on commas themselves where they mean it.
		DisableSliceFlagSeparator: true,
		HideHelpCommand:           true,
		OnUsageError:              onUsageError,
	}
	// urfave/cli asks each command's own handler about its flags: without
	// one, a wrong flag of `shoal queue` would exit 1, not 2.
	var mark func([]*cli.Command)
	mark = func(cmds []*cli.Command) {
		for _, cmd := range cmds {
			if cmd.OnUsageError == nil {
				cmd.OnUsageError = onUsageError
			}
			mark(cmd.Subcommands)
		}
	}
	mark(app.Commands)
	return app
}

func onUsageError(_ *cli.Context, err error, _ bool) error { return usageError{err} }

// Run runs the app on args and returns the process exit code, having
// printed any error to stderr.
func Run(app *cli.App, args []string) int {
	err := app.Run(interspersed(app, args))
	if err == nil {
		return ExitOK
	}
	if msg := err.Error(); msg != "" {
		// The message may quote what the controller or another user
		// wrote (a job name, a reason): one line, no escape sequences.
		fmt.Fprintf(app.ErrWriter, "shoal: %s\n", termsafe.String(msg))
	}
	var u usageError
	if errors.As(err, &u) {
		return ExitUsage
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return ExitError
}

// usageError marks a wrong command line (exit code 2).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

const clientKey = "client"

// clientOf returns the API client for the controller the flags name.
func clientOf(c *cli.Context) *core.Client {
	if cl, ok := c.App.Metadata[clientKey].(*core.Client); ok {
		return cl
	}
	return core.New(c.String("controller"), "")
}

func ctx(c *cli.Context) context.Context {
	if c.Context != nil {
		return c.Context
	}
	return context.Background()
}

// Main runs shoal with os.Args and exits.
func Main(extra ...*cli.Command) {
	os.Exit(Run(NewApp(os.Stdout, os.Stderr, extra...), os.Args))
}
