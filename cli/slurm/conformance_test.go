package slurm

// Regression tests that pin behaviour Slurm's own expect test suite
// (testsuite/expect in SchedMD/slurm, run against shoal by
// ../shared/slurm-testsuite/run.sh) checks. Each is named after the Slurm
// test it stands for and asserts what that test matches, so CI keeps the
// conformance without Slurm's source or expect. Where the suite (newer
// Slurm) and Slurm 22.05 differ, the wording is 22.05's.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// confRun runs one command against a fresh ctlFake from dir (a temporary
// folder unless given) and returns its output, exit status and the fake.
func confRun(t *testing.T, run func(*Ctx, []string) int, env []string, args ...string) (string, string, int, *ctlFake) {
	t.Helper()
	f := newCtlFake()
	c, stdout, stderr := sbTestCtx(f, t.TempDir(), append(append([]string(nil), sbEnv...), env...), "")
	rc := run(c, args)
	return stdout.String(), stderr.String(), rc, f
}

// confMatch fails unless text matches the expect test's regular expression.
func confMatch(t *testing.T, what, text, re string) {
	t.Helper()
	if !regexp.MustCompile(re).MatchString(text) {
		t.Errorf("%s: want a match for %q, got:\n%s", what, re, text)
	}
}

func TestSlurm6_17_ScancelFilterMatchesNothing(t *testing.T) {
	_, stderr, rc, _ := confRun(t, Scancel, nil, "--name=INVALID", "--qos=INVALID", "--verbose")
	if rc != 0 {
		t.Errorf("scancel with filters that match nothing: rc %d, want 0 (Slurm's is not a failure)", rc)
	}
	want := "scancel: error: No active jobs match ALL job filters, including: job_name=INVALID qos=invalid \n"
	if stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	for _, id := range []string{"INVALID", "0"} {
		_, stderr, rc, _ := confRun(t, Scancel, nil, id)
		if rc == 0 || !strings.Contains(stderr, "Invalid job id") {
			t.Errorf("scancel %s: rc %d, stderr %q; want rc 1 and Invalid job id", id, rc, stderr)
		}
	}
}

func TestSlurm1_43_SrunTestOnlyAllocationFailure(t *testing.T) {
	_, stderr, rc, _ := confRun(t, Srun, nil, "--test-only", "-N1", "-t1", "printenv", "SLURMD_NODENAME")
	if rc != 0 {
		t.Fatalf("srun --test-only -N1: rc %d, stderr %q", rc, stderr)
	}
	confMatch(t, "srun --test-only -N1", stderr, `Job [0-9]+ to start at`)
	_, stderr, rc, _ = confRun(t, Srun, nil, "--test-only", "-N2", "-t1", "printenv", "SLURMD_NODENAME")
	// 22.05 prints the reason alone; the test fails on any "error".
	if want := "allocation failure: Requested node configuration is not available\n"; rc != 1 || stderr != want {
		t.Errorf("srun --test-only -N2: rc %d, stderr %q; want rc 1, %q", rc, stderr, want)
	}
}

func TestSlurm1_2_OvercommitAsksOneTasksCPUs(t *testing.T) {
	_, _, _, f := confRun(t, Srun, nil, "-N1", "-n10", "--overcommit", "-l", "-t1", "id")
	req := sbLastSubmit(t, f)
	if req.Resources.CPUs != 1 {
		t.Errorf("srun -n10 --overcommit asked for %d CPUs, want 1", req.Resources.CPUs)
	}
	if !strings.Contains(req.Script, "SLURM_PROCID=9 ") {
		t.Errorf("the job does not run 10 tasks:\n%s", req.Script)
	}
	_, _, _, f = confRun(t, Sbatch, nil, "-n4", "-c2", "-O", "--wrap", "true")
	if got := sbLastSubmit(t, f).Resources.CPUs; got != 2 {
		t.Errorf("sbatch -n4 -c2 -O asked for %d CPUs, want 2 (one task's)", got)
	}
}

func TestSlurm1_9_SrunVerboseNamesJobAndStep(t *testing.T) {
	f := newCtlFake()
	f.waitFor[100] = api.Job{ID: 100, State: api.StateSucceeded, Node: "n1", ExitCode: sbIntp(0)}
	c, _, stderr := sbTestCtx(f, t.TempDir(), sbEnv, "")
	if rc := Srun(c, []string{"-N1", "-n5", "-O", "-v", "-t1", "id"}); rc != 0 {
		t.Fatalf("rc %d, stderr:\n%s", rc, stderr)
	}
	for _, re := range []string{
		"srun: defined options\n", `srun: overcommit +: set\n`, `srun: ntasks +: 5\n`, `srun: time +: 00:01:00\n`,
		`srun: verbose +: 1\n`, "srun: jobid 100: nodes\\(1\\):`n1', cpu counts: 1\\(x1\\)\n",
		`srun: launching StepId=100.0 on host n1, 5 tasks: \[0-4\]\n`, // test1.70's "launching"
	} {
		confMatch(t, "srun -v", stderr.String(), re)
	}
}

