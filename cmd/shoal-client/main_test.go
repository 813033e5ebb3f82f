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
		if self, _ := os.Executable(); filepath.Base(self) == "shoal-client-full" {
			// Standing in for the full build: say how it was started.
			fmt.Printf("full build: argv %q SHOAL_ADDR=%s\n", os.Args, os.Getenv("SHOAL_ADDR"))
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
	for _, server := range []string{"agent", "init"} {
		_, errs, code := run(t, "shoal", server)
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

// Given a TLS address, or one of shoal's own commands, the plain client
// replaces itself with shoal-client-full next to it, under the name it
// was started by and with its arguments and environment; without one
// (nor the full shoal binary) it fails saying what it looked for.
func TestPlainRunsTheFullBuild(t *testing.T) {
	dir := t.TempDir()
	copyExe(t, dir, "shoal-client")
	link := filepath.Join(dir, "sbatch")
	if err := os.Symlink("shoal-client", link); err != nil {
		t.Fatal(err)
	}
	start := func(addr, name string, args ...string) (string, string, int) {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "SHOAL_CLIENT_TEST_MAIN=1", "SHOAL_ADDR="+addr)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.Run()
		return out.String(), errb.String(), cmd.ProcessState.ExitCode()
	}
	tlsAddr := "ctl1:8443,ctl2:8443"
	out, errs, code := start(tlsAddr, link, "--hold", "--wrap", "true")
	if code != 1 || !strings.Contains(errs, "shoal-client-full") || !strings.Contains(errs, "https://ctl1:8443") {
		t.Errorf("TLS address, no full build: exit %d, stdout %q, stderr %q; want exit 1 naming the address and shoal-client-full", code, out, errs)
	}
	native := filepath.Join(dir, "shoal-client")
	out, errs, code = start(tlsAddr, native, "queue")
	if code != 2 || !strings.Contains(errs, "shoal-client-full") {
		t.Errorf("shoal-client queue, no full build: exit %d, stdout %q, stderr %q; want exit 2 naming shoal-client-full", code, out, errs)
	}
	copyExe(t, dir, "shoal-client-full")
	for _, argv := range [][]string{{link, "--hold", "--wrap", "true"}, {native, "queue", "--state", "RUNNING"}} {
		out, errs, code = start(tlsAddr, argv[0], argv[1:]...)
		want := fmt.Sprintf("full build: argv %q SHOAL_ADDR=%s\n", argv, tlsAddr)
		if code != 0 || out != want {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want the full build run as %q", argv, code, out, errs, want)
		}
	}
	// A unix socket is the plain client's own: no full build.
	_, errs, code = start(filepath.Join(dir, "none.sock"), link, "--hold", "--wrap", "true")
	if code == 0 || strings.Contains(errs, "full build") || !strings.Contains(errs, "none.sock") {
		t.Errorf("unix socket: exit %d, stderr %q; want the plain client's own failure to connect", code, errs)
	}
}

// The two builds as the Makefile makes them, side by side: the plain one
// hands shoal's own commands and TLS addresses to the full one, which
// runs them itself (urfave/cli; net/http and crypto/tls).
func TestBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the client twice")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build the client with: %v", err)
	}
	dir := t.TempDir()
	for _, b := range []struct{ out, tags string }{
		{"shoal-client", "urfave_cli_no_docs"},
		{"shoal-client-full", "urfave_cli_no_docs,shoal_client_full"},
	} {
		cmd := exec.Command(goBin, "build", "-tags="+b.tags, "-o", filepath.Join(dir, b.out), ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build -tags=%s: %v\n%s", b.tags, err, out)
		}
	}
	if err := os.Symlink("shoal-client", filepath.Join(dir, "squeue")); err != nil {
		t.Fatal(err)
	}
	run := func(addr, name string, args ...string) (string, int) {
		cmd := exec.Command(filepath.Join(dir, name), args...)
		cmd.Env = append(os.Environ(), "SHOAL_ADDR="+addr)
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	sock := filepath.Join(dir, "none.sock")
	if out, code := run(sock, "shoal-client", "queue"); code != 1 || !strings.HasPrefix(out, "shoal: ") || !strings.Contains(out, sock) {
		t.Errorf("shoal-client queue: exit %d, output %q; want exit 1 and shoal's own error naming the socket", code, out)
	}
	if out, code := run(sock, "shoal-client", "queue", "--bogus"); code != 2 {
		t.Errorf("shoal-client queue --bogus: exit %d, output %q; want exit 2 (urfave/cli's usage error)", code, out)
	}
	// Nothing listens on port 1: a TLS client fails to connect there,
	// which the plain build could not even try.
	if out, code := run("127.0.0.1:1", "squeue"); code != 1 || !strings.HasPrefix(out, "slurm_load_jobs error:") || !strings.Contains(out, "127.0.0.1:1") || strings.Contains(out, "TLS") {
		t.Errorf("squeue at 127.0.0.1:1: exit %d, output %q; want Slurm's error about connecting there", code, out)
	}
}

// TestSlurmInitIsSmall holds the Slurm commands' package initialisation
// small: every sbatch of a loop pays for it, whichever command the
// package's tables serve. Tables only some commands read (squeue's,
// sinfo's, sacct's and sacctmgr's fields) are built when first read.
// The package once allocated 64 KB in 253 objects at each start; the
// runtime's inittrace counts what it allocates now.
func TestSlurmInitIsSmall(t *testing.T) {
	t.Setenv("GODEBUG", "inittrace=1")
	_, errs, code := run(t, "sbatch", "--version")
	if code != 0 {
		t.Fatalf("sbatch --version: exit %d, stderr %q", code, errs)
	}
	const pkg = "github.com/shoal-batch/shoal/cli/slurm "
	for _, line := range strings.Split(errs, "\n") {
		rest, ok := strings.CutPrefix(line, "init "+pkg)
		if !ok {
			continue
		}
		// "@3.7 ms, 0.075 ms clock, 3304 bytes, 46 allocs"
		var at, clock float64
		var bytes, allocs int
		if _, err := fmt.Sscanf(rest, "@%f ms, %f ms clock, %d bytes, %d allocs", &at, &clock, &bytes, &allocs); err != nil {
			t.Fatalf("read inittrace line %q: %v", line, err)
		}
		if bytes > 16<<10 || allocs > 100 {
			t.Errorf("cli/slurm's initialisation allocates %d bytes in %d objects; want at most 16 KiB in 100: build tables that only some commands read on first use (sync.OnceValue)", bytes, allocs)
		}
		return
	}
	t.Fatalf("no inittrace line for %s in sbatch's stderr:\n%s", pkg, errs)
}
