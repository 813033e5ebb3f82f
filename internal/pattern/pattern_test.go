package pattern

import "testing"

func TestExpand(t *testing.T) {
	batch := Fields{JobID: "42", JobStep: "42", StepID: "batch", Task: "0", NodeIndex: "0", Node: "n7",
		ArrayJob: "40", ArrayTask: "2", Name: "train", User: "alice"}
	step := Fields{JobID: "42", JobStep: "42.3", StepID: "3", Task: "5", NodeIndex: "0", Node: "n7",
		ArrayJob: "42", ArrayTask: "4294967294", Name: "007", User: "bob"}
	for _, tt := range []struct {
		p    string
		f    Fields
		want string
	}{
		{"slurm-%j.out", batch, "slurm-42.out"},
		{"%x-%A_%a.%u.%N", batch, "train-40_2.alice.n7"},
		{"%5j|%3a|%4J|%2s|%3t|%2n", batch, "00042|002|0042|batch|000|00"},
		{"%J %s %t %3t", step, "42.3 3 5 005"},
		{"%4J", step, "42.3"},        // a step's %J is not a number: never padded
		{"%5x %5u", step, "007 bob"}, // names are never padded
		{"100%% %q %3q %", batch, "100% %q %3q %"},
		{"%12", batch, "%12"},
		{"plain", batch, "plain"},
		// Widths past 10 pad to 10, as Slurm's; one that overflows an
		// int once took the node down making its zeros.
		{"%12j", batch, "0000000042"},
		{"/tmp/x%99999999999999999999j", batch, "/tmp/x0000000042"},
		{"%0010a", batch, "0000000002"},
	} {
		if got := Expand(tt.p, tt.f); got != tt.want {
			t.Errorf("Expand(%q) = %q, want %q", tt.p, got, tt.want)
		}
	}
}
