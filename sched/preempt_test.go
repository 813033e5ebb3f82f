package sched_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/sched"
)

// tierSnap has queues "low" (priority 1) and "high" (priority 10) over
// the same nodes; lowMode is low's PreemptMode.
func tierSnap(lowMode string, jobs []*api.Job, nodes ...*api.Node) *queueSnap {
	s := &queueSnap{fakeSnap: fakeSnap{jobs: jobs, nodes: nodes}, queues: map[string]*api.JobQueue{}}
	for name, prio := range map[string]int{"low": 1, "high": 10} {
		q := s.fakeSnap.Queue(name)
		q.Priority = prio
		if name == "low" {
			q.PreemptMode = lowMode
		}
		s.queues[name] = q
	}
	return s
}

// shared is a node serving both queues.
func shared(name string, cpus int) *api.Node {
	n := node(name, cpus, 64<<10, 0)
	n.Labels = map[string]string{"queues": "low,high"}
	return n
}

func lowRunning(id uint64, n string, cpus int, started int64) *api.Job {
	j := inQueue(runningOn(id, n, started, cpus, 1, 3600), "low")
	return j
}

func TestPreemption(t *testing.T) {
	stopping := lowRunning(101, "a", 4, t0-hour)
	stopping.StopRequested = true
	cases := []struct {
		name  string
		mode  string
		grace int // low's GraceTime
		nodes []*api.Node
		jobs  []*api.Job
		want  []sched.Preemption
	}{{
		name:  "a high job preempts a low job to take its room (REQUEUE)",
		mode:  api.PreemptRequeue,
		nodes: []*api.Node{nodeRunning(shared("a", 4), lowRunning(100, "a", 4, t0-hour))},
		jobs:  []*api.Job{lowRunning(100, "a", 4, t0-hour), inQueue(job(1, 0, 4, 1, 0), "high")},
		want:  []sched.Preemption{{JobID: 100, Node: "a", For: 1, Requeue: true}},
	}, {
		name:  "CANCEL, with the victim's queue's GraceTime",
		mode:  api.PreemptCancel,
		grace: 45,
		nodes: []*api.Node{nodeRunning(shared("a", 4), lowRunning(100, "a", 4, t0-hour))},
		jobs:  []*api.Job{lowRunning(100, "a", 4, t0-hour), inQueue(job(1, 0, 4, 1, 0), "high")},
		want:  []sched.Preemption{{JobID: 100, Node: "a", For: 1}},
	}, {
		name:  "PreemptMode OFF: never",
		mode:  api.PreemptOff,
		nodes: []*api.Node{nodeRunning(shared("a", 4), lowRunning(100, "a", 4, t0-hour))},
		jobs:  []*api.Job{lowRunning(100, "a", 4, t0-hour), inQueue(job(1, 0, 4, 1, 0), "high")},
	}, {
		name:  "a job of the same queue preempts nothing",
		mode:  api.PreemptCancel,
		nodes: []*api.Node{nodeRunning(shared("a", 4), lowRunning(100, "a", 4, t0-hour))},
		jobs:  []*api.Job{lowRunning(100, "a", 4, t0-hour), inQueue(job(1, 0, 4, 1, 0), "low")},
	}, {
		name:  "jobs already being stopped make the room: no more victims",
		mode:  api.PreemptCancel,
		nodes: []*api.Node{nodeRunning(shared("a", 8), stopping, lowRunning(102, "a", 4, t0-hour))},
		jobs:  []*api.Job{stopping, lowRunning(102, "a", 4, t0-hour), inQueue(job(1, 0, 4, 1, 0), "high")},
	}, {
		name: "the fewest victims, the most recently started first",
		mode: api.PreemptCancel,
		// Node a: four 1-CPU jobs (two victims for 2 CPUs); node b: a
		// 2-CPU job started last, then two 1-CPU ones: one victim.
		nodes: []*api.Node{
			nodeRunning(shared("a", 4), lowRunning(10, "a", 1, t0-hour), lowRunning(11, "a", 1, t0-hour), lowRunning(12, "a", 1, t0-hour), lowRunning(13, "a", 1, t0-hour)),
			nodeRunning(shared("b", 4), lowRunning(20, "b", 2, t0-minute), lowRunning(21, "b", 1, t0-hour), lowRunning(22, "b", 1, t0-hour)),
		},
		jobs: []*api.Job{lowRunning(10, "a", 1, t0-hour), lowRunning(11, "a", 1, t0-hour), lowRunning(12, "a", 1, t0-hour), lowRunning(13, "a", 1, t0-hour),
			lowRunning(20, "b", 2, t0-minute), lowRunning(21, "b", 1, t0-hour), lowRunning(22, "b", 1, t0-hour),
			inQueue(job(1, 0, 2, 1, 0), "high")},
		want: []sched.Preemption{{JobID: 20, Node: "b", For: 1}},
	}, {
		name:  "among equals, the most recently started goes",
		mode:  api.PreemptCancel,
		nodes: []*api.Node{nodeRunning(shared("a", 4), lowRunning(10, "a", 2, t0-hour), lowRunning(11, "a", 2, t0-minute))},
		jobs:  []*api.Job{lowRunning(10, "a", 2, t0-hour), lowRunning(11, "a", 2, t0-minute), inQueue(job(1, 0, 2, 1, 0), "high")},
		want:  []sched.Preemption{{JobID: 11, Node: "a", For: 1}},
	}, {
		name:  "two waiting jobs do not count the same room twice",
		mode:  api.PreemptRequeue,
		nodes: []*api.Node{nodeRunning(shared("a", 4), lowRunning(100, "a", 2, t0-hour), lowRunning(101, "a", 2, t0-2*hour))},
		jobs: []*api.Job{lowRunning(100, "a", 2, t0-hour), lowRunning(101, "a", 2, t0-2*hour),
			inQueue(job(1, 0, 2, 1, 0), "high"), inQueue(job(2, 0, 2, 1, 0), "high")},
		want: []sched.Preemption{{JobID: 100, Node: "a", For: 1, Requeue: true}, {JobID: 101, Node: "a", For: 2, Requeue: true}},
	}, {
		name:  "no node could take the job even empty: nothing preempted",
		mode:  api.PreemptCancel,
		nodes: []*api.Node{nodeRunning(shared("a", 4), lowRunning(100, "a", 4, t0-hour))},
		jobs:  []*api.Job{lowRunning(100, "a", 4, t0-hour), inQueue(job(1, 0, 8, 1, 0), "high")},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := tierSnap(c.mode, c.jobs, c.nodes...)
			s.queues["low"].GraceTimeSeconds = c.grace
			for i := range c.want {
				c.want[i].GraceSeconds = c.grace
			}
			p := sched.Schedule(s, t0)
			if len(p.Placements) != 0 {
				t.Fatalf("placed %v, want none (every node is full)", placedIDs(p))
			}
			if !reflect.DeepEqual(p.Preemptions, c.want) {
				t.Fatalf("preemptions %+v, want %+v", p.Preemptions, c.want)
			}
			// Each preemptor's wait names its victims, and says so.
			for _, pre := range c.want {
				w, _ := waitOf(p, pre.For)
				if !slices.Contains(w.Preempting, pre.JobID) || !strings.Contains(w.Describe(api.Resources{}, t0), "preempted to make room for it") {
					t.Errorf("job %d's wait %+v (%q) does not name job %d as preempted for it", pre.For, w, w.Describe(api.Resources{}, t0), pre.JobID)
				}
			}
		})
	}
}

