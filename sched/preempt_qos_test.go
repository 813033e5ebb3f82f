package sched_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
	"github.com/shoal-batch/shoal/sched"
)

// qosSnap is tierSnap (queues low and high over the same nodes) with an
// account registry holding QOS (sched.AccountsSnapshot).
type qosSnap struct {
	*queueSnap
	qos []api.QOS
}

func (s *qosSnap) Accounts() api.AccountsState                { return api.AccountsState{QOS: s.qos} }
func (s *qosSnap) PrioritySettings() raftfsm.PrioritySettings { return raftfsm.DefaultPrioritySettings }

// withQOS gives j a QOS.
func withQOS(j *api.Job, q string) *api.Job { j.QOS = q; return j }

// qosRunning is a job of QOS q and queue low running on node n since
// started, on cpus CPUs.
func qosRunning(id uint64, n string, cpus int, started int64, q string) *api.Job {
	return withQOS(lowRunning(id, n, cpus, started), q)
}

func secs(n int64) *int64 { return &n }

// qosSet is the registry of the table below: urgent (priority 100)
// preempts scavenger (priority 1) and standby (priority 5); normal
// preempts nothing.
func qosSet(mod func(map[string]*api.QOS)) []api.QOS {
	m := map[string]*api.QOS{
		"urgent":    {Name: "urgent", Priority: 100, Preempt: []string{"scavenger", "standby"}},
		"scavenger": {Name: "scavenger", Priority: 1},
		"standby":   {Name: "standby", Priority: 5},
		"normal":    {Name: "normal"},
	}
	if mod != nil {
		mod(m)
	}
	var out []api.QOS
	for _, name := range []string{"normal", "scavenger", "standby", "urgent"} {
		out = append(out, *m[name])
	}
	return out
}

