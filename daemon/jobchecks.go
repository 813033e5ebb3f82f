package daemon

import "github.com/shoal-batch/shoal/internal/arraylimit"

// The bounds of a job array checkArray (jobs.go) enforces, the ones sbatch
// checks and scontrol show config shows (internal/arraylimit).
const (
	arrayMaxTasks     = arraylimit.MaxTasks
	arrayMaxIndex     = arraylimit.MaxIndex     // Slurm's MaxArraySize - 1
	slurmMaxArraySize = arraylimit.MaxArraySize // as scontrol show config prints it
	arrayMaxThrottle  = arraylimit.MaxThrottle
)
