package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestJobUsage runs a real sandboxed job that holds ~60 MB and spins a
// while: its record (shoal describe) holds a MaxRSS of at least 50 MB and
// some CPU time, read from its cgroups (v1 or v2, whichever the host
// runs); shoal eff and sacct show them.
func TestJobUsage(t *testing.T) {
	c := newCluster(t)
	id := c.submit("--name", "usage", "--mem", "512", "--", "sh", "-c",
		`x=$(head -c 60000000 /dev/zero | tr '\0' a); i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; echo ${#x}`)
	j := c.wait(id)
	wantState(t, j, api.StateSucceeded, "")
	j = c.describe(id)
	if j.Usage == nil {
		t.Fatalf("job %d: no usage in shoal describe", id)
	}
	if j.Usage.MaxRSSBytes < 50<<20 || j.Usage.CPUSeconds <= 0 {
		t.Errorf("job %d usage: maxRSS %d bytes, cpu %v s; want ≥ %d bytes and some CPU time", id, j.Usage.MaxRSSBytes, j.Usage.CPUSeconds, 50<<20)
	}
	if j.Usage.GPUs != nil || j.Usage.GPUSeconds != 0 {
		t.Errorf("job %d without GPUs: usage %+v names GPU figures", id, j.Usage)
	}
	t.Logf("job %d: maxRSS %d bytes, cpu %.3f s", id, j.Usage.MaxRSSBytes, j.Usage.CPUSeconds)

	r := c.shoal("eff", api.FormatID(id))
	if r.code != 0 || !strings.Contains(r.stdout, "State: SUCCEEDED (exit code 0)") ||
		!strings.Contains(r.stdout, "Memory Efficiency: ") || !strings.Contains(r.stdout, "% of 512.00 MB") ||
		!strings.Contains(r.stdout, "CPU Efficiency: ") {
		t.Errorf("shoal eff %d: exit %d\n%s%s\nwant a SUCCEEDED summary with CPU and memory efficiency (of 512.00 MB)", id, r.code, r.stdout, r.stderr)
	}

	cmd := exec.Command(shoalBin, "-P", "-n", "-j", api.FormatID(id), "-o", "JobID,MaxRSS,TotalCPU,TRESUsageInMax")
	cmd.Args[0] = "sacct"
	cmd.Env = c.slurmEnv(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sacct: %v: %s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		t.Fatalf("sacct printed %q, want a job line and its batch line", out)
	}
	f := strings.Split(lines[1], "|")
	if len(f) != 4 || f[0] != api.FormatID(id)+".batch" || !strings.HasSuffix(f[1], "K") && !strings.HasSuffix(f[1], "M") ||
		f[2] == "" || !strings.HasPrefix(f[3], "cpu=") || !strings.Contains(f[3], ",mem="+f[1]) {
		t.Errorf("sacct batch line %q: want JobID.batch|MaxRSS in K or M|TotalCPU|cpu=...,mem=<MaxRSS>", lines[1])
	}
}
