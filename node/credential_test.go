package node

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/daemon"
	"github.com/shoal-batch/shoal/node/sandbox"
)

// TestAgentCredentialSurvivesRestart: a node daemon that joins over TLS
// with the join token saves the credential it is given (0600) and proves
// itself with it from then on; restarted with a wrong join token, it
// registers with the saved credential and keeps its running job; the
// join token of a second holder cannot register the name.
func TestAgentCredentialSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sock := filepath.Join(dir, "shoal.sock")
	ctl, err := daemon.Start(daemon.Config{DataDir: filepath.Join(dir, "controller"), Socket: sock, Log: quiet,
		InMemory: true, Bind: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("start controller: %v", err)
	}
	t.Cleanup(func() { ctl.Close() })
	addr := ctl.Addrs()[1]
	nodeClient := func(token string) *client.Client {
		t.Helper()
		c, err := client.NewWith(addr, client.Options{Token: token})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	user := client.New(sock, "")
	procs := make(chan *fakeProc, 4)
	start := func(token string, recovered map[string]Process) (*Agent, error) {
		return StartAgent(Config{
			Name: "cred1", Client: nodeClient(token), DataDir: filepath.Join(dir, "node"),
			Executor: &funcExecutor{
				start: func(spec sandbox.Spec) (Process, error) {
					p := newFakeProc(spec)
					procs <- p
					return p, nil
				},
				recoverFn: func() (map[string]Process, error) { return recovered, nil },
			},
			Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}, LogAddr: filepath.Join(dir, "node.sock"),
			Grace: time.Second, Log: quiet,
		})
	}
	agent, err := start(ctl.NodeJoinToken(), nil)
	if err != nil {
		t.Fatalf("start the node daemon with the join token: %v", err)
	}
	path := filepath.Join(dir, "node", credentialFile)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the saved credential: %v %v, want a file of mode 0600", fi, err)
	}
	saved, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(saved), api.NodeCredentialPrefix+"cred1:") {
		t.Fatalf("the saved credential is %q, want shoal-node:cred1:SECRET", saved)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := user.Submit(ctx, api.SubmitJobRequest{JobSpec: api.JobSpec{Command: []string{"true"}, Dir: "/",
		Resources: api.Resources{CPUs: 1, MemoryMB: 64}}})
	if err != nil {
		t.Fatal(err)
	}
	var p *fakeProc
	select {
	case p = <-procs:
	case <-ctx.Done():
		t.Fatal("the job did not start")
	}
	if _, err := user.WaitJob(ctx, resp.ID, api.StateRunning); err != nil {
		t.Fatal(err)
	}

	// Another holder of the join token cannot register the name.
	err = nodeClient(ctl.NodeJoinToken()).Call(ctx, api.PathNodeRegister, api.RegisterNodeRequest{
		Name: "cred1", Boot: "other", Capacity: api.Resources{CPUs: 64, MemoryMB: 4096}}, nil)
	if !api.IsCode(err, api.CodeConflict) {
		t.Fatalf("a second join-token registration of cred1: %v, want refused", err)
	}

	if err := agent.Close(); err != nil {
		t.Fatalf("close the node daemon: %v", err)
	}
	// Restarted with a join token that is not the controller's: only
	// the saved credential can register it.
	wrong := api.FormatJoinToken(strings.Repeat("f", 64), ctl.CAHash())
	again := newFakeProc(p.spec) // what the executor recovers of the job
	agent, err = start(wrong, map[string]Process{sandboxID(&api.Job{ID: resp.ID, Attempt: 1}): again})
	if err != nil {
		t.Fatalf("restart the node daemon with its saved credential: %v", err)
	}
	defer agent.Close()
	if j, err := user.Job(ctx, resp.ID); err != nil || j.State != api.StateRunning {
		t.Fatalf("after the restart the job is %s (%v), want still RUNNING", j.State, err)
	}
	again.end(sandbox.Result{})
	if j, err := user.WaitJob(ctx, resp.ID, api.StateSucceeded, api.StateFailed); err != nil || j.State != api.StateSucceeded {
		t.Fatalf("the job's end after the restart: %s %q (%v), want SUCCEEDED", j.State, j.StatusReason, err)
	}
}