// TestQOSPreemption holds preempt/qos to its rules, one case each: who
// may preempt whom (the QOS's Preempt list, never its own QOS, whatever
// the queues' tiers), the fewest victims and in which order,
// PreemptExemptTime, PreemptMode (the QOS's, else the queue's, else the
// cluster's) and GraceTime (the QOS's, else the queue's), and the other
// PreemptTypes.
func TestQOSPreemption(t *testing.T) {
	full := func(jobs ...*api.Job) []*api.Node { return []*api.Node{nodeRunning(shared("a", 4), jobs...)} }
	cases := []struct {
		name      string
		ptype     string // Options.PreemptType ("": qos)
		mode      string // Options.PreemptMode
		lowMode   string // queue low's PreemptMode
		lowGrace  int
		qos       func(map[string]*api.QOS)
		nodes     []*api.Node
		jobs      []*api.Job
		want      []sched.Preemption
		wantWords string
		wantNext  int64 // the plan's NextBegin, if not 0
	}{{
		name:      "an urgent job preempts a scavenger job on a full node (the cluster's CANCEL)",
		nodes:     full(qosRunning(100, "a", 4, t0-hour, "scavenger")),
		jobs:      []*api.Job{qosRunning(100, "a", 4, t0-hour, "scavenger"), withQOS(inQueue(job(1, 0, 4, 1, 0), "low"), "urgent")},
		want:      []sched.Preemption{{JobID: 100, Node: "a", For: 1}},
		wantWords: "job 100, of a QOS its QOS may preempt, is being preempted",
	}, {
		name: "the victim's QOS's PreemptMode REQUEUE and GraceTime",
		qos: func(m map[string]*api.QOS) {
			m["scavenger"].PreemptMode, m["scavenger"].GraceTime = api.PreemptRequeue, 30
		},
		nodes: full(qosRunning(100, "a", 4, t0-hour, "scavenger")),
		jobs:  []*api.Job{qosRunning(100, "a", 4, t0-hour, "scavenger"), withQOS(inQueue(job(1, 0, 4, 1, 0), "low"), "urgent")},
		want:  []sched.Preemption{{JobID: 100, Node: "a", For: 1, Requeue: true, GraceSeconds: 30}},
	}, {
		name:     "no QOS mode: the victim's queue's mode and GraceTime",
		lowMode:  api.PreemptRequeue,
		lowGrace: 45,
		nodes:    full(qosRunning(100, "a", 4, t0-hour, "scavenger")),
		jobs:     []*api.Job{qosRunning(100, "a", 4, t0-hour, "scavenger"), withQOS(inQueue(job(1, 0, 4, 1, 0), "low"), "urgent")},
		want:     []sched.Preemption{{JobID: 100, Node: "a", For: 1, Requeue: true, GraceSeconds: 45}},
	}, {
		name:     "the QOS's mode and GraceTime override the queue's",
		lowMode:  api.PreemptRequeue,
		lowGrace: 45,
		qos: func(m map[string]*api.QOS) {
			m["scavenger"].PreemptMode, m["scavenger"].GraceTime = api.PreemptCancel, 5
		},
		nodes: full(qosRunning(100, "a", 4, t0-hour, "scavenger")),
		jobs:  []*api.Job{qosRunning(100, "a", 4, t0-hour, "scavenger"), withQOS(inQueue(job(1, 0, 4, 1, 0), "low"), "urgent")},
		want:  []sched.Preemption{{JobID: 100, Node: "a", For: 1, GraceSeconds: 5}},
	}, {
		name:  "neither QOS nor queue sets a mode: the cluster's REQUEUE",
		mode:  api.PreemptRequeue,
		nodes: full(qosRunning(100, "a", 4, t0-hour, "scavenger")),
		jobs:  []*api.Job{qosRunning(100, "a", 4, t0-hour, "scavenger"), withQOS(inQueue(job(1, 0, 4, 1, 0), "low"), "urgent")},
		want:  []sched.Preemption{{JobID: 100, Node: "a", For: 1, Requeue: true}},
	}, {
		name:  "a QOS's OFF is the cluster's mode, as in Slurm (not: never preempted)",
		mode:  api.PreemptRequeue,
		qos:   func(m map[string]*api.QOS) { m["scavenger"].PreemptMode = api.PreemptOff },
		nodes: full(qosRunning(100, "a", 4, t0-hour, "scavenger")),
		jobs:  []*api.Job{qosRunning(100, "a", 4, t0-hour, "scavenger"), withQOS(inQueue(job(1, 0, 4, 1, 0), "low"), "urgent")},
		want:  []sched.Preemption{{JobID: 100, Node: "a", For: 1, Requeue: true}},
	}, {
		name:  "a QOS not in the Preempt list is not preempted",
		nodes: full(qosRunning(100, "a", 4, t0-hour, "normal")),
		jobs:  []*api.Job{qosRunning(100, "a", 4, t0-hour, "normal"), withQOS(inQueue(job(1, 0, 4, 1, 0), "low"), "urgent")},
	}, {
		name:  "a job without a QOS is of normal, which preempts nothing",
		nodes: full(qosRunning(100, "a", 4, t0-hour, "scavenger")),
		jobs:  []*api.Job{qosRunning(100, "a", 4, t0-hour, "scavenger"), inQueue(job(1, 0, 4, 1, 0), "low")},
	}, {
		name:  "a job never preempts its own QOS",
		nodes: full(qosRunning(100, "a", 4, t0-hour, "urgent")),
		jobs:  []*api.Job{qosRunning(100, "a", 4, t0-hour, "urgent"), withQOS(inQueue(job(1, 0, 4, 1, 0), "low"), "urgent")},
	}, {
		name:  "queue tiers do not matter: a job of queue low preempts one of queue high",
		nodes: full(withQOS(inQueue(runningOn(100, "a", t0-hour, 4, 1, 3600), "high"), "scavenger")),
		jobs: []*api.Job{withQOS(inQueue(runningOn(100, "a", t0-hour, 4, 1, 3600), "high"), "scavenger"),
			withQOS(inQueue(job(1, 0, 4, 1, 0), "low"), "urgent")},
		want: []sched.Preemption{{JobID: 100, Node: "a", For: 1}},
	}, {
		name:  "the lowest QOS priority goes first, before a more recently started job",
		nodes: full(qosRunning(100, "a", 2, t0-minute, "standby"), qosRunning(101, "a", 2, t0-hour, "scavenger")),
		jobs: []*api.Job{qosRunning(100, "a", 2, t0-minute, "standby"), qosRunning(101, "a", 2, t0-hour, "scavenger"),
			withQOS(inQueue(job(1, 0, 2, 1, 0), "low"), "urgent")},
		want: []sched.Preemption{{JobID: 101, Node: "a", For: 1}},
	}, {
		name: "the fewest victims: one 2-CPU job on node b rather than two 1-CPU ones on a",
		nodes: []*api.Node{
			nodeRunning(shared("a", 4), qosRunning(10, "a", 1, t0-hour, "scavenger"), qosRunning(11, "a", 1, t0-hour, "scavenger"), qosRunning(12, "a", 2, t0-hour, "normal")),
			nodeRunning(shared("b", 4), qosRunning(20, "b", 2, t0-hour, "scavenger"), qosRunning(21, "b", 2, t0-hour, "normal")),
		},
		jobs: []*api.Job{qosRunning(10, "a", 1, t0-hour, "scavenger"), qosRunning(11, "a", 1, t0-hour, "scavenger"), qosRunning(12, "a", 2, t0-hour, "normal"),
			qosRunning(20, "b", 2, t0-hour, "scavenger"), qosRunning(21, "b", 2, t0-hour, "normal"),
			withQOS(inQueue(job(1, 0, 2, 1, 0), "low"), "urgent")},
		want: []sched.Preemption{{JobID: 20, Node: "b", For: 1}},
	}, {
		name:  "PreemptExemptTime: a job that has run less is passed over for one that has run longer",
		qos:   func(m map[string]*api.QOS) { m["scavenger"].PreemptExemptTime = secs(600) },
		nodes: full(qosRunning(100, "a", 2, t0-5*minute, "scavenger"), qosRunning(101, "a", 2, t0-hour, "scavenger")),
		jobs: []*api.Job{qosRunning(100, "a", 2, t0-5*minute, "scavenger"), qosRunning(101, "a", 2, t0-hour, "scavenger"),
			withQOS(inQueue(job(1, 0, 2, 1, 0), "low"), "urgent")},
		want: []sched.Preemption{{JobID: 101, Node: "a", For: 1}},
	}, {
		name:     "PreemptExemptTime: every candidate too young, nothing preempted; plan again when it passes",
		qos:      func(m map[string]*api.QOS) { m["scavenger"].PreemptExemptTime = secs(600) },
		nodes:    full(qosRunning(100, "a", 4, t0-9*minute, "scavenger")),
		jobs:     []*api.Job{qosRunning(100, "a", 4, t0-9*minute, "scavenger"), withQOS(inQueue(job(1, 0, 4, 1, 0), "low"), "urgent")},
		wantNext: t0 + minute,
	}, {
		name:  "PreemptExemptTime passed: preempted",
		qos:   func(m map[string]*api.QOS) { m["scavenger"].PreemptExemptTime = secs(600) },
		nodes: full(qosRunning(100, "a", 4, t0-10*minute, "scavenger")),
		jobs:  []*api.Job{qosRunning(100, "a", 4, t0-10*minute, "scavenger"), withQOS(inQueue(job(1, 0, 4, 1, 0), "low"), "urgent")},
		want:  []sched.Preemption{{JobID: 100, Node: "a", For: 1}},
	}, {
		name:  "preempt/none: nothing",
		ptype: sched.PreemptNone,
		nodes: full(qosRunning(100, "a", 4, t0-hour, "scavenger")),
		jobs:  []*api.Job{qosRunning(100, "a", 4, t0-hour, "scavenger"), withQOS(inQueue(job(1, 0, 4, 1, 0), "high"), "urgent")},
	}, {
		name:  "preempt/partition_prio: QOS lists do not count, low's OFF holds",
		ptype: sched.PreemptPartitionPrio,
		nodes: full(qosRunning(100, "a", 4, t0-hour, "scavenger")),
		jobs:  []*api.Job{qosRunning(100, "a", 4, t0-hour, "scavenger"), withQOS(inQueue(job(1, 0, 4, 1, 0), "high"), "urgent")},
	}, {
		name:    "preempt/partition_prio: PreemptExemptTime holds there too",
		ptype:   sched.PreemptPartitionPrio,
		lowMode: api.PreemptCancel,
		qos:     func(m map[string]*api.QOS) { m["scavenger"].PreemptExemptTime = secs(3600 * 2) },
		nodes:   full(qosRunning(100, "a", 4, t0-hour, "scavenger")),
		jobs:    []*api.Job{qosRunning(100, "a", 4, t0-hour, "scavenger"), inQueue(job(1, 0, 4, 1, 0), "high")},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &qosSnap{queueSnap: tierSnap(c.lowMode, c.jobs, c.nodes...), qos: qosSet(c.qos)}
			s.queues["low"].GraceTimeSeconds = c.lowGrace
			opts := sched.Options{PreemptType: c.ptype, PreemptMode: c.mode}
			if opts.PreemptType == "" {
				opts.PreemptType = sched.PreemptQOS
			}
			p := sched.ScheduleWith(s, t0, opts)
			if len(p.Placements) != 0 {
				t.Fatalf("placed %v, want none (every node is full)", placedIDs(p))
			}
			if !reflect.DeepEqual(p.Preemptions, c.want) {
				t.Fatalf("preemptions %+v, want %+v", p.Preemptions, c.want)
			}
			if c.wantNext != 0 && p.NextBegin != c.wantNext {
				t.Errorf("plan's NextBegin %d, want %d (when the exemption ends: plan again then)", p.NextBegin, c.wantNext)
			}
			if c.wantWords != "" {
				w, _ := waitOf(p, c.want[0].For)
				if got := w.Describe(api.Resources{}, t0); !strings.Contains(got, c.wantWords) {
					t.Errorf("job %d's reason %q does not say %q", c.want[0].For, got, c.wantWords)
				}
			}
		})
	}
}

