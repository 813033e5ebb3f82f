package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDriverMountsSpec(t *testing.T) {
	files := []Mount{{Source: "/host/libcuda.so.1", Target: "/usr/local/nvidia/lib64/libcuda.so.1"}}
	for _, c := range []struct {
		name   string
		rootfs string
		env    []string
		files  []Mount
		mounts int
		ld     string
	}{
		{"image, no LD_LIBRARY_PATH", "/img", []string{"PATH=/bin"}, files, 1, "/usr/local/nvidia/lib64"},
		{"image with its own path", "/img", []string{"LD_LIBRARY_PATH=/opt/lib"}, files, 1, "/usr/local/nvidia/lib64:/opt/lib"},
		{"CUDA image: named already", "/img", []string{"LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64"}, files, 1,
			"/usr/local/nvidia/lib:/usr/local/nvidia/lib64"},
		{"host job", "", []string{"PATH=/bin"}, files, 0, ""},
		{"no driver files", "/img", []string{"PATH=/bin"}, nil, 0, ""},
	} {
		spec := Spec{Rootfs: c.rootfs, Env: c.env}
		DriverMounts(&spec, c.files, "/usr/local/nvidia/lib64")
		if len(spec.Mounts) != c.mounts {
			t.Errorf("%s: %d mounts, want %d", c.name, len(spec.Mounts), c.mounts)
		}
		for _, m := range spec.Mounts {
			if !m.ReadOnly || !m.NodeSource {
				t.Errorf("%s: mount %+v, want read-only and the node's", c.name, m)
			}
		}
		ld := ""
		for _, kv := range spec.Env {
			if v, ok := cutEnv(kv, "LD_LIBRARY_PATH"); ok {
				ld = v
			}
		}
		if ld != c.ld {
			t.Errorf("%s: LD_LIBRARY_PATH %q, want %q", c.name, ld, c.ld)
		}
	}
}

// A user's mount whose target holds where the node mounts the driver's
// files is refused, and the error says so (not "an earlier mount" of a
// file the user never named).
func TestDriverMountsUnderUserMount(t *testing.T) {
	spec := Spec{ID: "j1", Argv: []string{"true"}, Dir: "/", Stdout: "/o", Stderr: "/e", Rootfs: "/img",
		Mounts: []Mount{{Source: "/data", Target: "/usr/local"}}}
	DriverMounts(&spec, []Mount{{Source: "/host/libcuda.so.1", Target: "/usr/local/nvidia/lib64/libcuda.so.1"}}, "/usr/local/nvidia/lib64")
	err := spec.validate()
	if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), `mount target "/usr/local" holds "/usr/local/nvidia/lib64/libcuda.so.1", where the node mounts the GPU driver's files`) {
		t.Errorf("validate = %v, want ErrInvalidSpec naming the user's target and the driver's", err)
	}
}

func cutEnv(kv, key string) (string, bool) {
	if len(kv) > len(key) && kv[:len(key)+1] == key+"=" {
		return kv[len(key)+1:], true
	}
	return "", false
}

// An image job given the driver's files sees them read-only where
// nvidia-container-toolkit puts them, even where their host directory is
// root's alone (the node chose them, not the user); a job without sees
// none of them.
func TestDriverMountsInImage(t *testing.T) {
	r := newRunner(t)
	rootfs := busyboxRootfs(t)
	drv := scratchDir(t)
	os.Chmod(drv, 0o700) // the job's user could not reach it
	lib := filepath.Join(drv, "libcuda.so.580.159.04")
	os.WriteFile(lib, []byte("fake libcuda\n"), 0o755)
	os.Symlink(filepath.Base(lib), filepath.Join(drv, "libcuda.so.1"))
	os.WriteFile(filepath.Join(drv, "libnvidia-ml.so.1"), []byte("fake nvml\n"), 0o755)
	smi := filepath.Join(drv, "nvidia-smi")
	os.WriteFile(smi, []byte("#!/bin/sh\necho fake nvidia-smi \"$@\"\n"), 0o755)
	files := []Mount{
		{Source: filepath.Join(drv, "libcuda.so.1"), Target: "/usr/local/nvidia/lib64/libcuda.so.1"},
		{Source: filepath.Join(drv, "libnvidia-ml.so.1"), Target: "/usr/local/nvidia/lib64/libnvidia-ml.so.1"},
		{Source: smi, Target: "/usr/bin/nvidia-smi"},
	}
	script := `cat /usr/local/nvidia/lib64/libcuda.so.1 /usr/local/nvidia/lib64/libnvidia-ml.so.1 2>&1
/usr/bin/nvidia-smi -L 2>&1
echo "LD=$LD_LIBRARY_PATH"
echo x > /usr/local/nvidia/lib64/libcuda.so.1 2>/dev/null && echo lib-written || echo lib-read-only`
	for _, given := range []bool{true, false} {
		spec := imageSpec(t, rootfs, "sh", "-c", script)
		spec.UID, spec.GID = 4243, 4243
		os.Chown(filepath.Dir(spec.Stdout), 4243, 4243)
		want := "cat: can't open '/usr/local/nvidia/lib64/libcuda.so.1': No such file or directory\n" +
			"cat: can't open '/usr/local/nvidia/lib64/libnvidia-ml.so.1': No such file or directory\n" +
			"sh: /usr/bin/nvidia-smi: not found\nLD=\nlib-read-only\n" // no directory to write in
		if given {
			DriverMounts(&spec, files, "/usr/local/nvidia/lib64")
			want = "fake libcuda\nfake nvml\nfake nvidia-smi -L\nLD=/usr/local/nvidia/lib64\nlib-read-only\n"
		}
		res, out := run(t, r, spec)
		if res != (Result{}) || out != want {
			t.Errorf("driver given=%v: result %+v, output:\n%s\nwant:\n%s\nstderr %q", given, res, out, want, readFile(t, spec.Stderr))
		}
	}
	if got, _ := os.ReadFile(lib); !reflect.DeepEqual(got, []byte("fake libcuda\n")) {
		t.Errorf("the host's library now holds %q", got)
	}
}
