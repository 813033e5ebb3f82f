package slurm

import (
	"strings"
	"testing"
)

// TestWriteFitMatchesFit: writeFit writes what fit returns, for every
// width (none, shorter, equal, longer than the value) and justification.
func TestWriteFitMatchesFit(t *testing.T) {
	for _, s := range []string{"", "a", "bench-12", "a much longer value than any column"} {
		for _, width := range []int{0, 1, 8, 9, 20} {
			for _, right := range []bool{false, true} {
				for _, suffix := range []string{"", " ", " | "} {
					c := column{width: width, right: right, suffix: suffix}
					var b strings.Builder
					c.writeFit(&b, s)
					if got, want := b.String(), c.fit(s); got != want {
						t.Errorf("column %+v, %q: writeFit %q, fit %q", c, s, got, want)
					}
				}
			}
		}
	}
}
