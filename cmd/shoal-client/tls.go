//go:build shoal_client_tls

package main

// The TLS build of the client (bin/shoal-client-tls, `make build`): with
// api/client linked, core reaches TLS controllers itself. The plain build
// replaces itself with this one when SHOAL_ADDR or --controller names a
// TLS address (see execTLS).
import _ "github.com/shoal-batch/shoal/api/client"