// TestQOSPreemptionForLicenses: under preempt/qos a job waiting for
// licenses preempts holders of a QOS it may preempt, and no others.
func TestQOSPreemptionForLicenses(t *testing.T) {
	jobs := []*api.Job{
		asking(qosRunning(100, "a", 1, t0-hour, "normal"), use("db", 1)),
		asking(qosRunning(101, "a", 1, t0-hour, "scavenger"), use("db", 1)),
		asking(withQOS(inQueue(job(1, 0, 1, 1, 0), "low"), "urgent"), use("db", 1)),
	}
	s := &tierLicSnap{queueSnap: tierSnap("", jobs, nodeRunning(shared("a", 64), jobs[0], jobs[1])), lics: []*api.License{lic("db", 2)}}
	p := sched.ScheduleWith(&qosLicSnap{tierLicSnap: s, qos: qosSet(nil)}, t0, sched.Options{PreemptType: sched.PreemptQOS})
	want := []sched.Preemption{{JobID: 101, Node: "a", For: 1}}
	if !reflect.DeepEqual(p.Preemptions, want) {
		t.Fatalf("preemptions %+v, want %+v (the scavenger holder, not the normal one)", p.Preemptions, want)
	}
}

type qosLicSnap struct {
	*tierLicSnap
	qos []api.QOS
}

