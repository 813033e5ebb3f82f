package slurm

import "testing"

// --get-user-env's value is checked as Slurm's sbatch checks it
// (strtol, then S or L), then the option is ignored.
func TestValidGetUserEnv(t *testing.T) {
	for v, want := range map[string]bool{
		"": true, "10": true, "10L": true, "10l": true, "S": true, "s": true, "L": true,
		" 5S": true, "+5": true, "-5": true, "10LL": true, "10Lx": true,
		"abc": false, "10x": false, " ": false, "+": false, "x10": false, "1 0": false, "L10": true,
	} {
		if got := validGetUserEnv(v); got != want {
			t.Errorf("validGetUserEnv(%q) = %v, want %v", v, got, want)
		}
	}
}
