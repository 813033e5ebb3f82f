package main

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/shoal-batch/shoal/daemon/raftwal"
)

// TestAgentCorruptRaftLog: `shoal agent` on a raft log whose pages are
// garbage prints one error naming the file and the recovery and exits 1,
// with no panic and no goroutine dump (bbolt used to fault inside
// raft-boltdb).
func TestAgentCorruptRaftLog(t *testing.T) {
	dataDir := t.TempDir()
	raftDir := filepath.Join(dataDir, "controller", "raft")
	if err := os.MkdirAll(raftDir, 0o700); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(raftDir, "raft.db")
	store, err := raftboltdb.NewBoltStore(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 200; i++ {
		if err := store.StoreLog(&raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: make([]byte, 512)}); err != nil {
			t.Fatal(err)
		}
	}
	store.Close()
	f, err := os.OpenFile(logPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := f.Stat()
	junk := make([]byte, info.Size()-2*4096)
	for i := range junk {
		junk[i] = byte(i*7 + 3)
	}
	_, err = f.WriteAt(junk, 2*4096)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}

	out := agentRefusesCorruptLog(t, dataDir)
	for _, want := range []string{"raft log " + logPath + " is corrupt", "mv " + logPath + " " + logPath + ".corrupt", "starts EMPTY"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("agent output lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"panic", "goroutine ", "SIGSEGV"} {
		if strings.Contains(string(out), bad) {
			t.Errorf("agent output has %q, want one error line:\n%s", bad, out)
		}
	}
}

// TestAgentCorruptWAL: `shoal agent` on a raft log (raft-wal) with a
// damaged batch prints one error naming the segment file and the
// recovery and exits 1.
func TestAgentCorruptWAL(t *testing.T) {
	dataDir := t.TempDir()
	raftDir := filepath.Join(dataDir, "controller", "raft")
	if err := os.MkdirAll(raftDir, 0o700); err != nil {
		t.Fatal(err)
	}
	store, err := raftwal.Open(raftDir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 20; i++ {
		if err := store.StoreLogs([]*raft.Log{{Index: i, Term: 1, Type: raft.LogCommand, Data: make([]byte, 512)}}); err != nil {
			t.Fatal(err)
		}
	}
	store.Close()
	segs, _ := filepath.Glob(filepath.Join(raftDir, raftwal.Dir, "*.wal"))
	if len(segs) != 1 {
		t.Fatalf("segments %v, want one", segs)
	}
	f, err := os.OpenFile(segs[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteAt([]byte{0xde, 0xad}, 32+8+100) // inside the first entry
	f.Close()
	if err != nil {
		t.Fatal(err)
	}

	out := agentRefusesCorruptLog(t, dataDir)
	walDir := filepath.Join(raftDir, raftwal.Dir)
	for _, want := range []string{"raft log " + walDir + " is corrupt", segs[0], "does not match its checksum", "mv " + walDir + " " + walDir + ".corrupt", "starts EMPTY"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("agent output lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"panic", "goroutine ", "SIGSEGV"} {
		if strings.Contains(string(out), bad) {
			t.Errorf("agent output has %q, want one error line:\n%s", bad, out)
		}
	}
}

// agentRefusesCorruptLog runs the agent on dataDir, which must exit 1 at
// once, and returns what it printed.
func agentRefusesCorruptLog(t *testing.T, dataDir string) []byte {
	t.Helper()
	cmd := exec.Command(os.Args[0], "agent", "-data-dir", dataDir, "-socket", filepath.Join(t.TempDir(), "s.sock"))
	cmd.Env = append(os.Environ(), "SHOAL_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("agent on a corrupt raft log: %v, want exit status 1; output:\n%s", err, out)
	}
	return out
}
