package slurm

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The contracts of shared/clients/SPEC.md: each test reads shoal's output
// the way the client's own code does and checks what the client would
// conclude.

// runOn runs a command against a fixture as user and returns its stdout
// and exit status.
func runOn(t *testing.T, fixture, user string, run func(*Ctx, []string) int, args ...string) (string, int) {
	t.Helper()
	fx := fixtures[fixture]
	jobs, nodes, queues, ces := fx.build()
	f := &viewFake{jobs: jobs, nodes: nodes, now: fx.now, cluster: fx.cluster, queues: queues, ces: ces}
	setDefaultPartition(t, fx.defaultQueue)
	var stdout, stderr bytes.Buffer
	c := &Ctx{Client: f, Stdout: &stdout, Stderr: &stderr, Stdin: strings.NewReader(""),
		Env: []string{"USER=" + user}, Now: func() time.Time { return fx.now },
		Getwd: func() (string, error) { return "/", nil }, Hostname: "login1", User: user}
	rc := run(c, args)
	if stderr.Len() > 0 {
		t.Logf("%v stderr: %s", args, stderr.String())
	}
	return stdout.String(), rc
}

// snakemakeStatus is snakemake 7.21's verdict on a sacct state
// (slurm_submit.py:343-378).
func snakemakeStatus(state string) string {
	switch state {
	case "COMPLETED", "UNKNOWN":
		return "success"
	case "BOOT_FAIL", "OUT_OF_MEMORY", "CANCELLED", "FAILED", "NODE_FAIL", "DEADLINE", "PREEMPTED", "TIMEOUT", "ERROR":
		return "failed"
	}
	return "running"
}

func TestSnakemakeContract(t *testing.T) {
	want := map[string]string{
		"101": "success", "102": "failed", "103": "failed", "104": "failed", "105": "failed", "106": "failed",
		"107": "running", "108": "running", "109": "running", "110": "running", "111": "success", "112": "running",
	}
	for id, verdict := range want {
		// sacct -P -n --format=JobIdRaw,State -j <id>: a dict of "a|b" lines; res[id] must exist.
		out, rc := runOn(t, "shoal", "alice", Sacct, "-P", "-n", "--format=JobIdRaw,State", "-j", id)
		if rc != 0 {
			t.Fatalf("sacct for job %s: rc %d", id, rc)
		}
		res := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.Contains(line, "|") {
				t.Fatalf("sacct line %q has no |: snakemake would fall back", line)
			}
			k, v, _ := strings.Cut(line, "|")
			res[k] = v
		}
		state, ok := res[id]
		if !ok {
			t.Fatalf("sacct -j %s has no line for the job itself (snakemake: KeyError): %q", id, out)
		}
		if got := snakemakeStatus(state); got != verdict {
			t.Errorf("job %s: sacct state %q means %s to snakemake, want %s", id, state, got, verdict)
		}
		// Fallback: scontrol show jobid -dd <id>, regex JobState=(\w+) (jobs
		// within MinJobAge).
		if id == "101" || id == "111" {
			continue // ended more than MinJobAge ago: scontrol no longer knows them
		}
		out, rc = runOn(t, "shoal", "alice", Scontrol, "show", "jobid", "-dd", id)
		m := regexp.MustCompile(`JobState=(\w+)`).FindStringSubmatch(out)
		if rc != 0 || m == nil {
			t.Fatalf("scontrol show jobid -dd %s: rc %d, no JobState in %q", id, rc, out)
		}
		if got := snakemakeStatus(m[1]); got != verdict {
			t.Errorf("job %s: scontrol JobState=%s means %s to snakemake, want %s", id, m[1], got, verdict)
		}
	}
	// Default partition: sinfo -o %P (with header): the first token with
	// "*", stripped.
	out, _ := runOn(t, "shoal", "alice", Sinfo, "-o", "%P")
	part := ""
	for _, tok := range strings.Fields(out) {
		if strings.Contains(tok, "*") {
			part = strings.ReplaceAll(tok, "*", "")
			break
		}
	}
	if part != "default" {
		t.Errorf("snakemake reads default partition %q from %q, want default", part, out)
	}
	// Account guess: sacct -nu "$USER" -o Account%20 | head -n1, stripped.
	out, _ = runOn(t, "shoal", "alice", Sacct, "-nu", "alice", "-o", "Account%20")
	if first := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0]); first != "alice" {
		t.Errorf("snakemake guesses account %q from %q, want alice (sacctmgr's default account)", first, out)
	}
}

