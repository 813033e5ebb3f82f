package enterdir

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	// As in every binary that starts jobs: runc's constructor, which
	// acts on _LIBCONTAINER_* in the environment.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
)

// The test binary links this package, so it is a binary that enters a
// directory and executes a program when given Args.
func TestEnterAndExec(t *testing.T) {
	dir := t.TempDir()
	loop := filepath.Join(dir, "loop")
	os.Symlink(loop, loop)
	notExec := filepath.Join(dir, "data")
	os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644)
	noProgram := filepath.Join(dir, "garbage")
	os.WriteFile(noProgram, []byte("\x7fELF not really"), 0o755)
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip(err)
	}
	bin := filepath.Dir(sh)
	for _, c := range []struct {
		dir  string
		argv []string
		env  []string
		code int
		out  string // stdout, or what stderr holds for a failure
	}{
		{"/etc", []string{"pwd"}, []string{"PATH=" + bin}, 0, "/etc\n"},
		{"/", []string{"sh", "-c", `echo "$0 $1"`, "a", "b"}, []string{"PATH=" + bin}, 0, "a b\n"},
		{"/", []string{"./" + strings.TrimPrefix(sh, "/"), "-c", "echo rel"}, nil, 0, "rel\n"},
		// Entries that fail, and relative ones, are passed over.
		{"/", []string{"sh", "-c", "echo found"}, []string{"PATH=" + loop + ":relative::" + strings.Repeat("x", 300) + ":" + bin}, 0, "found\n"},
		// runc's nsexec constructor, in this binary too, does not act first.
		{"/", []string{"sh", "-c", "echo ok"}, []string{"PATH=" + bin, "_LIBCONTAINER_INITPIPE=x"}, 0, "ok\n"},
		{filepath.Join(dir, "missing"), []string{"pwd"}, []string{"PATH=" + bin}, 125, `enter working directory "` + filepath.Join(dir, "missing") + `": No such file or directory`},
		{"/", []string{"no-such-program"}, []string{"PATH=" + bin}, 127, `exec "no-such-program": executable file not found in $PATH`},
		{"/", []string{"sh"}, []string{"PATH=bin"}, 127, `exec "sh": executable file not found in $PATH`},
		{"/", []string{""}, nil, 127, `exec "": No such file or directory`},
		{"/", []string{notExec}, nil, 126, "Permission denied"},
		{"/", []string{"data"}, []string{"PATH=" + dir}, 126, `exec "data": Permission denied`},
		{"/", []string{noProgram}, nil, 126, "Exec format error"},
	} {
		cmd := exec.Command(os.Args[0], Args(os.Args[0], c.dir, c.argv)[1:]...)
		cmd.Env = c.env
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		got := stdout.String()
		if code != 0 {
			got = stderr.String()
		}
		if code != c.code || !strings.Contains(got, c.out) {
			t.Errorf("in %s, %q (env %q): exit %d, %q; want %d, %q", c.dir, c.argv, c.env, code, got, c.code, c.out)
		}
	}
}

// Without the marker the binary runs as it would: here, the tests.
func TestNoMarker(t *testing.T) {
	out, err := exec.Command(os.Args[0], "-test.run", "^$").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Errorf("test binary without the marker: %v, %q", err, out)
	}
}