// TestPreemptionInProgress: while its victims are being stopped, the
// waiting job's reason names them, and nothing more is preempted.
func TestPreemptionInProgress(t *testing.T) {
	victim := lowRunning(100, "a", 4, t0-hour)
	victim.StopRequested, victim.StopCause = true, api.CausePreempted
	p := sched.Schedule(tierSnap(api.PreemptCancel, []*api.Job{victim, lowRunning(101, "a", 4, t0-hour), inQueue(job(1, 0, 4, 1, 0), "high")},
		nodeRunning(shared("a", 8), victim, lowRunning(101, "a", 4, t0-hour))), t0)
	if len(p.Preemptions) != 0 {
		t.Fatalf("preemptions %+v, want none (job 100 is being stopped already)", p.Preemptions)
	}
	if w, _ := waitOf(p, 1); !reflect.DeepEqual(w.Preempting, []uint64{100}) || w.Reason != sched.ReasonResources {
		t.Errorf("job 1 waits %s, preempting %v; want Resources, preempting [100]", w.Reason, w.Preempting)
	}
}

// tierLicSnap is tierSnap with licenses.
type tierLicSnap struct {
	*queueSnap
	lics []*api.License
}

func (s *tierLicSnap) Licenses() []*api.License { return s.lics }

func TestPreemptionForLicenses(t *testing.T) {
	holding := func(id uint64, started int64, uses ...api.LicenseUse) *api.Job {
		return asking(lowRunning(id, "a", 1, started), uses...)
	}
	stoppingHolder := holding(103, t0-hour, use("db", 1))
	stoppingHolder.StopRequested = true
	tokens := lic("tokens", 0)
	tokens.Type = api.NonReplenishable
	cases := []struct {
		name string
		lics []*api.License
		jobs []*api.Job
		want []sched.Preemption
	}{{
		name: "the most recently started holders first, as many as needed",
		lics: []*api.License{lic("db", 3)},
		jobs: []*api.Job{holding(100, t0-2*hour, use("db", 1)), holding(101, t0-minute, use("db", 1)), holding(102, t0-hour, use("db", 1)),
			asking(inQueue(job(1, 0, 1, 1, 0), "high"), use("db", 2))},
		want: []sched.Preemption{{JobID: 101, Node: "a", For: 1}, {JobID: 102, Node: "a", For: 1}},
	}, {
		name: "what a job being stopped gives back counts",
		lics: []*api.License{lic("db", 3)},
		jobs: []*api.Job{holding(100, t0-2*hour, use("db", 1)), holding(101, t0-minute, use("db", 1)), stoppingHolder,
			asking(inQueue(job(1, 0, 1, 1, 0), "high"), use("db", 2))},
		want: []sched.Preemption{{JobID: 101, Node: "a", For: 1}},
	}, {
		name: "a later job waiting behind the first asks for nothing",
		lics: []*api.License{lic("db", 1)},
		jobs: []*api.Job{holding(100, t0-hour, use("db", 1)),
			asking(inQueue(job(1, 5, 1, 1, 0), "high"), use("db", 1)), asking(inQueue(job(2, 1, 1, 1, 0), "high"), use("db", 1))},
		want: []sched.Preemption{{JobID: 100, Node: "a", For: 1}},
	}, {
		name: "a consumed (NON_REPLENISHABLE) resource does not come back: nothing preempted",
		lics: []*api.License{tokens},
		jobs: []*api.Job{holding(100, t0-hour, use("tokens", 1)), asking(inQueue(job(1, 0, 1, 1, 0), "high"), use("tokens", 1))},
	}, {
		name: "not enough held by lower queues: nothing preempted",
		lics: []*api.License{lic("db", 2)},
		jobs: []*api.Job{holding(100, t0-hour, use("db", 1)), asking(inQueue(runningOn(200, "a", t0, 1, 1, 3600), "high"), use("db", 1)),
			asking(inQueue(job(1, 0, 1, 1, 0), "high"), use("db", 2))},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var alloc []*api.Job
			for _, j := range c.jobs {
				if j.State == api.StateRunning {
					alloc = append(alloc, j)
				}
			}
			s := &tierLicSnap{queueSnap: tierSnap(api.PreemptCancel, c.jobs, nodeRunning(shared("a", 64), alloc...)), lics: c.lics}
			p := sched.Schedule(s, t0)
			if len(p.Placements) != 0 {
				t.Fatalf("placed %v, want none", placedIDs(p))
			}
			if !reflect.DeepEqual(p.Preemptions, c.want) {
				t.Fatalf("preemptions %+v, want %+v", p.Preemptions, c.want)
			}
		})
	}
}
