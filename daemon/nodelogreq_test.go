package daemon

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/api/reply"
)

// TestNodeLogRequestCarriesNoEnvironment: what the controller sends a
// node's log server (whoever registered that address) is what it needs to
// find and open the log: the ids, the owner's uid, gid and groups, the
// output paths; never the job's environment, script or command.
func TestNodeLogRequestCarriesNoEnvironment(t *testing.T) {
	mc := startMemController(t, Config{})
	var (
		mu   sync.Mutex
		body []byte
	)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		mu.Lock()
		body = data
		mu.Unlock()
		reply.JSON(w, http.StatusOK, api.LogsResponse{Data: []byte("ok\n")})
	}))
	defer srv.Close()
	mc.mustCall(rootUser, api.PathNodeRegister, api.RegisterNodeRequest{
		Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 8, MemoryMB: 8192},
		LogAddr: strings.TrimPrefix(srv.URL, "https://"), LogCertHash: client.CAHash(srv.Certificate()), LogToken: "0123456789abcdef0123456789abcdef",
	}, nil)
	const secret = "hunter2-in-the-environment"
	id := mc.submit(alice, api.JobSpec{Command: []string{"/bin/sh", "-c", "echo " + secret + "-in-argv"}, Dir: "/home/alice",
		Script: "#!/bin/sh\necho " + secret + "-in-script\n", Env: map[string]string{"TOKEN": secret},
		Stdout: "out-%j.txt", Resources: api.Resources{CPUs: 1, MemoryMB: 64}})
	var placed api.Job
	mc.mustCall(alice, api.PathWait, api.WaitJobRequest{ID: id, States: []api.JobState{api.StateStarting}, WaitMillis: 5000}, &placed)
	var logs api.LogsResponse
	mc.mustCall(alice, api.PathLogs, api.LogsRequest{ID: id}, &logs)

	mu.Lock()
	got := string(body)
	mu.Unlock()
	if got == "" {
		t.Fatal("the log server got no request")
	}
	for _, leak := range []string{secret, `"environment"`, `"script"`} {
		if strings.Contains(got, leak) {
			t.Errorf("the logs request to the node carries %s: %s", leak, got)
		}
	}
	var req api.NodeLogsRequest
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	j := req.Job
	if len(j.Command) != 0 || len(j.Env) != 0 || j.Script != "" {
		t.Errorf("the logs request carries the job's command, environment or script: %s", got)
	}
	if j.ID != id || j.UID != placed.UID || j.GID != placed.GID || j.User != placed.User || j.Stdout != "out-%j.txt" || j.Dir != "/home/alice" {
		t.Errorf("the logs request lacks what the node needs to open the log: %+v", j)
	}
}
