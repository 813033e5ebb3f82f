package slurm

import "testing"

// TestSbatchGolden runs sbatch's golden cases (testdata/sbatch/*) against a
// fake controller: exact stdout, stderr, exit status and controller calls.
func TestSbatchGolden(t *testing.T) { sbGolden(t, "sbatch", Sbatch) }
