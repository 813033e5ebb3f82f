package node

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestSlurm17_13_BatchJobEnvironment pins the variables Slurm's expect
// test 17.13 finds in a batch job's environment (sbatch -N1 -n1 ... env).
func TestSlurm17_13_BatchJobEnvironment(t *testing.T) {
	a := &Agent{cfg: Config{Name: "n1", DataDir: t.TempDir()}}
	a.logDir = filepath.Join(a.cfg.DataDir, "logs")
	for _, c := range []struct {
		env      map[string]string
		tasksPer string
	}{
		{nil, "1"},
		{map[string]string{"SLURM_NTASKS": "4"}, "4"}, // sbatch -n4: every task on the one node
	} {
		j := api.Job{ID: 9, JobSpec: api.JobSpec{Script: "#!/bin/sh\nenv\n", Env: c.env, Resources: api.Resources{CPUs: 1}}}
		spec := a.jobSpec(&j)
		for _, kv := range []string{
			"SLURM_JOB_ID=9", "SLURM_JOBID=9", "SLURM_JOB_NUM_NODES=1", "SLURM_JOB_NODELIST=n1",
			"SLURM_JOB_CPUS_PER_NODE=1", "SLURM_LOCALID=0", "SLURM_NNODES=1", "SLURM_NODEID=0",
			"SLURM_NODELIST=n1", "SLURM_PROCID=0", "SLURM_TASKS_PER_NODE=" + c.tasksPer,
			"SLURM_TASK_PID=1", // the script is the init of the sandbox's PID namespace
		} {
			if !slices.Contains(spec.Env, kv) {
				t.Errorf("env %v: the job's environment lacks %s: %s", c.env, kv, strings.Join(spec.Env, " "))
			}
		}
	}
}