func (s *qosLicSnap) Accounts() api.AccountsState { return api.AccountsState{QOS: s.qos} }
func (s *qosLicSnap) PrioritySettings() raftfsm.PrioritySettings {
	return raftfsm.DefaultPrioritySettings
}

// TestParsePreempt holds the agent's settings to Slurm's pairs.
func TestParsePreempt(t *testing.T) {
	for _, c := range []struct {
		typ, mode      string
		wantT, wantM   string
		wantErrContain string
	}{
		{"", "", sched.PreemptPartitionPrio, api.PreemptCancel, ""},
		{"preempt/qos", "requeue", sched.PreemptQOS, api.PreemptRequeue, ""},
		{"none", "", sched.PreemptNone, api.PreemptOff, ""},
		{"qos", "off", "", "", "PreemptType and PreemptMode values incompatible"},
		{"none", "cancel", "", "", "PreemptType and PreemptMode values incompatible"},
		{"qos", "suspend", "", "", "give CANCEL or REQUEUE"},
		{"qos", "gang", "", "", "does not suspend or gang-schedule"},
		{"fifo", "", "", "", "give partition_prio, qos or none"},
	} {
		typ, err := sched.ParsePreemptType(c.typ)
		var mode string
		if err == nil {
			mode, err = sched.ParsePreemptMode(c.mode, typ)
		}
		switch {
		case c.wantErrContain != "" && (err == nil || !strings.Contains(err.Error(), c.wantErrContain)):
			t.Errorf("type %q mode %q: error %v, want one saying %q", c.typ, c.mode, err, c.wantErrContain)
		case c.wantErrContain == "" && (err != nil || typ != c.wantT || mode != c.wantM):
			t.Errorf("type %q mode %q: %q %q %v, want %q %q", c.typ, c.mode, typ, mode, err, c.wantT, c.wantM)
		}
	}
}

