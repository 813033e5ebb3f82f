package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// TestEff: the summary of a finished CPU job, a GPU job, a GPU job whose
// GPUs could not be read, a running job and a job that never ran.
func TestEff(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	at := func(secsAgo int64) int64 { return now.UnixMilli() - secsAgo*1000 }
	zero := 0
	base := func(id uint64, cpus int, memMB int64) api.Job {
		return api.Job{ID: id, User: "alice", UID: 1000, GID: 1000, Node: "n1", State: api.StateSucceeded, ExitCode: &zero,
			StartedAt: at(100), StoppedAt: at(40),
			JobSpec: api.JobSpec{Name: "job", Resources: api.Resources{CPUs: cpus, MemoryMB: memMB}}}
	}
	cpuJob := base(7, 2, 1024)
	cpuJob.Usage = &api.JobUsage{MaxRSSBytes: 52 << 20, CPUSeconds: 90}

	gpuJob := base(8, 4, 0)
	gpuJob.Usage = &api.JobUsage{MaxRSSBytes: 3 << 30, CPUSeconds: 60,
		GPUs:       []api.UsedGPU{{Index: 0, UUID: "GPU-aaaa"}, {Index: 3, UUID: "GPU-dddd"}},
		GPUSeconds: 120, GPUSamples: 24, GPUUtilMeanPercent: 71.25, GPUUtilMaxPercent: 99, GPUMemMaxBytes: 40 << 30}

	unsampled := base(9, 1, 512)
	unsampled.State, unsampled.ExitCode, unsampled.StatusReason = api.StateFailed, intPtr(3), api.ReasonNonZeroExit
	unsampled.Usage = &api.JobUsage{MaxRSSBytes: 1 << 20, GPUs: []api.UsedGPU{{Index: 0, UUID: "GPU-aaaa"}}, GPUSeconds: 60}

	running := base(10, 1, 512)
	running.State, running.StoppedAt, running.ExitCode = api.StateRunning, 0, nil

	never := base(11, 1, 512)
	never.State, never.StatusReason, never.StartedAt, never.ExitCode, never.Node = api.StateFailed, "Cancelled by user", 0, nil, ""

	for _, c := range []struct {
		name string
		job  api.Job
		want string
	}{
		{"cpu", cpuJob, `Job ID: 7
Job Name: job
User/Group: alice/1000
State: SUCCEEDED (exit code 0)
Node: n1
Cores: 2
CPU Utilized: 00:01:30
CPU Efficiency: 75.00% of 00:02:00 core-walltime
Job Wall-clock time: 00:01:00
Memory Utilized: 52.00 MB
Memory Efficiency: 5.08% of 1.00 GB
`},
		{"gpu", gpuJob, `Job ID: 8
Job Name: job
User/Group: alice/1000
State: SUCCEEDED (exit code 0)
Node: n1
Cores: 4
CPU Utilized: 00:01:00
CPU Efficiency: 25.00% of 00:04:00 core-walltime
Job Wall-clock time: 00:01:00
Memory Utilized: 3.00 GB
Memory Efficiency: not applicable (no memory limit asked for)
GPUs: 2 (0 GPU-aaaa, 3 GPU-dddd)
GPU-seconds: 120.0
GPU Utilization (SM): 71.2% mean, 99% max over 24 readings
GPU Memory Utilized: 40.00 GB (the most on one GPU)
`},
		{"unsampled", unsampled, `Job ID: 9
Job Name: job
User/Group: alice/1000
State: FAILED (exit code 3: Essential container in task exited)
Node: n1
Cores: 1
CPU Utilized: 00:00:00
CPU Efficiency: 0.00% of 00:01:00 core-walltime
Job Wall-clock time: 00:01:00
Memory Utilized: 1.00 MB
Memory Efficiency: 0.20% of 512.00 MB
GPUs: 1 (0 GPU-aaaa)
GPU-seconds: 60.0
GPU Utilization (SM): not sampled (NVML could not be read on the node)
`},
		{"running", running, `Job ID: 10
Job Name: job
User/Group: alice/1000
State: RUNNING
Node: n1
Cores: 1
Job Wall-clock time: 00:01:40
Usage: not recorded yet (figures come from the node when the job ends)
`},
		{"never", never, `Job ID: 11
Job Name: job
User/Group: alice/1000
State: FAILED (Cancelled by user)
Cores: 1
Job Wall-clock time: 00:00:00
Usage: not recorded (the job did not run, or its node was lost before it reported)
`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := writeEff(&b, &c.job, now); err != nil {
				t.Fatalf("writeEff: %v", err)
			}
			if got := b.String(); got != c.want {
				t.Errorf("got\n%s\nwant\n%s\ndiff at %q", got, c.want, firstDiff(got, c.want))
			}
		})
	}
}

func intPtr(i int) *int { return &i }

// firstDiff is the rest of got from where it first differs from want.
func firstDiff(got, want string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return got[i:]
		}
	}
	return strings.TrimPrefix(got, want)
}
