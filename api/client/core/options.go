package core

import (
	"fmt"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// Options say how a Client proves who it is and checks whom it
// talks to over https.
type Options struct {
	// Token is sent as a bearer token: a node's join secret, or a whole
	// join token, whose CA hash then pins the controller (as CAHash), or
	// a node's log-access token.
	Token string
	// CAHash pins the controller's CA ("sha256:HEX" of its public key):
	// the certificate chain the controller sends must include that CA and
	// the server certificate must verify against it for the host dialled.
	CAHash string
	// CAFile is a PEM bundle of CAs to trust instead of the system's (the
	// controller's DATA_DIR/ca.pem). Ignored when a CA hash pins the CA.
	CAFile string
	// KeyHash pins the server's own key ("sha256:HEX" of its public key,
	// as CAHash): the certificate it sends must carry that key. For a
	// node's log server, whose self-signed key the node registered; no CA
	// and no host name are checked (the key is the server's identity).
	KeyHash string
}

// NewWith returns a client for addr: "unix:/path" or a path starting
// with "/" (a unix socket), "host:port" or "https://host:port" (TLS,
// checked against opts' CA hash or CA file, else the system's roots), or
// "http://host:port" (plain HTTP, for a controller run with -insecure-http).
// A TLS address needs a TLS implementation linked (RegisterTLS); without
// one NewWith calls NoTLS, if set, and fails.
func NewWith(addr string, opts Options) (*Client, error) { return NewWithVia(nil, addr, opts) }

// NewWithVia is NewWith with the transports mk makes (nil: as NewWith).
func NewWithVia(mk Maker, addr string, opts Options) (*Client, error) {
	secret, hash, err := api.ParseJoinToken(opts.Token)
	if err != nil {
		return nil, err
	}
	if opts.CAHash != "" {
		if hash != "" && hash != opts.CAHash {
			return nil, fmt.Errorf("the join token pins CA %s but the CA hash given is %s: give one", hash, opts.CAHash)
		}
		if err := api.CheckKeyHash(opts.CAHash); err != nil {
			return nil, err
		}
		hash = opts.CAHash
	}
	if opts.KeyHash != "" {
		if hash != "" {
			return nil, fmt.Errorf("pin the server's CA (%s) or its key (%s), not both", hash, opts.KeyHash)
		}
		if err := api.CheckKeyHash(opts.KeyHash); err != nil {
			return nil, fmt.Errorf("server key: %w", err)
		}
	}
	addrs := SplitAddrs(addr)
	if len(addrs) == 0 {
		addrs = []string{addr}
	}
	// Several controllers: a transport for each, with its own TLS
	// checks (the host each is checked for), in one client.
	targets := make([]Target, len(addrs))
	for i, a := range addrs {
		if targets[i], err = target(a, hash, opts); err != nil {
			return nil, err
		}
	}
	if mk == nil && tlsMaker == nil && NoTLS != nil {
		for _, t := range targets {
			if t.TLS != nil {
				if err := NoTLS(); err != nil {
					return nil, fmt.Errorf("%s needs TLS: %w (and %v)", t.Base, ErrNoTLS, err)
				}
			}
		}
	}
	c := &Client{token: secret}
	for _, t := range targets {
		tr, err := makeTransport(mk, t)
		if err != nil {
			return nil, err
		}
		c.eps = append(c.eps, endpoint{base: t.Base, tr: tr})
	}
	return c, nil
}

// target resolves one address of NewWith; hash is the CA pin.
func target(addr, hash string, opts Options) (Target, error) {
	if _, ok := unixPath(addr); ok || strings.HasPrefix(addr, "http://") {
		if opts.KeyHash != "" {
			return Target{}, fmt.Errorf("%s: a pinned server key needs TLS (host:port or https://host:port)", addr)
		}
		return plainTarget(addr), nil
	}
	base := strings.TrimRight(addr, "/")
	if !strings.HasPrefix(base, "https://") {
		base = "https://" + base
	}
	t := Target{Base: base, TLS: &TLS{Host: hostOf(base)}}
	switch {
	case opts.KeyHash != "":
		t.TLS.KeyHash = opts.KeyHash
	case hash != "":
		t.TLS.CAHash = hash
	default:
		t.TLS.CAFile = opts.CAFile
	}
	return t, nil
}
