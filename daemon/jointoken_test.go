package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/internal/testwait"
)

// TestJoinTokenRotate: only an operator rotates the join token; the
// controller answers the new token, which its DATA_DIR/join-token holds
// by then; the old token registers no new node, the new one does, and a
// node registered before keeps working with its credential.
func TestJoinTokenRotate(t *testing.T) {
	mc := startMemController(t, Config{})
	old := mc.c.JoinToken()
	n1 := mc.joinNode("n1")

	status, e := mc.call(alice, api.PathJoinTokenRotate, struct{}{}, nil)
	wantRefused(t, "alice rotates the join token", status, e, api.CodeForbidden)
	status, e = mc.bearer(n1, api.PathJoinTokenRotate, struct{}{}, nil)
	wantRefused(t, "a node rotates the join token", status, e, api.CodeForbidden)
	if mc.c.JoinToken() != old {
		t.Fatal("a refused rotation changed the join token")
	}

	var resp api.JoinTokenResponse
	mc.mustCall(rootUser, api.PathJoinTokenRotate, struct{}{}, &resp)
	secret, hash, err := api.ParseJoinToken(resp.Token)
	if err != nil || secret == old || hash != mc.c.CAHash() || mc.c.JoinToken() != secret {
		t.Fatalf("rotation answered %q (%v): want a new secret pinned to the CA %s, the one the controller takes", resp.Token, err, mc.c.CAHash())
	}
	if data, err := os.ReadFile(filepath.Join(mc.c.cfg.DataDir, joinTokenFile)); err != nil || string(data) != resp.Token+"\n" {
		t.Fatalf("DATA_DIR/join-token after the rotation: %q (%v), want the new token", data, err)
	}

	status, e = mc.bearer(old, api.PathNodeRegister, nodeReg("n2"), nil)
	wantRefused(t, "the old join token registers a new node", status, e, api.CodeUnauthenticated, "rotated")
	var reg api.RegisterNodeResponse
	if status, e := mc.bearer(secret, api.PathNodeRegister, nodeReg("n2"), &reg); status != http.StatusOK || reg.Credential == "" {
		t.Fatalf("the new join token registers n2: HTTP %d %s: %s", status, e.Code, e.Message)
	}
	if status, e := mc.bearer(n1, api.PathNodeBeat, api.NodeHeartbeatRequest{Name: "n1", Boot: "n1-boot"}, nil); status != http.StatusOK {
		t.Fatalf("n1's heartbeat by its credential after the rotation: HTTP %d %s: %s", status, e.Code, e.Message)
	}
	if status, e := mc.bearer(n1, api.PathNodeRegister, nodeReg("n1"), nil); status != http.StatusOK {
		t.Fatalf("n1 registers again by its credential after the rotation: HTTP %d %s: %s", status, e.Code, e.Message)
	}
}