// TestSlurm1_33_PerTaskExitCodes runs the script srun submits for two
// tasks with sh: each task that fails is reported, and the job's status is
// the highest.
func TestSlurm1_33_PerTaskExitCodes(t *testing.T) {
	dir := t.TempDir()
	task := filepath.Join(dir, "exit.sh")
	sbWriteFile(t, task, "#!/bin/sh\nexit $((SLURM_PROCID + 10))\n")
	if err := os.Chmod(task, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", srunScript([]string{task}, 2, ""))
	cmd.Env = append(os.Environ(), "SLURMD_NODENAME=n1")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 11 {
		t.Fatalf("the script ended %v, want exit status 11; output:\n%s", err, out)
	}
	want := "srun: error: n1: task 0: Exited with exit code 10\nsrun: error: n1: task 1: Exited with exit code 11\n"
	if string(out) != want {
		t.Errorf("the script reported %q, want %q", out, want)
	}
	// srun relays those lines from the job's stderr and exits 11,
	// without a line of its own.
	f := newCtlFake()
	f.waitFor[100] = api.Job{ID: 100, State: api.StateFailed, Cause: api.CauseExitCode, Node: "n1", ExitCode: sbIntp(11)}
	f.logs["100/stderr"] = out
	c, _, stderr := sbTestCtx(f, dir, sbEnv, "")
	if rc := Srun(c, []string{"-N1", "-n", "2", "-O", "-t1", task}); rc != 11 || stderr.String() != want {
		t.Errorf("srun: rc %d, stderr %q; want 11, %q", rc, stderr, want)
	}
}

func TestSlurm1_8_SrunInputFromOptionAndEnv(t *testing.T) {
	for _, env := range [][]string{nil, {"SLURM_STDINMODE=in.txt"}, {"SRUN_INPUT=in.txt"}} {
		args := []string{"-t1", "/usr/bin/bash"}
		if env == nil {
			args = append([]string{"--input=in.txt", "--open-mode=t"}, args...) // test1.17 adds --open-mode
		}
		_, stderr, _, f := confRun(t, Srun, env, args...)
		req := sbLastSubmit(t, f)
		want := "exec /usr/bin/bash < " + filepath.Join(req.Dir, "in.txt") + "\n"
		if !strings.HasSuffix(req.Script, want) {
			t.Errorf("srun %v with %v: the script does not read the input file (%s):\n%s", args, env, stderr, req.Script)
		}
	}
	_, _, _, f := confRun(t, Srun, []string{"SRUN_OUTPUT=o.txt", "SLURM_STDERRMODE=e.txt"}, "-t1", "true")
	if req := sbLastSubmit(t, f); req.Stdout != "o.txt" || req.Stderr != "e.txt" {
		t.Errorf("SRUN_OUTPUT/SLURM_STDERRMODE gave stdout %q stderr %q, want o.txt e.txt", req.Stdout, req.Stderr)
	}
}

func TestSlurm17_24_SbatchVerboseDumpsOptions(t *testing.T) {
	_, stderr, _, _ := confRun(t, Sbatch, nil, "-N1", "--output=none", "--error=none", "-t1", "-vvv", "--wrap", "id")
	confMatch(t, "sbatch -vvv", stderr, "debug: ")
	confMatch(t, "sbatch -vvv", stderr, `sbatch: output +: /dev/null\n`)
	_, stderr, _, _ = confRun(t, Sbatch, nil, "-N1", "-t1", "-vv", "--partition=test17.24", "--wrap", "id")
	confMatch(t, "sbatch -vv --partition", stderr, "partition *: test17.24")
}

func TestSlurm17_25_SbatchDebugEnv(t *testing.T) {
	_, stderr, _, _ := confRun(t, Sbatch, []string{"SBATCH_ACCOUNT=dummy_acct", "SBATCH_DEBUG=4", "SBATCH_TIMELIMIT=3"},
		"-N1", "--output=none", "--wrap", "id")
	for _, re := range []string{"account *: dummy_acct", "time *: 00:03:00", "verbose *: 4"} {
		confMatch(t, "SBATCH_DEBUG=4 sbatch", stderr, re)
	}
}

func TestSlurm2_2_ScontrolHelp(t *testing.T) {
	stdout, _, rc, _ := confRun(t, Scontrol, nil, "help")
	for _, re := range []string{"Valid <COMMAND> values are:", "reconfigure  ", "version      "} {
		confMatch(t, "scontrol help", stdout, re)
	}
	if rc != 0 {
		t.Errorf("scontrol help: rc %d", rc)
	}
}

func TestSlurm2_4_ScontrolRepeatsLastCommand(t *testing.T) {
	f := newCtlFake()
	c, stdout, _ := sbTestCtx(f, t.TempDir(), sbEnv, "ping\n!!\nquit\n")
	if rc := Scontrol(c, nil); rc != 0 {
		t.Fatalf("rc %d", rc)
	}
	if n := strings.Count(stdout.String(), "Slurmctld(primary) at c1 is UP"); n != 2 {
		t.Errorf("ping then !! answered %d pings, want 2:\n%s", n, stdout)
	}
}

func TestSlurm2_5_ScontrolShowConfigAndDaemons(t *testing.T) {
	stdout, _, _, _ := confRun(t, Scontrol, []string{"SLURM_CONF=/etc/slurm/slurm.conf", "SHOAL_ADDR=ctl.example:6443"}, "show", "config")
	for _, re := range []string{`SlurmctldPort +\= 6443\n`, `SlurmdPort +\= `, `SLURM_CONF +\= /etc/slurm/slurm.conf\n`, `SlurmUser +\= root\(0\)\n`} {
		confMatch(t, "scontrol show config", stdout, re)
	}
	stdout, _, rc, _ := confRun(t, Scontrol, []string{"SHOAL_ADDR=/run/shoal.sock"}, "show", "daemons")
	if rc != 0 || stdout != "slurmctld\n" {
		t.Errorf("scontrol show daemons over a local socket: rc %d, %q; want slurmctld", rc, stdout)
	}
}

func TestSlurm2_6_ScontrolVerboseAndQuiet(t *testing.T) {
	stdout, _, _, _ := confRun(t, Scontrol, nil, "-v", "show", "partition")
	confMatch(t, "scontrol -v show partition", stdout, `^last_update_time=2026-11-24T10:30:00, records=[0-9]+\n`)
	confMatch(t, "scontrol -v show partition", stdout, "Default=YES")
	stdout, _, _, _ = confRun(t, Scontrol, nil, "-Q", "show", "partition")
	if strings.Contains(stdout, "last_update_time") || !strings.Contains(stdout, "Default=YES") {
		t.Errorf("scontrol -Q show partition:\n%s", stdout)
	}
}

// confIterate runs a command with --iterate for three reports.
func confIterate(t *testing.T, run func(*Ctx, []string) int, args ...string) string {
	t.Helper()
	f := newCtlFake()
	c, stdout, _ := sbTestCtx(f, t.TempDir(), sbEnv, "")
	reports := 0
	c.Wait = func(d time.Duration) bool {
		if d != 2*time.Second {
			t.Errorf("waits %v between reports, want 2s", d)
		}
		reports++
		return reports < 3
	}
	run(c, args)
	return stdout.String()
}

func TestSlurm4_6_SinfoIterate(t *testing.T) {
	out := confIterate(t, Sinfo, "--iterate=2")
	if n := strings.Count(out, "PARTITION"); n != 3 {
		t.Errorf("sinfo --iterate=2 printed %d reports, want 3:\n%s", n, out)
	}
	confMatch(t, "sinfo --iterate", out, `^Tue Nov 24 10:30:00 2026\nPARTITION`)
}

func TestSlurm5_3_SqueueIterate(t *testing.T) {
	out := confIterate(t, Squeue, "-o", "%P", "--iterate=2")
	if n := strings.Count(out, "PARTITION"); n != 3 {
		t.Errorf("squeue --iterate=2 printed %d reports, want 3:\n%s", n, out)
	}
}

func TestSlurm4_7_SinfoVerbose(t *testing.T) {
	stdout, _, _, _ := confRun(t, Sinfo, nil, "--verbose")
	confMatch(t, "sinfo --verbose", stdout, `iterate +\= 0\n`)
	confMatch(t, "sinfo --verbose", stdout, `verbose +\= 1\n`)
	confMatch(t, "sinfo --verbose", stdout, "PARTITION")
}

func TestSlurm5_7_SqueueVerbose(t *testing.T) {
	stdout, _, _, _ := confRun(t, Squeue, nil, "--verbose")
	confMatch(t, "squeue --verbose", stdout, `iterate +\= 0\n`)
	confMatch(t, "squeue --verbose", stdout, `verbose +\= 1\n`)
	confMatch(t, "squeue --verbose", stdout, "JOBID")
}

func TestSlurm2_20_ShowHostnamesSeveralBrackets(t *testing.T) {
	for _, c := range []struct{ list, want string }{
		{"rack[0-3]", "rack0 rack1 rack2 rack3"},
		{"rack[0-1]_blade[2,3]", "rack0_blade2 rack0_blade3 rack1_blade2 rack1_blade3"},
		// Slurm 22.05's order: the last bracket fastest, then the first.
		{"row[0,1]_rack[2-3]_blade[4,5]", "row0_rack2_blade4 row0_rack2_blade5 row1_rack2_blade4 row1_rack2_blade5 " +
			"row0_rack3_blade4 row0_rack3_blade5 row1_rack3_blade4 row1_rack3_blade5"},
		{"a[1-2]b[3-4]c[5-6]", "a1b3c5 a1b3c6 a2b3c5 a2b3c6 a1b4c5 a1b4c6 a2b4c5 a2b4c6"},
		{"n[08-10],x", "n08 n09 n10 x"},
	} {
		stdout, stderr, rc, _ := confRun(t, Scontrol, nil, "show", "hostnames", c.list)
		if got := strings.Join(strings.Fields(stdout), " "); rc != 0 || got != c.want {
			t.Errorf("scontrol show hostnames %s: rc %d %q, got %q, want %q", c.list, rc, stderr, got, c.want)
		}
	}
	if _, err := expandHosts("a[0-1023]b[0-1023]c[0-3]"); err == nil {
		t.Error("a hostlist of 4 million names expanded; want an error")
	}
}

func TestSlurm4_9_SinfoFormatFromEnv(t *testing.T) {
	stdout, _, _, _ := confRun(t, Sinfo, []string{"SINFO_FORMAT=part=%P nodes=%D"}, "--noheader")
	confMatch(t, "SINFO_FORMAT sinfo", stdout, `part=[a-z]+\*? nodes=[0-9]+`)
	stdout, _, _, _ = confRun(t, Sinfo, []string{"SINFO_FORMAT=part=%P nodes=%D"}, "--noheader", "--format=%D")
	if strings.Contains(stdout, "part=") {
		t.Errorf("--format did not win over SINFO_FORMAT:\n%s", stdout)
	}
}

func TestSlurm4_13_NodeVersion(t *testing.T) {
	stdout, _, _, _ := confRun(t, Scontrol, nil, "show", "node", "n1")
	confMatch(t, "scontrol show node", stdout, ` Version=22\.05\.8\n`)
	stdout, _, _, _ = confRun(t, Sinfo, nil, "-nn1", "-Oversion:256", "-h")
	confMatch(t, "sinfo -Oversion", stdout, `^22\.05\.8 `)
}

func TestSlurm17_44_ShowJobAnyArrayTask(t *testing.T) {
	stdout, _, rc, _ := confRun(t, Scontrol, nil, "show", "job", "0_1")
	// Task 1 of array 10 (job 11) is the only array task 1 the fake holds.
	if rc != 0 || !strings.HasPrefix(stdout, "JobId=11 ArrayJobId=10 ArrayTaskId=1 ") || len(regexp.MustCompile(`(?m)^JobId=`).FindAllString(stdout, -1)) != 1 {
		t.Errorf("scontrol show job 0_1: rc %d\n%s", rc, stdout)
	}
	stdout, _, rc, _ = confRun(t, Scontrol, nil, "show", "job", "0_77")
	if rc != 1 || stdout != "Job 0_77 not found\n" {
		t.Errorf("scontrol show job 0_77: rc %d %q; want 1, Job 0_77 not found", rc, stdout)
	}
}

func TestSlurm17_10_MinTmpDiskNode(t *testing.T) {
	_, _, _, f := confRun(t, Sbatch, nil, "--output=none", "--mincpus=1", "--mem=13", "--tmp=2", "--hold", "-t1", "--wrap", "sleep 10")
	req := sbLastSubmit(t, f)
	if req.TmpMB != 2 {
		t.Fatalf("sbatch --tmp=2 sent tmpMB %d, want 2", req.TmpMB)
	}
	f.jobs[100] = &api.Job{ID: 100, JobSpec: req.JobSpec, User: "alice", State: api.StatePending}
	c, stdout, _ := sbTestCtx(f, t.TempDir(), sbEnv, "")
	Scontrol(c, []string{"show", "job", "100"})
	for _, re := range []string{`MinCPUsNode=1 `, `MinMemoryNode=13M `, `MinTmpDiskNode=2M\n`, `JobState=PENDING `} {
		confMatch(t, "scontrol show job", stdout.String(), re)
	}
}

func TestSlurm17_31_SinfoStateComp(t *testing.T) {
	stdout, stderr, rc, _ := confRun(t, Sinfo, nil, "-h", "-N", "-o", "%N", "-e", "-t", "idle,alloc,comp")
	if rc != 0 || stdout != "n1\nn2\n" {
		t.Errorf("sinfo -t idle,alloc,comp: rc %d, %q %q; want n1 n2", rc, stdout, stderr)
	}
}

func TestSlurm5_6_SqueueInvalidNodeName(t *testing.T) {
	_, stderr, rc, _ := confRun(t, Squeue, nil, "--format=%u", "--noheader", "--user=0", "--nodelist=dummy_name")
	if rc != 1 || stderr != "squeue: error: Invalid node name dummy_name\n" {
		t.Errorf("squeue --nodelist=dummy_name: rc %d, %q", rc, stderr)
	}
	if _, stderr, rc, _ := confRun(t, Squeue, nil, "-h", "-w", "n[1-2]"); rc != 0 {
		t.Errorf("squeue -w n[1-2]: rc %d, %q", rc, stderr)
	}
}

// TestSlurm6_3_ScancelInteractive answers scancel -i as tests 6.3, 6.4
// and 6.8 do: n keeps the job, y cancels it, a job that is gone is an error.
func TestSlurm6_3_ScancelInteractive(t *testing.T) {
	for _, c := range []struct {
		args         []string
		answer, call string
		rc           int
	}{
		{[]string{"--interactive", "1"}, "n\n", "", 0},
		{[]string{"--interactive", "1"}, "y\n", `StopJobs [1] "Cancelled by scancel"`, 0},
		{[]string{"--name=wrap", "--interactive"}, "y\n", `StopJobs [1] "Cancelled by scancel"`, 0},
		{[]string{"--name=long", "--interactive", "--state=RUNNING"}, "y\n", `StopJobs [2] "Cancelled by scancel"`, 0},
	} {
		f := newCtlFake()
		c2, stdout, stderr := sbTestCtx(f, t.TempDir(), sbEnv, c.answer)
		rc := Scancel(c2, c.args)
		confMatch(t, "scancel -i", stdout.String(), `^Cancel job_id=[0-9]+ name=[a-z]+ partition=default \[y/n\]\? $`)
		calls := strings.Join(f.calls, "\n")
		ended := strings.Contains(calls, "StopJobs ")
		if rc != c.rc || ended != (c.call != "") || !strings.Contains(calls, c.call) {
			t.Errorf("scancel %v answering %q: rc %d, stderr %q, calls:\n%s", c.args, c.answer, rc, stderr, calls)
		}
	}
	_, stderr, rc, _ := confRun(t, Scancel, nil, "--interactive", "3") // job 3 has ended
	if rc != 1 || !regexp.MustCompile(`Kill job error.* 3`).MatchString(stderr) {
		t.Errorf("scancel -i of an ended job: rc %d, %q; want rc 1 and Kill job error on job id 3", rc, stderr)
	}
	// Just cancelled, still ending (COMPLETING): finished for scancel, as
	// Slurm's completing jobs are, with no question asked.
	f := newCtlFake()
	f.jobs[2].StopRequested = true
	c2, stdout, stderr2 := sbTestCtx(f, t.TempDir(), sbEnv, "y\n")
	if rc := Scancel(c2, []string{"--interactive", "2"}); rc != 1 || stdout.Len() != 0 || !strings.Contains(stderr2.String(), "Kill job error on job id 2") {
		t.Errorf("scancel -i of a completing job: rc %d, stdout %q, stderr %q", rc, stdout, stderr2)
	}
}

func TestSlurm17_18_BeginDayAndTime(t *testing.T) {
	// sbNow is 2026-11-24 10:30 UTC.
	for _, c := range []struct{ spec, want string }{
		{"noon-tomorrow", "2026-11-25T12:00:00"},
		{"tomorrow-noon", "2026-11-25T12:00:00"},
		{"16:00-tomorrow", "2026-11-25T16:00:00"},
		{"tomorrowT10:00", "2026-11-25T10:00:00"},
		{"teatime-today", "2026-11-24T16:00:00"},
	} {
		at, err := parseBegin(c.spec, sbNow)
		if err != nil || at.Format("2006-01-02T15:04:05") != c.want {
			t.Errorf("--begin=%s: %v %v, want %s", c.spec, at, err, c.want)
		}
	}
	if _, err := parseBegin("now+1hour-x", sbNow); err == nil {
		t.Error("--begin=now+1hour-x was accepted")
	}
	_, _, rc, f := confRun(t, Sbatch, nil, "--output=/dev/null", "--begin=noon-tomorrow", "--wrap", "true")
	if req := sbLastSubmit(t, f); rc != 0 || req.BeginAt != time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).UnixMilli() {
		t.Errorf("sbatch --begin=noon-tomorrow: rc %d, beginAt %d", rc, req.BeginAt)
	}
}

