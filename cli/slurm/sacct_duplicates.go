package slurm

import "github.com/shoal-batch/shoal/api"

// attemptViews are the earlier runs of a requeued or retried job as sacct
// --duplicates (-D) lists them, oldest first, each its own record under the
// job's id: its node, times, exit code and usage, in state REQUEUED (the
// run was requeued after it), or NODE_FAIL where its node failed under it.
// The job's own record is its latest run.
func attemptViews(v *jobView) []*jobView {
	if v.tasks != nil || len(v.j.Attempts) == 0 {
		return nil
	}
	out := make([]*jobView, 0, len(v.j.Attempts))
	for _, a := range v.j.Attempts {
		j := *v.j
		j.State, j.Attempts = api.StateFailed, nil
		j.Node, j.StartedAt, j.StoppedAt, j.ExitCode, j.ExitSignal = a.Node, a.StartedAt, a.StoppedAt, a.ExitCode, a.ExitSignal
		j.StatusReason, j.Cause, j.Usage = a.StatusReason, a.Cause, a.Usage
		j.StopRequested, j.Held = false, false
		if j.Cause == "" {
			j.Cause = api.CauseExitCode
		}
		av := *v
		av.j, av.reason = &j, "None"
		av.state = Requeued
		if a.Cause == api.CauseNodeLost {
			av.state = NodeFail
		}
		out = append(out, &av)
	}
	return out
}
