package slurm

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestSrunGolden runs srun's golden cases (testdata/srun/*): outside a job
// (no SLURM_JOB_ID), against the fake controller.
func TestSrunGolden(t *testing.T) { sbGolden(t, "srun", Srun) }

// jobEnv is the environment of a shoal job on node n1, as srun sees it.
func jobEnv(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=/home/alice", "SLURM_JOB_ID=7", "SLURM_JOBID=7",
		"SLURM_JOB_NAME=job", "SLURMD_NODENAME=n1", "SLURM_JOB_NODELIST=n1", "SLURM_JOB_USER=alice",
		"SLURM_NTASKS=1", "FOO=bar"}
	return append(env, extra...)
}

// TestSrunInJob runs commands as job steps: real child processes.
func TestSrunInJob(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    []string
		args   []string
		stdin  string
		stdout string // sorted lines when several tasks write
		stderr string
		rc     int
		files  map[string]string // expected files in the working directory
		before map[string]string // files there before srun runs
	}{
		{name: "one task", args: []string{"sh", "-c", `echo $SLURM_PROCID $SLURM_LOCALID $SLURM_STEP_ID $SLURM_NTASKS $SLURM_JOB_ID $FOO`},
			stdout: "0 0 0 1 7 bar\n"},
		{name: "snakemake", args: []string{"-n1", "--cpu-bind=q", "sh", "-c", "echo ok"}, stdout: "ok\n"},
		{name: "tasks labelled", args: []string{"-n", "3", "-l", "sh", "-c", `echo task $SLURM_PROCID of $SLURM_NTASKS`},
			stdout: "0: task 0 of 3\n1: task 1 of 3\n2: task 2 of 3\n"},
		{name: "parsl", args: []string{"--ntasks", "2", "-l", "sh", "-c", `printf 'a\nb'`},
			stdout: "0: a\n0: b\n1: a\n1: b\n"},
		{name: "label width", args: []string{"-n", "11", "-l", "sh", "-c", `[ $SLURM_PROCID = 3 ] && echo x || true`},
			stdout: " 3: x\n"},
		{name: "tasks from SLURM_NTASKS", env: jobEnv("SLURM_NTASKS=2"), args: []string{"sh", "-c", `echo $SLURM_PROCID`},
			stdout: "0\n1\n"},
		{name: "stdin to task 0", args: []string{"cat"}, stdin: "hello\n", stdout: "hello\n"},
		{name: "input none", args: []string{"--input=none", "cat"}, stdin: "hello\n", stdout: ""},
		{name: "exit code", args: []string{"sh", "-c", "echo bye >&2; exit 3"}, rc: 3,
			stderr: "bye\nsrun: error: n1: task 0: Exited with exit code 3\n"},
		{name: "highest exit code", args: []string{"-n", "2", "sh", "-c", "exit $((SLURM_PROCID + 4))"}, rc: 5,
			stderr: "srun: error: n1: task 0: Exited with exit code 4\nsrun: error: n1: task 1: Exited with exit code 5\n"},
		{name: "killed", args: []string{"sh", "-c", "kill -9 $$"}, rc: 137, stderr: "srun: error: n1: task 0: Killed\n"},
		{name: "not found", args: []string{"/nonexistent/prog"}, rc: 2,
			stderr: "srun: error: n1: task 0: Unable to start: fork/exec /nonexistent/prog: no such file or directory\n"},
		{name: "output patterns", args: []string{"-n", "2", "--output", "%j_%t_log.out", "--error", "%j_%t_log.err", "--unbuffered",
			"sh", "-c", `echo out $SLURM_PROCID; echo err $SLURM_PROCID >&2`},
			files: map[string]string{"7_0_log.out": "out 0\n", "7_1_log.out": "out 1\n", "7_0_log.err": "err 0\n", "7_1_log.err": "err 1\n"}},
		{name: "output shared by tasks", args: []string{"-n", "2", "-l", "-o", "all-%j.txt", "sh", "-c", `echo $SLURM_PROCID`},
			files: map[string]string{"all-7.txt": "0: 0\n1: 1\n"}},
		{name: "error follows output", args: []string{"-o", "both.txt", "sh", "-c", "echo o; echo e >&2"},
			files: map[string]string{"both.txt": "o\ne\n"}},
		{name: "output truncates", args: []string{"-o", "f.txt", "echo", "new"},
			before: map[string]string{"f.txt": "old\n"}, files: map[string]string{"f.txt": "new\n"}},
		{name: "append mode from sbatch", env: jobEnv("SLURM_OPEN_MODE=a"), args: []string{"-o", "f.txt", "echo", "new"},
			before: map[string]string{"f.txt": "old\n"}, files: map[string]string{"f.txt": "old\nnew\n"}},
		{name: "array patterns", env: jobEnv("SLURM_ARRAY_JOB_ID=5", "SLURM_ARRAY_TASK_ID=2"), args: []string{"-o", "%A_%a_%3t.%s.%x.%N.%u.%%", "true"},
			files: map[string]string{"5_2_000.0.job.n1.alice.%": ""}},
		{name: "chdir", args: []string{"-D", "sub", "sh", "-c", "basename $(pwd)"}, before: map[string]string{"sub/x": ""}, stdout: "sub\n"},
		{name: "export none", args: []string{"--export=NONE", "sh", "-c", `echo "${FOO:-unset} $SLURM_JOB_ID"`},
			env: jobEnv(), stdout: "unset 7\n"},
		{name: "export from sbatch", env: jobEnv("SLURM_EXPORT_ENV=NONE"), args: []string{"sh", "-c", `echo "${FOO:-unset} $SLURM_JOB_ID"`},
			stdout: "unset 7\n"},
		{name: "export flag beats sbatch's", env: jobEnv("SLURM_EXPORT_ENV=NONE"), args: []string{"--export=ALL", "sh", "-c", `echo "${FOO:-unset}"`},
			stdout: "bar\n"},
		{name: "kill on bad exit", args: []string{"-n", "2", "-K", "sh", "-c", `if [ $SLURM_PROCID = 0 ]; then exit 1; fi; exec sleep 60`},
			rc: 137, stderr: "srun: error: n1: task 0: Exited with exit code 1\nsrun: error: n1: task 1: Killed\n"},
		{name: "cpus per task", args: []string{"-c", "3", "sh", "-c", "echo $SLURM_CPUS_PER_TASK"}, stdout: "3\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range tc.before {
				os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
				sbWriteFile(t, filepath.Join(dir, name), text)
			}
			env := tc.env
			if env == nil {
				env = jobEnv()
			}
			f := newCtlFake()
			f.jobs[7] = &api.Job{ID: 7, JobSpec: api.JobSpec{Name: "job"}, User: "alice", State: api.StateRunning, Node: "n1"}
			c, stdout, stderr := sbTestCtx(f, dir, env, tc.stdin)
			rc := Srun(c, tc.args)
			if rc != tc.rc || sortLines(stdout.String()) != sortLines(tc.stdout) || sortLines(stderr.String()) != sortLines(tc.stderr) {
				t.Errorf("srun %q: rc %d, stdout %q, stderr %q; want rc %d, stdout %q, stderr %q",
					tc.args, rc, stdout, stderr, tc.rc, tc.stdout, tc.stderr)
			}
			for name, want := range tc.files {
				got, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil || sortLines(string(got)) != sortLines(want) {
					t.Errorf("srun %q: file %s = %q, %v; want %q", tc.args, name, got, err, want)
				}
			}
			// The step is recorded (step 0) and ended; nothing else.
			if len(f.calls) != 2 || !strings.HasPrefix(f.calls[0], `StartStep {"jobId":7,`) || !strings.HasPrefix(f.calls[1], `EndStep {"jobId":7,"stepId":0,`) {
				t.Errorf("srun in a job called the controller: %q; want StartStep and EndStep of job 7", f.calls)
			}
		})
	}
}

// sortLines puts the lines of s in order: tasks run concurrently.
func sortLines(s string) string {
	lines := strings.SplitAfter(s, "\n")
	sort.Strings(lines)
	return strings.Join(lines, "")
}
