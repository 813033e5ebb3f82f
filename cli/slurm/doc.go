// Package slurm is shoal's Slurm personality: sbatch, squeue, scancel,
// sinfo, scontrol, sacct, srun and sacctmgr with Slurm 22.05's flags, output
// formats, exit codes and error wording, over shoal's one job lifecycle.
// The binary runs it when invoked through a link named after a command, or
// as `shoal slurm CMD ...`.
package slurm
