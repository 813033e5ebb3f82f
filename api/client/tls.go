package client

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// CAHash returns the pin of a CA certificate: "sha256:" and the hex of the
// SHA-256 of its DER-encoded SubjectPublicKeyInfo (kubeadm's form).
func CAHash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

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
func NewWith(addr string, opts Options) (*Client, error) {
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
	if addrs := SplitAddrs(addr); len(addrs) > 1 {
		// Several controllers: a client for each, with its own TLS
		// configuration (the host each is checked for), joined into one.
		out := &Client{token: secret}
		for _, a := range addrs {
			one, err := NewWith(a, opts)
			if err != nil {
				return nil, err
			}
			out.eps = append(out.eps, one.eps...)
		}
		return out, nil
	}
	if _, ok := unixPath(addr); ok || strings.HasPrefix(addr, "http://") {
		if opts.KeyHash != "" {
			return nil, fmt.Errorf("%s: a pinned server key needs TLS (host:port or https://host:port)", addr)
		}
		return New(addr, secret), nil
	}
	base := strings.TrimRight(addr, "/")
	if !strings.HasPrefix(base, "https://") {
		base = "https://" + base
	}
	host := strings.TrimPrefix(base, "https://")
	if i := strings.IndexByte(host, '/'); i >= 0 {
		host = host[:i]
	}
	host = hostOnly(host)
	var conf *tls.Config
	switch {
	case opts.KeyHash != "":
		conf = pinnedTLS(opts.KeyHash, "", "server "+host, ErrPinMismatch)
	case hash != "":
		conf = pinnedTLS(hash, host, "controller "+host, ErrCAMismatch)
	case opts.CAFile != "":
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate (want the controller's ca.pem)", opts.CAFile)
		}
		conf = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	default:
		conf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	c := New(base, secret)
	c.eps[0].http.Transport.(*http.Transport).TLSClientConfig = conf
	return c, nil
}

// hostOnly strips the port (and IPv6 brackets) from host:port.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
}

// pinnedTLS trusts one public key, the one whose SPKI hashes to pin (as
// CAHash): the certificate chain the server sends must hold a certificate
// with that key, either the server's own (a node's self-signed log
// server) or a CA's (the controller's CA, which a join token pins), and
// the server's certificate must verify against that one certificate alone,
// for server auth, and for host unless host is "". Go's own verification
// needs the trusted certificate up front, and a pin carries only its hash,
// so it is replaced (InsecureSkipVerify) by VerifyConnection, which runs
// on every handshake, resumed ones included, and does the whole x509
// check. who names the server in errors; mismatch is the error wrapped
// when no certificate carries the pinned key.
func pinnedTLS(pin, host, who string, mismatch error) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // verified in VerifyConnection against the pin, never skipped
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyPinned(cs.PeerCertificates, pin, host, who, mismatch)
		},
	}
}

// ErrPinMismatch is returned (wrapped) when no certificate a server sent
// carries the key pinned for it (ClientOptions.KeyHash).
var ErrPinMismatch = errors.New("the server's certificate does not carry the pinned key")

// ErrCAMismatch is returned (wrapped) when a controller's certificate
// chain does not include the CA a join token pins.
var ErrCAMismatch = errors.New("the controller's certificate is not from the CA the join token pins")

func verifyPinned(chain []*x509.Certificate, pin, host, who string, mismatch error) error {
	if len(chain) == 0 {
		return fmt.Errorf("verify %s: no certificate sent", who)
	}
	var anchor *x509.Certificate
	inter := x509.NewCertPool()
	for i, cert := range chain {
		// The server's own key (it proved it holds it in the handshake)
		// or a CA's that signed its certificate; never a non-CA's.
		if CAHash(cert) == pin && (i == 0 || cert.IsCA) {
			anchor = cert
		}
		inter.AddCert(cert)
	}
	if anchor == nil {
		return fmt.Errorf("verify %s: %w (%s): it is another server than the one pinned, or something is in between",
			who, mismatch, pin)
	}
	roots := x509.NewCertPool()
	roots.AddCert(anchor)
	if _, err := chain[0].Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return fmt.Errorf("verify %s against the pinned key: %w", who, err)
	}
	return nil
}
