// Package archivetest starts a real PostgreSQL server for the tests of
// the job archive's PostgreSQL backend (daemon/archive, the controller's
// end-to-end tests, the archive benchmark).
package archivetest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// PGBinDir is where Debian's postgresql package puts the server's
// programs (SHOAL_PG_BIN overrides it).
const PGBinDir = "/usr/lib/postgresql/15/bin"

// StartPostgres initdbs a cluster in a temporary directory, starts a
// server on a unix socket there (no TCP port to collide on), and returns
// a URL for its database; the server is stopped when tb ends. Without
// the server's programs the test is skipped, except under CI=true,
// where it fails: CI must prove the backend.
//
// initdb and postgres refuse to run as root: as root they run as the
// postgres user (Debian's package makes it), in a directory given to it.
func StartPostgres(tb testing.TB) string {
	tb.Helper()
	bin := PGBinDir
	if v := os.Getenv("SHOAL_PG_BIN"); v != "" {
		bin = v
	}
	if _, err := os.Stat(filepath.Join(bin, "pg_ctl")); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("PostgreSQL server programs not found in %s (%v): CI must run the PostgreSQL archive tests (install Debian's postgresql package, as .ci/run does)", bin, err)
		}
		tb.Skipf("PostgreSQL server programs not found in %s: install Debian's postgresql package to run this test", bin)
	}
	dir := tb.TempDir()
	var cred *syscall.Credential
	if os.Getuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			tb.Fatalf("PostgreSQL refuses to run as root and there is no postgres user to run it as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		// The test's temporary directories are root's, mode 0700: let
		// the server's user through to its own directory.
		for d := filepath.Dir(dir); d != os.TempDir() && d != "/" && d != "."; d = filepath.Dir(d) {
			if err := os.Chmod(d, 0o711); err != nil {
				tb.Fatal(err)
			}
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			tb.Fatal(err)
		}
	}
	data, sock, logFile := filepath.Join(dir, "data"), dir, filepath.Join(dir, "server.log")
	run := func(name string, args ...string) error {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = dir
		cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin", "HOME=" + dir}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s %v: %w\n%s", name, args, err, out.String())
		}
		return nil
	}
	if err := run("initdb", "-D", data, "-U", "shoal", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		tb.Fatal(err)
	}
	// No TCP at all: the socket in dir; fsync off (a test's data).
	opts := "-c listen_addresses= -k " + sock + " -p 5432 -c fsync=off -c full_page_writes=off"
	if err := run("pg_ctl", "-D", data, "-l", logFile, "-o", opts, "-w", "-t", "60", "start"); err != nil {
		if log, rerr := os.ReadFile(logFile); rerr == nil {
			err = fmt.Errorf("%w\nserver log:\n%s", err, log)
		}
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := run("pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
			tb.Errorf("stop the test's PostgreSQL server: %v", err)
		}
	})
	return "postgres://shoal@/postgres?host=" + sock + "&port=5432&sslmode=disable"
}
