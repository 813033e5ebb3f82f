package slurm

import "testing"

// TestSinfoGolden runs sinfo's golden cases (testdata/sinfo/*).
func TestSinfoGolden(t *testing.T) { viewGolden(t, "sinfo", Sinfo) }
