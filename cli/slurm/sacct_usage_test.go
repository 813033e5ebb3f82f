package slurm

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// TestConvertNumUnit: sizes print as Slurm 22.05's convert_num_unit with
// CONVERT_NUM_UNIT_EXACT (sacct's default) prints them.
func TestConvertNumUnit(t *testing.T) {
	for _, c := range []struct {
		in   int64
		want string
	}{
		{0, "0"}, {1, "1"}, {1023, "1023"}, {1024, "1K"}, {1536, "1.50K"}, {4097, "4097"},
		{1263616, "1234K"}, {50 << 20, "50M"}, {52 << 20, "52M"}, {1<<30 + 1<<29, "1.50G"},
		{143771 << 20, "143771M"}, {3 << 40, "3T"}, {4 << 50, "4P"}, {4 << 60, "4096P"},
	} {
		if got := convertNumUnit(c.in); got != c.want {
			t.Errorf("convertNumUnit(%d) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestElapsedCPU: CPU times print as sacct's TotalCPU prints them.
func TestElapsedCPU(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{
		{0, "00:00:00"}, {0.0004, "00:00:00"}, {0.002, "00:00.002"}, {1.234, "00:01.234"}, {61, "00:01:01"},
		{61.5, "01:01.500"}, {3600.25, "01:00:00"}, {86400*2 + 3723, "2-01:02:03"},
	} {
		if got := elapsedCPU(c.in); got != c.want {
			t.Errorf("elapsedCPU(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestSacctUsage: the usage a job's node reported shows on its batch step
// line (and TotalCPU on both lines) in Slurm's formats; a job without a
// usage record keeps those fields empty; GPU figures appear for GPU jobs
// only.
func TestSacctUsage(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC)
	ms := func(min int) int64 { return now.Add(time.Duration(-min) * time.Minute).UnixMilli() }
	job := func(id uint64, name string, gpus int, u *api.JobUsage) api.Job {
		return api.Job{ID: id, User: "alice", UID: 1000, GID: 1000, State: api.StateSucceeded, ExitCode: intp(0),
			Node: "gpu1", CreatedAt: ms(20), StartedAt: ms(10), StoppedAt: ms(5), Usage: u,
			JobSpec: api.JobSpec{Name: name, Queue: "gpu", Resources: api.Resources{CPUs: 2, MemoryMB: 4096, GPUs: gpus}}}
	}
	jobs := []api.Job{
		job(1, "train", 2, &api.JobUsage{MaxRSSBytes: 1263616, CPUSeconds: 73.25,
			GPUs:       []api.UsedGPU{{Index: 0, UUID: "GPU-a"}, {Index: 1, UUID: "GPU-b"}},
			GPUSeconds: 600, GPUSamples: 120, GPUUtilMeanPercent: 62.6, GPUUtilMaxPercent: 97, GPUMemMaxBytes: 40 << 30}),
		job(2, "prep", 0, &api.JobUsage{MaxRSSBytes: 52 << 20, CPUSeconds: 1.234}),
		job(3, "lost", 0, nil),
	}
	fields := "JobID,MaxRSS,AveRSS,MaxRSSNode,MaxRSSTask,AveCPU,MinCPU,TotalCPU,TRESUsageInAve,TRESUsageInMax,TRESUsageInTot,TRESUsageInMaxNode,TRESUsageInMaxTask,UserCPU,MaxVMSize"
	want := strings.Join([]string{
		strings.ReplaceAll(fields, ",", "|"),
		"1|||||||01:13.250|||||||",
		"1.batch|1234K|1234K|gpu1|0|00:01:13|00:01:13|01:13.250|" +
			"cpu=00:01:13,gres/gpumem=40G,gres/gpuutil=63,mem=1234K|cpu=00:01:13,gres/gpumem=40G,gres/gpuutil=97,mem=1234K|" +
			"cpu=00:01:13,gres/gpumem=40G,gres/gpuutil=97,mem=1234K|cpu=gpu1,gres/gpumem=gpu1,gres/gpuutil=gpu1,mem=gpu1|" +
			"cpu=0,gres/gpumem=0,gres/gpuutil=0,mem=0||",
		"2|||||||00:01.234|||||||",
		"2.batch|52M|52M|gpu1|0|00:00:01|00:00:01|00:01.234|cpu=00:00:01,mem=52M|cpu=00:00:01,mem=52M|cpu=00:00:01,mem=52M|cpu=gpu1,mem=gpu1|cpu=0,mem=0||",
		"3" + strings.Repeat("|", 14),
		"3.batch" + strings.Repeat("|", 14),
	}, "\n") + "\n"

	f := &viewFake{jobs: jobs, now: now}
	var stdout, stderr bytes.Buffer
	c := &Ctx{Client: f, Stdout: &stdout, Stderr: &stderr, Stdin: strings.NewReader(""),
		Env: []string{"USER=root"}, Now: func() time.Time { return now },
		Getwd: func() (string, error) { return "/root", nil }, Hostname: "vm", User: "root"}
	if rc := Sacct(c, []string{"-P", "-a", "-j", "1,2,3", "-o", fields}); rc != 0 {
		t.Fatalf("sacct: rc %d, stderr %s", rc, stderr.String())
	}
	if got := stdout.String(); got != want {
		t.Errorf("sacct printed\n%s\nwant\n%s", got, want)
	}
}

// TestSacctJSONTotalCPU: sacct --json carries the job's CPU time in its
// time.total block, on the job and its batch step, once it is known.
func TestSacctJSONTotalCPU(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC)
	job := api.Job{ID: 5, User: "alice", UID: 1000, GID: 1000, State: api.StateSucceeded, ExitCode: intp(0), Node: "n1",
		CreatedAt: now.Add(-time.Hour).UnixMilli(), StartedAt: now.Add(-time.Hour).UnixMilli(), StoppedAt: now.Add(-time.Minute).UnixMilli(),
		Usage:   &api.JobUsage{MaxRSSBytes: 1 << 20, CPUSeconds: 61.000250},
		JobSpec: api.JobSpec{Name: "j", Queue: "default", Resources: api.Resources{CPUs: 1, MemoryMB: 64}}}
	running := job
	running.ID, running.State, running.StoppedAt, running.Usage, running.ExitCode = 6, api.StateRunning, 0, nil, nil
	f := &viewFake{jobs: []api.Job{job, running}, now: now}
	var stdout, stderr bytes.Buffer
	c := &Ctx{Client: f, Stdout: &stdout, Stderr: &stderr, Stdin: strings.NewReader(""),
		Env: []string{"USER=root"}, Now: func() time.Time { return now },
		Getwd: func() (string, error) { return "/root", nil }, Hostname: "vm", User: "root"}
	if rc := Sacct(c, []string{"--json", "-a", "-j", "5,6"}); rc != 0 {
		t.Fatalf("sacct --json: rc %d, stderr %s", rc, stderr.String())
	}
	var out struct {
		Jobs []struct {
			JobID uint64 `json:"job_id"`
			Time  struct {
				Total *saJSONCPUTime `json:"total"`
			} `json:"time"`
			Steps []struct {
				Time struct {
					Total *saJSONCPUTime `json:"total"`
				} `json:"time"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("sacct --json printed %s: %v", stdout.String(), err)
	}
	want := &saJSONCPUTime{Seconds: 61, Microseconds: 250}
	for _, j := range out.Jobs {
		switch j.JobID {
		case 5:
			if !reflect.DeepEqual(j.Time.Total, want) || len(j.Steps) != 1 || !reflect.DeepEqual(j.Steps[0].Time.Total, want) {
				t.Errorf("job 5: time.total %+v, steps %+v; want %+v on the job and its one step", j.Time.Total, j.Steps, want)
			}
		case 6:
			if j.Time.Total != nil {
				t.Errorf("running job 6: time.total %+v, want none before its node reports", j.Time.Total)
			}
		}
	}
	if len(out.Jobs) != 2 {
		t.Errorf("sacct --json listed %d jobs, want 2", len(out.Jobs))
	}
}
