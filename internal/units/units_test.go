package units

import "testing"

// TestParseMemoryMiB: what Slurm 22.05's sbatch --mem accepts and
// refuses (cli/slurm/testdata/anchor/sbatch-mem.txt is the transcript).
func TestParseMemoryMiB(t *testing.T) {
	for _, tc := range []struct {
		in  string
		mib int64
		bad bool
	}{
		{in: "512", mib: 512}, {in: "512M", mib: 512}, {in: "2G", mib: 2048}, {in: "4g", mib: 4096},
		{in: "16GB", mib: 16384}, {in: "2Gb", mib: 2048}, {in: "2mb", mib: 2}, {in: "512KB", mib: 1},
		{in: "1T", mib: 1 << 20}, {in: "1024K", mib: 1}, {in: "1K", mib: 1}, {in: "1025k", mib: 2},
		{in: "0", mib: 0}, {in: "+5", mib: 5}, {in: " 2G", mib: 2048},
		{in: "", bad: true}, {in: "x", bad: true}, {in: "1.5G", bad: true}, {in: "-1", bad: true},
		{in: "12Q", bad: true}, {in: "2B", bad: true}, {in: "100b", bad: true}, {in: "2GiB", bad: true},
		{in: "2GBB", bad: true}, {in: "2Gxyz", bad: true}, {in: "2 G", bad: true}, {in: "B", bad: true},
		{in: "99999999999999T", bad: true},
	} {
		mib, err := ParseMemoryMiB(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && mib != tc.mib) {
			t.Errorf("ParseMemoryMiB(%q) = %d, %v; want %d (refused: %v)", tc.in, mib, err, tc.mib, tc.bad)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 32 << 30: "32.0 GiB",
		100<<30 + 100<<20: "100.1 GiB", 3 << 40: "3.0 TiB", 1 << 62: "4096.0 PiB",
	} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
