package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
)

// TestDataDirUnderTmp runs the agent with its data dir under /tmp (as
// `shoal agent -dev` from a checkout cloned there): a user's sbatch job,
// working in a directory outside /tmp, still finds its script, which the
// node keeps under the host's /tmp that the job's private /tmp hides.
func TestDataDirUnderTmp(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("end-to-end tests run jobs in sandboxes and need root")
	}
	dir, err := os.MkdirTemp("/tmp", "shoal-e2e-tmpdata-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	c := &cluster{
		t: t, dataDir: filepath.Join(dir, "data"), socket: filepath.Join(dir, "shoal.sock"),
		sbRoot:   fmt.Sprintf("/run/shoal-e2e-%d-%s", os.Getpid(), t.Name()),
		cgParent: fmt.Sprintf("shoal-e2e-%d-%s", os.Getpid(), t.Name()),
	}
	c.client = client.New(c.socket, "")
	t.Cleanup(c.cleanup)
	c.start()

	base := t.TempDir() // under /var/tmp: outside the job's /tmp
	os.Chmod(base, 0o755)
	os.Chmod(filepath.Dir(base), 0o755)
	u := addUser(t, base, "shoaltmpd")
	out := filepath.Join(u.home, "out")
	id, r := c.sbatch(u, "#!/bin/sh\necho \"ran $0 as $(id -un)\"\n", "-D", u.home, "-o", out)
	if id == 0 {
		t.Fatalf("sbatch: exit %d: %s", r.code, r.stderr)
	}
	j := c.wait(id)
	data, _ := os.ReadFile(out)
	if j.State != api.StateSucceeded {
		t.Fatalf("sbatch job with the data dir under /tmp: %s %q, output %q; want SUCCEEDED", j.State, j.StatusReason, data)
	}
	if want := "ran " + c.dataDir + "/node/scripts/job-"; !strings.HasPrefix(string(data), want) || !strings.Contains(string(data), "as shoaltmpd") {
		t.Errorf("job output %q; want it to start %q and name its user", data, want)
	}
}