// toilExit is toil 5.9's exit code from a sacct ExitCode "N:S" (slurm.py:156-174).
func toilExit(t *testing.T, s string) int {
	code, sig, ok := strings.Cut(s, ":")
	if !ok {
		t.Fatalf("ExitCode %q is not int:int", s)
	}
	c, err1 := strconv.Atoi(code)
	g, err2 := strconv.Atoi(sig)
	if err1 != nil || err2 != nil {
		t.Fatalf("ExitCode %q is not int:int", s)
	}
	if g > 0 {
		return 128 + g
	}
	return c
}

func TestToilContract(t *testing.T) {
	// sacct -n -j a,b --format JobIDRaw,State,ExitCode -P -S 1970-01-01
	out, rc := runOn(t, "shoal", "alice", Sacct, "-n", "-j", "101,102,103,104,105,106,107,109",
		"--format", "JobIDRaw,State,ExitCode", "-P", "-S", "1970-01-01")
	if rc != 0 {
		t.Fatalf("sacct rc %d", rc)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 3 {
			t.Fatalf("sacct line %q: want raw|state|exit", line)
		}
		if strings.Contains(f[0], ".") {
			continue // toil skips step lines
		}
		unfinished := map[string]bool{"PENDING": true, "RUNNING": true, "CONFIGURING": true, "COMPLETING": true, "RESIZING": true, "SUSPENDED": true}
		if unfinished[f[1]] {
			got[f[0]] = "running"
			continue
		}
		got[f[0]] = strconv.Itoa(toilExit(t, f[2]))
	}
	want := map[string]string{"101": "0", "102": "1", "103": "137", "104": "0", "105": "0", "106": "0", "107": "running", "109": "running"}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("toil reads job %s as %q, want %q (a missing line means waiting for ever)", id, got[id], w)
		}
	}
	// A cancelled running job ends 143 (128+SIGTERM).
	out, _ = runOn(t, "acct", "root", Sacct, "-n", "-j", "7", "--format", "JobIDRaw,State,ExitCode", "-P", "-S", "1970-01-01")
	if first := strings.Split(strings.TrimSpace(out), "\n")[0]; first != "7|CANCELLED|0:15" || toilExit(t, "0:15") != 143 {
		t.Errorf("cancelled running job reads %q, want 7|CANCELLED|0:15 (143 to toil)", first)
	}

	// squeue -h --format '%i %t %M': three fields; only R counted, %M parsed.
	out, _ = runOn(t, "shoal", "alice", Squeue, "-h", "--format", "%i %t %M")
	running := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("squeue line %q: want 3 fields", line)
		}
		if f[1] != "R" {
			continue
		}
		running++
		if _, err := toilTime(f[2]); err != nil {
			t.Errorf("toil cannot read time %q: %v", f[2], err)
		}
	}
	if running != 2 {
		t.Errorf("toil counts %d running jobs in %q, want 2", running, out)
	}

	// scontrol show job: records split on blank lines, k=v tokens.
	out, rc = runOn(t, "shoal", "alice", Scontrol, "show", "job")
	if rc != 0 {
		t.Fatalf("scontrol show job rc %d", rc)
	}
	records := 0
	for _, rec := range strings.Split(out, "\n\n") {
		if strings.TrimSpace(rec) == "" {
			continue
		}
		fields := map[string]string{}
		last := ""
		for _, tok := range strings.Fields(rec) {
			if k, v, ok := strings.Cut(tok, "="); ok {
				fields[k], last = v, k
			} else if last != "" {
				fields[last] += " " + tok
			}
		}
		if _, err := strconv.Atoi(fields["JobId"]); err != nil {
			t.Errorf("record without an integer JobId: %q", rec)
		}
		if fields["JobState"] == "" {
			t.Errorf("record without JobState: %q", rec)
		}
		toilExit(t, fields["ExitCode"])
		records++
	}
	if records != 10 {
		t.Errorf("toil reads %d job records, want 10 (jobs not ended, or ended within MinJobAge)", records)
	}
	out, _ = runOn(t, "acct", "root", Scontrol, "show", "job")
	if !strings.Contains(out, "JobId=4 ") {
		t.Errorf("scontrol show job misses running job 4")
	}

	// scontrol show config: "SchedulerTimeSlice = 30 sec" and
	// "AcctGatherNodeFreq = 0 sec": "=" its own token and a unit after.
	out, _ = runOn(t, "shoal", "alice", Scontrol, "show", "config")
	values := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[1] == "=" && (f[0] == "SchedulerTimeSlice" || f[0] == "AcctGatherNodeFreq") {
			n, err := strconv.Atoi(f[2])
			if err != nil {
				t.Errorf("%s value %q is not a number", f[0], f[2])
			}
			values[f[0]] = n
		}
	}
	if values["SchedulerTimeSlice"] != 30 || len(values) != 2 {
		t.Errorf("toil reads %v from scontrol show config, want SchedulerTimeSlice 30 and AcctGatherNodeFreq 0", values)
	}
}

