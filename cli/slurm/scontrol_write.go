package slurm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// write is scontrol write batch_script JOB [FILE]: the job's batch script
// to FILE (default slurm-JOB.sh; "-" is standard output), as Slurm 22.05
// words it.
func (r *scontrolRun) write(args []string) int {
	if len(args) < 1 {
		fmt.Fprintln(r.c.Stderr, "too few arguments for keyword:write")
		return 1
	}
	what := strings.ToLower(args[0])
	if len(what) < 5 || !strings.HasPrefix("batch_script", what) {
		fmt.Fprintf(r.c.Stderr, "invalid write option: %s\n", args[0])
		return 1
	}
	args = args[1:]
	switch {
	case len(args) > 2:
		fmt.Fprintln(r.c.Stderr, "too many arguments for keyword:write")
		return 1
	case len(args) == 0:
		fmt.Fprintln(r.c.Stderr, "too few arguments for keyword:write")
		return 1
	}
	id, err := strconv.ParseUint(args[0], 10, 64)
	name := fmt.Sprintf("slurm-%d.sh", id)
	if len(args) > 1 {
		name = args[1]
	}
	fail := func(why string) int {
		fmt.Fprintf(r.c.Stderr, "job script retrieval failed: %s\n", why)
		return 1
	}
	if err != nil || id == 0 {
		return fail("Invalid job id specified")
	}
	j, err := r.c.Client.Job(r.ctx, id)
	if err != nil {
		var e *api.Error
		if errors.As(err, &e) && e.Code == api.CodeNotFound {
			return fail("Invalid job id specified")
		}
		return fail(safeErr(err))
	}
	switch {
	case j.Redacted:
		return fail("Access/permission denied")
	case j.Script == "":
		return fail("Only batch jobs are accepted or processed")
	}
	if name == "-" {
		fmt.Fprint(r.c.Stdout, j.Script)
		return 0
	}
	path := name
	if !filepath.IsAbs(path) {
		if cwd, err := r.c.Getwd(); err == nil {
			path = filepath.Join(cwd, path)
		}
	}
	if err := os.WriteFile(path, []byte(j.Script), 0o644); err != nil {
		fmt.Fprintf(r.c.Stderr, "failed to open file `%s`: %v\n", name, errors.Unwrap(err))
		return 1
	}
	if !r.quiet {
		fmt.Fprintf(r.c.Stdout, "batch script for job %d written to %s\n", id, name)
	}
	return 0
}
