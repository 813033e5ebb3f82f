package slurm

// SetTaskFold turns squeue's folding of alike waiting tasks on or off,
// for tests that hold its lines to those it prints without it.
func SetTaskFold(on bool) { foldTasks = on }
