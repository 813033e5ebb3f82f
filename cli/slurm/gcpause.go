package slurm

import "runtime/debug"

// While squeue or sacct reads and prints a long job list, the collector
// has next to nothing to free: every job decoded stays live until it is
// printed. Run at the default pace it scanned the list as it grew (over
// 20,000 jobs, some 18 MB of api.Job), and its reads of pages the
// decoder had not yet written made each first write a copy-on-write fault
// and a TLB flush: a third of squeue's CPU. pauseGC leaves collection to
// the memory limit instead, gcPauseLimit or a lower GOMEMLIMIT: a long
// sacct walk through a history is still collected, once it is that big.
const gcPauseLimit = 256 << 20

// pauseGC pauses the collector until the heap nears gcPauseLimit; the
// function it returns restores the pace and limit it found.
func pauseGC() (restore func()) {
	limit := debug.SetMemoryLimit(-1)
	debug.SetMemoryLimit(min(limit, gcPauseLimit))
	pct := debug.SetGCPercent(-1)
	return func() {
		debug.SetGCPercent(pct)
		debug.SetMemoryLimit(limit)
	}
}
