package slurm

import "github.com/shoal-batch/shoal/api"

// priorityTier is the partition's PriorityTier as scontrol show partition
// prints it: its queue's priority (1 where the queue list was not read).
func (p *partition) priorityTier() int {
	if p.tier == 0 && p.preemptMode == "" {
		return 1
	}
	return p.tier
}

// preemptModeName is the partition's PreemptMode: OFF unless set.
func (p *partition) preemptModeName() string {
	if p.preemptMode == "" {
		return api.PreemptOff
	}
	return p.preemptMode
}
