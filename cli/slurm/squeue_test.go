package slurm

import "testing"

// TestSqueueGolden runs squeue's golden cases (testdata/squeue/*).
func TestSqueueGolden(t *testing.T) { viewGolden(t, "squeue", Squeue) }
