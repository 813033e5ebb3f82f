package gpu

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func testLog() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

// logLines counts the lines Discover logged.
func logLines(buf *bytes.Buffer) int { return strings.Count(buf.String(), "\n") }

func TestDiscoverNoDriver(t *testing.T) {
	log, buf := testLog()
	f := &Fake{InitErr: fmt.Errorf("nvml init: %w (ERROR_LIBRARY_NOT_FOUND)", ErrNoDriver)}
	info := Discover(f, log)
	if !reflect.DeepEqual(info, Info{}) {
		t.Errorf("Discover without a driver = %+v, want no GPUs", info)
	}
	if n := logLines(buf); n != 1 || !strings.Contains(buf.String(), "level=INFO") || !strings.Contains(buf.String(), "no NVIDIA driver") {
		t.Errorf("log = %q, want one INFO line naming the missing driver", buf)
	}
	if info := Discover(nil, log); len(info.GPUs) != 0 {
		t.Errorf("Discover(nil) = %+v, want no GPUs", info)
	}
}

func TestDiscoverInitFails(t *testing.T) {
	log, buf := testLog()
	info := Discover(&Fake{InitErr: errors.New("nvml init: Unknown Error")}, log)
	if len(info.GPUs) != 0 || logLines(buf) != 1 || !strings.Contains(buf.String(), "level=WARN") {
		t.Errorf("Discover with a failing NVML = %+v, log %q; want no GPUs and one warning", info, buf)
	}
}

func TestDiscoverCounts(t *testing.T) {
	for _, n := range []int{0, 1, 8} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			log, buf := testLog()
			f := &Fake{GPUs: FakeGPUs(n), Driver: "580.159.04", CUDA: 13000}
			info := Discover(f, log)
			want := Info{Driver: "580.159.04", CUDA: "13.0", GPUs: FakeGPUs(n)}
			if n == 0 {
				want.GPUs = nil
			}
			if !reflect.DeepEqual(info, want) {
				t.Errorf("Discover = %+v, want %+v", info, want)
			}
			if f.Inited() {
				t.Error("NVML left initialised after Discover")
			}
			if logLines(buf) != 1 {
				t.Errorf("log = %q, want one line", buf)
			}
			if got := len(info.Schedulable()); got != n {
				t.Errorf("Schedulable() = %d GPUs, want %d", got, n)
			}
		})
	}
}

func TestDiscoverMIGAndBadGPU(t *testing.T) {
	gpus := FakeGPUs(3)
	gpus[1].MIG = true
	gpus[1].MIGInstances = []MIGInstance{
		{UUID: "MIG-1", GPUInstance: 1, ComputeInstance: 0, MemoryMiB: 16384},
		{UUID: "MIG-2", GPUInstance: 2, ComputeInstance: 0, MemoryMiB: 16384},
	}
	log, buf := testLog()
	f := &Fake{GPUs: gpus, CUDA: 12040, DeviceErr: map[int]error{2: errors.New("read GPU 2: GPU is lost")}}
	info := Discover(f, log)
	if len(info.GPUs) != 2 || !info.GPUs[1].MIG || len(info.GPUs[1].MIGInstances) != 2 || info.CUDA != "12.4" {
		t.Fatalf("Discover = %+v; want GPUs 0 and 1 (MIG, 2 instances), CUDA 12.4", info)
	}
	if s := info.Schedulable(); len(s) != 1 || s[0].Index != 0 {
		t.Errorf("Schedulable() = %+v, want GPU 0 alone (1 is in MIG mode)", s)
	}
	if !strings.Contains(buf.String(), "GPU is lost") || !strings.Contains(buf.String(), "MIG on, 2 instances") {
		t.Errorf("log = %q, want the lost GPU and the MIG instances named", buf)
	}
}

func TestAllocatorNeverShares(t *testing.T) {
	a := NewAllocator(FakeGPUs(2))
	g1, err := a.Allocate(1, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	g2, err := a.Allocate(2, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(g1) != 1 || len(g2) != 1 || g1[0].Index != 0 || g2[0].Index != 1 {
		t.Fatalf("two 1-GPU jobs got %+v and %+v, want GPU 0 and GPU 1", g1, g2)
	}
	if _, err := a.Allocate(3, 1, ""); !errors.Is(err, ErrNotEnough) || !strings.Contains(err.Error(), "0 of 2 free") {
		t.Errorf("third job's Allocate = %v, want ErrNotEnough saying 0 of 2 free", err)
	}
	if _, err := a.Allocate(1, 1, ""); err == nil {
		t.Error("a second allocation for job 1 succeeded, want an error")
	}
	if g, err := a.Allocate(4, 0, ""); g != nil || err != nil {
		t.Errorf("Allocate(0) = %v, %v; want nothing", g, err)
	}
	a.Release(1)
	g3, err := a.Allocate(3, 1, "")
	if err != nil || g3[0].Index != 0 {
		t.Errorf("after job 1's release job 3 got %+v, %v; want GPU 0", g3, err)
	}
	a.Release(2)
	a.Release(3)
	a.Release(99) // holds nothing: no-op
	if g, err := a.Allocate(5, 2, ""); err != nil || len(g) != 2 || g[0].Index != 0 || g[1].Index != 1 {
		t.Errorf("Allocate(2) on a free node = %+v, %v; want GPUs 0 and 1", g, err)
	}
}

// Concurrent jobs never get the same GPU.
func TestAllocatorConcurrent(t *testing.T) {
	a := NewAllocator(FakeGPUs(8))
	var mu sync.Mutex
	held := map[int]uint64{}
	var wg sync.WaitGroup
	for job := uint64(1); job <= 4; job++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				gs, err := a.Allocate(job, 2, "")
				if err != nil {
					t.Errorf("job %d: %v", job, err)
					return
				}
				mu.Lock()
				for _, g := range gs {
					if other, ok := held[g.Index]; ok {
						t.Errorf("GPU %d given to job %d while job %d holds it", g.Index, job, other)
					}
					held[g.Index] = job
				}
				mu.Unlock()
				mu.Lock()
				for _, g := range gs {
					delete(held, g.Index)
				}
				mu.Unlock()
				a.Release(job)
			}
		}()
	}
	wg.Wait()
}

