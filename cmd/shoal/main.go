// Command shoal is the one binary of shoal: the CLI, the controller and
// node daemons (shoal agent), libcontainer's init when a sandbox
// re-executes it, and the Slurm commands (sbatch, squeue, ...) when it is
// invoked through a link of that name or as `shoal slurm CMD ...`.
package main

import (
	"os"
	"path/filepath"

	"github.com/shoal-batch/shoal/cli"
	"github.com/shoal-batch/shoal/cli/slurm"
	"github.com/shoal-batch/shoal/node/sandbox"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		sandbox.Init() // never returns: becomes the job's process
	}
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
	cli.Main(agentCommand(), devClusterCommand())
}
