// Package arraylimit holds the bounds of a job array: the controller
// enforces them (daemon's checkArray) and the Slurm commands check and show
// the same ones (sbatch --array, scontrol show config's MaxArraySize).
package arraylimit

import "math"

const (
	// MaxTasks is the most tasks one array may have.
	MaxTasks = 100_000
	// MaxArraySize is Slurm's MaxArraySize: one more than the largest
	// index an array may have (indexes 0 to MaxArraySize-1), so that
	// both 0-99999 and 1-100000 fit; an array of every index up to it
	// still has too many tasks (MaxTasks).
	MaxArraySize = MaxTasks + 1
	// MaxIndex is the largest index an array may have.
	MaxIndex = MaxArraySize - 1
	// MaxThrottle is the largest %N throttle (0 is none): slurmctld reads
	// it as a C int, so a larger one was never what it ran with.
	MaxThrottle = math.MaxInt32
)
