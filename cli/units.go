package cli

import "github.com/shoal-batch/shoal/internal/units"

// ParseMemoryMiB reads a memory size as Slurm's sbatch --mem does (see
// units.ParseMemoryMiB, the one parser of sizes): MiB, or a whole number
// with K, M, G or T, optionally followed by B.
func ParseMemoryMiB(s string) (int64, error) { return units.ParseMemoryMiB(s) }
