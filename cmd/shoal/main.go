// Command shoal is the one binary of shoal: the CLI, the controller and
// node daemons (shoal agent), and libcontainer's init when a sandbox
// re-executes it.
package main

import (
	"os"

	"github.com/shoal-batch/shoal/cli"
	"github.com/shoal-batch/shoal/node/sandbox"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		sandbox.Init() // never returns: becomes the job's process
	}
	cli.Main(agentCommand())
}
