package slurm

import (
	"fmt"
	"testing"
)

// TestSacctGolden runs sacct's golden cases (testdata/sacct/*).
func TestSacctGolden(t *testing.T) { viewGolden(t, "sacct", Sacct) }

// Paged a few jobs at a time (arrays' tasks across pages), sacct prints
// what it prints from one page.
func TestSacctGoldenPaged(t *testing.T) {
	defer func(p int) { sacctPage = p }(sacctPage)
	for _, n := range []int{1, 2, 3} {
		sacctPage = n
		t.Run(fmt.Sprintf("page=%d", n), func(t *testing.T) { viewGolden(t, "sacct", Sacct) })
	}
}
