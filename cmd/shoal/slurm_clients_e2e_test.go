package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// slurmCommands are the names the binary answers to as Slurm.
var slurmCommands = []string{"sbatch", "squeue", "scancel", "sinfo", "scontrol", "sacct", "srun", "sacctmgr"}

// slurmEnv puts links named after the Slurm commands first on PATH (ahead
// of Debian's real slurm-client), pointing at this binary, and returns the
// environment that real clients (and the jobs they submit) run with.
func (c *cluster) slurmEnv(t *testing.T) []string {
	t.Helper()
	links := t.TempDir()
	os.Chmod(links, 0o755)
	for _, name := range slurmCommands {
		if err := os.Symlink(shoalBin, filepath.Join(links, name)); err != nil {
			t.Fatal(err)
		}
	}
	return append(os.Environ(), "PATH="+links+":"+os.Getenv("PATH"), "SHOAL_TEST_MAIN=1",
		"SHOAL_ADDR="+c.socket, "USER=root")
}

// showJobsOnFailure has a test that fails log, before its agent stops,
// what the controller holds of every job (squeue, sacct, scontrol) and
// the processes left in the jobs' cgroups with their states: a client
// that waited for ever on a job shows which, where the controller had
// it, and whether its processes were still there.
func (c *cluster) showJobsOnFailure(t *testing.T, env []string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, cmdline := range []string{"squeue -a", "sacct -a -P -S 1970-01-01 --format JobIDRaw,JobName,State,ExitCode,Submit,Start,End", "scontrol show job"} {
			cmd := exec.Command("sh", "-c", cmdline) // found on env's PATH
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			t.Logf("%s (%v):\n%s", cmdline, err, out)
		}
		var procs strings.Builder
		seen := map[string]bool{} // each process once, in the first hierarchy that holds it
		for _, h := range cgroupHierarchies() {
			filepath.WalkDir(filepath.Join(h, c.cgParent), func(path string, d os.DirEntry, err error) error {
				if err != nil || d.Name() != "cgroup.procs" {
					return nil
				}
				data, _ := os.ReadFile(path)
				for _, pid := range strings.Fields(string(data)) {
					if seen[pid] {
						continue
					}
					seen[pid] = true
					stat, _ := os.ReadFile(filepath.Join("/proc", pid, "stat"))
					// pid (comm) state ppid
					if f := strings.Fields(string(stat)); len(f) > 4 {
						stat = []byte(strings.Join(f[:4], " "))
					}
					cmdline, _ := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
					fmt.Fprintf(&procs, "%s: %s: %s\n", filepath.Base(filepath.Dir(path)), stat, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
				}
				return nil
			})
		}
		t.Logf("processes in the jobs' cgroups:\n%s", procs.String())
	})
}

// needClient skips a test whose real client is not installed, except in CI,
// where .ci/run installs it and its absence is a failure.
func needClient(t *testing.T, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: .ci/run installs Debian's %s", path, pkg)
		}
		t.Skipf("%s is missing: apt-get install %s", path, pkg)
	}
}

// runClient runs a real client in dir with env, failing the test with its
// output if it fails or runs past timeout.
func runClient(t *testing.T, dir string, env []string, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if dir := os.Getenv("SHOAL_E2E_KEEP"); dir != "" {
		os.WriteFile(filepath.Join(dir, filepath.Base(name)+".out"), out.Bytes(), 0o644)
	}
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, tail(out.String(), 6000))
	}
	return out.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// TestSnakemakeSlurm runs Debian's snakemake 7.21, unchanged, with --slurm:
