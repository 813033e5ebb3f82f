package slurm

import (
	"slices"
	"testing"
)

// TestSqueueWantedFields: squeue asks the controller for every job field
// but the script, command, paths and the like, unless its output shows
// one of those (%o, %Z, -O command/workdir/stdout/stderr) or is --json.
func TestSqueueWantedFields(t *testing.T) {
	for _, c := range []struct {
		name string
		o    squeueOpts
		all  bool
	}{
		{"default", squeueOpts{}, false},
		{"-l", squeueOpts{long: true}, false},
		{"--start", squeueOpts{start: true}, false},
		{"-o %i %j", squeueOpts{format: "%i %j %T"}, false},
		{"-o %o", squeueOpts{format: "%.18i %o"}, true},
		{"-o %Z", squeueOpts{format: "%Z"}, true},
		{"-O jobid,name", squeueOpts{formatLong: "jobid,name:20"}, false},
		{"-O workdir", squeueOpts{formatLong: "jobid,workdir"}, true},
		{"-O stdout", squeueOpts{formatLong: "stdout"}, true},
		{"--json", squeueOpts{json: true}, true},
	} {
		got := c.o.wantedFields()
		if c.all {
			if got != nil {
				t.Errorf("%s: asks for %v; want every field (nil)", c.name, got)
			}
			continue
		}
		for _, heavy := range []string{"script", "command", "workingDir", "stdout", "stderr", "environment"} {
			if slices.Contains(got, heavy) {
				t.Errorf("%s: asks for %s; want it left out", c.name, heavy)
			}
		}
		for _, need := range []string{"jobName", "user", "uid", "status", "statusReason", "cause", "jobQueue", "node", "startedAt", "timeLimitSeconds", "array", "dependsOn", "resources"} {
			if !slices.Contains(got, need) {
				t.Errorf("%s: asks for %v; want %s among them", c.name, got, need)
			}
		}
	}
}
