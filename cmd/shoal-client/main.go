// Command shoal-client is shoal's command line without the server: the
// Slurm commands (sbatch, squeue, scancel, ...) when invoked through a
// link of that name or as `shoal-client slurm CMD ...`, and shoal's own
// commands (submit, queue, logs, ...) otherwise. `make links` and `make
// install` point the Slurm names here.
//
// It links no server code (raft, libcontainer, registries, the daemon or
// the node; internal/deptest checks that), because its start-up is what a
// loop of sbatch pays for every job. The agent, and libcontainer's init,
// live in the full shoal binary (cmd/shoal), which also answers to every
// name this one does.
package main

import (
	"os"
	"path/filepath"

	"github.com/shoal-batch/shoal/cli"
	"github.com/shoal-batch/shoal/cli/slurm"
)

func main() {
	if name := filepath.Base(os.Args[0]); slurm.IsCommand(name) {
		os.Exit(slurm.Main(name, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ()))
	}
	if len(os.Args) > 2 && os.Args[1] == "slurm" && slurm.IsCommand(os.Args[2]) {
		os.Exit(slurm.Main(os.Args[2], os.Args[3:], os.Stdin, os.Stdout, os.Stderr, os.Environ()))
	}
	if len(os.Args) > 1 && os.Args[1] == "slurm" {
		os.Stderr.WriteString("usage: shoal slurm sbatch|srun|scancel|squeue|sacct|sinfo|scontrol|sacctmgr|sprio|sshare [ARG...]\n")
		os.Exit(2)
	}
	if len(os.Args) > 1 && (os.Args[1] == "agent" || os.Args[1] == "init") {
		os.Stderr.WriteString("shoal-client: " + os.Args[1] + " is part of the server: run it from the full shoal binary\n")
		os.Exit(2)
	}
	cli.Main()
}
