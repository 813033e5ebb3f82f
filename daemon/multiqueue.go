package daemon

import (
	"slices"
	"strings"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// A job may name several queues (Slurm's sbatch --partition=a,b): it
// starts in whichever of them can start it first. The scheduler tries
// each (sched); these are the submit-time checks.

// MaxJobQueues bounds the queues one job may name.
const MaxJobQueues = 64

// normalizeQueues checks the queues a job names and puts them in the
// shape the controller stores: Queues in the order given, without
// repeats, when there are two or more, Queue the first of them; one queue
// alone is Queue, and Queues is left empty.
func normalizeQueues(spec *api.JobSpec) error {
	if len(spec.Queues) == 0 {
		return nil
	}
	if len(spec.Queues) > MaxJobQueues {
		return api.Errorf(api.CodeInvalid, "job %q names %d queues; at most %d", clip(spec.Name), len(spec.Queues), MaxJobQueues).WithField("jobQueues")
	}
	qs := make([]string, 0, len(spec.Queues))
	for _, q := range spec.Queues {
		if err := checkText("queue", q, MaxTextBytes); err != nil {
			return api.Errorf(api.CodeInvalid, "job %q: %v", clip(spec.Name), err).WithField("jobQueues")
		}
		if q == "" || strings.Contains(q, ",") {
			return api.Errorf(api.CodeInvalid, "job %q: queue name %q in its list of queues: give each queue's name, none empty", clip(spec.Name), q).WithField("jobQueues")
		}
		if !slices.Contains(qs, q) {
			qs = append(qs, q)
		}
	}
	if spec.Queue != "" && spec.Queue != qs[0] {
		return api.Errorf(api.CodeInvalid, "job %q: jobQueue %q is not the first of its jobQueues %s: give jobQueues alone, or jobQueue as their first",
			clip(spec.Name), spec.Queue, strings.Join(qs, ",")).WithField("jobQueue")
	}
	spec.Queue = qs[0]
	spec.Queues = qs
	if len(qs) == 1 {
		spec.Queues = nil
	}
	return nil
}

// satisfiableAny is satisfiable for a job of several queues: every queue
// it names must exist (Slurm refuses the job otherwise: "Invalid
// partition name specified"), and one of them, at least, take it; else
// the first queue's refusal.
func satisfiableAny(state *raftfsm.State, j api.Job) error {
	for _, q := range j.Queues {
		if state.Queue(q) == nil {
			return api.Errorf(api.CodeNotFound, "job queue %q does not exist; create it or use %q", q, api.DefaultQueue).WithField("queue")
		}
	}
	var first error
	for _, q := range j.Queues {
		one := j
		one.Queue, one.Queues = q, nil
		err := satisfiable(state, one)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}
