package api

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
)

// JoinTokenPrefix starts a join token: shoal-join:SECRET:sha256:HEX, the
// secret a node presents and the hash of the controller's CA it pins (as
// kubeadm join's --discovery-token-ca-cert-hash).
const JoinTokenPrefix = "shoal-join:"

// CAHash returns the pin of a CA certificate: "sha256:" and the hex of the
// SHA-256 of its DER-encoded SubjectPublicKeyInfo (kubeadm's form).
func CAHash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

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
	if err := checkCAHash(hash); err != nil {
		return "", "", fmt.Errorf("join token: %w", err)
	}
	return secret, hash, nil
}

func checkCAHash(h string) error {
	hexPart, ok := strings.CutPrefix(h, "sha256:")
	if b, err := hex.DecodeString(hexPart); !ok || err != nil || len(b) != sha256.Size {
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

// ClientOptions say how a Client proves who it is and checks whom it
// talks to over https.
type ClientOptions struct {
	// Token is sent as a bearer token: a node's join secret, or a whole
	// join token, whose CA hash then pins the controller (as CAHash).
	Token string
	// CAHash pins the controller's CA ("sha256:HEX" of its public key):
	// the certificate chain the controller sends must include that CA and
	// the server certificate must verify against it for the host dialled.
	CAHash string
	// CAFile is a PEM bundle of CAs to trust instead of the system's (the
	// controller's DATA_DIR/ca.pem). Ignored when a CA hash pins the CA.
	CAFile string
}

// NewClientWith returns a client for addr: "unix:/path" or a path starting
// with "/" (a unix socket), "host:port" or "https://host:port" (TLS,
// checked against opts' CA hash or CA file, else the system's roots), or
// "http://host:port" (plain HTTP, for a controller run with -insecure-http).
func NewClientWith(addr string, opts ClientOptions) (*Client, error) {
	secret, hash, err := ParseJoinToken(opts.Token)
	if err != nil {
		return nil, err
	}
	if opts.CAHash != "" {
		if hash != "" && hash != opts.CAHash {
			return nil, fmt.Errorf("the join token pins CA %s but the CA hash given is %s: give one", hash, opts.CAHash)
		}
		if err := checkCAHash(opts.CAHash); err != nil {
			return nil, err
		}
		hash = opts.CAHash
	}
	if _, ok := unixPath(addr); ok || strings.HasPrefix(addr, "http://") {
		return NewClient(addr, secret), nil
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
	case hash != "":
		conf = pinnedTLS(hash, host)
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
	c := NewClient(base, secret)
	c.http.Transport.(*http.Transport).TLSClientConfig = conf
	return c, nil
}

// hostOnly strips the port (and IPv6 brackets) from host:port.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
}

// pinnedTLS checks the controller's certificate against the CA whose
// public key hashes to hash, for host. Go's own verification needs the
// CA's certificate up front, and a join token carries only its hash, so
// it is replaced (InsecureSkipVerify) by VerifyConnection, which runs on
// every handshake, resumed ones included, and does the whole x509 check:
// the pinned CA must be in the chain the server sent and the server's
// certificate must verify against it alone, for host, for server auth.
func pinnedTLS(hash, host string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // verified in VerifyConnection against the pin, never skipped
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyPinned(cs.PeerCertificates, hash, host)
		},
	}
}

// ErrCAMismatch is returned (wrapped) when a controller's certificate
// chain does not include the pinned CA.
var ErrCAMismatch = errors.New("the controller's certificate is not from the CA the join token pins")

func verifyPinned(chain []*x509.Certificate, hash, host string) error {
	if len(chain) == 0 {
		return fmt.Errorf("verify controller: no certificate sent")
	}
	var ca *x509.Certificate
	inter := x509.NewCertPool()
	for _, cert := range chain {
		if CAHash(cert) == hash && cert.IsCA {
			ca = cert
		}
		inter.AddCert(cert)
	}
	if ca == nil {
		return fmt.Errorf("verify controller %s: %w (%s): the token is from another controller, or something is in between",
			host, ErrCAMismatch, hash)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := chain[0].Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return fmt.Errorf("verify controller %s against the pinned CA: %w", host, err)
	}
	return nil
}
