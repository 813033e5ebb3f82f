package slurm

import "testing"

// TestSacctmgrGolden runs sacctmgr's golden cases (testdata/sacctmgr/*).
func TestSacctmgrGolden(t *testing.T) { sbGolden(t, "sacctmgr", Sacctmgr) }
