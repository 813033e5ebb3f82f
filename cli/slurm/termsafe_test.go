package slurm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/shoal-batch/shoal/api"
)

// Hostile names: a newline that would forge a row, a carriage return that
// would overwrite one, terminal escapes (CSI clear screen, OSC window
// title, the 8-bit CSI U+009B), DEL, a bidi override and a byte that is
// not UTF-8.
const forgedRow = "x\nFAKE bob RUNNING"

var hostileNames = []string{
	forgedRow,
	"y\rFAKE bob RUNNING",
	"\x1b[2J\x1b[Hcleared",
	"\x1b]0;owned\x07title",
	"csi\u009b2Jeight",
	"del\x7fname",
	"rlo\u202eexe.sh",
	"bad\xffutf8",
}

// hostileCtl is the "shoal" fixture with job 101 renamed to each hostile
// name, job 109's account and node2's drain reason made hostile too.
func hostileCtl(name string) (*viewFake, time.Time) {
	fx := fixtures["shoal"]
	jobs, nodes, queues, ces := fx.build()
	for i := range jobs {
		switch jobs[i].ID {
		case 101, 108:
			jobs[i].Name = name
		case 109:
			jobs[i].Account = name
		}
	}
	for i := range nodes {
		if nodes[i].Name == "node2" {
			nodes[i].Reason = name
		}
	}
	return &viewFake{jobs: jobs, nodes: nodes, now: fx.now, cluster: fx.cluster, queues: queues, ces: ces}, fx.now
}

// assertTerminalSafe fails when out holds a byte a terminal acts on or a
// line that a hostile name started.
func assertTerminalSafe(t *testing.T, what, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("%s: output is not valid UTF-8:\n%q", what, out)
	}
	for _, r := range out {
		if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0x202e {
			t.Errorf("%s: output holds control character %U; want every control escaped:\n%q", what, r, out)
			return
		}
	}
	for _, line := range strings.Split(out, "\n") {
		trimmed := strings.TrimLeft(line, " \t")
		if strings.HasPrefix(trimmed, "FAKE") || strings.HasPrefix(trimmed, `"FAKE`) {
			t.Errorf("%s: a job name forged the line %q; want it kept on its job's line:\n%s", what, line, out)
		}
	}
}

func TestHostileNamesStayInTheirCells(t *testing.T) {
	setDefaultPartition(t, api.DefaultQueue)
	cases := []struct {
		cmd  string
		run  func(*Ctx, []string) int
		args []string
		// lines: the output has exactly this many lines, 0 when not
		// checked.
		lines int
	}{
		{"squeue", Squeue, []string{"-a"}, 0},
		{"squeue", Squeue, []string{"-o", "%i %j %u %T %R"}, 0},
		{"squeue", Squeue, []string{"-O", "JobID,Name:60,UserName,State"}, 0},
		{"squeue", Squeue, []string{"-l"}, 0},
		{"squeue", Squeue, []string{"--json"}, 0},
		{"sacct", Sacct, []string{"-a", "-X", "--format", "JobID,JobName%60,User,State,Account"}, 0},
		{"sacct", Sacct, []string{"-a", "-X", "-P", "--format", "JobID,JobName,User,State,Account"}, 0},
		{"sacct", Sacct, []string{"-a", "-X", "-p", "-n", "--format", "JobID,JobName,State"}, 0},
		{"sacct", Sacct, []string{"-a", "--json"}, 0},
		{"scontrol", Scontrol, []string{"show", "job", "108"}, 0},
		{"scontrol", Scontrol, []string{"-o", "show", "job", "108"}, 1},
		{"scontrol", Scontrol, []string{"show", "node", "node2"}, 0},
		{"sinfo", Sinfo, []string{"-R"}, 0},
		{"sinfo", Sinfo, []string{"-N", "-o", "%N %E"}, 0},
		{"sinfo", Sinfo, []string{"--json"}, 0},
	}
	for _, name := range hostileNames {
		for _, tc := range cases {
			f, now := hostileCtl(name)
			var stdout, stderr bytes.Buffer
			c := &Ctx{Client: f, Stdout: &stdout, Stderr: &stderr, Stdin: strings.NewReader(""),
				Env: []string{"USER=alice"}, Now: func() time.Time { return now },
				Getwd: func() (string, error) { return "/", nil }, Hostname: "login1", User: "alice"}
			what := fmt.Sprintf("%s with name %q", strings.Join(append([]string{tc.cmd}, tc.args...), " "), name)
			if rc := tc.run(c, tc.args); rc != 0 {
				t.Errorf("%s: exit %d; want 0 (stderr %q)", what, rc, stderr.String())
				continue
			}
			out := stdout.String()
			assertTerminalSafe(t, what, out)
			assertTerminalSafe(t, what+" (stderr)", stderr.String())
			if n := strings.Count(out, "\n"); tc.lines > 0 && n != tc.lines {
				t.Errorf("%s: %d lines; want %d (one record a line):\n%s", what, n, tc.lines, out)
			}
			if tc.args[len(tc.args)-1] == "--json" {
				if !json.Valid(stdout.Bytes()) {
					t.Errorf("%s: output is not valid JSON:\n%s", what, out)
				}
			}
		}
	}
}