func TestSlurm17_18_UpdateStartTime(t *testing.T) {
	_, stderr, rc, f := confRun(t, Scontrol, nil, "update", "JobId=1", "StartTime=now")
	want := sbNow.UnixMilli()
	var got *int64
	for _, call := range f.calls {
		if body, ok := strings.CutPrefix(call, "UpdateJob "); ok {
			var req api.UpdateJobRequest
			if err := json.Unmarshal([]byte(body), &req); err != nil {
				t.Fatal(err)
			}
			got = req.BeginAt
		}
	}
	if rc != 0 || got == nil || *got != want {
		t.Errorf("scontrol update JobId=1 StartTime=now: rc %d %q, beginAt %v, want %d; calls %q", rc, stderr, got, want, f.calls)
	}
}

func TestSlurm17_2_SbatchHelp(t *testing.T) {
	stdout, _, _, _ := confRun(t, Sbatch, nil, "--help")
	confMatch(t, "sbatch --help", stdout, "Usage:")
	confMatch(t, "sbatch --help", stdout, "Constraint options:")
}

func TestSlurm21_2_SacctmgrHelp(t *testing.T) {
	stdout, _, _, _ := confRun(t, Sacctmgr, nil, "--help")
	for _, re := range []string{"commit changes immediately", "display tool version number", "add cluster"} {
		if n := len(regexp.MustCompile(re).FindAllString(stdout, -1)); n != 1 {
			t.Errorf("sacctmgr --help: %q appears %d times, want once (test 21.2 counts matches)", re, n)
		}
	}
}

