package raftfsm

import (
	"time"

	"github.com/shoal-batch/shoal/api"
)

// ReasonDeadline is the statusReason of a job that could not end by its
// deadline (Slurm's --deadline; its Reason=DeadLine).
const ReasonDeadline = "DeadLine: the job could not start in time to end by its deadline"

// DeadlineCutoff is when a waiting job with a deadline is given up: its
// deadline less its time limit, as Slurm gives up a job that can no longer
// end by its deadline (the deadline itself for a job without a limit).
// 0 for a job without a deadline.
func DeadlineCutoff(j *api.Job) int64 { return deadlineCutoff(&j.JobSpec) }

func deadlineCutoff(s *api.JobSpec) int64 {
	if s.DeadlineAt == 0 {
		return 0
	}
	return s.DeadlineAt - s.TimeLimit*int64(time.Second/time.Millisecond)
}

// DeadlinesDue lists the waiting jobs (SUBMITTED, PENDING, RUNNABLE) whose
// deadline can no longer be met at now (DeadlineCutoff), in state order.
// It reads the records, not a job made of each: the leader asks every
// second, over every waiting job, and few have a deadline.
func (s *State) DeadlinesDue(now int64) []uint64 {
	var due []uint64
	for _, st := range []api.JobState{api.StateSubmitted, api.StatePending, api.StateRunnable} {
		eachSetMember(s.txn, tableJobSets, stateSetPrefix(st), func(m setMember) bool {
			if cut := deadlineCutoff(&m.Job.spec.JobSpec); cut != 0 && cut <= now {
				due = append(due, m.ID)
			}
			return true
		})
	}
	return due
}

// deadline ends a job that still waits at its DeadlineCutoff: FAILED with
// cause deadline (Slurm's DEADLINE). The leader asks; the time in the
// command decides, so a stale or early request changes nothing.
func (w writer) deadline(j *api.Job, now int64) Result {
	cut := DeadlineCutoff(j)
	switch {
	case cut == 0:
		return Result{Err: api.Errorf(api.CodeConflict, "job %d has no deadline", j.ID)}
	case now < cut:
		return Result{Err: api.Errorf(api.CodeConflict, "job %d may still start until %s", j.ID, time.UnixMilli(cut).UTC().Format(time.RFC3339))}
	case !j.State.Cancellable():
		return Result{Err: api.Errorf(api.CodeConflict, "job %d is %s: a deadline ends only jobs that wait", j.ID, j.State)}
	}
	mustMove(j, api.StateFailed, now)
	j.StatusReason, j.Cause = ReasonDeadline, api.CauseDeadline
	w.put(tableJobs, j)
	w.released(j.ID, now)
	return Result{}
}

// limitToDeadline shortens the time limit of a job with a deadline that is
// starting at now to what is left until the deadline, in whole minutes as
// Slurm's scheduler does (a job without a limit gets one: sbatch
// --deadline=now+600 runs with TimeLimit=00:10:00); under a minute left,
// the seconds left.
func limitToDeadline(j *api.Job, now int64) {
	if j.DeadlineAt == 0 || j.DeadlineAt <= now {
		return
	}
	left := (j.DeadlineAt - now) / 1000
	if left >= 60 {
		left -= left % 60
	}
	if j.TimeLimit == 0 || left < j.TimeLimit {
		j.TimeLimit = max(left, 1)
	}
}
