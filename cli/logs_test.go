package cli

import (
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestSameLog: shoal logs prints a job's output once when its stdout and
// stderr are one file, however the paths were written.
func TestSameLog(t *testing.T) {
	for _, c := range []struct {
		dir, stdout, stderr string
		same                bool
	}{
		{"/home/a", "slurm-%j.out", "slurm-%j.out", true}, // sbatch without -e
		{"/home/a", "out", "/home/a/out", true},
		{"/home/a", "/home/a/./out", "/home/a/out", true},
		{"/home/a", "out", "err", false},
		{"/home/a", "", "", false},    // the node's log dir: two files
		{"/home/a", "out", "", false}, // stderr in the node's log dir
		{"/home/a", "o-%j", "o-%A", false},
	} {
		j := api.Job{JobSpec: api.JobSpec{Dir: c.dir, Stdout: c.stdout, Stderr: c.stderr}}
		if got := sameLog(j); got != c.same {
			t.Errorf("dir %q, stdout %q, stderr %q: one file %v, want %v", c.dir, c.stdout, c.stderr, got, c.same)
		}
	}
}
