//go:build shoal_client_full

package main

import (
	// TLS for core's clients (core.RegisterTLS): the full build reaches
	// TCP controllers itself.
	_ "github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/cli"
)

// native runs one of shoal's own commands (urfave/cli).
func native() { cli.Main() }
