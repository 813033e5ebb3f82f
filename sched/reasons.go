package sched

import (
	"fmt"
	"strings"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// Reason says why a job waits, in Slurm's words (squeue's %r).
type Reason = string

// The reasons a pass gives.
const (
	ReasonDependency        Reason = "Dependency"        // PENDING: its dependencies are not met
	ReasonHeldUser          Reason = "JobHeldUser"       // held by its owner
	ReasonHeldAdmin         Reason = "JobHeldAdmin"      // held by root
	ReasonBeginTime         Reason = "BeginTime"         // its begin time has not come
	ReasonPriority          Reason = "Priority"          // it fits now, but would delay a higher-priority job's reservation
	ReasonResources         Reason = "Resources"         // no node of its queue has what it asks free now
	ReasonArrayTaskLimit    Reason = "JobArrayTaskLimit" // its array runs its %N throttle's worth of tasks
	ReasonPartitionDown     Reason = "PartitionDown"     // its queue has no enabled compute environment
	ReasonPartitionInactive Reason = "PartitionInactive" // its queue is disabled or does not exist
	// ReasonReqNodeNotAvail: no UP node of its queue can ever take it (the
	// nodes that could are DOWN or DRAINED, or gone, or none is big
	// enough); it waits until one can.
	ReasonReqNodeNotAvail Reason = "ReqNodeNotAvail"
)

// Wait is why one job waits and when it may start.
type Wait struct {
	JobID uint64
	// Job is the job as the snapshot has it (read-only): the reason and
	// estimate it has recorded are there to compare.
	Job    *Job
	Queue  string
	Reason Reason
	// StartAt is when it is expected to start (epoch ms), 0 if unknown:
	// its begin time, its reservation, or an estimate.
	StartAt int64
	// Reserved: StartAt is its queue's reservation, which backfill does
	// not delay.
	Reserved bool
	// Node is where the reservation or estimate puts it.
	Node string
	// Short quantifies Resources and ReqNodeNotAvail.
	Short *Shortfall
	// Ahead counts the jobs of its queue before it that also wait for
	// resources (Resources or Priority).
	Ahead int
	// Blocker (Priority) is the reserved job it would delay, BlockerAt
	// when that job's reservation begins.
	Blocker   uint64
	BlockerAt int64
	// Preempting are the running jobs of lower-priority queues being
	// stopped to make room for it (preempt.go).
	Preempting []uint64
	// PreemptingQOS: they are preempted by QOS (PreemptQOS), not by
	// queue priority.
	PreemptingQOS bool
}

// Shortfall is what a job asks that its queue's nodes do not have.
type Shortfall struct {
	// Resource is the one short: "cpus", "memory" (MiB), "gpus" or
	// "gpus:TYPE"; "" when each fits on some node but no node has all of
	// them at once.
	Resource string
	Asked    int64
	// FreeNow is the most of it one UP node of the queue has free now,
	// AtMost the most one has at all (its capacity); BestNode is that
	// node with the most free now.
	FreeNow  int64
	AtMost   int64
	BestNode string
	// UpNodes counts the queue's UP nodes; Unavailable names (at most
	// 10) nodes of the queue that are not UP but could take the job.
	UpNodes     int
	Unavailable []string
}

type dim struct {
	name string
	get  func(api.Resources) int64
}

func dims(r api.Resources) []dim {
	ds := []dim{
		{"cpus", func(x api.Resources) int64 { return int64(x.CPUs) }},
		{"memory", func(x api.Resources) int64 { return x.MemoryMB }},
		{"gpus", func(x api.Resources) int64 { return int64(x.GPUs) }},
	}
	for _, t := range r.GPUTypes.Types() {
		ds = append(ds, dim{"gpus:" + t, func(x api.Resources) int64 { return int64(x.GPUTypes.Get(t)) }})
	}
	return ds
}

// shortfall quantifies, once per shape and pass, what the queue lacks.
func (p *pass) shortfall(sh shape) *Shortfall {
	if s, ok := p.short[sh]; ok {
		return s
	}
	t := sh.queue
	s := &Shortfall{}
	type best struct {
		free, most int64
		node       string
	}
	ds := dims(sh.res)
	bests := make([]best, len(ds))
	for d := range bests {
		bests[d].free = -1
	}
	seen := map[int]bool{}
	for k := 0; k < t.size; k++ {
		_, i := t.at(k)
		if seen[i] {
			continue
		}
		seen[i] = true
		n := p.nodes[i]
		if n.State != api.NodeUp {
			if sh.res.FitsOn(n.Capacity, api.Resources{}) && len(s.Unavailable) < 10 {
				s.Unavailable = append(s.Unavailable, n.Name)
			}
			continue
		}
		s.UpNodes++
		for d, dm := range ds {
			c, free := dm.get(n.Capacity), dm.get(n.Capacity)-dm.get(p.alloc[i])
			if free > bests[d].free {
				bests[d].free, bests[d].node = free, n.Name
			}
			bests[d].most = max(bests[d].most, c)
		}
	}
	pick := -1
	for d, dm := range ds { // one no node can ever have first, then one none has now
		if dm.get(sh.res) > bests[d].most {
			pick = d
			break
		}
	}
	for d, dm := range ds {
		if pick < 0 && dm.get(sh.res) > bests[d].free {
			pick = d
		}
	}
	if pick >= 0 {
		s.Resource, s.Asked, s.FreeNow, s.AtMost, s.BestNode = ds[pick].name, ds[pick].get(sh.res), max(bests[pick].free, 0), bests[pick].most, bests[pick].node
	} else if len(ds) > 0 {
		s.BestNode, s.FreeNow, s.AtMost, s.Asked = bests[0].node, max(bests[0].free, 0), bests[0].most, ds[0].get(sh.res)
	}
	p.short[sh] = s
	return s
}

// Describe says in words why the job waits and until when, for a person
// to act on; now (epoch ms) dates the estimate.
func (w Wait) Describe(res api.Resources, now int64) string {
	var b strings.Builder
	q := w.Queue
	switch w.Reason {
	case ReasonDependency:
		b.WriteString("it waits for its dependencies (scontrol show job lists them)")
	case ReasonHeldUser:
		b.WriteString("it is held by its owner: release it with scontrol release")
	case ReasonHeldAdmin:
		b.WriteString("it is held by an administrator: ask one to release it")
	case ReasonBeginTime:
		fmt.Fprintf(&b, "it was asked not to start before %s", stamp(w.StartAt))
	case ReasonPartitionInactive:
		fmt.Fprintf(&b, "its queue %s is disabled or does not exist: move it to another queue (scontrol update jobid=%d partition=...) or ask an administrator to enable %s", q, w.JobID, q)
	case ReasonPartitionDown:
		fmt.Fprintf(&b, "its queue %s has no enabled compute environment: ask an administrator, or move it to another queue", q)
	case ReasonArrayTaskLimit:
		b.WriteString("its array already runs as many tasks as its %N throttle allows")
	case ReasonPriority:
		fmt.Fprintf(&b, "it fits now, but would run past the reservation of job %d, which comes first, at %s", w.Blocker, stamp(w.BlockerAt))
		if d := (w.BlockerAt - now) / 60_000; d > 0 {
			fmt.Fprintf(&b, "; with a time limit of at most %d minutes (--time=%d) it could start now", d, d)
		}
	case ReasonResources:
		b.WriteString("no node of queue " + q + " has what it asks free now: " + w.Short.words(res))
	case ReasonLicenses:
		b.WriteString(w.licenseWords())
	case ReasonFairShareReservation:
		b.WriteString(w.fairWords()) // awsfairshare.go
	case ReasonReqNodeNotAvail:
		s := w.Short
		switch {
		case s != nil && s.Resource != "" && s.Asked > s.AtMost && len(s.Unavailable) == 0:
			fmt.Fprintf(&b, "it can never start as things are: it asks %s, and the largest UP node of queue %s has %s; cancel it, ask for less, or move it to another queue",
				amount(s.Resource, s.Asked), q, amount(s.Resource, s.AtMost))
		case s != nil && len(s.Unavailable) > 0:
			fmt.Fprintf(&b, "the nodes of queue %s that could run it are not UP (%s): it waits until one is resumed",
				q, strings.Join(s.Unavailable, ","))
		default:
			fmt.Fprintf(&b, "no UP node of queue %s can run it: it waits until one can", q)
		}
	case ReasonAssocMaxJobs, ReasonAssocGrpJobs, ReasonAssocGrpCPU, ReasonAssocGrpMem, ReasonAssocGrpGRES, ReasonQOSMaxJobsPU,
		ReasonQOSGrpJobs, ReasonQOSGrpCPU, ReasonQOSGrpMem, ReasonQOSGrpGRES:
		b.WriteString(limitWords(w.Reason)) // limits.go
	default:
		b.WriteString("it has not been planned yet")
	}
	b.WriteString(preemptingWords(w.Preempting, w.PreemptingQOS))
	return b.String()
}

// words states a Resources shortfall.
func (s *Shortfall) words(res api.Resources) string {
	if s == nil {
		return "no node has it free"
	}
	if s.Resource == "" {
		return fmt.Sprintf("each of %s is free on some node, but no node has them all at once (%s comes closest)",
			askText(res), s.BestNode)
	}
	return fmt.Sprintf("it asks %s; the best node (%s) has %s free now, and the largest %s",
		amount(s.Resource, s.Asked), s.BestNode, amount(s.Resource, s.FreeNow), amount(s.Resource, s.AtMost))
}

func askText(r api.Resources) string {
	parts := []string{amount("cpus", int64(r.CPUs)), amount("memory", r.MemoryMB)}
	if r.GPUs > 0 {
		parts = append(parts, amount("gpus", int64(r.GPUs)))
	}
	return strings.Join(parts, ", ")
}

func amount(resource string, n int64) string {
	switch {
	case resource == "cpus":
		return plural(n, "CPU")
	case resource == "memory":
		if n >= 1024 && n%1024 == 0 {
			return fmt.Sprintf("%d GiB memory", n/1024)
		}
		return fmt.Sprintf("%d MiB memory", n)
	case resource == "gpus":
		return plural(n, "GPU")
	case strings.HasPrefix(resource, "gpus:"):
		return plural(n, strings.TrimPrefix(resource, "gpus:")+" GPU")
	}
	return fmt.Sprintf("%d %s", n, resource)
}

func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func stamp(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05Z") }