// The JSON outputs escape without changing the value: a client decoding
// squeue --json reads the name the job was submitted with.
func TestHostileNameJSONRoundTrips(t *testing.T) {
	setDefaultPartition(t, api.DefaultQueue)
	for _, name := range []string{forgedRow, "csi\u009b2Jeight", "del\x7fname", "rlo\u202eexe.sh"} {
		f, now := hostileCtl(name)
		var stdout, stderr bytes.Buffer
		c := &Ctx{Client: f, Stdout: &stdout, Stderr: &stderr, Env: []string{"USER=alice"},
			Now: func() time.Time { return now }, Getwd: func() (string, error) { return "/", nil }, User: "alice"}
		if rc := Squeue(c, []string{"--json", "-j", "108"}); rc != 0 {
			t.Fatalf("squeue --json: exit %d: %s", rc, stderr.String())
		}
		var got struct {
			Jobs []struct {
				Name string `json:"name"`
			} `json:"jobs"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
			t.Fatalf("squeue --json does not decode: %v\n%s", err, stdout.String())
		}
		if len(got.Jobs) != 1 || got.Jobs[0].Name != name {
			t.Errorf("squeue --json -j 108 decodes to %+v; want one job named %q", got.Jobs, name)
		}
	}
}

// The forged row stays on the hostile job's own line, escaped, in the
// default squeue and the parsable sacct formats scripts read.
func TestForgedRowIsVisibleOnItsLine(t *testing.T) {
	setDefaultPartition(t, api.DefaultQueue)
	f, now := hostileCtl(forgedRow)
	for _, tc := range []struct {
		run  func(*Ctx, []string) int
		args []string
		want string
	}{
		{Squeue, []string{"-h", "-j", "108", "-o", "%i|%j|%u"}, "108|x\\nFAKE bob RUNNING|alice\n"},
		{Sacct, []string{"-n", "-X", "-P", "-j", "101", "--format", "JobID,JobName,User"}, "101|x\\nFAKE bob RUNNING|alice\n"},
	} {
		var stdout, stderr bytes.Buffer
		c := &Ctx{Client: f, Stdout: &stdout, Stderr: &stderr, Env: []string{"USER=alice"},
			Now: func() time.Time { return now }, Getwd: func() (string, error) { return "/", nil }, User: "alice"}
		tc.run(c, tc.args)
		if stdout.String() != tc.want {
			t.Errorf("%v: got %q; want %q (stderr %q)", tc.args, stdout.String(), tc.want, stderr.String())
		}
	}
}

// Messages on stderr quote the controller and other users (a reason, a
// name echoed back in a refusal): each stays one line with no escapes,
// while the caller's own format keeps its newline.
func TestErrorfEscapesItsArguments(t *testing.T) {
	var stderr bytes.Buffer
	c := &Ctx{Stderr: &stderr}
	c.Errorf("sbatch", "Batch job submission failed: %v (%s)\n", fmt.Errorf("name %s refused", forgedRow), "\x1b[2J")
	want := "sbatch: error: Batch job submission failed: name x\\nFAKE bob RUNNING refused (\\x1b[2J)\n\n"
	if stderr.String() != want {
		t.Errorf("Errorf printed %q; want %q", stderr.String(), want)
	}
}
