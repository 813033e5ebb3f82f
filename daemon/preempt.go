package daemon

import (
	"context"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
	"github.com/shoal-batch/shoal/sched"
)

// checkPreemptMode normalizes and checks a queue's PreemptMode.
func checkPreemptMode(q *api.JobQueue) error {
	if q.GraceTimeSeconds < 0 || q.GraceTimeSeconds > MaxGraceTime {
		return api.Errorf(api.CodeInvalid, "job queue %s: graceTimeSeconds %d: give 0 to %d", q.Name, q.GraceTimeSeconds, MaxGraceTime).WithField("graceTimeSeconds")
	}
	switch q.PreemptMode {
	case "", api.PreemptOff, api.PreemptCancel, api.PreemptRequeue:
		return nil
	}
	return api.Errorf(api.CodeInvalid, "job queue %s: preemptMode %q: use OFF, CANCEL or REQUEUE", q.Name, q.PreemptMode).WithField("preemptMode")
}

// MaxGraceTime bounds a queue's GraceTime (seconds): an hour.
const MaxGraceTime = 3600

// normalizePreempt checks the scheduler's PreemptType and cluster
// PreemptMode and fills in their defaults (preempt/partition_prio with
// CANCEL), so that the plan and scontrol show config see the same.
func normalizePreempt(o *sched.Options) error {
	t, err := sched.ParsePreemptType(o.PreemptType)
	if err != nil {
		return err
	}
	m, err := sched.ParsePreemptMode(o.PreemptMode, t)
	if err != nil {
		return err
	}
	o.PreemptType, o.PreemptMode = t, m
	return nil
}

// commitPreemptions asks the nodes, through one raft entry, to stop the
// jobs a plan preempts (the node sends SIGTERM, then SIGKILL after its
// grace time); the FSM skips a job that has ended or is already stopping.
func (c *Controller) commitPreemptions(ctx context.Context, ps []sched.Preemption, now int64) {
	if len(ps) == 0 {
		return
	}
	cmd := raftfsm.PreemptCmd{Now: now, Victims: make([]raftfsm.Victim, len(ps))}
	for i, p := range ps {
		cmd.Victims[i] = raftfsm.Victim{JobID: p.JobID, For: p.For, Requeue: p.Requeue, GraceSeconds: p.GraceSeconds}
	}
	if _, err := c.applier.Apply(ctx, raftfsm.OpPreempt, cmd); err != nil && ctx.Err() == nil {
		c.log.Warn("commit preemptions", "jobs", len(ps), "err", err)
	}
}
