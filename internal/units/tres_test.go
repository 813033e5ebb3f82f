package units

import "testing"

// TestParseTRES: the one reader of TRES limits takes what sacctmgr
// takes (mem sizes as sbatch --mem reads them, 1024MB included) and
// refuses, whole, what it cannot read.
func TestParseTRES(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want TRES
		bad  bool
	}{
		{in: "", want: NoTRES},
		{in: "cpu=1,mem=1024MB", want: TRES{1, 1024, -1}},
		{in: "cpu=4,mem=8G,gres/gpu=2", want: TRES{4, 8192, 2}},
		{in: "mem=1000M", want: TRES{-1, 1000, -1}},
		{in: "mem=512", want: TRES{-1, 512, -1}},
		{in: "mem=2gb", want: TRES{-1, 2048, -1}},
		{in: "CPU=2, node=1,billing=5", want: TRES{2, -1, -1}},
		{in: "cpu=-1,mem=-1", want: NoTRES},
		{in: "cpu=1,,", want: TRES{1, -1, -1}},
		{in: "cpu=1,mem=1.5G", bad: true},
		{in: "cpu=lots", bad: true},
		{in: "cpu=-2", bad: true},
		{in: "cpu", bad: true},
		{in: "cpu=", bad: true},
		{in: "license/x=1", bad: true},
		{in: "mem=1GiB", bad: true},
	} {
		got, err := ParseTRES(tc.in)
		switch {
		case tc.bad && err == nil:
			t.Errorf("ParseTRES(%q) = %+v, want an error", tc.in, got)
		case !tc.bad && (err != nil || got != tc.want):
			t.Errorf("ParseTRES(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}
