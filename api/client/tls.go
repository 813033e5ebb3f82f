package client

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"github.com/shoal-batch/shoal/api/client/core"
)

// CAHash returns the pin of a CA certificate: "sha256:" and the hex of the
// SHA-256 of its DER-encoded SubjectPublicKeyInfo (kubeadm's form).
func CAHash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// tlsConfig is the TLS configuration that checks a server as t says.
func tlsConfig(t *core.TLS) (*tls.Config, error) {
	switch {
	case t.KeyHash != "":
		return pinnedTLS(t.KeyHash, "", "server "+t.Host, ErrPinMismatch), nil
	case t.CAHash != "":
		return pinnedTLS(t.CAHash, t.Host, "controller "+t.Host, ErrCAMismatch), nil
	case t.CAFile != "":
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate (want the controller's ca.pem)", t.CAFile)
		}
		return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}, nil
	default:
		return &tls.Config{MinVersion: tls.VersionTLS12}, nil
	}
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