// toilTime parses squeue's %M as toil does: [D-]H:M:S or M:S.
func toilTime(s string) (int, error) {
	days := 0
	if d, rest, ok := strings.Cut(s, "-"); ok {
		n, err := strconv.Atoi(d)
		if err != nil {
			return 0, err
		}
		days, s = n, rest
	}
	parts := strings.Split(s, ":")
	secs := 0
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return 0, err
		}
		secs = secs*60 + n
	}
	return days*86400 + secs, nil
}

func TestNextflowContract(t *testing.T) {
	// squeue --noheader -o '%i %t' -t all -u <user>: two columns, codes known.
	out, rc := runOn(t, "shoal", "alice", Squeue, "--noheader", "-o", "%i %t", "-t", "all", "-u", "alice")
	known := map[string]bool{"PD": true, "R": true, "CA": true, "CF": true, "CG": true, "CD": true, "F": true,
		"TO": true, "NF": true, "PR": true, "BF": true, "S": true, "ST": true, "OOM": true, "DL": true}
	if rc != 0 {
		t.Fatalf("rc %d", rc)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || !known[f[1]] {
			t.Errorf("Nextflow cannot read %q", line)
		}
	}
}

func TestParslContract(t *testing.T) {
	// squeue --noheader --format='%i %t' --job 'a,b': rc 0; ids missing
	// from the output count as COMPLETED.
	out, rc := runOn(t, "shoal", "alice", Squeue, "--noheader", "--format=%i %t", "--job", "107,101")
	if rc != 0 {
		t.Fatalf("rc %d (Parsl would update nothing)", rc)
	}
	if strings.TrimSpace(out) != "107 R" {
		t.Errorf("Parsl reads %q, want only 107 R (101 ended long ago: absent = COMPLETED)", out)
	}
}

func TestRslurmContract(t *testing.T) {
	// squeue -n <name>: default format with header (read.table); no rows = done.
	out, rc := runOn(t, "shoal", "alice", Squeue, "-n", "train")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if rc != 0 || len(lines) != 2 || !strings.HasPrefix(strings.TrimSpace(lines[0]), "JOBID PARTITION") {
		t.Errorf("squeue -n train = %q rc %d, want header + one row", out, rc)
	}
	out, rc = runOn(t, "shoal", "alice", Squeue, "-n", "nosuch")
	if rc != 0 || len(strings.Split(strings.TrimSpace(out), "\n")) != 1 {
		t.Errorf("squeue -n nosuch = %q rc %d, want the header alone", out, rc)
	}
}

func TestSubmititContract(t *testing.T) {
	// sacct -o JobID,State --parsable2 -j A -j B: with a header.
	out, rc := runOn(t, "shoal", "alice", Sacct, "-o", "JobID,State", "--parsable2", "-j", "107", "-j", "103")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if rc != 0 || lines[0] != "JobID|State" {
		t.Fatalf("sacct = %q rc %d, want a JobID|State header", out, rc)
	}
	states := map[string]string{}
	for _, l := range lines[1:] {
		id, st, _ := strings.Cut(l, "|")
		if !strings.Contains(id, ".") {
			states[id] = st
		}
	}
	if states["107"] != "RUNNING" || states["103"] != "OUT_OF_MEMORY" {
		t.Errorf("submitit reads %v", states)
	}
}
