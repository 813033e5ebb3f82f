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
//
// It is built twice. The plain build (bin/shoal-client, what the Slurm
// names link to) holds the Slurm commands only, without net/http,
// crypto/tls or urfave/cli: it speaks HTTP/1.1 itself over the
// controller's unix socket (or plain TCP), through api/client/core.
// Their package initialisation and page-ins were most of what separated
// sbatch's start from a Go hello-world's (issue 19). For what it lacks, a
// TLS address (a TCP controller) or one of shoal's own commands, it
// replaces itself, before it has read anything or sent any request, with
// the full build (bin/shoal-client-full, the tag shoal_client_full) next
// to it, else with the full shoal binary next to it. `make build` and
// `make install` make and install both builds.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/shoal-batch/shoal/api/client/core"
	"github.com/shoal-batch/shoal/cli/slurm"
)

// fullBuilds are the binaries, next to this one, that hold the whole
// client (TLS and shoal's own commands), in the order they are tried.
var fullBuilds = []string{"shoal-client-full", "shoal"}

// execFull replaces this process with the whole client, with the same
// arguments (the name it was started by included) and environment. It
// returns only if there is none to run.
func execFull() error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this binary, to run %s next to it: %w", fullBuilds[0], err)
	}
	if real, err := filepath.EvalSymlinks(self); err == nil {
		self = real
	}
	dir := filepath.Dir(self)
	for _, name := range fullBuilds {
		path := filepath.Join(dir, name)
		if path == self {
			continue
		}
		if err := syscall.Exec(path, os.Args, os.Environ()); !errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("run %s: %w", path, err)
		}
	}
	return fmt.Errorf("found neither %s nor %s in %s (make install puts them there)", fullBuilds[0], fullBuilds[1], dir)
}

func main() {
	if core.NoTLS == nil {
		core.NoTLS = execFull // the full build registers TLS: never called there
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
	if len(os.Args) > 1 && (os.Args[1] == "agent" || os.Args[1] == "init") {
		os.Stderr.WriteString("shoal-client: " + os.Args[1] + " is part of the server: run it from the full shoal binary\n")
		os.Exit(2)
	}
	native()
}