// TestPreemptorFirst: the room a preemption gives back goes to the job it
// was for, though a job of the same priority comes before it by id: the
// requeued victim itself (else the two would take turns for ever), or
// another job while a victim is still being stopped.
func TestPreemptorFirst(t *testing.T) {
	requeued := withQOS(inQueue(job(3, 0, 2, 1, 0), "low"), "scavenger")
	requeued.Attempt = 1 // the attempt that ran; the next is counted when placed
	requeued.Attempts = []api.Attempt{{Cause: api.CauseRequeued, StatusReason: "Preempted by job 5"}}
	preemptor := withQOS(inQueue(job(5, 0, 2, 1, 0), "low"), "urgent")
	s := &qosSnap{queueSnap: tierSnap("", []*api.Job{requeued, preemptor}, shared("a", 2)), qos: qosSet(nil)}
	p := sched.ScheduleWith(s, t0, sched.Options{PreemptType: sched.PreemptQOS})
	if ids := placedIDs(p); !reflect.DeepEqual(ids, []uint64{5}) || len(p.Preemptions) != 0 {
		t.Fatalf("placed %v, preempted %+v; want job 5 placed, the room its requeued victim 3 gave back, and nothing preempted", ids, p.Preemptions)
	}

	// While victim 100 is being stopped for job 5, job 4 (before it by
	// id, and as large) does not take the room the other victim, gone
	// already, left.
	stopping := qosRunning(100, "a", 2, t0-hour, "scavenger")
	stopping.StopRequested, stopping.StopCause, stopping.StopReason = true, api.CausePreempted, "Preempted by job 5"
	other := withQOS(inQueue(job(4, 0, 2, 1, 0), "low"), "normal")
	big := withQOS(inQueue(job(5, 0, 2, 1, 0), "low"), "urgent")
	s = &qosSnap{queueSnap: tierSnap("", []*api.Job{other, big, stopping}, nodeRunning(shared("a", 4), stopping)), qos: qosSet(nil)}
	p = sched.ScheduleWith(s, t0, sched.Options{PreemptType: sched.PreemptQOS})
	if ids := placedIDs(p); !reflect.DeepEqual(ids, []uint64{5}) {
		t.Fatalf("placed %v, want job 5 (its victim's room), then nothing for job 4", ids)
	}

	// Job 5 needs the whole node: the free half and what victim 100
	// gives back are held for it; job 4 does not take the free half, and
	// job 5 asks for no other victim.
	big = withQOS(inQueue(job(5, 0, 4, 1, 0), "low"), "urgent")
	other = withQOS(inQueue(job(4, 0, 2, 1, 0), "low"), "normal")
	s = &qosSnap{queueSnap: tierSnap("", []*api.Job{other, big, stopping}, nodeRunning(shared("a", 4), stopping)), qos: qosSet(nil)}
	p = sched.ScheduleWith(s, t0, sched.Options{PreemptType: sched.PreemptQOS})
	if ids := placedIDs(p); len(ids) != 0 || len(p.Preemptions) != 0 {
		t.Fatalf("placed %v, preempted %+v; want nothing: node a's room is held for job 5 while victim 100 stops", ids, p.Preemptions)
	}
	if w, _ := waitOf(p, 5); !reflect.DeepEqual(w.Preempting, []uint64{100}) {
		t.Errorf("job 5's wait %+v, want it to name victim 100 as being preempted for it", w)
	}
}
