package slurm

import (
	"fmt"
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
