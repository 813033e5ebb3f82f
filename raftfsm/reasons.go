package raftfsm

// OpJobReasons records why waiting jobs wait (JobReasonsCmd).
const OpJobReasons Op = 40

// JobReasonsCmd records, for waiting jobs, the reason the leader's
// scheduler gives and when it expects them to start (api.Job.WaitReason
// and EstimatedStartAt). The leader sends only what changed, many jobs per
// entry, grouped by reason and estimate so that an entry stays small.
type JobReasonsCmd struct {
	Groups []ReasonGroup `json:"groups"`
}

// ReasonGroup is one reason and estimated start (epoch ms, 0: unknown)
// for the jobs IDs.
type ReasonGroup struct {
	Reason  string   `json:"reason"`
	StartAt int64    `json:"startAt,omitempty"`
	IDs     []uint64 `json:"ids"`
}

// Jobs counts the jobs the command names.
func (c JobReasonsCmd) Jobs() int {
	n := 0
	for _, g := range c.Groups {
		n += len(g.IDs)
	}
	return n
}

// jobReasons records reasons. A job that is gone, or no longer waits (it
// was placed, cancelled or ended after the plan), is skipped: the reason
// was about a wait that is over. A job whose record already says so is
// not written again.
func (w writer) jobReasons(c JobReasonsCmd) Result {
	for _, g := range c.Groups {
		for _, id := range g.IDs {
			j := w.job(id)
			if j == nil || !j.State.Cancellable() || (j.WaitReason == g.Reason && j.EstimatedStartAt == g.StartAt) {
				continue
			}
			j.WaitReason, j.EstimatedStartAt = g.Reason, g.StartAt
			w.put(tableJobs, j)
		}
	}
	return Result{}
}
