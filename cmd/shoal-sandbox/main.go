// Command shoal-sandbox is the small binary a shoal node daemon starts each
// job's supervisor from, when it is installed next to shoal (`make build`
// puts it in bin/): the supervisor, and libcontainer's init that re-executes
// it, then start a binary of this package and libcontainer only, not all of
// shoal. It is run by the daemon only, as "shoal-sandbox init" with the
// descriptors and environment the daemon gives it; see node/sandbox
// (SupervisorName).
package main

import (
	"fmt"
	"os"

	"github.com/shoal-batch/shoal/node/sandbox"
)

func main() {
	switch {
	case len(os.Args) == 2 && os.Args[1] == "init":
		sandbox.Init() // never returns
	case len(os.Args) == 2 && os.Args[1] == "fingerprint":
		// The daemon checks that this binary is its own build.
		fmt.Println(sandbox.Fingerprint())
		return
	}
	fmt.Fprintln(os.Stderr, "shoal-sandbox: started by a shoal node daemon for each job (as \"shoal-sandbox init\"), not by hand; run `shoal agent` instead")
	os.Exit(2)
}
