package slurm

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// anchorCase is one transcript of testdata/anchor: a command run against
// the real Slurm 22.05 of the slurm-anchor (capture.sh), and what it
// printed.
type anchorCase struct {
	name, command  string
	rc             int
	stdout, stderr string
}

// readAnchorCase parses a transcript written by capture.sh.
func readAnchorCase(t *testing.T, path string) anchorCase {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := anchorCase{name: strings.TrimSuffix(filepath.Base(path), ".txt")}
	var out, errOut strings.Builder
	section := ""
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case section == "" && strings.HasPrefix(line, "$ "):
			c.command = line[2:]
		case section == "" && strings.HasPrefix(line, "rc "):
			if c.rc, err = strconv.Atoi(line[3:]); err != nil {
				t.Fatalf("%s: %q: %v", path, line, err)
			}
		case line == "--- stdout":
			section = "stdout"
		case line == "--- stderr":
			section = "stderr"
		case section == "stdout":
			out.WriteString(line + "\n")
		case section == "stderr":
			errOut.WriteString(line + "\n")
		}
	}
	if c.command == "" {
		t.Fatalf("%s: no command line (\"$ ...\")", path)
	}
	c.stdout, c.stderr = out.String(), errOut.String()
	return c
}

// anchorVerdicts reads testdata/anchor/shoal.txt: for each transcript,
// "match" (shoal prints the same stdout and stderr and exits the same),
// "rc" (the same exit status and stdout; the message's words differ),
// "golden:CMD/CASE" (that golden case prints the same) or "differs: why".
func anchorVerdicts(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "anchor", "shoal.txt"))
	if err != nil {
		t.Fatal(err)
	}
	v := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, verdict, ok := strings.Cut(line, "|")
		if !ok {
			t.Fatalf("shoal.txt: %q: want name|verdict", line)
		}
		v[name] = verdict
	}
	return v
}

var (
	anchorTime  = regexp.MustCompile(`[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}`)
	anchorJobID = regexp.MustCompile(`(Submitted batch job |^|Job |job |job id |allocation )[0-9]+`)
)

// anchorNorm is capture.sh's normalisation, for shoal's output.
func anchorNorm(s string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		line = anchorTime.ReplaceAllString(line, "$$TIME")
		b.WriteString(anchorJobID.ReplaceAllString(line, "${1}$$JOBID"))
	}
	return b.String()
}

// TestAnchorTranscripts runs each command captured from the real Slurm
// through shoal's own (against a fake controller, in a directory holding
// the same scripts) and compares what it prints where shoal.txt says it
// should match. Each transcript needs a verdict.
func TestAnchorTranscripts(t *testing.T) {
	verdicts := anchorVerdicts(t)
	paths, _ := filepath.Glob(filepath.Join("testdata", "anchor", "*.txt"))
	cmds := map[string]func(*Ctx, []string) int{"sbatch": Sbatch, "scancel": Scancel, "sacctmgr": Sacctmgr, "srun": Srun}
	var differ []string
	n := 0
	for _, path := range paths {
		if filepath.Base(path) == "shoal.txt" || filepath.Base(path) == "cases.txt" {
			continue
		}
		n++
		ac := readAnchorCase(t, path)
		t.Run(ac.name, func(t *testing.T) {
			verdict, ok := verdicts[ac.name]
			if !ok {
				t.Fatalf("testdata/anchor/shoal.txt has no verdict for %s: add %s|match, rc or differs: why", ac.name, ac.name)
			}
			args := strings.Fields(ac.command)
			run := cmds[args[0]]
			if run == nil {
				t.Fatalf("%s: no shoal command %s", ac.name, args[0])
			}
			dir := t.TempDir()
			sbWriteFile(t, filepath.Join(dir, "job.sh"), "#!/bin/sh\ntrue\n")
			sbWriteFile(t, filepath.Join(dir, "noshebang.sh"), "echo no shebang\n")
			sbWriteFile(t, filepath.Join(dir, "empty.sh"), "")
			c, stdout, stderr := sbTestCtx(newCtlFake(), dir, sbEnv, "")
			rc := run(c, args[1:])
			gotOut, gotErr := anchorNorm(stdout.String()), anchorNorm(stderr.String())
			if os.Getenv("SHOAL_ANCHOR_REPORT") == "1" {
				t.Logf("%s: %s\nslurm rc %d\n%s%sshoal rc %d\n%s%s", verdict, ac.command, ac.rc, ac.stdout, ac.stderr, rc, gotOut, gotErr)
			}
			if golden, ok := strings.CutPrefix(verdict, "golden:"); ok {
				read, _ := goldenCase(t, filepath.Join("testdata", golden))
				out, _ := read("stdout")
				errOut, _ := read("stderr")
				rcText, _ := read("rc")
				rc, gotOut, gotErr = -1, anchorNorm(out), anchorNorm(errOut)
				if n, err := strconv.Atoi(strings.TrimSpace(rcText)); err == nil {
					rc = n
				}
				verdict = "match"
			}
			switch {
			case verdict == "match":
				if rc != ac.rc || gotOut != ac.stdout || gotErr != ac.stderr {
					t.Errorf("%s: shoal exits %d with\n--- stdout\n%s--- stderr\n%s; Slurm 22.05 exits %d with\n--- stdout\n%s--- stderr\n%s",
						ac.command, rc, gotOut, gotErr, ac.rc, ac.stdout, ac.stderr)
				}
			case verdict == "rc":
				if rc != ac.rc || gotOut != ac.stdout {
					t.Errorf("%s: shoal exits %d with stdout %q; Slurm 22.05 exits %d with %q", ac.command, rc, gotOut, ac.rc, ac.stdout)
				}
			case strings.HasPrefix(verdict, "differs: "):
				differ = append(differ, ac.name+": "+strings.TrimPrefix(verdict, "differs: "))
			default:
				t.Fatalf("shoal.txt: %s: verdict %q; want match, rc or differs: why", ac.name, verdict)
			}
		})
	}
	if n == 0 {
		t.Fatal("no transcripts under testdata/anchor")
	}
	sort.Strings(differ)
	t.Logf("%d transcripts; where shoal differs on purpose:\n%s", n, strings.Join(differ, "\n"))
}
