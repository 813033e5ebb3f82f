package slurm

import (
	"strings"
	"testing"
	"time"
)

// TestParseCrontab: #SCRON options apply to the next cron line only,
// variables reach the commands after them, and a bad line is named.
func TestParseCrontab(t *testing.T) {
	c := &Ctx{Now: time.Now, User: "alice"}
	text := "# comment\nDIR=/data\n#SCRON -t 5 --job-name=first\n0 3 * * * $DIR/a.sh --flag\n\n@hourly   b.sh\n"
	entries, bad := parseCrontab(c, text, "/home/alice", "alice")
	if bad != nil {
		t.Fatalf("parse: %v", bad)
	}
	if len(entries) != 2 {
		t.Fatalf("%d entries, want 2", len(entries))
	}
	a, b := entries[0], entries[1]
	if a.Line != 4 || a.Schedule != "0 3 * * *" || a.Job.Name != "first" || a.Job.TimeLimit != 300 || a.Job.Dir != "/home/alice" {
		t.Errorf("entry 1: line %d %q name %q limit %d dir %q", a.Line, a.Schedule, a.Job.Name, a.Job.TimeLimit, a.Job.Dir)
	}
	if !strings.Contains(a.Job.Script, "DIR=/data\n") || !strings.HasSuffix(a.Job.Script, "$DIR/a.sh --flag\n") || !strings.HasPrefix(a.Job.Script, "#!/bin/sh\n") {
		t.Errorf("entry 1 script %q, want the variable and the command", a.Job.Script)
	}
	if b.Line != 6 || b.Schedule != "@hourly" || b.Job.Name != "b.sh" || b.Job.TimeLimit != 0 {
		t.Errorf("entry 2: line %d %q name %q limit %d: want the options of line 3 not to apply", b.Line, b.Schedule, b.Job.Name, b.Job.TimeLimit)
	}
	if a.Job.Env["HOME"] != "/home/alice" || a.Job.Env["SLURM_GET_USER_ENV"] != "1" {
		t.Errorf("entry 1 environment %v, want a login-like one", a.Job.Env)
	}
	for _, tc := range []struct {
		text  string
		line  int
		words string
	}{
		{"0 3 * * *\n", 1, "no command"},
		{"# x\n0 3 * * * ok\n0 3 * * foo true\n", 3, "is not a number"},
		{"#SCRON --no-such-option\n0 3 * * * true\n", 1, "no-such-option"},
		{"@reboot true\n", 1, "@reboot is not supported"},
		{"0 3 31 2 * true\n", 1, "never fires"},
	} {
		_, bad := parseCrontab(c, tc.text, "/home/alice", "alice")
		if bad == nil || bad.line != tc.line || !strings.Contains(bad.Error(), tc.words) {
			t.Errorf("parse %q: %v, want line %d with %q", tc.text, bad, tc.line, tc.words)
		}
	}
	if got := markBad("a\nb\nc", 2); got != "a\n#BAD: b\nc" {
		t.Errorf("markBad: %q", got)
	}
}
