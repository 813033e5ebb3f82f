package slurm

import (
	"time"

	"github.com/shoal-batch/shoal/api"
)

// expectedStart is when the job started, or, while it waits, when the
// scheduler expects it to (its recorded estimate, from the backfill plan),
// or its begin time; zero if none is known.
func (v *jobView) expectedStart() time.Time {
	if s := v.started(); !s.IsZero() {
		return s
	}
	if v.j.State == api.StateRunnable && v.j.EstimatedStartAt > 0 { // a held job's is stale
		return epochTime(max(v.j.EstimatedStartAt, v.j.BeginAt), v.loc())
	}
	return v.beginAt()
}

// recordedReason is the reason the scheduler recorded for a RUNNABLE job
// ("" if none yet).
func recordedReason(j *api.Job) string {
	if j.State == api.StateRunnable {
		return j.WaitReason
	}
	return ""
}
