package api

import "strings"

// NodeCredentialPrefix starts a node credential presented as a bearer
// token: "shoal-node:NAME:SECRET". A node daemon gets SECRET when it
// first registers its name with the join token (RegisterNodeResponse's
// Credential), keeps it in its data dir, and proves with it that it is
// NAME on every node route from then on; the controller keeps only the
// SHA-256 of SECRET (Node.SecretHash), in the replicated state.
const NodeCredentialPrefix = "shoal-node:"

// FormatNodeCredential is the bearer token of node name holding secret.
func FormatNodeCredential(name, secret string) string {
	return NodeCredentialPrefix + name + ":" + secret
}

// ParseNodeCredential splits a bearer token made by FormatNodeCredential
// into its node name and secret; ok is false for any other token. The
// secret is hex and holds no colon: the name is what precedes the last.
func ParseNodeCredential(tok string) (name, secret string, ok bool) {
	rest, ok := strings.CutPrefix(tok, NodeCredentialPrefix)
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 || i == len(rest)-1 {
		return "", "", false
	}
	return rest[:i], rest[i+1:], true
}

// DeleteNodeRequest removes a node's record (root only): refused while
// any job is STARTING or RUNNING on it. The name may then register anew
// with the join token, and gets a new credential.
type DeleteNodeRequest struct {
	Name string `json:"name"`
}