func TestSlurm21_25_SacctmgrShowConfig(t *testing.T) {
	_, stderr, rc, _ := confRun(t, Sacctmgr, nil, "show", "config")
	want := "You are not running a supported accounting_storage plugin\nOnly 'accounting_storage/slurmdbd' is supported.\n"
	if rc != 1 || stderr != want {
		t.Errorf("sacctmgr show config: rc %d, %q; want 1, 22.05's %q", rc, stderr, want)
	}
}

func TestSlurm6_7_SignalStopWordingAndState(t *testing.T) {
	_, stderr, rc, f := confRun(t, Scancel, nil, "--batch", "--signal=STOP", "--verbose", "2")
	if rc != 0 || !strings.Contains(stderr, "scancel: Signal 19 to batch job 2\n") {
		t.Errorf("scancel --batch --signal=STOP --verbose 2: rc %d, %q", rc, stderr)
	}
	if !slices.Contains(f.calls, "Signal 2 19 batch") {
		t.Errorf("calls %q lack the batch SIGSTOP", f.calls)
	}
	j := api.Job{ID: 2, State: api.StateRunning, SignalRequests: []api.JobSignal{{Seq: 1, Signal: 10}, {Seq: 2, Signal: 19}}}
	if st := JobState(&j); st != Stopped {
		t.Errorf("a running job sent SIGSTOP is %v, want STOPPED", st)
	}
	j.SignalRequests = append(j.SignalRequests, api.JobSignal{Seq: 3, Signal: 18})
	if st := JobState(&j); st != Running {
		t.Errorf("a stopped job sent SIGCONT is %v, want RUNNING", st)
	}
}

