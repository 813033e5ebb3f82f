package slurm

import "testing"

// TestScontrolGolden runs scontrol's golden cases (testdata/scontrol/*).
func TestScontrolGolden(t *testing.T) { viewGolden(t, "scontrol", Scontrol) }
