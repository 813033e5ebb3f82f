package raftfsm

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// OpPreempt stops running jobs to make room for a job of a
// higher-priority queue (PreemptCmd).
const OpPreempt Op = 52

// PreemptCmd is the scheduler's preemption plan, committed by the leader.
type PreemptCmd struct {
	Victims []Victim `json:"victims"`
	Now     int64    `json:"now"`
}

// Victim is one job to preempt: For is the job it makes room for; Requeue
// (its queue's PreemptMode REQUEUE) runs it again once stopped, else it
// ends FAILED with CausePreempted (Slurm's PREEMPTED).
type Victim struct {
	JobID   uint64 `json:"jobId"`
	For     uint64 `json:"for"`
	Requeue bool   `json:"requeue,omitempty"`
	// GraceSeconds is the victim's queue's GraceTime (0: the node's).
	GraceSeconds int `json:"graceSeconds,omitempty"`
}

// preemptedBy begins a victim's StopReason (and, once it has ended, its
// statusReason): "Preempted by job N".
const preemptedBy = "Preempted by job "

// PreemptedFor reads the job a victim was stopped for from its stop (or
// status) reason; ok is false for any other reason.
func PreemptedFor(reason string) (id uint64, ok bool) {
	rest, found := strings.CutPrefix(reason, preemptedBy)
	if !found {
		return 0, false
	}
	id, err := strconv.ParseUint(rest, 10, 64)
	return id, err == nil
}

// preempt asks the victims' nodes to stop them. A victim that has ended,
// or is being stopped already, is left alone: the plan was made on an
// older state. A job submitted with --no-requeue is cancelled, never
// requeued.
func (w writer) preempt(c PreemptCmd) Result {
	for _, v := range c.Victims {
		j := w.job(v.JobID)
		if j == nil || !j.State.Terminable() || j.StopRequested {
			continue
		}
		j.StopRequested, j.StopCause = true, api.CausePreempted
		j.StopReason = preemptedBy + strconv.FormatUint(v.For, 10)
		j.RequeueRequested = v.Requeue && !j.NoRequeue
		j.StopGraceSeconds = v.GraceSeconds
		w.put(tableJobs, j)
	}
	return Result{}
}

// ErrPreemptLoop begins the refusal of a QOS that would preempt itself,
// directly or through others (Slurm's ESLURM_QOS_PREEMPTION_LOOP).
const ErrPreemptLoop = "QOS Preemption loop detected"

// checkPreempt refuses a QOS whose preemption settings are not whole:
// a Preempt list naming itself or a QOS that does not exist, a mode
// shoal does not have, a negative or too long time.
func (r *registry) checkPreempt(q api.QOS) *api.Error {
	switch q.PreemptMode {
	case "", api.PreemptOff, api.PreemptCancel, api.PreemptRequeue: // OFF, as "": the cluster's mode
	default:
		return api.Errorf(api.CodeInvalid, "qos %s: PreemptMode %q: give CANCEL, REQUEUE, or OFF (the cluster's mode); shoal does not suspend or gang-schedule jobs", q.Name, q.PreemptMode)
	}
	if q.GraceTime < 0 || q.GraceTime > api.MaxQOSGraceTime {
		return api.Errorf(api.CodeInvalid, "qos %s: GraceTime=%d: give 0 to %d seconds", q.Name, q.GraceTime, api.MaxQOSGraceTime)
	}
	if q.PreemptExemptTime != nil && *q.PreemptExemptTime < 0 {
		return api.Errorf(api.CodeInvalid, "qos %s: PreemptExemptTime=%d must not be negative (clear it with PreemptExemptTime=-1)", q.Name, *q.PreemptExemptTime)
	}
	seen := map[string]bool{}
	for _, name := range q.Preempt {
		switch _, ok := r.qos[name]; {
		case name == q.Name:
			return api.Errorf(api.CodeInvalid, "%s: qos %s may not preempt itself", ErrPreemptLoop, q.Name)
		case !ok:
			return api.Errorf(api.CodeInvalid, "qos %s: Preempt names qos %s, which does not exist", q.Name, name)
		case seen[name]:
			return api.Errorf(api.CodeInvalid, "qos %s: Preempt names qos %s twice", q.Name, name)
		}
		seen[name] = true
	}
	return nil
}

// checkPreemptLoops refuses QOS that preempt each other in a loop
// (a preempts b, which preempts a), as slurmdbd does.
func (r *registry) checkPreemptLoops() *api.Error {
	names := make([]string, 0, len(r.qos))
	for name := range r.qos {
		names = append(names, name)
	}
	sort.Strings(names)
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(string) []string
	visit = func(name string) []string {
		state[name] = onPath
		path = append(path, name)
		for _, next := range r.qos[name].Preempt {
			switch state[next] {
			case onPath:
				i := slices.Index(path, next)
				return append(append([]string(nil), path[i:]...), next)
			case unseen:
				if loop := visit(next); loop != nil {
					return loop
				}
			}
		}
		path = path[:len(path)-1]
		state[name] = done
		return nil
	}
	for _, name := range names {
		if state[name] != unseen {
			continue
		}
		if loop := visit(name); loop != nil {
			return api.Errorf(api.CodeInvalid, "%s: qos %s", ErrPreemptLoop, strings.Join(loop, " preempts "))
		}
	}
	return nil
}