// three rules, each a batch job that calls srun inside, polled with sacct.
func TestSnakemakeSlurm(t *testing.T) {
	needClient(t, "/usr/bin/snakemake", "snakemake")
	c := newCluster(t)
	work := t.TempDir()
	os.Chmod(work, 0o755)
	snakefile, _ := os.ReadFile("testdata/snakemake/Snakefile")
	os.WriteFile(filepath.Join(work, "Snakefile"), snakefile, 0o644)
	env := c.slurmEnv(t)
	c.showJobsOnFailure(t, env)
	runClient(t, work, env, 5*time.Minute, "/usr/bin/snakemake", "--slurm", "--jobs", "4",
		"--default-resources", "slurm_partition=default",
		// snakemake 7.21 replaces any rate above 1 with 0.03 (one sacct per
		// 33 s); 1 is the fastest it honours.
		"--max-status-checks-per-second", "1",
		"--latency-wait", "10", "--printshellcmds")

	ids := map[string]bool{}
	jobLine := regexp.MustCompile(`(?m)^job=(\d+) cpus_per_task=(\S+) `)
	for _, f := range []string{"a", "b", "c"} {
		data, err := os.ReadFile(filepath.Join(work, "out", f+".txt"))
		if err != nil {
			t.Fatalf("snakemake output %s: %v", f, err)
		}
		// The last line is this rule's own: combine's output starts with
		// the lines it concatenated from a and b.
		all := jobLine.FindAllStringSubmatch(string(data), -1)
		if all == nil {
			t.Fatalf("out/%s.txt was not written inside a batch job:\n%s", f, data)
		}
		m := all[len(all)-1]
		ids[m[1]] = true
		if f == "b" && m[2] != "2" {
			t.Fatalf("rule make_b (threads: 2) saw SLURM_CPUS_PER_TASK=%s, want 2", m[2])
		}
		if _, err := os.Stat(filepath.Join(work, ".snakemake", "slurm_logs", "rule_"+map[string]string{"a": "make_a", "b": "make_b", "c": "combine"}[f], m[1]+".log")); err != nil {
			t.Errorf("sbatch -o relative to -D: %v", err)
		}
	}
	if len(ids) != 3 {
		t.Fatalf("the three rules ran in %d distinct jobs, want 3", len(ids))
	}
	// c is a's and b's outputs then C, each with its job's line after it.
	combined, _ := os.ReadFile(filepath.Join(work, "out", "c.txt"))
	var letters []string
	for _, line := range strings.Split(strings.TrimSpace(string(combined)), "\n") {
		if !strings.HasPrefix(line, "job=") {
			letters = append(letters, line)
		}
	}
	if got := strings.Join(letters, ","); got != "A,A,B,C" {
		t.Fatalf("out/c.txt holds %s, want A,A,B,C:\n%s", got, combined)
	}
}

// TestToilSlurm runs Debian's toil, unchanged, with --batchSystem slurm: a
// root job, three children and a follow-on, each its own batch job.
func TestToilSlurm(t *testing.T) {
	needClient(t, "/usr/bin/_toil_worker", "toil")
	c := newCluster(t)
	work := t.TempDir()
	os.Chmod(work, 0o755)
	wf, _ := os.ReadFile("testdata/toil/wf.py")
	os.WriteFile(filepath.Join(work, "wf.py"), wf, 0o755)
	os.MkdirAll(filepath.Join(work, "tmp"), 0o755)
	env := c.slurmEnv(t)
	c.showJobsOnFailure(t, env)
	out := runClient(t, work, env, 5*time.Minute, "/usr/bin/python3", "wf.py", "file:"+filepath.Join(work, "jobstore"),
		filepath.Join(work, "out"), "--batchSystem", "slurm", "--workDir", filepath.Join(work, "tmp"),
		"--statePollingWait", "1", "--defaultMemory", "512M", "--defaultDisk", "10M", "--defaultCores", "1", "--clean", "always")
	if !strings.Contains(out, "workflow result: 14") {
		t.Fatalf("toil did not compute 14:\n%s", tail(out, 4000))
	}
	ids := map[string]bool{}
	for _, n := range []string{"root", "child1", "child2", "child3", "followon"} {
		data, err := os.ReadFile(filepath.Join(work, "out", n+".txt"))
		if err != nil {
			t.Fatalf("toil output %s: %v", n, err)
		}
		m := regexp.MustCompile(`(?m)^SLURM_JOB_ID=(\d+)$`).FindStringSubmatch(string(data))
		if m == nil {
			t.Fatalf("%s did not run inside a batch job:\n%s", n, data)
		}
		ids[m[1]] = true
	}
	if len(ids) != 5 {
		t.Fatalf("toil's 5 jobs ran in %d distinct batch jobs, want 5", len(ids))
	}
}
