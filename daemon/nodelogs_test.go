package daemon

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/api/reply"
)

// TestNodeLogFetchPinsAndUsesLogToken registers a node whose log server is
// a stand-in TLS server and reads a job's logs through the controller: it
// dials pinned to the key the node registered and presents the node's log
// token, never the join secret; a server with another key is refused
// before any request reaches it; users never see the log token.
func TestNodeLogFetchPinsAndUsesLogToken(t *testing.T) {
	tc := startTestController(t, false)
	var (
		mu   sync.Mutex
		seen []string // Authorization headers the stand-in received
	)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		var req api.NodeLogsRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || r.URL.Path != api.PathNodeLogs {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		reply.JSON(w, http.StatusOK, api.LogsResponse{Data: []byte("hello from job " + api.FormatID(req.Job.ID) + "\n")})
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "https://")
	const logToken = "0123456789abcdef0123456789abcdef"
	register := func(certHash string) (int, api.Error) {
		return tc.call(rootUser, api.PathNodeRegister, api.RegisterNodeRequest{
			Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 8, MemoryMB: 8192},
			LogAddr: addr, LogCertHash: certHash, LogToken: logToken,
		}, nil)
	}
	if status, e := register("sha256:nothex"); status == http.StatusOK || e.Code != api.CodeInvalid || !strings.Contains(e.Message, "sha256:") {
		t.Fatalf("register with a malformed log cert hash: HTTP %d %s %q, want %s naming the form", status, e.Code, e.Message, api.CodeInvalid)
	}
	if status, e := register(client.CAHash(srv.Certificate())); status != http.StatusOK {
		t.Fatalf("register with the log server's hash: HTTP %d %s: %s", status, e.Code, e.Message)
	}

	id := tc.submit(alice, api.JobSpec{Command: []string{"true"}, Dir: "/", Resources: api.Resources{CPUs: 1, MemoryMB: 64}})
	// A blocking query: it answers once the job is placed (STARTING).
	var placed api.Job
	tc.mustCall(alice, api.PathWait, api.WaitJobRequest{ID: id, States: []api.JobState{api.StateStarting}, WaitMillis: 10_000}, &placed)
	if placed.Node != "n1" {
		t.Fatalf("job %d not placed on n1 within 10s: %+v", id, placed)
	}

	var logs api.LogsResponse
	if status, e := tc.call(alice, api.PathLogs, api.LogsRequest{ID: id}, &logs); status != http.StatusOK {
		t.Fatalf("logs through the pinned log server: HTTP %d %s: %s", status, e.Code, e.Message)
	}
	if want := "hello from job " + api.FormatID(id) + "\n"; string(logs.Data) != want {
		t.Fatalf("logs: %q, want %q", logs.Data, want)
	}
	mu.Lock()
	got := append([]string(nil), seen...)
	mu.Unlock()
	if len(got) != 1 || got[0] != "Bearer "+logToken {
		t.Fatalf("log server saw Authorization %q, want only the node's log token", got)
	}
	for _, h := range got {
		if strings.Contains(h, tc.c.JoinToken()) {
			t.Fatalf("the controller sent the join secret to a node's log server: %q", h)
		}
	}

	// The registered address answers with a key other than the pinned
	// one (as something in between would): refused in the handshake.
	otherHash := "sha256:" + strings.Repeat("ab", 32)
	if status, e := register(otherHash); status != http.StatusOK {
		t.Fatalf("register with another hash: HTTP %d %s: %s", status, e.Code, e.Message)
	}
	status, e := tc.call(alice, api.PathLogs, api.LogsRequest{ID: id}, nil)
	if e.Code != api.CodeUnavailable || !strings.Contains(e.Message, client.ErrPinMismatch.Error()) {
		t.Fatalf("logs from a server with another key: HTTP %d %s %q, want %s %q", status, e.Code, e.Message, api.CodeUnavailable, client.ErrPinMismatch)
	}
	mu.Lock()
	if len(seen) != 1 {
		t.Fatalf("a request reached the server whose key is not the pinned one: %q", seen)
	}
	mu.Unlock()

	// Users see the pin, never the token.
	var nodes api.NodesResponse
	tc.mustCall(alice, api.PathNodes, struct{}{}, &nodes)
	for _, n := range nodes.Nodes {
		if n.Name == "n1" && (n.LogToken != "" || n.LogCertHash != otherHash) {
			t.Fatalf("node as a user sees it: token %q hash %q, want no token and hash %s", n.LogToken, n.LogCertHash, otherHash)
		}
	}
}
