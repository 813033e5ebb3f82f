package daemon

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
)

// startTestController starts a controller with its data in dataDir (the
// socket beside it) and a TLS TCP API on loopback.
func startControllerIn(t *testing.T, dataDir string) *Controller {
	t.Helper()
	c, err := Start(Config{
		DataDir: dataDir, Socket: filepath.Join(filepath.Dir(dataDir), "shoal.sock"), Bind: "127.0.0.1:0",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("start controller: %v", err)
	}
	return c
}

func tcpAddr(t *testing.T, c *Controller) string {
	t.Helper()
	addrs := c.Addrs()
	if len(addrs) != 2 {
		t.Fatalf("controller listens on %v, want the socket and one TCP address", addrs)
	}
	return addrs[1]
}

// answered reports whether a call reached the API: it succeeded, or the
// controller answered with an API error (what it answers an unidentified
// caller is not this test's business).
func answered(err error) bool {
	var e *api.Error
	return err == nil || errors.As(err, &e)
}

// TestTLSPinnedJoinToken checks the TCP API's TLS: a client pinning the
// controller's CA through the join token, or trusting ca.pem, talks to it;
// one pinning another CA, or trusting only the system's roots, refuses
// to; a plain-HTTP request to the TLS port gets no API answer.
func TestTLSPinnedJoinToken(t *testing.T) {
	dir := t.TempDir()
	c := startControllerIn(t, filepath.Join(dir, "ctl"))
	defer c.Close()
	addr := tcpAddr(t, c)

	tok, err := os.ReadFile(filepath.Join(dir, "ctl", "join-token"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(tok)), c.NodeJoinToken(); got != want {
		t.Fatalf("join-token file holds %q, want %q", got, want)
	}
	if !strings.HasPrefix(string(tok), "shoal-join:"+c.JoinToken()+":sha256:") {
		t.Fatalf("join token %q: want shoal-join:SECRET:sha256:HEX", tok)
	}

	pinned, err := client.NewWith(addr, client.Options{Token: string(tok)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pinned.Nodes(t.Context()); !answered(err) {
		t.Fatalf("list nodes with the join token over TLS: %v, want an answer", err)
	}
	for _, a := range []string{addr, "https://" + addr, "https://localhost:" + addr[strings.LastIndexByte(addr, ':')+1:]} {
		withCA, err := client.NewWith(a, client.Options{CAFile: c.CAFile()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := withCA.Cluster(t.Context()); !answered(err) {
			t.Fatalf("client trusting %s at %s: %v, want an answer", c.CAFile(), a, err)
		}
	}

	other := api.FormatJoinToken(c.JoinToken(), client.CAHash(newTestCA(t)))
	wrong, err := client.NewWith(addr, client.Options{Token: other})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.Nodes(t.Context()); !errors.Is(err, client.ErrCAMismatch) {
		t.Fatalf("client pinning another CA: %v, want %v", err, client.ErrCAMismatch)
	}
	system, err := client.NewWith(addr, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var unknown x509.UnknownAuthorityError
	if _, err := system.Cluster(t.Context()); !errors.As(err, &unknown) {
		t.Fatalf("client trusting only the system's roots: %v, want %T", err, unknown)
	}
	// A bare host:port is TLS: only http:// asks for plain HTTP.
	if _, err := client.NewWith("http://"+addr, client.Options{Token: string(tok)}); err != nil {
		t.Fatal(err)
	}
	plain, err := http.Post("http://"+addr+api.PathClusterInfo, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("plain HTTP to the TLS port: %v, want Go's 400 answer", err)
	}
	body, _ := io.ReadAll(plain.Body)
	plain.Body.Close()
	if plain.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTPS") {
		t.Fatalf("plain HTTP to the TLS port: %d %q, want 400 and no API answer", plain.StatusCode, body)
	}
}

// TestServerCertCoversBind checks the server certificate names what
// clients dial and is made again for an address it does not name.
func TestServerCertCoversBind(t *testing.T) {
	dir := t.TempDir()
	ca, err := loadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := certHosts("127.0.0.1:7000")
	if err != nil {
		t.Fatal(err)
	}
	first, err := ca.serverCert(hosts)
	if err != nil {
		t.Fatal(err)
	}
	name, _ := os.Hostname()
	for _, h := range []string{"127.0.0.1", "localhost", "::1", name} {
		if err := first.Leaf.VerifyHostname(h); err != nil {
			t.Errorf("server certificate for 127.0.0.1: %v", err)
		}
	}
	again, err := ca.serverCert(hosts)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Leaf.Equal(first.Leaf) {
		t.Errorf("server certificate made again for the same hosts, want it reused")
	}
	moved, err := certHosts("192.0.2.7:7000")
	if err != nil {
		t.Fatal(err)
	}
	next, err := ca.serverCert(moved)
	if err != nil {
		t.Fatal(err)
	}
	if err := next.Leaf.VerifyHostname("192.0.2.7"); err != nil {
		t.Errorf("server certificate after the bind moved: %v, want it to name 192.0.2.7", err)
	}
	reloaded, err := loadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if reloaded.hash() != ca.hash() {
		t.Errorf("CA hash changed across loads: %s then %s", ca.hash(), reloaded.hash())
	}
	for _, f := range []string{caKeyFile, caCertFile, serverKeyFile, serverCertFile} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, want mode 0600", f, fi.Mode())
		}
	}
	if _, err := certHosts("7000"); err == nil {
		t.Errorf("certHosts(7000) gave no error, want one asking for HOST:PORT")
	}
}

func newTestCA(t *testing.T) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := randomSerial()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "other CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestInsecureHTTP checks that plain HTTP on TCP is served only when asked
// for, and then answers http:// clients.
func TestInsecureHTTP(t *testing.T) {
	dir := t.TempDir()
	c, err := Start(Config{
		DataDir: filepath.Join(dir, "ctl"), Socket: filepath.Join(dir, "shoal.sock"), Bind: "127.0.0.1:0", InsecureHTTP: true,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	plain, err := client.NewWith("http://"+tcpAddr(t, c), client.Options{Token: c.NodeJoinToken()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Nodes(t.Context()); !answered(err) {
		t.Fatalf("http:// client of an -insecure-http controller: %v, want an answer", err)
	}
	tlsClient, err := client.NewWith(tcpAddr(t, c), client.Options{Token: c.NodeJoinToken()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tlsClient.Nodes(t.Context()); answered(err) {
		t.Fatalf("TLS client of a plain-HTTP port: %v, want a handshake failure", err)
	}
}
