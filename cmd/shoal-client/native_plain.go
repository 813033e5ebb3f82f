//go:build !shoal_client_full

package main

import "os"

// native runs one of shoal's own commands: in the plain build, by
// replacing itself with the full one, which holds them.
func native() {
	err := execFull()
	os.Stderr.WriteString("shoal-client: shoal's own commands are in the full client build: " + err.Error() + "\n")
	os.Exit(2)
}
