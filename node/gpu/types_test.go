package gpu

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestTypeName(t *testing.T) {
	for model, want := range map[string]string{
		"NVIDIA H200":                    "h200",
		"NVIDIA H200 NVL":                "h200",
		"NVIDIA H100 80GB HBM3":          "h100",
		"NVIDIA H100 PCIe":               "h100",
		"NVIDIA A100-SXM4-80GB":          "a100",
		"NVIDIA A100-PCIE-40GB":          "a100",
		"NVIDIA A100 80GB PCIe":          "a100",
		"Tesla V100-SXM2-16GB":           "v100",
		"Tesla T4":                       "t4",
		"Tesla P100-PCIE-16GB":           "p100",
		"NVIDIA L40S":                    "l40s",
		"NVIDIA A10G":                    "a10g",
		"NVIDIA GH200 480GB":             "gh200",
		"NVIDIA B200":                    "b200",
		"NVIDIA GeForce RTX 4090":        "rtx4090",
		"NVIDIA GeForce RTX 3080 Ti":     "rtx3080ti",
		"NVIDIA GeForce GTX 1080 Ti":     "gtx1080ti",
		"NVIDIA RTX A6000":               "rtxa6000",
		"NVIDIA RTX 6000 Ada Generation": "rtx6000ada",
		"Quadro RTX 8000":                "rtx8000",
		"NVIDIA TITAN V":                 "titanv",
		"NVIDIA":                         "",
		"":                               "",
	} {
		if got := TypeName(model); got != want {
			t.Errorf("TypeName(%q) = %q, want %q", model, got, want)
		}
	}
	for name, want := range map[string]string{
		"NVIDIA H200 MIG 1g.18gb":              "1g.18gb",
		"NVIDIA A100-SXM4-40GB MIG 3g.20gb":    "3g.20gb",
		"NVIDIA H100 80GB HBM3 MIG 1g.10gb+me": "1g.10gbme",
		"NVIDIA H200":                          "",
	} {
		if got := MIGProfile(name); got != want {
			t.Errorf("MIGProfile(%q) = %q, want %q", name, got, want)
		}
	}
}

// Discover types each GPU from its model; a node's counts are by type.
func TestDiscoverTypes(t *testing.T) {
	gpus := FakeGPUs(3)
	gpus[0].Name, gpus[0].Type = "NVIDIA A100-SXM4-80GB", ""
	gpus[1].Name, gpus[1].Type = "NVIDIA A100-SXM4-80GB", ""
	gpus[2].Type = ""
	log, _ := testLog()
	info := Discover(&Fake{GPUs: gpus}, log)
	var types []string
	for _, g := range info.GPUs {
		types = append(types, g.Type)
	}
	if !reflect.DeepEqual(types, []string{"a100", "a100", "h200"}) {
		t.Errorf("types = %q, want a100 a100 h200", types)
	}
	if c := Counts(info.Schedulable()); c != "a100:2,h200:1" {
		t.Errorf("Counts = %q, want a100:2,h200:1", c)
	}
}

func TestAllocateTyped(t *testing.T) {
	gpus := FakeGPUs(4)
	for i := range 2 {
		gpus[i].Name, gpus[i].Type = "NVIDIA A100-SXM4-80GB", "a100"
	}
	a := NewAllocator(gpus) // 0, 1: a100; 2, 3: h200
	g, err := a.Allocate(1, 1, "h200:1")
	if err != nil || len(g) != 1 || g[0].Index != 2 {
		t.Fatalf("h200:1 got %+v, %v; want GPU 2, the first h200", g, err)
	}
	g, err = a.Allocate(2, 2, "a100:1") // one a100, one of any
	if err != nil || len(g) != 2 || g[0].Index != 0 || g[1].Index != 1 {
		t.Fatalf("a100:1 + 1 any got %+v, %v; want GPUs 0 and 1", g, err)
	}
	if _, err := a.Allocate(3, 1, "a100:1"); !errors.Is(err, ErrNotEnough) || !strings.Contains(err.Error(), "1 of type a100") {
		t.Errorf("a100:1 with none free: %v, want ErrNotEnough naming a100", err)
	}
	if g, err := a.Allocate(3, 1, ""); err != nil || g[0].Index != 3 {
		t.Errorf("any 1 got %+v, %v; want GPU 3", g, err)
	}
	if _, err := a.Allocate(4, 1, "h200:2"); err == nil {
		t.Error("2 typed of 1 in all: allocated, want an error")
	}
	a.Release(1)
	if _, err := a.Allocate(5, 1, "v100:1"); !errors.Is(err, ErrNotEnough) {
		t.Errorf("v100 on a node without: %v, want ErrNotEnough", err)
	}
	if g, err := a.Allocate(5, 1, "h200:1"); err != nil || g[0].Index != 2 {
		t.Errorf("after release h200:1 got %+v, %v; want GPU 2", g, err)
	}
}

