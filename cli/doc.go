// Package cli is shoal's native command line (urfave/cli/v2): submit,
// queue (and job queues), describe, eff, logs, cancel, terminate, signal,
// nodes, wait, jobdef, ce, keys and image. The Slurm-compatible commands
// (sbatch, squeue, ...) are package cli/slurm, chosen by argv[0] in
// cmd/shoal. It talks to a controller only through package api; output
// goes to the app's injected writers.
package cli