// TestJoinTokenRotateAcrossControllers: a rotation asked of a follower
// holds on every controller as soon as it is answered: each refuses the
// old token and takes the new one (a follower checks with the leader
// first), and rewrites its DATA_DIR/join-token; a node registered before
// keeps working through all of them with its credential.
func TestJoinTokenRotateAcrossControllers(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("rotating as root over the socket")
	}
	ms := startCluster(t, 3)
	waitLeading(t, ms[0].c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old := ms[0].c.NodeJoinToken()
	var reg api.RegisterNodeResponse
	if err := clusterNodeClient(t, ms, old, 1).Call(ctx, api.PathNodeRegister, nodeReg("n1"), &reg); err != nil {
		t.Fatalf("register n1 with the join token: %v", err)
	}
	cred := api.FormatNodeCredential("n1", reg.Credential)

	var resp api.JoinTokenResponse
	if err := client.New(ms[2].cfg.Socket, "").Call(ctx, api.PathJoinTokenRotate, struct{}{}, &resp); err != nil {
		t.Fatalf("rotate the join token through a follower: %v", err)
	}
	for i, m := range ms {
		name := nodeReg("new" + string(rune('0'+i)))
		err := clusterNodeClient(t, ms, old, i).Call(ctx, api.PathNodeRegister, name, nil)
		if !api.IsCode(err, api.CodeUnauthenticated) {
			t.Fatalf("controller %s: the old join token registers %s: %v, want refused", m.cfg.NodeID, name.Name, err)
		}
		if err := clusterNodeClient(t, ms, resp.Token, i).Call(ctx, api.PathNodeRegister, name, &reg); err != nil || reg.Credential == "" {
			t.Fatalf("controller %s: the new join token registers %s: %v", m.cfg.NodeID, name.Name, err)
		}
		path := filepath.Join(m.cfg.DataDir, joinTokenFile)
		if err := testwait.File(path, 10*time.Second, func(s string) bool { return s == resp.Token+"\n" }); err != nil {
			t.Fatalf("controller %s: %v", m.cfg.NodeID, err)
		}
	}
	if err := clusterNodeClient(t, ms, cred, 2, 1, 0).Call(ctx, api.PathNodeBeat, api.NodeHeartbeatRequest{Name: "n1", Boot: "n1-boot"}, nil); err != nil {
		t.Fatalf("n1's heartbeat by its credential after the rotation: %v", err)
	}
}

// TestJoinTokenRotateSurvivesRestart: a controller restarted after a
// rotation (its state restored from a raft snapshot) takes the new join
// token and refuses the old one, whatever its DATA_DIR/join-token held,
// which it rewrites.
func TestJoinTokenRotateSurvivesRestart(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("rotating as root over the socket")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dataDir := filepath.Join(t.TempDir(), "data")
	c := startControllerIn(t, dataDir)
	old := c.NodeJoinToken()
	var resp api.JoinTokenResponse
	if err := client.New(c.Addrs()[0], "").Call(ctx, api.PathJoinTokenRotate, struct{}{}, &resp); err != nil {
		c.Close()
		t.Fatalf("rotate the join token: %v", err)
	}
	if err := c.raft.raft.Snapshot().Error(); err != nil {
		c.Close()
		t.Fatalf("snapshot: %v", err)
	}
	c.Close()
	// The replicated secret, not the file, decides: put the old one back.
	path := filepath.Join(dataDir, joinTokenFile)
	if err := os.WriteFile(path, []byte(old+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	c = startControllerIn(t, dataDir)
	defer c.Close()
	if got := c.NodeJoinToken(); got != resp.Token {
		t.Fatalf("the restarted controller's join token: %q, want the rotated %q", got, resp.Token)
	}
	if err := testwait.File(path, 10*time.Second, func(s string) bool { return s == resp.Token+"\n" }); err != nil {
		t.Fatalf("the restarted controller's DATA_DIR/join-token: %v", err)
	}
	register := func(token string) error {
		cl, err := client.NewWith(tcpAddr(t, c), client.Options{Token: token})
		if err != nil {
			t.Fatal(err)
		}
		return cl.Call(ctx, api.PathNodeRegister, nodeReg("n1"), nil)
	}
	if err := register(old); !api.IsCode(err, api.CodeUnauthenticated) {
		t.Fatalf("the old join token after the restart: %v, want refused", err)
	}
	if err := register(resp.Token); err != nil {
		t.Fatalf("the rotated join token after the restart: %v", err)
	}
}

// firstRead is a request body that closes read when it is first read: the
// request was identified (guard reads no body before that).
type firstRead struct {
	io.ReadCloser
	once sync.Once
	read chan struct{}
}

func (b *firstRead) Read(p []byte) (int, error) {
	b.once.Do(func() { close(b.read) })
	return b.ReadCloser.Read(p)
}

// TestJoinTokenRotateRefusesRegistrationUnderWay: a registration that
// presented the join token before a rotation and sends its body after it
// (the token is checked as the headers come; the body may take as long
// as its sender likes) registers nothing: the old token registers no
// node once the rotation was answered.
func TestJoinTokenRotateRefusesRegistrationUnderWay(t *testing.T) {
	mc := startMemController(t, Config{})
	reading := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = &firstRead{ReadCloser: r.Body, read: reading}
		mc.routes.ServeHTTP(w, r)
	}))
	defer srv.Close()
	body, err := json.Marshal(nodeReg("n1"))
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	hr, err := http.NewRequest(http.MethodPost, srv.URL+api.PathNodeRegister, pr)
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Authorization", "Bearer "+mc.c.JoinToken())
	answer := make(chan *http.Response, 1)
	go func() {
		res, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Errorf("register n1: %v", err)
		}
		answer <- res
	}()
	if _, err := pw.Write(body[:1]); err != nil {
		t.Fatal(err)
	}
	<-reading // identified by the token of before the rotation
	mc.mustCall(rootUser, api.PathJoinTokenRotate, struct{}{}, nil)
	pw.Write(body[1:])
	pw.Close()
	res := <-answer
	if res == nil {
		return
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var e api.Error
	json.Unmarshal(data, &e)
	wantRefused(t, "a registration by the join token that the rotation overtook", res.StatusCode, e, api.CodeUnauthenticated, "rotated")
	if n := mc.c.fsm.State().Node("n1"); n != nil {
		t.Fatalf("n1 registered by the join token rotated away: %+v", n)
	}
}

