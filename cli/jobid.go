package cli

import (
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// parseJobID reads a job id argument.
func parseJobID(s string) (uint64, error) {
	id, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil || id == 0 {
		return 0, usagef("%q is not a job id: job ids are positive integers, as printed by submit", s)
	}
	return id, nil
}

// oneJobID reads the single job id argument of a command.
func oneJobID(c *cli.Context) (uint64, error) {
	if c.NArg() != 1 {
		return 0, usagef("%s takes one job id, got %d arguments", c.Command.Name, c.NArg())
	}
	return parseJobID(c.Args().First())
}
