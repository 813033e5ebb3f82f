package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// TestSlurm17_26_SbatchInput pins sbatch --input (Slurm's expect test
// 17.26: a script that runs cat prints the --input file): the node opens
// the file as the job's user and the job reads it as its stdin. A file the
// user may not read fails the job's start with the reason, and a file
// another user owns keeps its owner and mode after a root job read it.
func TestSlurm17_26_SbatchInput(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("runs sandboxes as a created user: it needs root")
	}
	base := t.TempDir()
	os.Chmod(base, 0o755)
	os.Chmod(filepath.Dir(base), 0o755)
	alice := addUser(t, base, fmt.Sprintf("shoal-in-%d", os.Getpid()))
	alice.mkdir(t, alice.home, 0o755)
	c := newCluster(t)

	in := filepath.Join(alice.home, "input")
	alice.write(t, in, "hello\n", 0o644)
	out := filepath.Join(alice.home, "out-%j")
	id, r := c.sbatch(alice, "#!/bin/sh\ncat\n", "--input=input", "-o", out)
	if id == 0 {
		t.Fatalf("sbatch --input: %+v", r)
	}
	j, ok := c.waitEnd(id, 60*time.Second)
	if !ok || j.State != api.StateSucceeded {
		t.Fatalf("job %d: %s %q, want SUCCEEDED", id, j.State, j.StatusReason)
	}
	got, err := os.ReadFile(strings.ReplaceAll(out, "%j", fmt.Sprint(id)))
	if err != nil || string(got) != "hello\n" {
		t.Fatalf("output %q (%v), want the input file's hello", got, err)
	}

	secret := filepath.Join(base, "root-only")
	if err := os.WriteFile(secret, []byte("root's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	id, r = c.sbatch(alice, "#!/bin/sh\ncat\n", "--input="+secret, "-o", "/dev/null")
	if id == 0 {
		t.Fatalf("sbatch --input of a root file: %+v", r)
	}
	j, ok = c.waitEnd(id, 60*time.Second)
	if !ok || j.State != api.StateFailed || !strings.Contains(j.StatusReason, "permission denied") {
		t.Fatalf("job reading a file its user may not: %s %q, want FAILED with permission denied", j.State, j.StatusReason)
	}

	// A root job reads alice's file through a pipe: the file stays hers.
	rootOut := filepath.Join(base, "root-out")
	id, r = c.sbatch(nil, "#!/bin/sh\nhead -c 2\n", "--input="+in, "-o", rootOut)
	if id == 0 {
		t.Fatalf("root sbatch --input: %+v", r)
	}
	if j, ok = c.waitEnd(id, 60*time.Second); !ok || j.State != api.StateSucceeded {
		t.Fatalf("root job %d: %s %q, want SUCCEEDED", id, j.State, j.StatusReason)
	}
	if got, _ := os.ReadFile(rootOut); string(got) != "he" {
		t.Fatalf("root job's output %q, want he", got)
	}
	var st os.FileInfo
	if st, err = os.Stat(in); err != nil || st.Mode().Perm() != 0o644 || fileUID(st) != alice.uid {
		t.Fatalf("input file after a root job read it: %v %v uid %d, want 0644 and alice's (uid %d)", err, st.Mode(), fileUID(st), alice.uid)
	}
}

// fileUID is the owner of a file os.Stat described.
func fileUID(fi os.FileInfo) uint32 {
	if fi == nil {
		return 0
	}
	return fi.Sys().(*syscall.Stat_t).Uid
}
