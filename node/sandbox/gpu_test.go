package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	devices "github.com/opencontainers/cgroups/devices/config"
	"golang.org/x/sys/unix"
)

// fakeMajor is a character major that no driver registers: Linux keeps
// 60-63 for local and experimental use. Opening a node of it gives ENXIO
// where the device cgroup lets the open through, EPERM where it does not,
// which tells the two apart without a GPU.
const fakeMajor = 60

// fakeGPUNodes makes n character device nodes, dir/nvidia<i> (fakeMajor:i,
// mode 0666, as the NVIDIA driver makes its own).
func fakeGPUNodes(t testing.TB, dir string, n int) []string {
	t.Helper()
	var out []string
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("nvidia%d", i))
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(fakeMajor, uint32(i)))); err != nil {
			t.Fatalf("mknod %s: %v", p, err)
		}
		if err := os.Chmod(p, 0o666); err != nil { // past the umask
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// openScript tries to open each path for reading and prints, per path,
// "open" or the reason it failed: ENXIO (allowed, no driver) reads
// "No such device or address", a denied one "Operation not permitted".
func openScript() []string {
	return []string{"sh", "-c", `for d in "$@"; do
if err=$(head -c0 "$d" 2>&1 >/dev/null); then echo open; else case "$err" in
*"No such device"*) echo ENXIO;; *"not permitted"*) echo EPERM;; *) echo "$err";; esac; fi
done`, "sh"}
}

// A job opens exactly the devices of its Spec: two jobs given one fake GPU
// each reach their own and not the other's, a job given none reaches
// neither; the sandbox's own devices still work for all three.
func TestDevicesOnlyTheJobs(t *testing.T) {
	r := newRunner(t)
	dir := scratchDir(t)
	os.Chmod(dir, 0o755) // for the job's user
	nodes := fakeGPUNodes(t, dir, 2)
	for _, tc := range []struct {
		devices []string
		want    string
	}{
		{nodes[:1], "ENXIO\nEPERM\nopen\n"},
		{nodes[1:], "EPERM\nENXIO\nopen\n"},
		{nil, "EPERM\nEPERM\nopen\n"},
	} {
		spec := baseSpec(t, append(openScript(), nodes[0], nodes[1], "/dev/null")...)
		spec.Devices = tc.devices
		spec.UID, spec.GID = 65534, 65534 // nobody: mode 0666 lets anyone try
		os.Chmod(spec.Dir, 0o777)         // its output files are made there as nobody
		res, out := run(t, r, spec)
		if res != (Result{}) || out != tc.want {
			t.Errorf("job with devices %q: result %+v, opens of %q:\n%s\nwant:\n%s(stderr %q)",
				tc.devices, res, append(nodes, "/dev/null"), out, tc.want, readFile(t, spec.Stderr))
		}
	}
}

// An image job's private /dev gets a node of each of its devices, which it
// can open; one it was not given is neither there nor allowed.
func TestImageJobDevices(t *testing.T) {
	r := newRunner(t)
	rootfs := busyboxRootfs(t)
	// Image job devices must be under /dev: make two fake ones there.
	var nodes []string
	for i := range 2 {
		p := fmt.Sprintf("/dev/shoal-test-%d-%d", os.Getpid(), i)
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(fakeMajor, uint32(i)))); err != nil {
			t.Fatalf("mknod %s: %v", p, err)
		}
		t.Cleanup(func() { os.Remove(p) })
		nodes = append(nodes, p)
	}
	spec := imageSpec(t, rootfs, "sh", "-c", `[ -c "$1" ] && echo "$1 there"; [ -e "$2" ] || echo "$2 absent"
head -c0 "$1" 2>&1 >/dev/null | grep -o 'No such device or address'`, "sh", nodes[0], nodes[1])
	spec.Devices = nodes[:1]
	res, out := run(t, r, spec)
	want := nodes[0] + " there\n" + nodes[1] + " absent\nNo such device or address\n"
	if res != (Result{}) || out != want {
		t.Errorf("image job with device %s: result %+v, output:\n%s\nwant:\n%s(stderr %q)",
			nodes[0], res, out, want, readFile(t, spec.Stderr))
	}
}

