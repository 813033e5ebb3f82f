package gpu

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseLdconfig(t *testing.T) {
	out := []byte(`1234 libs found in cache ` + "`/etc/ld.so.cache'" + `
	libz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1
	libnvidia-ptxjitcompiler.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libnvidia-ptxjitcompiler.so.1
	libnvidia-ml.so.1 (libc6,x86-64) => /usr/local/nvidia/lib64/libnvidia-ml.so.1
	libnvidia-ml.so.1 (libc6) => /usr/lib/i386-linux-gnu/libnvidia-ml.so.1
	libnvidia-ml.so (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libnvidia-ml.so
	libcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1
	libcuda.so.1 (libc6,x86-64) => /usr/lib64/libcuda.so.1
	libcudart.so.12 (libc6,x86-64) => /usr/local/cuda/lib64/libcudart.so.12
	libnvidia-egl-wayland.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libnvidia-egl-wayland.so.1
`)
	got := ParseLdconfig(out, "x86-64")
	want := []DriverFile{
		{"/usr/lib/x86_64-linux-gnu/libnvidia-ptxjitcompiler.so.1", LibDir + "/libnvidia-ptxjitcompiler.so.1"},
		{"/usr/local/nvidia/lib64/libnvidia-ml.so.1", LibDir + "/libnvidia-ml.so.1"},
		{"/usr/lib/x86_64-linux-gnu/libcuda.so.1", LibDir + "/libcuda.so.1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseLdconfig = %+v\nwant %+v\n(the 64-bit sonames of driver libraries, first of each; not the .so link, the 32-bit copy, the CUDA runtime or graphics libraries)", got, want)
	}
}

func TestFindBins(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(a, "nvidia-debugdump"), []byte("x"), 0o644) // not executable
	os.WriteFile(filepath.Join(b, "nvidia-debugdump"), []byte("x"), 0o755)
	os.WriteFile(filepath.Join(b, "nvidia-smi"), []byte("x"), 0o755)
	os.WriteFile(filepath.Join(a, "nvidia-smi"), []byte("x"), 0o755)
	got := findBins([]string{a, b})
	want := []DriverFile{{filepath.Join(a, "nvidia-smi"), "/usr/bin/nvidia-smi"}, {filepath.Join(b, "nvidia-debugdump"), "/usr/bin/nvidia-debugdump"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findBins = %+v, want %+v", got, want)
	}
}

// On this host: whatever the loader knows, FindDriver never fails, and
// finds libnvidia-ml exactly where the driver is installed.
func TestFindDriverHost(t *testing.T) {
	log, buf := testLog()
	files := FindDriver(DriverBinDirs, log)
	t.Logf("driver files here: %+v (log %s)", files, buf)
	_, err := os.Stat("/dev/nvidiactl")
	hasNVML := false
	for _, f := range files {
		if filepath.Base(f.Target) == "libnvidia-ml.so.1" {
			hasNVML = true
		}
	}
	if err == nil && !hasNVML {
		t.Errorf("a GPU host, but no libnvidia-ml.so.1 among %+v", files)
	}
}
