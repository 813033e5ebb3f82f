package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
)

// TestNodeJoinsOverTCP runs a controller and a node daemon as separate
// processes: the node joins over TLS with the join token (which pins the
// controller's CA), runs a job, and serves its log to the controller over
// TLS pinned to the key the node registered, with the node's log token
// (see checkNodeLogServer); a node with a wrong secret, a token pinning
// another CA, or a bare secret without a CA hash is refused.
func TestNodeJoinsOverTCP(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	c := &cluster{t: t, dataDir: filepath.Join(dir, "ctl"), socket: filepath.Join(dir, "shoal.sock"),
		sbRoot:   fmt.Sprintf("/run/shoal-e2e-%d-%s", os.Getpid(), t.Name()),
		cgParent: fmt.Sprintf("shoal-e2e-%d-%s", os.Getpid(), t.Name())}
	c.client = client.New(c.socket, "")
	t.Cleanup(c.cleanup)
	ctl, tcpAddr := startAgent(t, []string{"agent", "-data-dir", c.dataDir, "-socket", c.socket, "-bind", "127.0.0.1:0"}, "controller serving")
	t.Cleanup(func() { ctl.Process.Signal(syscall.SIGTERM); ctl.Wait() })
	raw, err := os.ReadFile(filepath.Join(c.dataDir, "controller", "join-token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(raw))
	secret, hash, err := api.ParseJoinToken(token)
	if err != nil || hash == "" {
		t.Fatalf("join-token file %q: %v, want shoal-join:SECRET:sha256:HEX", token, err)
	}

	nodeArgs := func(tok string) []string {
		return []string{"agent", "-node", "-controller", tcpAddr, "-token", tok, "-name", "far",
			"-data-dir", filepath.Join(dir, "node"), "-log-addr", "127.0.0.1:0",
			"-sandbox-root", c.sbRoot, "-cgroup-parent", c.cgParent, "-grace", "300ms"}
	}
	if r := runAgentOnce(t, nodeArgs(api.FormatJoinToken("not-the-secret", hash))); !strings.Contains(r, "only node daemons may call this") {
		t.Fatalf("node with a wrong secret: %q, want a refusal", r)
	}
	otherCA := "sha256:" + strings.Repeat("ab", 32)
	if r := runAgentOnce(t, nodeArgs(api.FormatJoinToken(secret, otherCA))); !strings.Contains(r, client.ErrCAMismatch.Error()) {
		t.Fatalf("node pinning another CA: %q, want %q", r, client.ErrCAMismatch)
	}
	if r := runAgentOnce(t, nodeArgs(secret)); !strings.Contains(r, "holds no CA hash") {
		t.Fatalf("node with a bare secret over TLS: %q, want a refusal asking for the whole token", r)
	}
	c.cmd, _ = startAgent(t, nodeArgs(token), "node daemon running")

	id := c.submit("--name", "far-job", "--", "sh", "-c", "echo from far")
	j := c.wait(id)
	wantState(t, j, api.StateSucceeded, "")
	if j.Node != "far" {
		t.Fatalf("job ran on %q, want far", j.Node)
	}
	if r := c.shoal("logs", "--stream", "stdout", api.FormatID(id)); r.stdout != "from far\n" {
		t.Fatalf("logs through the node's TCP log server: %q (%s)", r.stdout, r.stderr)
	}
	checkNodeLogServer(t, c, "far", secret, j)
	// The CLI over TCP checks the controller with --ca-file; without it
	// the certificate is from an authority nobody trusts.
	caFile := filepath.Join(c.dataDir, "controller", "ca.pem")
	if r := c.shoal("--controller", tcpAddr, "--ca-file", caFile, "nodes"); strings.Contains(r.stderr, "certificate") || strings.Contains(r.stderr, "tls:") {
		t.Fatalf("shoal --ca-file %s nodes over TCP: exit %d %q, want an answer from the controller", caFile, r.code, r.stderr)
	}
	if r := c.shoal("--controller", tcpAddr, "nodes"); r.code == 0 || !strings.Contains(r.stderr, "certificate signed by unknown authority") {
		t.Fatalf("shoal nodes over TCP without a CA file: exit %d %q, want the certificate refused", r.code, r.stderr)
	}
	if r := c.shoal("--controller", tcpAddr, "--ca-file", filepath.Join(dir, "missing.pem"), "nodes"); r.code != 2 || !strings.Contains(r.stderr, "--ca-file") {
		t.Fatalf("shoal with a missing --ca-file: exit %d %q, want exit 2 naming --ca-file", r.code, r.stderr)
	}
	// Users cannot act over TCP without a signature.
	tcp, err := client.NewWith(tcpAddr, client.Options{CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tcp.Submit(t.Context(), api.SubmitJobRequest{JobSpec: api.JobSpec{
		Command: []string{"true"},
	}}); !api.IsCode(err, api.CodeUnauthenticated) {
		t.Fatalf("unsigned submit over TCP: %v, want %s", err, api.CodeUnauthenticated)
	}
	c.stop()
	if left := c.leftovers(); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// checkNodeLogServer checks what node name registered for its TCP log
// server, and that server: TLS with the key whose hash the node
// registered, which users see, and a log token they do not; a request
// bearing the join secret is refused, as is a client pinning another key,
// and plain HTTP gets no log.
func checkNodeLogServer(t *testing.T, c *cluster, name, secret string, j api.Job) {
	t.Helper()
	nodes, err := c.client.Nodes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var n *api.Node
	for i := range nodes {
		if nodes[i].Name == name {
			n = &nodes[i]
		}
	}
	if n == nil || !strings.HasPrefix(n.LogCertHash, "sha256:") || n.LogToken != "" || strings.HasPrefix(n.LogAddr, "/") {
		t.Fatalf("node %s as listed: %+v, want a TCP log address, its key's hash and no log token", name, n)
	}
	req := api.NodeLogsRequest{Job: j, Stream: "stdout"}
	withSecret, err := client.NewWith(n.LogAddr, client.Options{Token: secret, KeyHash: n.LogCertHash})
	if err != nil {
		t.Fatal(err)
	}
	var resp api.LogsResponse
	if err := withSecret.Call(t.Context(), api.PathNodeLogs, req, &resp); !api.IsCode(err, api.CodeForbidden) {
		t.Fatalf("node %s's log server with the join secret: %q, %v, want %s", name, resp.Data, err, api.CodeForbidden)
	}
	otherKey, err := client.NewWith(n.LogAddr, client.Options{KeyHash: "sha256:" + strings.Repeat("cd", 32)})
	if err != nil {
		t.Fatal(err)
	}
	if err := otherKey.Call(t.Context(), api.PathNodeLogs, req, &resp); !errors.Is(err, client.ErrPinMismatch) {
		t.Fatalf("node %s's log server pinned to another key: %v, want %v", name, err, client.ErrPinMismatch)
	}
	if err := client.New("http://"+n.LogAddr, secret).Call(t.Context(), api.PathNodeLogs, req, &resp); err == nil || len(resp.Data) > 0 {
		t.Fatalf("node %s's log server over plain HTTP: %q, %v, want no log", name, resp.Data, err)
	}
}

// runAgentOnce runs an agent expected to fail at start and returns its output.
func runAgentOnce(t *testing.T, args []string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SHOAL_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("agent %v started, want it refused", args)
	}
	return string(out)
}