// TestJoinTokenKeptThroughRestore: restoring a backup brings back the
// state it saved, but not a join token rotated away since: the cluster
// keeps the one it was last rotated to, in its replicated state (which a
// controller that missed the rotation takes, whatever its
// DATA_DIR/join-token holds), whether the backup was taken before any
// rotation or between two.
func TestJoinTokenKeptThroughRestore(t *testing.T) {
	mc := startMemController(t, Config{})
	save := func() []byte {
		t.Helper()
		res, err := http.Get(mc.urls[rootUser] + api.PathSnapshotSave)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		data, err := io.ReadAll(res.Body)
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("save a snapshot: HTTP %d %v", res.StatusCode, err)
		}
		return data
	}
	rotate := func() string {
		t.Helper()
		var resp api.JoinTokenResponse
		mc.mustCall(rootUser, api.PathJoinTokenRotate, struct{}{}, &resp)
		secret, _, err := api.ParseJoinToken(resp.Token)
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	restore := func(what string, snap []byte, current, gone string) {
		t.Helper()
		name := strings.ReplaceAll(what, " ", "-")
		mc.joinNode("after-" + name) // the backup does not have it
		res, err := http.Post(mc.urls[rootUser]+api.PathSnapshotRestore, "application/x-ndjson", bytes.NewReader(snap))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("restore the backup taken %s: HTTP %d", what, res.StatusCode)
		}
		if mc.c.fsm.State().Node("after-"+name) != nil {
			t.Fatalf("the backup taken %s was not restored", what)
		}
		js := mc.c.fsm.State().JoinSecret(nil)
		if got := mc.c.JoinToken(); js == nil || got != current {
			t.Fatalf("after restoring the backup taken %s: the join secret is the current one %v (replicated: %v), want it kept", what, got == current, js != nil)
		}
		status, e := mc.bearer(gone, api.PathNodeRegister, nodeReg("old-"+name), nil)
		wantRefused(t, "the join token rotated away, after restoring the backup taken "+what, status, e, api.CodeUnauthenticated)
		if status, e := mc.bearer(current, api.PathNodeRegister, nodeReg("new-"+name), nil); status != http.StatusOK {
			t.Fatalf("the current join token after restoring the backup taken %s: HTTP %d %s", what, status, e.Message)
		}
	}
	first := mc.c.JoinToken()
	never := save()
	a := rotate()
	restore("before any rotation", never, a, first)
	between := save()
	b := rotate()
	restore("between two rotations", between, b, a)
}
