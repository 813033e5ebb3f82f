package sched

import (
	"cmp"
	"slices"

	"github.com/shoal-batch/shoal/api"
)

// A node's profile is its allocation over time as the pass reckons it:
// what is allocated now, less each running job's resources from when it
// ends (its start plus its time limit), plus each reservation's while it
// lasts. Allocation only falls as jobs end and rises where a reservation
// begins, so a job fits over a span if it fits at the span's start and at
// every reservation that begins within it.
type profile struct {
	ends  []event // by time
	holds []hold
}

// event frees res at at: a running (or just placed) job ends.
type event struct {
	at  int64
	res api.Resources
}

// hold takes res over [from, to) for job: its reservation, or (shadow)
// only an estimate of when it starts, which backfill does not protect.
type hold struct {
	from, to int64
	res      api.Resources
	job      uint64
	shadow   bool
}

func insertEnd(ends []event, e event) []event {
	k, _ := slices.BinarySearchFunc(ends, e.at, func(x event, at int64) int { return cmp.Compare(x.at, at) })
	return slices.Insert(ends, k, e)
}

// profiles builds every node's profile once: the STARTING and RUNNING
// jobs end at their start (now for a job not yet started) plus their time
// limit, or now if that has passed; jobs placed by this pass at now plus
// theirs.
func (p *pass) profiles() {
	if p.prof != nil {
		return
	}
	p.prof = make([]*profile, len(p.nodes))
	index := make(map[string]int, len(p.nodes))
	for i, n := range p.nodes {
		index[n.Name] = i
	}
	for _, st := range []api.JobState{api.StateStarting, api.StateRunning} {
		p.snap.JobViews(st, func(j *Job) bool {
			i, ok := index[j.Node]
			if !ok {
				return true
			}
			start := j.StartedAt
			if start == 0 {
				start = p.now
			}
			end := max(start+p.opts.limitMillis(j), p.now)
			pr := p.profile(i)
			pr.ends = append(pr.ends, event{at: end, res: j.Resources})
			return true
		})
	}
	for _, pj := range p.placed {
		pr := p.profile(pj.node)
		pr.ends = append(pr.ends, event{at: pj.end, res: pj.res})
	}
	p.placed = nil
	for _, pr := range p.prof {
		if pr != nil {
			slices.SortStableFunc(pr.ends, func(a, b event) int { return cmp.Compare(a.at, b.at) })
		}
	}
}

func (p *pass) profile(i int) *profile {
	if p.prof[i] == nil {
		p.prof[i] = &profile{}
	}
	return p.prof[i]
}

func (p *pass) hold(i int, h hold) {
	pr := p.profile(i)
	pr.holds = append(pr.holds, h)
}

// allocAt is node i's allocation at time t (>= now), estimates counted
// if shadow.
func (p *pass) allocAt(i int, t int64, shadow bool) api.Resources {
	a := p.alloc[i]
	pr := p.prof[i]
	if pr == nil {
		return a
	}
	for _, e := range pr.ends {
		if e.at > t {
			break
		}
		a = a.Sub(e.res)
	}
	for _, h := range pr.holds {
		if (shadow || !h.shadow) && h.from <= t && t < h.to {
			a = a.Add(h.res)
		}
	}
	return a
}

// delays returns the reservation that a job of resources r, started now
// on node i and running dur, would delay (nil: none).
func (p *pass) delays(i int, r api.Resources, dur int64) *hold {
	if p.holds == 0 || p.prof == nil || p.prof[i] == nil {
		return nil
	}
	end := p.now + dur
	n := p.nodes[i]
	for k := range p.prof[i].holds {
		h := &p.prof[i].holds[k]
		if h.shadow || h.from >= end || h.to <= p.now {
			continue
		}
		if !r.FitsOn(n.Capacity, p.allocAt(i, max(h.from, p.now), false)) {
			return h
		}
	}
	return nil
}

// earliest returns the earliest time from now at which a job of shape sh
// running dur fits on a node of its queue, and that node; ok false when no
// UP node of the queue can ever take it. Estimates are minded if shadow.
func (p *pass) earliest(sh shape, dur int64, shadow bool) (at int64, node int, ok bool) {
	p.profiles()
	t := sh.queue
	var cands []int64
	for k := 0; k < t.size; k++ {
		_, i := t.at(k)
		n := p.nodes[i]
		if n.State != api.NodeUp || !sh.res.FitsOn(n.Capacity, api.Resources{}) {
			continue
		}
		pr := p.prof[i]
		cands = append(cands[:0], p.now)
		if pr != nil {
			for _, e := range pr.ends {
				if e.at > p.now {
					cands = append(cands, e.at)
				}
			}
			for _, h := range pr.holds {
				if (shadow || !h.shadow) && h.to > p.now {
					cands = append(cands, h.to)
				}
			}
		}
		slices.Sort(cands)
		for _, c := range cands {
			if ok && c >= at {
				break
			}
			if p.fitsOver(i, sh.res, c, c+dur, shadow) {
				at, node, ok = c, i, true
				break
			}
		}
	}
	return at, node, ok
}

// fitsOver reports whether r fits on node i over [from, to).
func (p *pass) fitsOver(i int, r api.Resources, from, to int64, shadow bool) bool {
	n := p.nodes[i]
	if !r.FitsOn(n.Capacity, p.allocAt(i, from, shadow)) {
		return false
	}
	if pr := p.prof[i]; pr != nil {
		for _, h := range pr.holds {
			if (shadow || !h.shadow) && h.from > from && h.from < to &&
				!r.FitsOn(n.Capacity, p.allocAt(i, h.from, shadow)) {
				return false
			}
		}
	}
	return true
}
