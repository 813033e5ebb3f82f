package node

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/daemon"
)

// startTestNode runs a real controller and a node daemon with cfg (its
// Name, Executor, Capacity, GPUs, GPULib, Driver and Log; the rest is
// filled in here) in a temporary directory, whose fake /dev holds the
// control devices named. It returns the daemon, a client of the
// controller and the fake /dev; both stop when the test ends (cleanups
// the caller registers later run first).
func startTestNode(t *testing.T, cfg Config, controlDevs ...string) (*Agent, *client.Client, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the node daemon chowns job logs: needs root")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "shoal.sock")
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctl, err := daemon.Start(daemon.Config{DataDir: filepath.Join(dir, "controller"), Socket: sock, Log: quiet})
	if err != nil {
		t.Fatalf("start controller: %v", err)
	}
	t.Cleanup(func() { ctl.Close() })
	dev := filepath.Join(dir, "dev")
	if err := os.Mkdir(dev, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range controlDevs {
		if err := os.WriteFile(filepath.Join(dev, name), nil, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Client, cfg.DataDir, cfg.DevDir = client.New(sock, ctl.JoinToken()), filepath.Join(dir, "node"), dev
	cfg.LogAddr, cfg.Grace = filepath.Join(dir, "node.sock"), time.Second
	if cfg.Log == nil {
		cfg.Log = quiet
	}
	agent, err := StartAgent(cfg)
	if err != nil {
		t.Fatalf("start node daemon: %v", err)
	}
	t.Cleanup(func() {
		if err := agent.Close(); err != nil {
			t.Errorf("close node daemon: %v", err)
		}
	})
	return agent, client.New(sock, ""), dev
}
