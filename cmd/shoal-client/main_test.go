package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The test binary doubles as the client: run with SHOAL_CLIENT_TEST_MAIN=1
// it is main, under whatever name it was started by.
func TestMain(m *testing.M) {
	if os.Getenv("SHOAL_CLIENT_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// run starts the client as name (a link to the test binary) with args,
// talking to a controller socket that does not exist.
func run(t *testing.T, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("find the test binary: %v", err)
	}
	link := filepath.Join(dir, name)
	if err := os.Symlink(self, link); err != nil {
		t.Fatalf("link the test binary as %s: %v", name, err)
	}
	cmd := exec.Command(link, args...)
	cmd.Env = append(os.Environ(), "SHOAL_CLIENT_TEST_MAIN=1", "SHOAL_ADDR="+filepath.Join(dir, "no-controller.sock"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %s %v: %v", name, args, err)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

func TestSlurmNames(t *testing.T) {
	out, errs, code := run(t, "sbatch", "--help")
	if code != 0 || !strings.Contains(out, "Usage: sbatch") {
		t.Errorf("sbatch --help: exit %d, stdout %q, stderr %q; want exit 0 and sbatch's usage", code, out, errs)
	}
	_, errs, code = run(t, "squeue")
	if code == 0 || !strings.HasPrefix(errs, "slurm_load_jobs error:") || !strings.Contains(errs, "no-controller.sock") {
		t.Errorf("squeue without a controller: exit %d, stderr %q; want a failure in Slurm's words naming the socket", code, errs)
	}
	out, errs, code = run(t, "shoal-client", "slurm", "sinfo", "--help")
	if code != 0 || !strings.Contains(out, "sinfo") {
		t.Errorf("shoal-client slurm sinfo --help: exit %d, stdout %q, stderr %q; want sinfo's usage", code, out, errs)
	}
}

func TestShoalCommands(t *testing.T) {
	_, errs, code := run(t, "shoal", "queue")
	if code != 1 || !strings.HasPrefix(errs, "shoal: ") {
		t.Errorf("shoal queue without a controller: exit %d, stderr %q; want exit 1 and shoal's error", code, errs)
	}
	for _, server := range []string{"agent", "init"} {
		_, errs, code = run(t, "shoal", server)
		if code != 2 || !strings.Contains(errs, "full shoal binary") {
			t.Errorf("shoal-client %s: exit %d, stderr %q; want exit 2 and a pointer to the full shoal binary", server, code, errs)
		}
	}
}
