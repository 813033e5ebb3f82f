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
// Nor does it link net/http or crypto/tls: it speaks HTTP/1.1 itself
// over the controller's unix socket (or plain TCP), through package
// api/client/core. Given a TLS address (a TCP controller), it replaces
// itself, before it has read anything or sent any request, with its TLS
// build, shoal-client-tls, installed next to it (built with the tag
// shoal_client_tls; `make build` and `make install` make both), or else
// the full shoal binary next to it.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/shoal-batch/shoal/api/client/core"
	"github.com/shoal-batch/shoal/cli"
	"github.com/shoal-batch/shoal/cli/slurm"
)

// tlsBuilds are the binaries, next to this one, that reach a TLS
// controller, in the order they are tried.
var tlsBuilds = []string{"shoal-client-tls", "shoal"}

// execTLS replaces this process with a TLS-capable build of the client,
// with the same arguments (the name it was started by included) and
// environment. It returns only if there is none to run.
func execTLS() error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this binary to run shoal-client-tls next to it: %w", err)
	}
	if real, err := filepath.EvalSymlinks(self); err == nil {
		self = real
	}
	dir := filepath.Dir(self)
	for _, name := range tlsBuilds {
		path := filepath.Join(dir, name)
		if path == self {
			continue
		}
		if err := syscall.Exec(path, os.Args, os.Environ()); !errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("run %s: %w", path, err)
		}
	}
	return fmt.Errorf("found neither %s nor %s in %s to reach it with (make install puts them there)", tlsBuilds[0], tlsBuilds[1], dir)
}

func main() {
	if core.NoTLS == nil {
		core.NoTLS = execTLS
	}
	if name := filepath.Base(os.Args[0]); slurm.IsCommand(name) {
		os.Exit(slurm.Main(name, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ()))
	}
	if len(os.Args) > 2 && os.Args[1] == "slurm" && slurm.IsCommand(os.Args[2]) {
		os.Exit(slurm.Main(os.Args[2], os.Args[3:], os.Stdin, os.Stdout, os.Stderr, os.Environ()))
	}
	if len(os.Args) > 1 && os.Args[1] == "slurm" {
		os.Stderr.WriteString("usage: shoal slurm sbatch|srun|scancel|squeue|sacct|sinfo|scontrol|sacctmgr [ARG...]\n")
		os.Exit(2)
	}
	if len(os.Args) > 1 && (os.Args[1] == "agent" || os.Args[1] == "init") {
		os.Stderr.WriteString("shoal-client: " + os.Args[1] + " is part of the server: run it from the full shoal binary\n")
		os.Exit(2)
	}
	cli.Main()
}
