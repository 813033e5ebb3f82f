// Package api holds shoal's wire types (jobs, nodes, the lifecycle states)
// and the Go client that the CLI and node daemons use to talk to a
// controller over its unix socket or TCP.
package api
