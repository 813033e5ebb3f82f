package slurm

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// The usage fields of sacct, from what the job's node measured as it ended
// (api.JobUsage): its batch step's peak memory and CPU time from its
// cgroups, and for GPU jobs NVML's readings of its GPUs. A shoal job is one
// batch step of one task, so the step's average, minimum, maximum and total
// over tasks are all that task's figure, on the job's one node, task 0.
// As in Slurm 22.05 the per-step statistics (MaxRSS, AveCPU, TRESUsageIn*)
// are printed on the step line only, TotalCPU on both. A job without a
// usage record (still running, lost with its node, never started) prints
// them empty, as Slurm does without a jobacct_gather plugin. What shoal
// does not measure (VM size, pages, disk I/O, energy, UserCPU and
// SystemCPU apart) stays empty.

// stepUsage is the usage shown on a row: the job's, on its step line.
func (r *saRow) stepUsage() *api.JobUsage {
	if r.step == "" {
		return nil
	}
	return r.v.j.Usage
}

// usageField shows f of the step's usage, or nothing without one.
func usageField(f func(r *saRow, u *api.JobUsage) string) func(r *saRow) string {
	return func(r *saRow) string {
		if u := r.stepUsage(); u != nil {
			return f(r, u)
		}
		return ""
	}
}

// convertNumUnit writes n as Slurm's convert_num_unit does for sacct
// (CONVERT_NUM_UNIT_EXACT, from bytes): divided by 1024 while it stays
// exact to a half, with the unit's letter: 52428800 is "50M", 1536 "1.50K",
// 4097 "4097".
func convertNumUnit(n int64) string {
	if n <= 0 {
		return "0"
	}
	const units = "\x00KMGTP"
	num, u := float64(n), 0
	for num >= 1024 && uint64(num)%512 == 0 && u < len(units)-1 {
		num /= 1024
		u++
	}
	suffix := ""
	if u > 0 {
		suffix = units[u : u+1]
	}
	if num == math.Trunc(num) {
		return strconv.FormatInt(int64(num), 10) + suffix
	}
	return fmt.Sprintf("%.2f%s", num, suffix)
}

// elapsedCPU writes a CPU time as sacct's TotalCPU does (_elapsed_time):
// milliseconds while under an hour ("00:01.234"), else whole seconds
// ("01:02:03", "1-00:00:00"); "00:MM:SS" when there are no milliseconds.
func elapsedCPU(seconds float64) string {
	if seconds < 0 {
		seconds = 0
	}
	usec := int64(math.Round(seconds * 1e6))
	secs, ms := usec/1_000_000, usec%1_000_000/1000
	d, h, m, s := secs/86400, secs/3600%24, secs/60%60, secs%60
	switch {
	case d > 0:
		return fmt.Sprintf("%d-%02d:%02d:%02d", d, h, m, s)
	case h > 0:
		return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
	case ms > 0:
		return fmt.Sprintf("%02d:%02d.%03d", m, s, ms)
	}
	return fmt.Sprintf("00:%02d:%02d", m, s)
}

// cpuSecs is a CPU time in whole seconds, as Slurm's TRES usage keeps it
// (milliseconds, divided by CPU_TIME_ADJ before printing).
func cpuSecs(u *api.JobUsage) int64 { return int64(u.CPUSeconds) }

// tresKind selects which of a step's TRES usage figures a field shows.
type tresKind int

const (
	tresAve  tresKind = iota // TRESUsageInAve
	tresMax                  // TRESUsageInMax, TRESUsageInMin (one task)
	tresTot                  // TRESUsageInTot
	tresNode                 // TRESUsageIn{Max,Min}Node: where each was
	tresTask                 // TRESUsageIn{Max,Min}Task: which task
)

// saTresUsage writes a step's TRES usage as sacct prints it with
// TRES_STR_FLAG_BYTES: cpu as a time, memory in bytes through
// convert_num_unit, GPU utilisation in percent; keys sorted. It names only
// what shoal measured: cpu and mem, and gres/gpumem and gres/gpuutil for a
// job that had GPUs.
func saTresUsage(kind tresKind) func(r *saRow) string {
	return usageField(func(r *saRow, u *api.JobUsage) string {
		type kv struct{ k, v string }
		util := u.GPUUtilMaxPercent
		if kind == tresAve {
			util = int(math.Round(u.GPUUtilMeanPercent))
		}
		parts := []kv{{"cpu", fullDuration(cpuSecs(u))}}
		if len(u.GPUs) > 0 {
			parts = append(parts, kv{"gres/gpumem", convertNumUnit(u.GPUMemMaxBytes)},
				kv{"gres/gpuutil", strconv.Itoa(util)})
		}
		parts = append(parts, kv{"mem", convertNumUnit(u.MaxRSSBytes)})
		var b strings.Builder
		for i, p := range parts {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(p.k + "=")
			switch kind {
			case tresNode:
				b.WriteString(r.v.j.Node)
			case tresTask:
				b.WriteString("0")
			default:
				b.WriteString(p.v)
			}
		}
		return b.String()
	})
}

// saTotalCPU is TotalCPU: the CPU time of the job's processes, user and
// system, on the job's line and its step's.
func saTotalCPU(r *saRow) string {
	if u := r.v.j.Usage; u != nil {
		return elapsedCPU(u.CPUSeconds)
	}
	return ""
}

// usageCPU is a one-task step's CPU time as AveCPU and MinCPU print it
// (the average and minimum over its one task).
func usageCPU(_ *saRow, u *api.JobUsage) string { return fullDuration(cpuSecs(u)) }

// usageRSS is the step's peak memory as MaxRSS and AveRSS print it.
func usageRSS(_ *saRow, u *api.JobUsage) string { return convertNumUnit(u.MaxRSSBytes) }

// usageNode is where the figure was taken: the job's one node.
func usageNode(r *saRow, _ *api.JobUsage) string { return r.v.j.Node }

// usageTask is which task it was: the only one, 0.
func usageTask(*saRow, *api.JobUsage) string { return "0" }
