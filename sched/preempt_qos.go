package sched

import (
	"slices"

	"github.com/shoal-batch/shoal/api"
)

// The rules that differ between PreemptTypes: who may preempt whom, in
// which order victims are chosen, and what becomes of them. The search
// for room (preempt.go) is the same for every type.

// mayPreempt reports whether j, waiting in queue t, may preempt the
// running job v: under partition_prio when v's queue is preemptable and
// below t; under qos when v's QOS is in j's QOS's Preempt list (not j's
// own QOS) and v's PreemptMode is not OFF. Under either, not while v has
// run less than its QOS's PreemptExemptTime.
func (p *pass) mayPreempt(t *target, j, v *Job) bool {
	switch p.opts.PreemptType {
	case PreemptNone:
		return false
	case PreemptQOS:
		q := p.qosOf(j)
		vq := jobQOS(v)
		if q == nil || vq == q.Name || !slices.Contains(q.Preempt, vq) {
			return false
		}
		if mode, _ := p.modeOf(v); mode == api.PreemptOff {
			return false
		}
	default:
		q := p.snap.Queue(v.Queue)
		if q == nil || !q.Preemptable() || q.Priority >= t.priority {
			return false
		}
	}
	return !p.exempt(v)
}

// exempt reports whether v has run less than its QOS's
// PreemptExemptTime (a job not started yet has run nothing). The plan's
// NextBegin then says when to plan again: nothing else changes when the
// time passes.
func (p *pass) exempt(v *Job) bool {
	q := p.qosOf(v)
	if q == nil || q.PreemptExemptTime == nil || *q.PreemptExemptTime <= 0 {
		return false
	}
	if v.StartedAt <= 0 {
		return true // its start is a change: the next plan sees it
	}
	until := v.StartedAt + *q.PreemptExemptTime*1000
	if p.now >= until {
		return false
	}
	if p.plan.NextBegin == 0 || until < p.plan.NextBegin {
		p.plan.NextBegin = until
	}
	return true
}

// victimRank orders candidates, lowest first: the queue's priority, or
// under qos the QOS's priority.
func (p *pass) victimRank(v *Job) int64 {
	if p.byQOS() {
		if q := p.qosOf(v); q != nil {
			return q.Priority
		}
		return 0
	}
	return int64(p.queuePriority(v.Queue))
}

// stopMode is what becomes of a victim: requeued or cancelled, and its
// grace time (seconds).
func (p *pass) stopMode(v *Job) (requeue bool, grace int) {
	mode, grace := p.modeOf(v)
	return mode == api.PreemptRequeue, grace
}

// modeOf is v's PreemptMode and GraceTime: its queue's under
// partition_prio; under qos its QOS's mode, else its queue's (CANCEL or
// REQUEUE), else the cluster's, and its QOS's GraceTime, else its
// queue's.
func (p *pass) modeOf(v *Job) (mode string, grace int) {
	qu := p.snap.Queue(v.Queue)
	if qu != nil {
		mode, grace = qu.PreemptMode, qu.GraceTimeSeconds
	}
	if !p.byQOS() {
		return mode, grace
	}
	if mode != api.PreemptCancel && mode != api.PreemptRequeue {
		mode = p.opts.PreemptMode
		if mode == "" {
			mode = api.PreemptCancel
		}
	}
	if q := p.qosOf(v); q != nil {
		if q.PreemptMode == api.PreemptCancel || q.PreemptMode == api.PreemptRequeue {
			mode = q.PreemptMode
		}
		if q.GraceTime > 0 {
			grace = int(q.GraceTime)
		}
	}
	return mode, grace
}

// qosOf is j's QOS (normal when it names none), nil when the registry
// has no such QOS or the snapshot no registry.
func (p *pass) qosOf(j *Job) *api.QOS {
	if p.qos == nil {
		p.qos = map[string]*api.QOS{}
		if as, ok := p.snap.(AccountsSnapshot); ok {
			reg := as.Accounts()
			for i := range reg.QOS {
				p.qos[reg.QOS[i].Name] = &reg.QOS[i]
			}
		}
	}
	return p.qos[jobQOS(j)]
}