// The job's device rules, as libcontainer gets them: deny-all, the
// defaults, then exactly the Spec's devices, read-write; the shared
// default list is left as it was.
func TestDeviceRules(t *testing.T) {
	r := &Runner{CgroupParent: "p"}
	nodes := fakeGPUNodes(t, t.TempDir(), 3)
	spec := baseSpec(t, "true")
	spec.Devices = []string{nodes[2], nodes[0]}
	if err := spec.validate(); err != nil {
		t.Fatal(err)
	}
	before := len(deviceRules)
	cfg := r.config(&spec, "h", "/", nil)
	rules := cfg.Cgroups.Resources.Devices
	if len(deviceRules) != before {
		t.Fatalf("the shared default rules grew from %d to %d", before, len(deviceRules))
	}
	if rules[0].Allow || rules[0].Type != devices.WildcardDevice {
		t.Errorf("first rule %+v, want deny-all", rules[0])
	}
	got := rules[len(rules)-2:]
	for i, minor := range []int64{2, 0} {
		if want := (devices.Rule{Type: devices.CharDevice, Major: fakeMajor, Minor: minor, Permissions: "rw", Allow: true}); *got[i] != want {
			t.Errorf("rule %d = %+v, want %+v", i, *got[i], want)
		}
	}
	for _, rule := range rules[:len(rules)-2] {
		if rule.Major == fakeMajor {
			t.Errorf("rule %+v among the defaults", rule)
		}
	}
	if cfg.Devices != nil {
		t.Errorf("a host job's config creates device nodes %v, want none (its /dev is the host's)", cfg.Devices)
	}

	// Without devices: the defaults alone.
	plain := baseSpec(t, "true")
	if err := plain.validate(); err != nil {
		t.Fatal(err)
	}
	if got := r.config(&plain, "h", "/", nil).Cgroups.Resources.Devices; len(got) != before {
		t.Errorf("a job without devices has %d rules, want the %d defaults", len(got), before)
	}

	// An image job: the nodes are created in its /dev too.
	img := baseSpec(t, "true")
	img.Rootfs, img.Devices = "/srv/image", []string{"/dev/null"}
	if err := img.validate(); err != nil {
		t.Fatal(err)
	}
	cfg = r.config(&img, "h", "/srv/image", nil)
	if !slices.ContainsFunc(cfg.Devices, func(d *devices.Device) bool { return d.Path == "/dev/null" && d.Major == 1 && d.Minor == 3 }) ||
		len(cfg.Devices) != len(imageDevices)+1 {
		t.Errorf("image job devices %v, want the %d defaults and /dev/null", cfg.Devices, len(imageDevices))
	}
}

func TestDevicesValidated(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	node := fakeGPUNodes(t, dir, 1)[0]
	for _, tc := range []struct {
		rootfs, dev, want string
	}{
		{"", "nvidia0", "clean absolute path"},
		{"", dir + "/../x/nvidia0", "clean absolute path"},
		{"", file, "not a character or block device"},
		{"", dir + "/missing", "no such file"},
		{"/srv/image", node, "must be under /dev"},
	} {
		spec := baseSpec(t, "true")
		spec.Rootfs, spec.Devices = tc.rootfs, []string{tc.dev}
		err := spec.validate()
		if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("device %q (rootfs %q): %v, want ErrInvalidSpec saying %q", tc.dev, tc.rootfs, err, tc.want)
		}
	}
}

// On a host with the NVIDIA driver (the device check runs this): a job
// given /dev/nvidia0 and the control devices sees exactly one GPU through
// nvidia-smi; a job given none cannot open /dev/nvidia0, and nvidia-smi
// finds no GPU in it.
func TestRealGPU(t *testing.T) {
	if _, err := os.Stat("/dev/nvidia0"); err != nil {
		t.Skipf("no NVIDIA GPU here: %v", err)
	}
	smi, err := exec.LookPath("nvidia-smi")
	if err != nil {
		t.Skipf("no nvidia-smi: %v", err)
	}
	r := newRunner(t)
	devs := []string{"/dev/nvidia0"}
	for _, name := range []string{"nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset"} {
		if _, err := os.Stat("/dev/" + name); err == nil {
			devs = append(devs, "/dev/"+name)
		}
	}
	spec := baseSpec(t, smi, "-L")
	spec.Devices = devs
	res, out := run(t, r, spec)
	t.Logf("nvidia-smi -L in a job given %q:\n%s", devs, out)
	if res != (Result{}) || strings.Count("\n"+out, "\nGPU ") != 1 {
		t.Errorf("job given GPU 0: result %+v, output %q (stderr %q); want exit 0 and one GPU", res, out, readFile(t, spec.Stderr))
	}

	spec = baseSpec(t, "sh", "-c", `head -c0 /dev/nvidia0 2>&1 >/dev/null | grep -o 'not permitted'
"$0" -L >/dev/null 2>&1 && echo found a GPU || echo no GPU`, smi)
	res, out = run(t, r, spec)
	if want := "not permitted\nno GPU\n"; res != (Result{}) || out != want {
		t.Errorf("job without GPUs: result %+v, output %q, want %q (stderr %q)", res, out, want, readFile(t, spec.Stderr))
	}
}
