package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
		if self, _ := os.Executable(); filepath.Base(self) == "shoal-client-tls" {
			// Standing in for the TLS build: say how it was started.
			fmt.Printf("tls build: argv %q SHOAL_ADDR=%s\n", os.Args, os.Getenv("SHOAL_ADDR"))
			return
		}
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

// copyExe copies the test binary to dir/name, as a binary of its own (a
// link would resolve to the test binary's directory).
func copyExe(t *testing.T, dir, name string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	path := filepath.Join(dir, name)
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// Given a TLS address, the client (built without TLS) replaces itself with
// shoal-client-tls next to it, under the name it was started by and with
// its arguments and environment; without one (nor the full shoal binary)
// it fails saying what it looked for.
func TestTLSAddressRunsTheTLSBuild(t *testing.T) {
	dir := t.TempDir()
	copyExe(t, dir, "shoal-client")
	link := filepath.Join(dir, "sbatch")
	if err := os.Symlink("shoal-client", link); err != nil {
		t.Fatal(err)
	}
	start := func(addr string) (string, string, int) {
		cmd := exec.Command(link, "--hold", "--wrap", "true")
		cmd.Env = append(os.Environ(), "SHOAL_CLIENT_TEST_MAIN=1", "SHOAL_ADDR="+addr)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.Run()
		return out.String(), errb.String(), cmd.ProcessState.ExitCode()
	}
	out, errs, code := start("ctl1:8443,ctl2:8443")
	if code != 1 || !strings.Contains(errs, "shoal-client-tls") || !strings.Contains(errs, "https://ctl1:8443") {
		t.Errorf("TLS address, no TLS build: exit %d, stdout %q, stderr %q; want exit 1 naming the address and shoal-client-tls", code, out, errs)
	}
	copyExe(t, dir, "shoal-client-tls")
	out, errs, code = start("ctl1:8443,ctl2:8443")
	want := fmt.Sprintf("tls build: argv %q SHOAL_ADDR=ctl1:8443,ctl2:8443\n", []string{link, "--hold", "--wrap", "true"})
	if code != 0 || out != want {
		t.Errorf("TLS address: exit %d, stdout %q, stderr %q; want the TLS build run as %q", code, out, errs, want)
	}
	// A unix socket is the client's own: no TLS build.
	_, errs, code = start(filepath.Join(dir, "none.sock"))
	if code == 0 || strings.Contains(errs, "tls build") || !strings.Contains(errs, "none.sock") {
		t.Errorf("unix socket: exit %d, stderr %q; want the client's own failure to connect", code, errs)
	}
}
