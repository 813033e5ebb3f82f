package slurm

import (
	"strconv"

	"github.com/shoal-batch/shoal/api"
)

// sinfo's %M/preemptmode and %p/prioritytier: the partition's.
var (
	siPreemptMode = perPart("PREEMPT_MODE", func(p *partition) string { return p.preemptModeName() })
	siPrioTier    = perPart("PRIO_TIER", func(p *partition) string { return strconv.Itoa(p.priorityTier()) })
)

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

// preemptTypeOf is the controller's PreemptType as slurm.conf spells it
// (preempt/none from a controller that does not say).
func preemptTypeOf(info api.ClusterInfo) string {
	if info.PreemptType == "" {
		return "preempt/none"
	}
	return "preempt/" + info.PreemptType
}

// preemptModeOf is the controller's cluster PreemptMode (OFF from a
// controller that does not say).
func preemptModeOf(info api.ClusterInfo) string {
	if info.PreemptMode == "" {
		return api.PreemptOff
	}
	return info.PreemptMode
}
