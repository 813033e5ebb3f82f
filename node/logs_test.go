package node

import (
	"crypto/tls"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
)

// logJob is a job of the test's own user whose stdout log, in a's log
// dir, holds text.
func logJob(t *testing.T, a *Agent, text string) api.Job {
	t.Helper()
	j := api.Job{ID: 7, UID: uint32(syscall.Getuid()), GID: uint32(syscall.Getgid()), JobSpec: api.JobSpec{Dir: "/"}}
	if err := os.WriteFile(filepath.Join(a.logDir, api.FormatID(j.ID)+".out"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return j
}

func fetchLog(c *client.Client, t *testing.T, j api.Job) (string, error) {
	var resp api.LogsResponse
	err := c.Call(t.Context(), api.PathNodeLogs, api.NodeLogsRequest{Job: j, Stream: "stdout"}, &resp)
	return string(resp.Data), err
}

// TestLogServerTLS: on TCP the log server serves TLS with its own key, and
// answers a client pinned to that key with the boot's log token; a client
// pinned to another log server's key is refused in the handshake; the
// join secret, no token, or plain HTTP get no log.
func TestLogServerTLS(t *testing.T) {
	a, _ := startingAgent(t)
	j := logJob(t, a, "from the node\n")
	ls, err := startLogServer("127.0.0.1:0", false, a)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.close()
	if !strings.HasPrefix(ls.certHash, "sha256:") || len(ls.token) != 64 {
		t.Fatalf("log server registers hash %q token %q, want a sha256: pin and a 256-bit token", ls.certHash, ls.token)
	}

	pinned, err := client.NewWith(ls.addr, client.Options{Token: ls.token, KeyHash: ls.certHash})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := fetchLog(pinned, t, j); err != nil || got != "from the node\n" {
		t.Fatalf("log over TLS with the pin and the log token: %q, %v", got, err)
	}

	// Another node's log server (another key) where this one was expected.
	other, err := startLogServer("127.0.0.1:0", false, a)
	if err != nil {
		t.Fatal(err)
	}
	defer other.close()
	if other.certHash == ls.certHash || other.token == ls.token {
		t.Fatal("two log servers share a key or a token: each start must make its own")
	}
	misdirected, err := client.NewWith(other.addr, client.Options{Token: ls.token, KeyHash: ls.certHash})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := fetchLog(misdirected, t, j); !errors.Is(err, client.ErrPinMismatch) {
		t.Fatalf("log server with another key: %q, %v, want %v", got, err, client.ErrPinMismatch)
	}

	// The join secret (or a whole join token), another log server's token
	// or none at all: refused.
	joinToken := api.FormatJoinToken("the-clusters-join-secret", ls.certHash)
	for _, tok := range []string{"the-clusters-join-secret", other.token, ""} {
		c, err := client.NewWith(ls.addr, client.Options{Token: tok, KeyHash: ls.certHash})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := fetchLog(c, t, j); !api.IsCode(err, api.CodeForbidden) || got != "" {
			t.Fatalf("log request with token %q: %q, %v, want %s", tok, got, err, api.CodeForbidden)
		}
	}
	// The same with a raw request carrying the whole join token as bearer.
	raw := rawTLSClient()
	req, _ := http.NewRequest(http.MethodPost, "https://"+ls.addr+api.PathNodeLogs, strings.NewReader(`{"job":{"id":7}}`))
	req.Header.Set("Authorization", "Bearer "+joinToken)
	if res, err := raw.Do(req); err != nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("log request bearing a join token: %v %v, want 403", res, err)
	} else {
		res.Body.Close()
	}

	// Plain HTTP to the TLS port gets Go's 400, never a log.
	res, err := http.Post("http://"+ls.addr+api.PathNodeLogs, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatalf("plain HTTP to the log server's TLS port: %v, want Go's 400 answer", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain HTTP to the log server's TLS port: HTTP %d, want 400", res.StatusCode)
	}
}

// rawTLSClient sends requests by hand. It need not check the server (the
// test knows whom it dials): what is tested is what the server does with
// the request.
func rawTLSClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
}

// TestLogServerPlainAndUnix: with the opt-out the TCP log server is plain
// HTTP (no pin to register) and still takes only its token; on a unix
// socket root needs no token (the -dev case).
func TestLogServerPlainAndUnix(t *testing.T) {
	a, _ := startingAgent(t)
	j := logJob(t, a, "plain\n")
	plain, err := startLogServer("127.0.0.1:0", true, a)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.close()
	if plain.certHash != "" {
		t.Fatalf("plain HTTP log server registers a cert hash %q", plain.certHash)
	}
	if got, err := fetchLog(client.New(plain.addr, plain.token), t, j); err != nil || got != "plain\n" {
		t.Fatalf("log over plain HTTP with the token: %q, %v", got, err)
	}
	if _, err := fetchLog(client.New(plain.addr, "the-clusters-join-secret"), t, j); !api.IsCode(err, api.CodeForbidden) {
		t.Fatalf("log over plain HTTP with another token: %v, want %s", err, api.CodeForbidden)
	}

	if os.Getuid() != 0 {
		t.Skip("root on the unix socket: needs root")
	}
	sock := filepath.Join(t.TempDir(), "node.sock")
	unix, err := startLogServer(sock, false, a)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.close()
	if unix.certHash != "" || unix.addr != sock {
		t.Fatalf("unix log server: addr %q hash %q, want %q and no hash", unix.addr, unix.certHash, sock)
	}
	if got, err := fetchLog(client.New(sock, ""), t, j); err != nil || got != "plain\n" {
		t.Fatalf("log on the unix socket as root, no token: %q, %v", got, err)
	}
}

// A node answers at most maxLogReads logs calls at once; the next waits
// for one to end.
func TestLogReadsBounded(t *testing.T) {
	a, _ := startingAgent(t)
	j := logJob(t, a, "log\n")
	srv, err := startLogServer("127.0.0.1:0", true, a)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.close()
	for range maxLogReads { // as if that many calls were being answered
		srv.reads <- struct{}{}
	}
	got := make(chan error, 1)
	go func() {
		_, err := fetchLog(client.New(srv.addr, srv.token), t, j)
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("a logs call past %d being answered was answered at once (%v)", maxLogReads, err)
	case <-time.After(200 * time.Millisecond):
	}
	<-srv.reads
	if err := <-got; err != nil {
		t.Fatalf("the waiting logs call, once one ended: %v", err)
	}
	for range maxLogReads - 1 {
		<-srv.reads
	}
}
