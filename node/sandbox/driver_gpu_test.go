package sandbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/node/gpu"
)

// On a GPU host: an image job (busybox plus the host's C library, no
// driver of its own) given GPU 0 and the host driver's files runs the
// real nvidia-smi and sees that one GPU; without the driver files it has
// no nvidia-smi. Skipped where there is no NVIDIA driver.
func TestDriverRealGPU(t *testing.T) {
	if _, err := os.Stat("/dev/nvidiactl"); err != nil {
		t.Skip("no NVIDIA driver here")
	}
	info := gpu.Discover(gpu.NVML{}, nil)
	devs := info.Schedulable()
	files := gpu.FindDriver(gpu.DriverBinDirs, nil)
	if len(devs) == 0 || len(files) == 0 {
		t.Fatalf("GPU host: %d devices, driver files %+v; want both", len(devs), files)
	}
	t.Logf("GPU 0: %s type %q; driver files: %d", devs[0].Name, devs[0].Type, len(files))
	r := newRunner(t)
	rootfs := busyboxRootfs(t)
	// The C library nvidia-smi and the driver's libraries load, from the host.
	out, err := exec.Command("ldd", "/usr/bin/nvidia-smi").Output()
	if err != nil {
		t.Fatalf("ldd nvidia-smi: %v", err)
	}
	libs := []string{"/lib64/ld-linux-x86-64.so.2"}
	for _, l := range strings.Split(string(out), "\n") {
		for _, f := range strings.Fields(l) {
			if strings.HasPrefix(f, "/") {
				libs = append(libs, f)
			}
		}
	}
	for _, extra := range []string{"libdl.so.2", "libpthread.so.0", "librt.so.1", "libm.so.6"} {
		if p, err := filepath.Glob("/lib/x86_64-linux-gnu/" + extra); err == nil && len(p) == 1 {
			libs = append(libs, p[0])
		}
	}
	for _, l := range libs {
		data, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		dst := filepath.Join(rootfs, l)
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var mounts []Mount
	for _, f := range files {
		mounts = append(mounts, Mount{Source: f.Source, Target: f.Target})
	}
	for _, given := range []bool{true, false} {
		spec := imageSpec(t, rootfs, "sh", "-c", `ls /usr/local/nvidia/lib64 2>&1 | tr '\n' ' '; echo; nvidia-smi -L 2>&1 || echo no-smi`)
		spec.Env = append(spec.Env, "CUDA_VISIBLE_DEVICES="+devs[0].UUID)
		spec.Devices = gpu.DevicePaths("/dev", devs[:1])
		if given {
			DriverMounts(&spec, mounts, gpu.LibDir)
		}
		res, out := run(t, r, spec)
		t.Logf("driver given=%v: result %+v\n%s(stderr %q)", given, res, out, readFile(t, spec.Stderr))
		sees := strings.Count(out, "\nGPU 0: ") == 1
		if given && (!sees || !strings.Contains(out, "libcuda.so.1")) {
			t.Errorf("with the driver: want libcuda.so.1 listed and nvidia-smi -L showing one GPU")
		}
		if !given && (sees || !strings.Contains(out, "no-smi")) {
			t.Errorf("without the driver: want no nvidia-smi")
		}
	}
}
