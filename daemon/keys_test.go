package daemon

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io/fs"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/sigv4"
	"github.com/shoal-batch/shoal/raftfsm"
)

var rootCaller = caller{uid: 0, gid: 0, known: true, node: true, operator: true}

// unprivileged returns a user of the host that is not root, for keys.
func unprivileged(t *testing.T) *user.User {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody to issue a key to: %v", err)
	}
	return u
}

// signedCall sends a SigV4-signed AWS Batch request over the controller's
// TLS port (trusting its ca.pem) and returns the HTTP status.
func signedCall(t *testing.T, c *Controller, keyID, secret string) int {
	t.Helper()
	pem, err := os.ReadFile(c.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer hc.CloseIdleConnections()
	body := []byte(`{}`)
	r, err := http.NewRequest(http.MethodPost, "https://"+tcpAddr(t, c)+"/v1/describejobqueues", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	if err := sigv4.Sign(r, body, keyID, secret, "us-east-1", "batch", time.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := hc.Do(r)
	if err != nil {
		t.Fatalf("signed call over TLS: %v", err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestKeySecretsSealed checks that an access key's secret is given once
// and stored only sealed: not in the raft log, not in a snapshot, not
// anywhere under the data dir, while SigV4 still verifies with it, also
// after a restart; and that a key for uid 0 needs allowRoot.
func TestKeySecretsSealed(t *testing.T) {
	nobody := unprivileged(t)
	dir := filepath.Join(t.TempDir(), "ctl")
	c := startControllerIn(t, dir)
	defer func() { c.Close() }()

	resp, err := c.keys(t.Context(), rootCaller, api.KeysRequest{Create: true, User: nobody.Username})
	if err != nil {
		t.Fatal(err)
	}
	k := resp.Keys[0]
	if len(k.Secret) != 40 {
		t.Fatalf("created key's secret %q, want the 40-character secret, once", k.Secret)
	}
	if stored := c.fsm.State().AccessKey(k.ID); stored == nil || !isSealed(stored.Secret) || strings.Contains(stored.Secret, k.Secret) {
		t.Fatalf("state holds %+v, want the secret sealed", stored)
	}
	if code := signedCall(t, c, k.ID, k.Secret); code != http.StatusOK {
		t.Fatalf("signed describe-job-queues: HTTP %d, want 200", code)
	}
	if code := signedCall(t, c, k.ID, k.Secret[1:]+"x"); code != http.StatusForbidden {
		t.Fatalf("call signed with a wrong secret: HTTP %d, want 403", code)
	}
	if err := c.raft.raft.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	snaps, err := filepath.Glob(filepath.Join(dir, "raft", "snapshots", "*", "state.bin"))
	if err != nil || len(snaps) == 0 {
		t.Fatalf("no snapshot written (%v)", err)
	}
	assertAbsent(t, dir, k.Secret)

	// Refused for root unless asked for; then it is still sealed.
	_, err = c.keys(t.Context(), rootCaller, api.KeysRequest{Create: true, User: "root"})
	if !api.IsCode(err, api.CodeInvalid) || !strings.Contains(err.Error(), "--allow-root") {
		t.Fatalf("key for root without allowRoot: %v, want %s naming --allow-root", err, api.CodeInvalid)
	}
	rootKey, err := c.keys(t.Context(), rootCaller, api.KeysRequest{Create: true, User: "root", AllowRoot: true})
	if err != nil {
		t.Fatalf("key for root with allowRoot: %v", err)
	}

	c.Close()
	c = startControllerIn(t, dir)
	if code := signedCall(t, c, k.ID, k.Secret); code != http.StatusOK {
		t.Fatalf("signed call after a restart: HTTP %d, want 200", code)
	}
	if code := signedCall(t, c, rootKey.Keys[0].ID, rootKey.Keys[0].Secret); code != http.StatusOK {
		t.Fatalf("root key after a restart: HTTP %d, want 200", code)
	}
	assertAbsent(t, dir, rootKey.Keys[0].Secret)
}

// TestClearKeysSealedAtStart checks that a key an older controller stored
// with its secret in clear is sealed when the controller starts again.
func TestClearKeysSealedAtStart(t *testing.T) {
	nobody := unprivileged(t)
	dir := filepath.Join(t.TempDir(), "ctl")
	c := startControllerIn(t, dir)
	clear := api.AccessKey{ID: "AKIAOLDCLEARKEY00000", Secret: "old-secret-stored-in-clear-by-a-0.1-ctl", User: nobody.Username, UID: 65534, GID: 65534}
	if _, err := c.applier.Apply(t.Context(), raftfsm.OpPutKey, raftfsm.PutKeyCmd{Key: clear}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c = startControllerIn(t, dir)
	defer c.Close()
	if stored := c.fsm.State().AccessKey(clear.ID); stored == nil || !isSealed(stored.Secret) {
		t.Fatalf("after a restart the state holds %+v, want the secret sealed", stored)
	}
	if code := signedCall(t, c, clear.ID, clear.Secret); code != http.StatusOK {
		t.Fatalf("signed call with the once-clear key: HTTP %d, want 200", code)
	}
}

// TestDataDirPrivate checks that nothing under the data dir, snapshots
// included, has a group or other permission bit.
func TestDataDirPrivate(t *testing.T) {
	nobody := unprivileged(t)
	dir := filepath.Join(t.TempDir(), "ctl")
	c := startControllerIn(t, dir)
	defer c.Close()
	if _, err := c.keys(t.Context(), rootCaller, api.KeysRequest{Create: true, User: nobody.Username}); err != nil {
		t.Fatal(err)
	}
	if err := c.raft.raft.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n++
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want no group or other bits", path, fi.Mode())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 8 { // ctl, raft, raft.db, snapshots, a snapshot, its files, keys...
		t.Fatalf("walked only %d entries under %s: the snapshot is missing?", n, dir)
	}
}

// assertAbsent fails if secret appears in any file under dir.
func assertAbsent(t *testing.T, dir, secret string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("%s holds the access key's secret in clear", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
