package slurm

import (
	"fmt"
	"strings"
	"testing"
)

// TestClockDurationAsPrintf: squeue's TIME, written without fmt, is what
// Slurm's printf formats wrote.
func TestClockDurationAsPrintf(t *testing.T) {
	want := func(secs int64) string {
		if secs < 0 || secs > 365*86400 {
			return "INVALID"
		}
		d, h, m, s := secs/86400, secs/3600%24, secs/60%60, secs%60
		switch {
		case d > 0:
			return fmt.Sprintf("%d-%02d:%02d:%02d", d, h, m, s)
		case h > 0:
			return fmt.Sprintf("%d:%02d:%02d", h, m, s)
		}
		return fmt.Sprintf("%d:%02d", m, s)
	}
	for _, secs := range []int64{-1, 0, 1, 59, 60, 61, 599, 3599, 3600, 3661, 86399, 86400, 90061, 10*86400 + 5, 365 * 86400, 365*86400 + 1} {
		if got := clockDuration(secs); got != want(secs) {
			t.Errorf("clockDuration(%d) = %q; want %q", secs, got, want(secs))
		}
	}
}

// TestWriteSacctFitAsSprintf: sacct's cells, written without fmt, are
// what its printf formats wrote, multi-byte names and cut values included.
func TestWriteSacctFitAsSprintf(t *testing.T) {
	for _, s := range []string{"", "a", "abcdefghij", "abcdefghijk", "üñí", "üñíüñíüñíüñí", "ab\u2028cdefghijkl", "COMPLETED"} {
		for _, w := range []int{-12, -10, -3, -1, 1, 2, 5, 10, 12} {
			var b strings.Builder
			writeSacctFit(&b, s, w)
			if want := sacctFit(s, w); b.String() != want {
				t.Errorf("writeSacctFit(%q, %d) = %q; want %q", s, w, b.String(), want)
			}
		}
	}
}
