package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	ucli "github.com/urfave/cli/v2"
)

const testJoinToken = "shoal-join:0123456789abcdef:sha256:" + "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// TestTokenFileModes: -token-file takes a file only its owner (root or
// the daemon's user) can read, its first line trimmed; a file group or
// others can read is refused with a message that says how to fix it,
// unless it is a systemd credential (in $CREDENTIALS_DIRECTORY).
func TestTokenFileModes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "join-token")
	if err := os.WriteFile(path, []byte("  "+testJoinToken+"  \nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := readTokenFile(path, ""); err != nil || got != testJoinToken {
		t.Fatalf("a 0600 token file: %q, %v; want the token", got, err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		os.Chmod(path, mode)
		if _, err := readTokenFile(path, ""); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("a %04o token file: %v, want refused saying chmod 600", mode, err)
		}
	}
	// A systemd credential: the directory is the service's alone.
	os.Chmod(path, 0o644)
	if got, err := readTokenFile(path, dir); err != nil || got != testJoinToken {
		t.Errorf("a 0644 token file in $CREDENTIALS_DIRECTORY: %q, %v; want the token", got, err)
	}
	if _, err := readTokenFile(path, filepath.Join(dir, "other")); err == nil {
		t.Errorf("a 0644 token file outside $CREDENTIALS_DIRECTORY was taken")
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	if _, err := readTokenFile(empty, ""); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("an empty token file: %v, want refused", err)
	}
	if os.Getuid() == 0 {
		os.Chmod(path, 0o600)
		os.Chown(path, 4201, 4201)
		if _, err := readTokenFile(path, ""); err == nil || !strings.Contains(err.Error(), "uid 4201") {
			t.Errorf("a token file of another user: %v, want refused", err)
		}
	}
}

// TestJoinTokenSources: the agent reads its join token from -token-file,
// SHOAL_JOIN_TOKEN or -token, warning only for -token, which every local
// user can read on its command line; -token-file with -token is refused.
func TestJoinTokenSources(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "join-token")
	if err := os.WriteFile(path, []byte(testJoinToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(env string, args ...string) (string, string, error) {
		t.Helper()
		t.Setenv("SHOAL_JOIN_TOKEN", env)
		if env == "" {
			os.Unsetenv("SHOAL_JOIN_TOKEN")
		}
		var logs bytes.Buffer
		var token string
		app := &ucli.App{Name: "agent", Flags: agentCommand().Flags, Action: func(c *ucli.Context) error {
			var err error
			token, err = joinToken(c, slog.New(slog.NewTextHandler(&logs, nil)))
			return err
		}}
		err := app.Run(append([]string{"agent"}, args...))
		return token, logs.String(), err
	}
	if tok, logs, err := run("", "-token-file", path); err != nil || tok != testJoinToken || logs != "" {
		t.Errorf("-token-file: %q, %v, logs %q; want the token, no warning", tok, err, logs)
	}
	if tok, logs, err := run(testJoinToken); err != nil || tok != testJoinToken || logs != "" {
		t.Errorf("SHOAL_JOIN_TOKEN: %q, %v, logs %q; want the token, no warning", tok, err, logs)
	}
	if tok, logs, err := run("", "-token", testJoinToken); err != nil || tok != testJoinToken || !strings.Contains(logs, "every local user can read it") {
		t.Errorf("-token: %q, %v, logs %q; want the token and a warning that local users can read it", tok, err, logs)
	}
	if _, _, err := run("", "-token", testJoinToken, "-token-file", path); err == nil {
		t.Errorf("-token with -token-file was taken")
	}
	os.Chmod(path, 0o644)
	if _, _, err := run("", "-token-file", path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("-token-file readable by others: %v, want refused", err)
	}
}

// tokenFlag matches -token (not -token-file) on a command line.
var tokenFlag = regexp.MustCompile(`\s--?token(\s|=|$)`)

// TestAgentUnitKeepsTokenOffCommandLine: the systemd unit and README's
// node setup never put the join token on the daemon's command line.
func TestAgentUnitKeepsTokenOffCommandLine(t *testing.T) {
	unit, err := os.ReadFile("../../contrib/shoal-agent.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(unit), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "ExecStart=") && (tokenFlag.MatchString(line) || strings.Contains(line, "JOIN_TOKEN")) {
			t.Errorf("contrib/shoal-agent.service gives the join token on the command line: %s", line)
		}
	}
	if !strings.Contains(string(unit), "LoadCredential=") || !strings.Contains(string(unit), "-token-file") {
		t.Errorf("contrib/shoal-agent.service does not pass the join token as a credential (LoadCredential=, -token-file)")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(readme), "-token 'shoal-join") {
		t.Errorf("README shows the join token on the agent's command line")
	}
}