// MIG: a GPU in MIG mode is offered as its instances, each a device of its
// own with its profile as type; a job given one gets the GPU's device
// node, the instance's two capability devices and the instance's UUID.
func TestMIGDevices(t *testing.T) {
	gpus := FakeGPUs(2)
	gpus[1] = FakeMIG(gpus[1], "3g.71gb", "1g.18gb", "1g.18gb")
	gpus[1].MIGInstances[2].GICap = 0 // unreadable caps: left out
	info := Info{GPUs: gpus}
	devs := info.Schedulable()
	var got []string
	for _, d := range devs {
		got = append(got, d.Type+"/"+d.UUID)
	}
	want := []string{"h200/" + gpus[0].UUID, "3g.71gb/" + gpus[1].MIGInstances[0].UUID, "1g.18gb/" + gpus[1].MIGInstances[1].UUID}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Schedulable = %q, want %q", got, want)
	}
	if c := Counts(devs); c != "1g.18gb:1,3g.71gb:1,h200:1" {
		t.Errorf("Counts = %q", c)
	}
	a := NewAllocator(devs)
	mine, err := a.Allocate(7, 1, "1g.18gb:1")
	if err != nil || len(mine) != 1 || mine[0].Instance == nil {
		t.Fatalf("1g.18gb:1 got %+v, %v; want the MIG instance", mine, err)
	}
	dev := t.TempDir()
	os.WriteFile(filepath.Join(dev, "nvidiactl"), nil, 0o666)
	inst := gpus[1].MIGInstances[1]
	wantPaths := []string{dev + "/nvidia1", dev + "/nvidia-caps/nvidia-cap120", dev + "/nvidia-caps/nvidia-cap121", dev + "/nvidiactl"}
	if p := DevicePaths(dev, mine); !reflect.DeepEqual(p, wantPaths) {
		t.Errorf("DevicePaths = %q, want %q", p, wantPaths)
	}
	if e := Env(mine); e["CUDA_VISIBLE_DEVICES"] != inst.UUID || e["SLURM_JOB_GPUS"] != "1" {
		t.Errorf("Env = %v, want CUDA_VISIBLE_DEVICES=%s and SLURM_JOB_GPUS=1", e, inst.UUID)
	}
	// Two instances of one GPU: its device node once.
	both, err := a.Allocate(8, 2, "")
	if err != nil || len(both) != 2 || both[0].Index != 0 || both[1].Instance == nil {
		t.Fatalf("2 any got %+v, %v; want GPU 0 and the 3g instance", both, err)
	}
	a.Release(7)
	two, _ := a.Allocate(9, 1, "")
	p := DevicePaths(dev, append(two, both[1]))
	if strings.Count(strings.Join(p, " "), dev+"/nvidia1 ") != 1 {
		t.Errorf("DevicePaths of two instances of GPU 1 = %q, want /dev/nvidia1 once", p)
	}
}

func TestResolveMIGCaps(t *testing.T) {
	proc := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(proc, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	write("gpu3/mig/gi1/access", "DeviceFileMinor: 12\nDeviceFileMode: 292\nDeviceFileModify: 1\n")
	write("gpu3/mig/gi1/ci0/access", "DeviceFileMinor: 13\nDeviceFileMode: 292\n")
	write("gpu3/mig/gi2/access", "DeviceFileMinor: 21\n") // its ci file is missing
	g := FakeGPUs(1)[0]
	g.Minor = 3
	g = FakeMIG(g, "1g.18gb", "1g.18gb")
	gpus := []GPU{FakeGPUs(1)[0], g}
	log, buf := testLog()
	ResolveMIGCaps(proc, gpus, log)
	if m := gpus[1].MIGInstances; m[0].GICap != 12 || m[0].CICap != 13 || m[1].GICap != 0 || m[1].CICap != 0 {
		t.Errorf("caps = %+v, want 12/13 and unknown (0/0) for the second", m)
	}
	if !strings.Contains(buf.String(), "not offered") || strings.Count(buf.String(), "\n") != 1 {
		t.Errorf("log = %q, want one warning for the second instance", buf)
	}
	if n := len(Info{GPUs: gpus}.Schedulable()); n != 2 {
		t.Errorf("Schedulable: %d devices, want 2 (GPU 0 and the first instance)", n)
	}
}
