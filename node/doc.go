// Package node is the node daemon: it discovers the machine's resources,
// registers with a controller, follows its assignments with a blocking
// query, runs each job in a sandbox (package node/sandbox), reports the
// job's lifecycle back and serves the job's logs.
package node
