package slurm

import "testing"

// TestScancelGolden runs scancel's golden cases (testdata/scancel/*):
// exact output, exit status and the cancel/terminate calls made.
func TestScancelGolden(t *testing.T) { sbGolden(t, "scancel", Scancel) }