// TestStepdLines: a job stopped at its time limit, one the OOM killer
// hit and one a user terminated each end with slurmstepd's line in their
// stderr file, in Slurm 22.05's words, written as the job's owner through
// the job's own file; `shoal queue` names each cause; `shoal logs` prints
// a job whose stdout and stderr are one file once. Then the memory knobs:
// a queue with AllowedRAMSpace 1000% runs what the OOM killer ended at
// 100%, and one with ConstrainRAMSpace=no too.
func TestStepdLines(t *testing.T) {
	c := newCluster(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	sbatch := func(script string, args ...string) uint64 {
		t.Helper()
		id, r := c.sbatch(nil, script, args...)
		if id == 0 {
			t.Fatalf("sbatch %v: exit %d: %s", args, r.code, r.stderr)
		}
		return id
	}
	read := func(path string) string {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		return string(data)
	}
	stamp := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d`

	// One file for stdout and stderr (sbatch without -e): printed once.
	both := filepath.Join(dir, "both.out")
	id := sbatch("#!/bin/sh\necho out\necho err >&2\n", "-o", both)
	wantState(t, c.wait(id), api.StateSucceeded, "")
	if r := c.shoal("logs", api.FormatID(id)); r.code != 0 || r.stdout != "out\nerr\n" || r.stderr != "" {
		t.Errorf("shoal logs of a job with one output file: exit %d, stdout %q, stderr %q; want \"out\\nerr\\n\" once", r.code, r.stdout, r.stderr)
	}

	// The time limit (1 s: through the API, as sbatch counts minutes).
	tlOut, tlErr := filepath.Join(dir, "tl.out"), filepath.Join(dir, "tl.err")
	resp, err := c.client.Submit(context.Background(), api.SubmitJobRequest{JobSpec: api.JobSpec{
		Name: "tl", Script: "#!/bin/sh\necho started >&2\nsleep 600\n", Dir: dir, Stdout: tlOut, Stderr: tlErr, TimeLimit: 1}})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	j := c.wait(resp.ID)
	if j.Cause != api.CauseTimeout {
		t.Fatalf("job past its time limit ended %s (cause %q, %q); want cause timeout", j.State, j.Cause, j.StatusReason)
	}
	want := regexp.MustCompile(fmt.Sprintf(`^started\nslurmstepd: error: \*\*\* JOB %d ON node1 CANCELLED AT %s DUE TO TIME LIMIT \*\*\*\n$`, resp.ID, stamp))
	if got := read(tlErr); !want.MatchString(got) {
		t.Errorf("stderr of a job stopped at its time limit: %q; want it to match %s", got, want)
	}
	if got := read(tlOut); got != "" {
		t.Errorf("stdout of a job stopped at its time limit: %q; want nothing (the line goes to stderr)", got)
	}

	// The OOM killer, at the default 100% of --mem.
	hog := "#!/bin/sh\nx=$(head -c 80000000 /dev/zero | tr '\\0' a)\necho ${#x}\n"
	oomErr := filepath.Join(dir, "oom.err")
	oom := sbatch(hog, "--mem", "32M", "-o", filepath.Join(dir, "oom.out"), "-e", oomErr)
	if j := c.wait(oom); j.Cause != api.CauseOOM {
		t.Fatalf("job over its memory ended %s (cause %q, %q); want cause oom", j.State, j.Cause, j.StatusReason)
	}
	want = regexp.MustCompile(fmt.Sprintf(`(?m)^slurmstepd: error: Detected [1-9]\d* oom-kill event\(s\) in StepId=%d\.batch\. Some of your processes may have been killed by the cgroup out-of-memory handler\.\n\z`, oom))
	if got := read(oomErr); !want.MatchString(got) {
		t.Errorf("stderr of an OOM-killed job: %q; want its last line to match %s", got, want)
	}

	// A user's terminate (scancel of a running job).
	killed := filepath.Join(dir, "killed.out")
	term := sbatch("#!/bin/sh\nsleep 600\n", "-o", killed)
	c.wait(term, api.StateRunning)
	if r := c.shoal("terminate", api.FormatID(term)); r.code != 0 {
		t.Fatalf("shoal terminate: exit %d: %s", r.code, r.stderr)
	}
	c.wait(term)
	want = regexp.MustCompile(fmt.Sprintf(`^slurmstepd: error: \*\*\* JOB %d ON node1 CANCELLED AT %s \*\*\*\n$`, term, stamp))
	if got := read(killed); !want.MatchString(got) {
		t.Errorf("output of a terminated job: %q; want it to match %s", got, want)
	}

	// shoal queue tells the causes apart.
	r := c.shoal("queue", "--state", "FAILED")
	for id, cause := range map[uint64]string{resp.ID: "timeout", oom: "oom", term: "terminated"} {
		if !regexp.MustCompile(fmt.Sprintf(`(?m)^%d\s+\S+\s+\S+\s+FAILED\s+%s\s`, id, cause)).MatchString(r.stdout) {
			t.Errorf("shoal queue --state FAILED:\n%s\nwant job %d with cause %s", r.stdout, id, cause)
		}
	}

	// The memory knobs, per queue.
	for _, args := range [][]string{
		{"queue", "create", "roomy", "--ce", "default", "--allowed-ram-space", "1000"},
		{"queue", "create", "free", "--ce", "default", "--constrain-ram-space", "no"},
	} {
		if r := c.shoal(args...); r.code != 0 {
			t.Fatalf("shoal %v: exit %d: %s", args, r.code, r.stderr)
		}
	}
	for _, q := range []string{"roomy", "free"} {
		id := sbatch(hog, "-p", q, "--mem", "32M", "-o", filepath.Join(dir, q+".out"))
		if j := c.wait(id); j.State != api.StateSucceeded {
			t.Errorf("the 80 MB job asking 32M in queue %s: %s (cause %q, %q); want SUCCEEDED", q, j.State, j.Cause, j.StatusReason)
		}
	}
	if r := c.shoal("queue", "update", "roomy", "--allowed-ram-space", "100"); r.code != 0 {
		t.Fatalf("queue update --allowed-ram-space 100: exit %d: %s", r.code, r.stderr)
	}
	if j := c.wait(sbatch(hog, "-p", "roomy", "--mem", "32M", "-o", "/dev/null")); j.Cause != api.CauseOOM {
		t.Errorf("the 80 MB job asking 32M in queue roomy after its AllowedRAMSpace went back to 100: %s (cause %q); want cause oom", j.State, j.Cause)
	}
	for _, bad := range [][]string{
		{"queue", "update", "roomy", "--allowed-ram-space", "-5"},
		{"queue", "create", "bad", "--ce", "default", "--allowed-ram-space", "20000"},
	} {
		if r := c.shoal(bad...); r.code == 0 || !strings.Contains(r.stderr, "allowedRAMSpace") {
			t.Errorf("shoal %v: exit %d, stderr %q; want a refusal naming allowedRAMSpace", bad, r.code, r.stderr)
		}
	}
	if r := c.shoal("queue", "update", "roomy", "--constrain-ram-space", "maybe"); r.code != 2 || !strings.Contains(r.stderr, "yes or no") {
		t.Errorf("--constrain-ram-space maybe: exit %d, stderr %q; want a usage error asking for yes or no", r.code, r.stderr)
	}
}