func TestDevicePathsAndEnv(t *testing.T) {
	dev := t.TempDir()
	for _, name := range []string{"nvidiactl", "nvidia-uvm"} { // no uvm-tools, no modeset here
		if err := os.WriteFile(filepath.Join(dev, name), nil, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	gpus := FakeGPUs(4)
	gpus[3].Minor = 7 // minors need not follow indexes
	mine := []GPU{gpus[1], gpus[3]}
	want := []string{dev + "/nvidia1", dev + "/nvidia7", dev + "/nvidiactl", dev + "/nvidia-uvm"}
	if got := DevicePaths(dev, mine); !reflect.DeepEqual(got, want) {
		t.Errorf("DevicePaths = %q, want %q", got, want)
	}
	if got := DevicePaths(dev, nil); got != nil {
		t.Errorf("DevicePaths(no GPUs) = %q, want none", got)
	}
	uuids := gpus[1].UUID + "," + gpus[3].UUID
	wantEnv := map[string]string{"CUDA_VISIBLE_DEVICES": uuids, "NVIDIA_VISIBLE_DEVICES": uuids,
		"GPU_DEVICE_ORDINAL": uuids, "SLURM_JOB_GPUS": "1,3"}
	if got := Env(mine); !reflect.DeepEqual(got, wantEnv) {
		t.Errorf("Env = %v, want %v", got, wantEnv)
	}
	if got := Env(nil); got != nil {
		t.Errorf("Env(no GPUs) = %v, want none", got)
	}
}

// The real library on a host without the driver: no GPUs, no failure. On
// a GPU host it finds them (the device check prints what).
func TestNVMLHost(t *testing.T) {
	log, buf := testLog()
	info := Discover(NVML{}, log)
	t.Logf("NVML here: %+v; log %s", info, buf)
	_, err := os.Stat("/dev/nvidiactl")
	switch {
	case err != nil && len(info.GPUs) != 0:
		t.Errorf("found %d GPUs on a host without /dev/nvidiactl", len(info.GPUs))
	case err == nil && len(info.GPUs) == 0:
		t.Errorf("found no GPUs on a host with /dev/nvidiactl (log %s)", buf)
	}
	for _, g := range info.GPUs {
		if !strings.HasPrefix(g.UUID, "GPU-") || g.Name == "" || g.MemoryMiB == 0 || g.ComputeCapability == "" {
			t.Errorf("GPU %+v: want a GPU- UUID, a name, memory and a compute capability", g)
		}
	}
	if logLines(buf) != 1 {
		t.Errorf("log = %q, want one line", buf)
	}
}

// A job recovered after a daemon restart claims the very GPUs it held, and
// a new job then gets the others, never one of those.
func TestAllocatorClaim(t *testing.T) {
	gpus := FakeGPUs(2)
	a := NewAllocator(gpus)
	held, err := a.Claim(7, []string{gpus[1].UUID})
	if err != nil || len(held) != 1 || held[0].Index != 1 {
		t.Fatalf("Claim(GPU 1) = %+v, %v; want GPU 1", held, err)
	}
	if g, err := a.Allocate(8, 1, ""); err != nil || g[0].Index != 0 {
		t.Errorf("a new job after the claim got %+v, %v; want GPU 0", g, err)
	}
	if _, err := a.Claim(9, []string{gpus[0].UUID}); err == nil || !strings.Contains(err.Error(), "job 8 holds it") {
		t.Errorf("claiming job 8's GPU = %v; want refused, naming job 8", err)
	}
	if _, err := a.Claim(9, []string{"GPU-not-here"}); err == nil {
		t.Error("claiming a GPU the node does not have succeeded")
	}
	if g, err := a.Claim(9, nil); g != nil || err != nil {
		t.Errorf("Claim(nothing) = %v, %v; want nothing", g, err)
	}
}
