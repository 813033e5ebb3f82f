package slurm

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// submitRecorder is the sbatch fake that keeps every request as it was
// sent, for the invariants below.
type submitRecorder struct {
	*ctlFake
	reqs []api.SubmitJobRequest
}

func (r *submitRecorder) Submit(ctx context.Context, req api.SubmitJobRequest) (api.SubmitJobResponse, error) {
	r.reqs = append(r.reqs, req)
	return r.ctlFake.Submit(ctx, req)
}

// FuzzSbatch runs sbatch on a fuzzed batch script (its #SBATCH lines) and
// command line (one argument a line) against a fake controller. Whatever
// comes in, sbatch does not panic, and either refuses with a message on
// stderr and a non-zero status, or sends one request that holds together:
// the script as given (a #! line, no NUL, no DOS line breaks unless
// --wrap made it: Slurm checks only a script it reads), no NUL in
// any name or path, an absolute working directory, no negative resource
// or limit, array indexes in order, environment names that a process can
// hold.
//
// The seed corpus is every golden case under testdata/sbatch: real
// #SBATCH scripts (dask, snakemake, toil, arrays, dependencies) and their
// command lines.
func FuzzSbatch(f *testing.F) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "sbatch", "*"))
	if err != nil || len(dirs) == 0 {
		f.Fatalf("no sbatch golden cases to seed from (%v)", err)
	}
	for _, dir := range dirs {
		args, err := os.ReadFile(filepath.Join(dir, "args"))
		if err != nil {
			continue
		}
		script, err := os.ReadFile(filepath.Join(dir, "job.sh"))
		if err != nil {
			script, _ = os.ReadFile(filepath.Join(dir, "stdin"))
		}
		f.Add(string(script), strings.TrimSuffix(string(args), "\n"))
	}
	f.Add("#!/bin/sh\n#SBATCH -J 'a b' --export=ALL,X=\"1,2\" -o /tmp/%x-%j.out # c\n#SBATCH -a 1-9:2%3 -d afterok:1?afterany:2\ntrue\n", "")
	f.Add("#!/bin/sh\n#SBATCH --chdir=rel --begin=now+1hour --signal=B:USR1@90 -t 1-2:3:4\n", "--wrap\nid\n--mem-per-gpu=2G\n--gpus=2")
	f.Fuzz(func(t *testing.T, script, argText string) {
		var args []string
		if argText != "" {
			args = strings.Split(argText, "\n")
		}
		for i, a := range args {
			// execve cannot pass a NUL: an argument ends at the first.
			args[i], _, _ = strings.Cut(a, "\x00")
		}
		dir := "/home/alice"
		// A script operand other than job.sh would read an arbitrary
		// file (or /dev/zero): the fuzz gives the script through stdin
		// or as job.sh in a directory of its own.
		if _, operands, err := sbatchGetopt.Parse(args); err == nil && len(operands) > 0 {
			if operands[0] != "job.sh" {
				return
			}
			dir = t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "job.sh"), []byte(script), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		rec := &submitRecorder{ctlFake: newCtlFake()}
		c, stdout, stderr := sbTestCtx(rec.ctlFake, dir, sbEnv, script)
		c.Client = rec
		rc := Sbatch(c, args)

		switch {
		case len(rec.reqs) > 1:
			t.Fatalf("sbatch %q sent %d requests; want at most one", args, len(rec.reqs))
		case rc != 0 && stderr.Len() == 0:
			t.Fatalf("sbatch %q exited %d with nothing on stderr; want a reason", args, rc)
		case rc == 0 && len(rec.reqs) == 0 && stdout.Len() == 0:
			t.Fatalf("sbatch %q exited 0 having sent nothing and printed nothing", args)
		}
		if len(rec.reqs) == 0 {
			return
		}
		req := rec.reqs[0]
		wrapped := strings.HasPrefix(req.Script, wrapHeader)
		if !strings.HasPrefix(req.Script, "#!") || strings.ContainsRune(req.Script, 0) || (!wrapped && strings.Contains(req.Script, "\r\n")) {
			t.Fatalf("sbatch %q sent script %q; want a #! script with no NUL and no \\r\\n", args, req.Script)
		}
		for field, v := range map[string]string{
			"name": req.Name, "dir": req.Dir, "stdout": req.Stdout, "stderr": req.Stderr,
			"queue": req.Queue, "account": req.Account, "qos": req.QOS, "comment": req.Comment,
		} {
			if strings.ContainsRune(v, 0) {
				t.Fatalf("sbatch %q sent %s %q holding a NUL", args, field, v)
			}
		}
		for _, a := range req.Command {
			if strings.ContainsRune(a, 0) {
				t.Fatalf("sbatch %q sent script argument %q holding a NUL", args, a)
			}
		}
		if req.Name == "" || !filepath.IsAbs(req.Dir) {
			t.Fatalf("sbatch %q sent name %q dir %q; want a name and an absolute directory", args, req.Name, req.Dir)
		}
		if r := req.Resources; r.CPUs < 1 || r.MemoryMB < 0 || r.GPUs < 0 || req.TimeLimit < 0 || req.ArrayMaxRunning < 0 {
			t.Fatalf("sbatch %q sent resources %+v time limit %d max running %d; want none negative, cpus >= 1",
				args, r, req.TimeLimit, req.ArrayMaxRunning)
		}
		for i, n := range req.ArrayIndexes {
			if n < 0 || (i > 0 && n <= req.ArrayIndexes[i-1]) {
				t.Fatalf("sbatch %q sent array indexes %v; want distinct, non-negative, in order", args, req.ArrayIndexes)
			}
		}
		for k, v := range req.Env {
			if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
				t.Fatalf("sbatch %q sent environment %q=%q; want a name without '=' or NUL and a value without NUL", args, k, v)
			}
		}
	})
}