func TestSlurm17_32_OvercommitEnv(t *testing.T) {
	_, _, _, f := confRun(t, Sbatch, nil, "--ntasks=10", "--overcommit", "-N1", "-t1", "--wrap", "env")
	req := sbLastSubmit(t, f)
	if req.Env["SLURM_NPROCS"] != "10" || req.Env["SLURM_OVERCOMMIT"] != "1" || req.Resources.CPUs != 1 {
		t.Errorf("sbatch -n10 -O: SLURM_NPROCS=%q SLURM_OVERCOMMIT=%q, %d CPUs; want 10, 1, 1 CPU",
			req.Env["SLURM_NPROCS"], req.Env["SLURM_OVERCOMMIT"], req.Resources.CPUs)
	}
}

func TestSlurm1_53_SrunSignalReachesItsTask(t *testing.T) {
	_, _, _, f := confRun(t, Srun, nil, "-t4", "--signal=2@120", "./prog")
	req := sbLastSubmit(t, f)
	// The single task is the batch script (exec'd): the warning goes there.
	if req.LimitWarnSignal != 2 || req.LimitWarnSeconds != 120 || !req.LimitWarnBatch {
		t.Errorf("srun --signal=2@120: warn signal %d at %ds, batch %v; want 2, 120, to the task", req.LimitWarnSignal, req.LimitWarnSeconds, req.LimitWarnBatch)
	}
}

