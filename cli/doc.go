// Package cli is shoal's command line (urfave/cli/v2): the native commands
// (submit, queue, describe, eff, logs, cancel, terminate, nodes) and, later, the
// Slurm-compatible personalities. It talks to a controller only through
// package api; output goes to the app's injected writers.
package cli
