package api

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// JoinTokenPrefix starts a join token: shoal-join:SECRET:sha256:HEX, the
// secret a node presents and the hash of the controller's CA it pins (as
// kubeadm join's --discovery-token-ca-cert-hash).
const JoinTokenPrefix = "shoal-join:"

// FormatJoinToken joins a node secret and a CA hash into a join token.
func FormatJoinToken(secret, caHash string) string {
	return JoinTokenPrefix + secret + ":" + caHash
}

// ParseJoinToken splits a join token into its secret and CA hash. A bare
// secret (no shoal-join: prefix) is returned with an empty hash: it is
// enough on a unix socket or plain HTTP, not to join over TLS.
func ParseJoinToken(tok string) (secret, caHash string, err error) {
	tok = strings.TrimSpace(tok)
	rest, ok := strings.CutPrefix(tok, JoinTokenPrefix)
	if !ok {
		return tok, "", nil
	}
	secret, hash, ok := strings.Cut(rest, ":")
	if !ok || secret == "" {
		return "", "", fmt.Errorf("join token %q: want shoal-join:SECRET:sha256:HEX (the whole line of the controller's DATA_DIR/join-token)", redact(tok))
	}
	if err := CheckKeyHash(hash); err != nil {
		return "", "", fmt.Errorf("join token: %w", err)
	}
	return secret, hash, nil
}

// sha256Size is crypto/sha256.Size: importing that package for its size
// would link crypto's initialisation into every sbatch (issue 19).
const sha256Size = 32

// CheckKeyHash checks the form of a public-key pin: "sha256:" and the hex
// of a SHA-256.
func CheckKeyHash(h string) error {
	hexPart, ok := strings.CutPrefix(h, "sha256:")
	if b, err := hex.DecodeString(hexPart); !ok || err != nil || len(b) != sha256Size {
		return fmt.Errorf("CA hash %q: want sha256: and 64 hexadecimal digits", h)
	}
	return nil
}

// redact keeps a token's shape in an error but not its secret.
func redact(tok string) string {
	if len(tok) <= len(JoinTokenPrefix)+4 {
		return tok
	}
	return tok[:len(JoinTokenPrefix)+4] + "…"
}