// TestSlurm1_60_PerTaskFilesAndLabels runs the script srun submits with
// -l and -o patterns (test 1.60: t.%t.output per task, n.%n.output shared)
// under sh and reads the files it writes.
func TestSlurm1_60_PerTaskFilesAndLabels(t *testing.T) {
	dir := t.TempDir()
	run := func(ntasks int, io taskIO) {
		t.Helper()
		cmd := exec.Command("sh", "-c", srunTaskScript([]string{"echo", "hello"}, ntasks, "", io))
		cmd.Env = append(os.Environ(), "SLURM_JOB_ID=42", "SLURMD_NODENAME=n1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("script: %v\n%s", err, out)
		}
	}
	read := func(name string) string {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	run(2, taskIO{out: filepath.Join(dir, "t.%t.%j.output"), err: filepath.Join(dir, "t.%t.%j.output"), label: true})
	for i, want := range []string{"0: hello\n", "1: hello\n"} {
		if got := read("t." + strconv.Itoa(i) + ".42.output"); got != want {
			t.Errorf("task %d's file holds %q, want %q", i, got, want)
		}
	}
	run(2, taskIO{out: filepath.Join(dir, "n.%n.output"), err: filepath.Join(dir, "n.%n.output"), label: true})
	if got := read("n.0.output"); got != "0: hello\n1: hello\n" && got != "1: hello\n0: hello\n" {
		t.Errorf("the shared file holds %q, want both tasks' labelled lines", got)
	}
	if !needsTaskIO(taskIO{out: "t.%t.output", label: true}, 1) || needsTaskIO(taskIO{label: true}, 1) {
		t.Error("needsTaskIO: want the script to route -l -o with a per-task pattern for one task, and srun to label a lone task's log")
	}
	// srun hands the files to the script: the job's own streams go nowhere.
	_, _, _, f := confRun(t, Srun, nil, "-l", "--output=t.%t.output", "-N", "1-10", "-t1", "echo", "hello")
	if req := sbLastSubmit(t, f); req.Stdout != "/dev/null" || !strings.Contains(req.Script, `> "t.0.output"`) {
		t.Errorf("srun -l --output=t.%%t.output: stdout %q, script:\n%s", req.Stdout, req.Script)
	}
}

func TestSlurm1_84_ExclusiveTaskPerCPU(t *testing.T) {
	for _, c := range []struct {
		args         []string
		cpus, ntasks int
	}{
		{[]string{"-N1", "-wn2", "--cpus-per-task=1", "--exclusive", "-l", "-t1", "printenv", "SLURM_PROCID"}, 8, 8},
		{[]string{"-N1", "--cpus-per-task=2", "--exclusive", "-l", "-t1", "--nodelist=n2", "printenv", "SLURM_PROCID"}, 8, 4},
		{[]string{"-n2", "--exclusive", "-t1", "true"}, 8, 2}, // -n says how many tasks
	} {
		_, stderr, _, f := confRun(t, Srun, nil, c.args...)
		req := sbLastSubmit(t, f)
		if req.Resources.CPUs != c.cpus || !strings.Contains(req.Script, fmt.Sprintf(": %d tasks", c.ntasks)) {
			t.Errorf("srun %v: %d CPUs (want %d), %q, script:\n%s", c.args, req.Resources.CPUs, c.cpus, stderr, req.Script)
		}
	}
	_, stderr, rc, _ := confRun(t, Srun, nil, "--exclusive", "-wnope", "true")
	if rc == 0 || !strings.Contains(stderr, "Invalid node name specified") {
		t.Errorf("srun --exclusive -w nope: rc %d, %q", rc, stderr)
	}
	// sbatch --exclusive asks for the node and says nothing of tasks.
	_, _, _, f := confRun(t, Sbatch, nil, "--exclusive", "--wrap", "true")
	if req := sbLastSubmit(t, f); req.Resources.CPUs != 8 || req.Env["SLURM_NTASKS"] != "" {
		t.Errorf("sbatch --exclusive: %d CPUs, SLURM_NTASKS=%q; want 8 and unset", req.Resources.CPUs, req.Env["SLURM_NTASKS"])
	}
}

func TestSlurm1_14_ZeroOfAnUnknownGres(t *testing.T) {
	_, stderr, rc, f := confRun(t, Sbatch, nil, "--cpus-per-task=2", "-N1", "-n2", "-t2", "--gres=craynetwork:0", "--mem=10", "--wrap", "true")
	if req := sbLastSubmit(t, f); rc != 0 || req.Resources.GPUs != 0 || req.Resources.CPUs != 4 {
		t.Errorf("sbatch --gres=craynetwork:0: rc %d %q, %+v", rc, stderr, req.Resources)
	}
	for _, g := range []string{"craynetwork:1", "craynetwork", "gpu:2,craynetwork:1"} {
		if _, stderr, rc, _ := confRun(t, Sbatch, nil, "--gres="+g, "--wrap", "true"); rc == 0 || !strings.Contains(stderr, "Invalid generic resource (gres) specification") {
			t.Errorf("sbatch --gres=%s: rc %d %q, want the gres refused", g, rc, stderr)
		}
	}
}

func TestSlurm17_26_SbatchInputIsSent(t *testing.T) {
	_, stderr, rc, f := confRun(t, Sbatch, nil, "-N1", "--input=in.txt", "--output=out", "--wrap", "cat")
	if rc != 0 {
		t.Fatalf("sbatch --input: rc %d, stderr %q", rc, stderr)
	}
	if req := sbLastSubmit(t, f); req.Stdin != "in.txt" {
		t.Errorf("sbatch --input=in.txt sent stdin %q, want in.txt (the node resolves it in the job's directory)", req.Stdin)
	}
}

// Test 4.13: every node field sinfo -O prints is a value, CPU load
// included (the load average the node's heartbeats report), sinfo knows
// the partition's priorityjobfactor, and `scontrol show
// partitionname=NAME` names the partition in one word.
func TestSlurm4_13_NodeLoadAndOneWordEntity(t *testing.T) {
	f := newCtlFake()
	load := 0.42
	f.nodes[0].CPULoad = &load
	c, stdout, _ := sbTestCtx(f, t.TempDir(), sbEnv, "")
	if rc := Sinfo(c, []string{"-h", "-n", "n1", "-O", "cpusload"}); rc != 0 || strings.TrimSpace(stdout.String()) != "0.42" {
		t.Errorf("sinfo -O cpusload of a node that reported 0.42: rc %d, %q", rc, stdout)
	}
	c, stdout, _ = sbTestCtx(f, t.TempDir(), sbEnv, "")
	if rc := Scontrol(c, []string{"show", "node", "n2"}); rc != 0 || !strings.Contains(stdout.String(), "CPULoad=N/A") {
		t.Errorf("scontrol show node of a node with no load known: rc %d, want CPULoad=N/A in:\n%s", rc, stdout)
	}
	c, stdout, _ = sbTestCtx(f, t.TempDir(), sbEnv, "")
	if rc := Sinfo(c, []string{"-h", "-p", api.DefaultQueue, "-O", "priorityjobfactor"}); rc != 0 || strings.TrimSpace(stdout.String()) != "1" {
		t.Errorf("sinfo -O priorityjobfactor: rc %d, %q; want 1, as scontrol show partition says", rc, stdout)
	}
	c, stdout, stderr := sbTestCtx(f, t.TempDir(), sbEnv, "")
	if rc := Scontrol(c, []string{"show", "partitionname=" + api.DefaultQueue}); rc != 0 || !strings.Contains(stdout.String(), "PartitionName="+api.DefaultQueue) {
		t.Errorf("scontrol show partitionname=%s: rc %d, stdout %q, stderr %q", api.DefaultQueue, rc, stdout, stderr)
	}
}

// TestSlurm3_4_UpdatePriorityOfRunningJob: test 3.4 releases a held job,
// which starts at once, then sets Priority=1 and reads it back. Slurm sets
// the priority of a running job (not its partition): scontrol sends it.
func TestSlurm3_4_UpdatePriorityOfRunningJob(t *testing.T) {
	_, stderr, rc, f := confRun(t, Scontrol, nil, "update", "Jobid=2", "Priority=1")
	sent := slices.ContainsFunc(f.calls, func(c string) bool { return strings.HasPrefix(c, "UpdateJob ") && strings.Contains(c, `"priority":1`) })
	if rc != 0 || stderr != "" || !sent {
		t.Errorf("scontrol update Jobid=2 Priority=1 of a running job: rc %d %q; calls %q; want the update sent", rc, stderr, f.calls)
	}
	_, stderr, rc, _ = confRun(t, Scontrol, nil, "update", "Jobid=2", "Partition=gpu")
	if want := "Job is no longer pending execution for job 2\n"; rc != 1 || stderr != want {
		t.Errorf("scontrol update Jobid=2 Partition=gpu of a running job: rc %d %q, want 1 and %q", rc, stderr, want)
	}
}

// TestSlurm3_13_UpdateByJobNameAndUser: test 3.13 updates the jobs named
// JobName= of the user UserID= (no JobId=): none of another user's, with
// Slurm's error; its own, whose priority then changes.
func TestSlurm3_13_UpdateByJobNameAndUser(t *testing.T) {
	run := func(uid uint32, args ...string) (string, int, *ctlFake) {
		f := newCtlFake()
		f.jobs[1].UID = uid // 1 "wrap", PENDING
		f.jobs[2].UID = uid // 2 "long", RUNNING
		f.jobs[2].Name = "wrap"
		c, _, stderr := sbTestCtx(f, t.TempDir(), sbEnv, "")
		rc := Scontrol(c, append([]string{"update"}, args...))
		return stderr.String(), rc, f
	}
	updated := func(f *ctlFake) []string {
		var out []string
		for _, c := range f.calls {
			if strings.HasPrefix(c, "UpdateJob ") {
				out = append(out, c)
			}
		}
		return out
	}
	stderr, rc, f := run(4242, "JobName=wrap", "UserID=0", "Priority=1")
	if want := "scontrol: error: No jobs with user ID 0 and name 'wrap'\n"; rc != 1 || stderr != want || len(updated(f)) != 0 {
		t.Errorf("update JobName=wrap UserID=0 of another user's jobs: rc %d %q, updates %q; want 1, %q, none", rc, stderr, updated(f), want)
	}
	stderr, rc, f = run(0, "JobName=wrap", "UserID=root", "Priority=1")
	if got := updated(f); rc != 0 || stderr != "" || len(got) != 2 ||
		!strings.Contains(got[0], `"jobId":1,`) || !strings.Contains(got[1], `"jobId":2,`) || !strings.Contains(got[1], `"priority":1`) {
		t.Errorf("update JobName=wrap UserID=root Priority=1: rc %d %q, updates %q; want jobs 1 and 2 given priority 1", rc, stderr, got)
	}
	stderr, rc, _ = run(0, "JobName=nosuch", "Priority=1")
	if want := "scontrol: error: No jobs with name 'nosuch'\n"; rc != 1 || stderr != want {
		t.Errorf("update JobName=nosuch: rc %d %q, want 1 and %q", rc, stderr, want)
	}
	stderr, rc, _ = run(0, "JobName=wrap", "UserID=no-such-user-x", "Priority=1")
	if want := "Invalid UserID: no-such-user-x\nRequest aborted\n"; rc != 1 || stderr != want {
		t.Errorf("update UserID=no-such-user-x: rc %d %q, want 1 and %q", rc, stderr, want)
	}
	// JobId= anywhere on the line names the job; JobName= then renames it.
	_, rc, f = run(0, "Priority=5", "JobName=renamed", "JobId=1")
	if got := updated(f); rc != 0 || len(got) != 1 || !strings.Contains(got[0], `"jobId":1,`) || !strings.Contains(got[0], `"jobName":"renamed"`) {
		t.Errorf("update Priority=5 JobName=renamed JobId=1: rc %d, updates %q; want job 1 renamed", rc, got)
	}
}

// TestSlurm17_19_SeveralPartitions: sbatch --partition=a,b asks for
// either; scontrol show job and squeue show the list while the job waits
// (test 17.19 looks for each name in Partition=), squeue -p finds it by
// any of them, and a started job shows the partition it runs in.
func TestSlurm17_19_SeveralPartitions(t *testing.T) {
	_, stderr, rc, f := confRun(t, Sbatch, nil, "--partition=default,p2", "-o", "/dev/null", "--wrap", "true")
	if req := sbLastSubmit(t, f); rc != 0 || req.Queue != "default" || !slices.Equal(req.Queues, []string{"default", "p2"}) {
		t.Errorf("sbatch --partition=default,p2: rc %d %q, queue %q queues %q; want default and [default p2]", rc, stderr, req.Queue, req.Queues)
	}
	_, _, _, f = confRun(t, Sbatch, nil, "--partition=p2", "-o", "/dev/null", "--wrap", "true")
	if req := sbLastSubmit(t, f); req.Queue != "p2" || req.Queues != nil {
		t.Errorf("sbatch --partition=p2: queue %q queues %q; want p2 alone", req.Queue, req.Queues)
	}

	run := func(cmd func(*Ctx, []string) int, args ...string) string {
		f := newCtlFake()
		f.jobs[1].Queues = []string{api.DefaultQueue, "gpu"}                         // PENDING
		f.jobs[2].Queue, f.jobs[2].Queues = "gpu", []string{api.DefaultQueue, "gpu"} // RUNNING in gpu
		c, stdout, stderr := sbTestCtx(f, t.TempDir(), sbEnv, "")
		if rc := cmd(c, args); rc != 0 {
			t.Fatalf("%v: rc %d %s", args, rc, stderr)
		}
		return stdout.String()
	}
	confMatch(t, "scontrol show job 1 (pending)", run(Scontrol, "show", "job", "1"), `Partition=default,gpu `)
	confMatch(t, "scontrol show job 2 (running)", run(Scontrol, "show", "job", "2"), `Partition=gpu `)
	if got := run(Squeue, "-h", "-o", "%i %P", "-p", "gpu", "-j", "1,2,20", "-S", "i"); got != "1 default,gpu\n2 gpu\n20 gpu\n" {
		t.Errorf("squeue -p gpu: %q, want jobs 1 (pending in default,gpu), 2 (running in gpu) and 20", got)
	}
}
