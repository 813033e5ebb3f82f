package hugepage

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// TestSliceOnHugePages: a large slice advised and then written lies, at
// least in part, on huge pages where the kernel offers them ("madvise"
// or "always"), and holds what was written.
func TestSliceOnHugePages(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || !strings.Contains(string(mode), "[madvise]") && !strings.Contains(string(mode), "[always]") {
		t.Skipf("transparent huge pages not offered here (%q, %v)", mode, err)
	}
	s := make([]byte, 8*Huge)
	Slice(s)
	for i := range s {
		s[i] = byte(i)
	}
	for i := 0; i < len(s); i += 4099 {
		if s[i] != byte(i) {
			t.Fatalf("byte %d reads %d; want %d", i, s[i], byte(i))
		}
	}
	kb, err := anonHugeKB(uintptr(unsafe.Pointer(&s[0])))
	if err != nil {
		t.Fatal(err)
	}
	if kb == 0 {
		t.Errorf("an advised, written 16 MiB slice has no huge pages (AnonHugePages 0 kB in its mapping); want some")
	}
	Slice(s[:10]) // below a huge page: nothing to advise
}

// anonHugeKB is the AnonHugePages of the mapping holding addr.
func anonHugeKB(addr uintptr) (int, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x", &lo, &hi); n == 2 && strings.Contains(line, " ") && !strings.HasSuffix(strings.Fields(line)[0], ":") {
			in = lo <= addr && addr < hi
			continue
		}
		var kb int
		if in && strings.HasPrefix(line, "AnonHugePages:") {
			fmt.Sscanf(strings.TrimPrefix(line, "AnonHugePages:"), "%d", &kb)
			return kb, nil
		}
	}
	return 0, fmt.Errorf("no mapping holds %#x in /proc/self/smaps", addr)
}
