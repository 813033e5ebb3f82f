package cli

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/cli/internal/termsafe"
)

func effCommand() *cli.Command {
	return &cli.Command{
		Name: "eff",
		Usage: "summarise how well a job used what it asked for, as Slurm's seff does: CPU and memory efficiency, " +
			"and for GPU jobs GPU-seconds, SM utilisation and GPU memory (from the job's usage record)",
		ArgsUsage: "JOB_ID",
		Action: func(c *cli.Context) error {
			j, err := theJob(c, "eff of job")
			if err != nil {
				return err
			}
			return writeEff(c.App.Writer, &j, time.Now())
		},
	}
}

// writeEff writes a job's efficiency summary (seff's lines, and GPU lines
// for a GPU job). now is the end of a job still running.
func writeEff(w io.Writer, j *api.Job, now time.Time) error {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("Job ID: %s", api.FormatID(j.ID))
	line("Job Name: %s", termsafe.String(j.Name))
	line("User/Group: %s/%d", termsafe.String(j.User), j.GID)
	line("State: %s", effState(j))
	if j.Node != "" {
		line("Node: %s", termsafe.String(j.Node))
	}
	cpus := max(j.Resources.CPUs, 1)
	line("Cores: %d", cpus)

	wall := effWall(j, now)
	u := j.Usage
	if u == nil {
		line("Job Wall-clock time: %s", effClock(wall))
		if j.State.Terminal() {
			line("Usage: not recorded (the job did not run, or its node was lost before it reported)")
		} else {
			line("Usage: not recorded yet (figures come from the node when the job ends)")
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	coreWall := wall * float64(cpus)
	line("CPU Utilized: %s", effClock(u.CPUSeconds))
	line("CPU Efficiency: %.2f%% of %s core-walltime", percent(u.CPUSeconds, coreWall), effClock(coreWall))
	line("Job Wall-clock time: %s", effClock(wall))
	line("Memory Utilized: %s", effBytes(float64(u.MaxRSSBytes)))
	if req := j.Resources.MemoryMB; req > 0 {
		reqBytes := float64(req) * (1 << 20)
		line("Memory Efficiency: %.2f%% of %s", percent(float64(u.MaxRSSBytes), reqBytes), effBytes(reqBytes))
	} else {
		line("Memory Efficiency: not applicable (no memory limit asked for)")
	}
	if len(u.GPUs) > 0 {
		var names []string
		for _, g := range u.GPUs {
			names = append(names, fmt.Sprintf("%d %s", g.Index, termsafe.String(g.UUID)))
		}
		line("GPUs: %d (%s)", len(u.GPUs), strings.Join(names, ", "))
		line("GPU-seconds: %.1f", u.GPUSeconds)
		if u.GPUSamples > 0 {
			line("GPU Utilization (SM): %.1f%% mean, %d%% max over %d readings", u.GPUUtilMeanPercent, u.GPUUtilMaxPercent, u.GPUSamples)
			line("GPU Memory Utilized: %s (the most on one GPU)", effBytes(float64(u.GPUMemMaxBytes)))
		} else {
			line("GPU Utilization (SM): not sampled (NVML could not be read on the node)")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// effState is the job's state, with its exit code or reason once ended.
func effState(j *api.Job) string {
	s := string(j.State)
	switch {
	case j.State == api.StateSucceeded && j.ExitCode != nil:
		s += fmt.Sprintf(" (exit code %d)", *j.ExitCode)
	case j.State == api.StateFailed && j.ExitCode != nil:
		s += fmt.Sprintf(" (exit code %d: %s)", *j.ExitCode, termsafe.String(j.StatusReason))
	case j.State == api.StateFailed:
		s += fmt.Sprintf(" (%s)", termsafe.String(j.StatusReason))
	}
	return s
}

// effWall is how long the job ran, in seconds: start to stop, or to now
// while it runs; 0 if it never started.
func effWall(j *api.Job, now time.Time) float64 {
	if j.StartedAt == 0 {
		return 0
	}
	end := j.StoppedAt
	if end == 0 {
		end = now.UnixMilli()
	}
	return max(float64(end-j.StartedAt)/1000, 0)
}

// percent is part as a percentage of whole; 0 when whole is.
func percent(part, whole float64) float64 {
	if whole <= 0 {
		return 0
	}
	return 100 * part / whole
}

// effClock writes seconds as seff does: [D-]HH:MM:SS.
func effClock(secs float64) string {
	s := int64(math.Round(secs))
	d, h, m := s/86400, s/3600%24, s/60%60
	if d > 0 {
		return fmt.Sprintf("%d-%02d:%02d:%02d", d, h, m, s%60)
	}
	return fmt.Sprintf("%02d:%02d:%02d", h, m, s%60)
}

// effBytes writes a size as seff does: two decimals in the largest unit
// of 1024 that keeps it at least 1 ("52.00 MB").
func effBytes(n float64) string {
	units := []string{"B", "KB", "MB", "GB", "TB", "PB"}
	u := 0
	for n >= 1024 && u < len(units)-1 {
		n /= 1024
		u++
	}
	return fmt.Sprintf("%.2f %s", n, units[u])
}
