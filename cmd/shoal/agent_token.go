package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	ucli "github.com/urfave/cli/v2"
)

// maxTokenFileBytes bounds what -token-file reads: a join token is one
// line of a hundred bytes or so.
const maxTokenFileBytes = 64 << 10

// joinToken is the node join token the agent was given: by -token-file,
// -token or SHOAL_JOIN_TOKEN; "" for none. A token on the command line
// works, with a warning: every local user can read it there.
func joinToken(c *ucli.Context, log *slog.Logger) (string, error) {
	file, token := c.String("token-file"), c.String("token")
	if file != "" {
		if token != "" {
			from := "-token"
			if token == os.Getenv("SHOAL_JOIN_TOKEN") {
				from = "SHOAL_JOIN_TOKEN in the environment (an EnvironmentFile= of the unit?)"
			}
			return "", fmt.Errorf("agent: the join token is given twice, by -token-file and by %s: give one", from)
		}
		return readTokenFile(file, os.Getenv("CREDENTIALS_DIRECTORY"))
	}
	if token != "" && token != os.Getenv("SHOAL_JOIN_TOKEN") {
		log.Warn("the join token is on the command line, where every local user can read it (ps, /proc/PID/cmdline): give it with -token-file (a file only root can read, or a systemd credential) or the SHOAL_JOIN_TOKEN environment variable")
	}
	return token, nil
}

// readTokenFile reads a join token from path: its first line, trimmed. The
// file must be a regular file that neither group nor others can read or
// write, owned by root or this process's user, unless it is a systemd
// credential (under credDir, $CREDENTIALS_DIRECTORY: systemd makes that
// directory for this service alone).
func readTokenFile(path, credDir string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("agent: -token-file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("agent: -token-file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("agent: -token-file %s is not a regular file", path)
	}
	if !isCredential(path, credDir) {
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			return "", fmt.Errorf("agent: -token-file %s has mode %04o: group or others may read it, and the join token lets anyone who has it join this cluster as a node; chmod 600 %s (or give it as a systemd credential, LoadCredential=)", path, perm, path)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && int(st.Uid) != os.Geteuid() {
			return "", fmt.Errorf("agent: -token-file %s belongs to uid %d, who may read and change it: give a file of root's or of this daemon's user (uid %d)", path, st.Uid, os.Geteuid())
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxTokenFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("agent: -token-file: %w", err)
	}
	if len(data) > maxTokenFileBytes {
		return "", fmt.Errorf("agent: -token-file %s is over %d bytes: give a file holding the join token line only", path, maxTokenFileBytes)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	if line = strings.TrimSpace(line); line == "" {
		return "", errors.New("agent: -token-file " + path + " is empty: put the whole line of the controller's DATA_DIR/controller/join-token in it")
	}
	return line, nil
}

// isCredential reports whether path is in credDir, systemd's credentials
// directory of this service.
func isCredential(path, credDir string) bool {
	if credDir == "" || !filepath.IsAbs(credDir) {
		return false
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	rel, err := filepath.Rel(filepath.Clean(credDir), abs)
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..") && !filepath.IsAbs(rel)
}
