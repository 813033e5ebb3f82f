package slurm

import "testing"

// TestSacctGolden runs sacct's golden cases (testdata/sacct/*).
func TestSacctGolden(t *testing.T) { viewGolden(t, "sacct", Sacct) }
