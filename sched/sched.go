package sched

import (
	"cmp"
	"math"
	"slices"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// Snapshot is the read-only state the scheduler plans against.
type Snapshot interface {
	// JobViews calls fn for each job in state st in id order until fn
	// returns false. Views stay valid for the pass that read them (a
	// snapshot may make them in memory it reuses for its next pass:
	// raftfsm.JobArena).
	JobViews(st api.JobState, fn func(*Job) bool)
	// Nodes returns every node, sorted by name.
	Nodes() []*api.Node
	// Queue and ComputeEnvironment look objects up by name (nil: none).
	Queue(name string) *api.JobQueue
	ComputeEnvironment(name string) *api.ComputeEnvironment
}

// Job is what a pass reads of a job (raftfsm.JobView: the job's spec,
// shared, and the fields of its state a plan depends on).
type Job = raftfsm.JobView

// Placement puts one job on one node of a compute environment.
type Placement struct {
	JobID uint64
	Node  string
	CE    string
	// Queue is the queue the job starts in when it is another of those it
	// may run in (api.Job.Queues) than its Queue; empty: its Queue.
	Queue string
}

// Plan is the scheduler's answer for one snapshot.
type Plan struct {
	Placements []Placement
	// Waits says, for every PENDING job and every RUNNABLE job left
	// unplaced, why it waits and when it may start: RUNNABLE jobs in the
	// order they were considered (queue priority, job priority, id), then
	// PENDING ones by id.
	Waits []Wait
	// Waiting counts RUNNABLE jobs left unplaced (resources, begin time,
	// array throttle, reservations).
	Waiting int
	// NextBegin is the earliest begin time (epoch ms) of a job held back by
	// it, or end of a running job's PreemptExemptTime that kept it from
	// being preempted (preempt_qos.go), 0 if none: plan again then.
	NextBegin int64
	// Preemptions are running jobs to stop for waiting jobs of
	// higher-priority queues (preempt.go).
	Preemptions []Preemption
}

// MaxPlacements bounds one plan (Options.MaxPlacements may set another
// bound), so that one raft entry stays small and a
// flood of submissions does not delay the first placements.
const MaxPlacements = 4096

// Defaults of Options.
const (
	// DefaultTimeLimit is what a job without a time limit counts as when
	// the scheduler reckons when it ends: a year, that is never.
	DefaultTimeLimit int64 = 365 * 24 * 3600
	// DefaultWindow is how far ahead reservations are made (Slurm's
	// bf_window): a job that cannot start within it reserves nothing,
	// so jobs without time limits never hold back others.
	DefaultWindow int64 = 7 * 24 * 3600
	// DefaultEstimateDepth is how many waiting jobs of a queue past its
	// reserved one are given an estimated start each pass.
	DefaultEstimateDepth = 16
)

// Options tune a pass. The zero value takes the defaults above.
type Options struct {
	// DefaultTimeLimit (seconds) is what a job without a time limit
	// counts as; QueueTimeLimits overrides it per queue.
	DefaultTimeLimit int64
	QueueTimeLimits  map[string]int64
	// Window (seconds): reservations are made no further ahead.
	Window int64
	// EstimateDepth: waiting jobs per queue, after the reserved one, that
	// get an estimated start (negative: none).
	EstimateDepth int
	// NoPending leaves PENDING jobs out of Plan.Waits: their reasons
	// (Dependency, held) are in their records already, and a pass need
	// not read every job queued behind a dependency.
	NoPending bool
	// Priority is the multifactor configuration (priority.go); with no
	// weight set, jobs are ordered by the priority they were given.
	Priority PriorityConfig
	// Conservative is conservative backfill: every job that waits for
	// resources, in priority order, gets a reservation (up to
	// MaxReservations; the rest estimates), and a lower-priority job
	// starts only if it delays none of them. Without it, EASY backfill:
	// only each queue's first such job has one.
	Conservative bool
	// MaxReservations bounds the reservations of a conservative pass
	// (0: DefaultMaxReservations; Slurm's bf_max_job_test plays this
	// part).
	MaxReservations int
	// MaxPlacements bounds the plan's placements (0: MaxPlacements). A
	// pass costs about the same however many jobs it places, so a
	// caller whose cluster frees more room than MaxPlacements between
	// two passes places it all in one pass with a higher bound.
	MaxPlacements int
	// PreemptType is Slurm's PreemptType (preempt.go): PreemptPartitionPrio
	// ("" is it), PreemptQOS or PreemptNone. PreemptMode is the cluster's
	// mode under PreemptQOS for a victim whose QOS (and queue) set none:
	// api.PreemptCancel ("" is it) or api.PreemptRequeue.
	PreemptType string
	PreemptMode string
}

func (o Options) withDefaults() Options {
	if o.DefaultTimeLimit <= 0 {
		o.DefaultTimeLimit = DefaultTimeLimit
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.EstimateDepth == 0 {
		o.EstimateDepth = DefaultEstimateDepth
	}
	if o.MaxPlacements <= 0 {
		o.MaxPlacements = MaxPlacements
	}
	if o.MaxReservations <= 0 {
		o.MaxReservations = DefaultMaxReservations
	}
	return o
}

// DefaultMaxReservations is how many jobs a conservative pass reserves
// for at most (Slurm's bf_max_job_test default).
const DefaultMaxReservations = 500

// limitMillis is how long j is reckoned to run once started.
func (o Options) limitMillis(j *Job) int64 { return o.limitIn(j, j.Queue) }

// limitIn is how long j is reckoned to run once started in queue q.
func (o Options) limitIn(j *Job, q string) int64 {
	s := j.TimeLimit
	if s <= 0 {
		s = o.QueueTimeLimits[q]
	}
	if s <= 0 {
		s = o.DefaultTimeLimit
	}
	return s * 1000
}

// Schedule is ScheduleWith the default options.
func Schedule(snap Snapshot, now int64) Plan { return ScheduleWith(snap, now, Options{}) }

// ScheduleWith places RUNNABLE jobs, those of higher-priority queues
// first, then by job priority, then in submit order, each on the first
// node (by name) of the first compute environment of its queue (in the
// queue's order) that has the CPUs, memory and GPUs (of the type asked
// for) free, with EASY backfill: the first job of each queue that cannot
// start gets a reservation, the earliest time its resources free up
// (running jobs end at their start plus time limit), and a later job is
// placed only if it ends before that time or leaves the reservation room
// (Options.Conservative: every waiting job has a reservation, and a later
// job delays none).
// now (epoch ms) holds back jobs whose begin time has not come; an array's
// throttle holds back its tasks beyond its limit of running ones. Every
// job it does not place gets a Wait saying why.
func ScheduleWith(snap Snapshot, now int64, opts Options) Plan {
	var pl Planner
	return pl.Schedule(snap, now, opts)
}

// Planner makes plans pass after pass (ScheduleWith), each in the memory
// of the one before: a pass over 320,000 waiting jobs writes a Wait for
// each (some 45 MB), and memory fresh from the system every pass cost
// more than the rest of the pass. The zero value is ready; a Plan it
// returns is valid until its next Schedule.
type Planner struct {
	waits []Wait
	jobs  []*Job
}

// Schedule is ScheduleWith in the planner's memory.
func (pl *Planner) Schedule(snap Snapshot, now int64, opts Options) Plan {
	p := newPass(snap, now, opts)
	p.plan.Waits, p.jobs = pl.waits[:0], pl.jobs[:0]
	p.run()
	pl.waits, pl.jobs = p.plan.Waits, p.jobs
	return p.plan
}

// Explain is the pass ScheduleWith makes, answering for one job: its Wait
// (ok false if the job is placed by this pass or does not wait) and the
// ids of the first jobs of its queue that wait for resources (at most
// MaxHeads).
func Explain(snap Snapshot, now int64, opts Options, id uint64) (w Wait, heads []uint64, ok bool) {
	p := newPass(snap, now, opts)
	p.run()
	for _, x := range p.plan.Waits {
		if x.JobID == id {
			if t, found := p.targets[x.Queue]; found {
				heads = t.heads
			}
			return x, heads, true
		}
	}
	return Wait{}, nil, false
}

// MaxHeads bounds the ids of a queue's first waiting jobs Explain returns.
const MaxHeads = 5

// pass is one run of the scheduler over a snapshot.
type pass struct {
	snap    Snapshot
	now     int64
	opts    Options
	nodes   []*api.Node
	alloc   []api.Resources // allocated now, placements of this pass included
	targets map[string]*target
	plan    Plan
	// running counts the placed tasks of each throttled array.
	running map[uint64]int
	// fit[shape] is the position in the queue's node list from which a
	// node may still have the shape free: allocations only grow within a
	// pass, so a node that could not take a shape never can again.
	fit map[shape]int
	// settled holds the shapes (with time limits) found unplaceable in
	// this pass, with why: that never gets better within a pass.
	settled map[shapeDur]Wait
	// unreservable holds the shapes (with time limits) that cannot start
	// within the window: no job of them gets a reservation this pass.
	unreservable map[shapeDur]bool
	// lastTarget is the previous job's queue (jobs come grouped).
	lastTarget *target
	short      map[shape]*Shortfall
	// prof is each node's timeline, built when the first reservation or
	// estimate needs it (nil until then).
	prof   []*profile
	placed []placedJob // placements before prof was built
	holds  int         // reservations (not estimates) made
	// lic is the pass's account of licenses (licenses.go), nil until a
	// job that asks for one is considered.
	lic *licenses
	// lowest is the lowest priority of a preemptable queue with running
	// jobs (preempt.go), nil until asked.
	lowest *int
	// lim holds jobs at their association's limits (limits.go); nil
	// when the registry sets none.
	lim *limiter
	// qos is the registry's QOS by name for preemption (preempt.go), nil
	// until asked.
	qos map[string]*api.QOS
	// claims are the nodes where room is held for preemptors whose
	// victims are still being stopped (preempt.go).
	claims map[uint64]int
	// jobs is the memory of the RUNNABLE jobs in order (ordered), kept
	// by a Planner for its next pass.
	jobs []*Job
}

// shape is what a job asks of a queue: jobs of one shape fit or not alike.
type shape struct {
	queue *target
	res   api.Resources
}

type shapeDur struct {
	shape
	dur int64
}

type placedJob struct {
	node int
	res  api.Resources
	end  int64
}

func newPass(snap Snapshot, now int64, opts Options) *pass {
	p := &pass{snap: snap, now: now, opts: opts.withDefaults(), nodes: snap.Nodes(),
		targets: map[string]*target{}, fit: map[shape]int{}, settled: map[shapeDur]Wait{}, unreservable: map[shapeDur]bool{}, short: map[shape]*Shortfall{}}
	p.alloc = make([]api.Resources, len(p.nodes))
	for i, n := range p.nodes {
		p.alloc[i] = n.Allocated
	}
	p.lim = newLimiter(snap)
	return p
}

func (p *pass) run() {
	jobs := p.preemptorsFirst(p.ordered()) // preempt.go
	if cap(p.plan.Waits) < len(jobs) {
		p.plan.Waits = make([]Wait, 0, len(jobs))
	}
	p.running = runningTasks(p.snap, jobs)
	for _, j := range jobs {
		p.consider(j)
	}
	p.preempt()
	if p.opts.NoPending {
		return
	}
	p.snap.JobViews(api.StatePending, func(j *Job) bool {
		w := Wait{JobID: j.ID, Job: j, Queue: j.Queue, Reason: ReasonDependency}
		switch {
		case j.Held && j.HeldByAdmin:
			w.Reason = ReasonHeldAdmin
		case j.Held:
			w.Reason = ReasonHeldUser
		}
		p.plan.Waits = append(p.plan.Waits, w)
		return true
	})
}

// fewLevels is how many levels ordered finds by a scan before a map.
const fewLevels = 8

// ordered returns the RUNNABLE jobs in the order they are considered:
// higher-priority queues first, then higher job priority, then id. The
// snapshot gives them in id order, and jobs come in few priorities, so
// they are sorted by bucket: one lookup a job, then the buckets' keys,
// not a comparison sort of every job.
func (p *pass) ordered() []*Job {
	type level struct {
		queue int
		job   int64
		fair  string // a fair-share queue's jobs, ordered by FairShareOrder
	}
	// Consecutive jobs mostly share a level: the last one's bucket is
	// kept at hand, and the levels are looked up only when it changes:
	// the first few by a scan (jobs of three priorities interleaved
	// change level at almost every job, and a scan of a few is quicker
	// than hashing), the rest in a map.
	var levels []level
	var buckets [][]*Job
	index := map[level]int{}
	cur, curLevel := -1, level{}
	var last *target
	lastQueue := ""
	n := 0
	var prio *Priorities // multifactor (priority.go), when weights are set
	if p.opts.Priority.Multifactor() {
		prio = NewPriorities(p.snap, p.now, p.opts.Priority)
	}
	p.snap.JobViews(api.StateRunnable, func(j *Job) bool {
		if last == nil || j.Queue != lastQueue {
			last, lastQueue = p.target(j.Queue), j.Queue
		}
		l := level{last.priority, j.Priority, ""}
		switch {
		case last.fair != nil:
			l.job, l.fair = math.MaxInt64, last.name // first among its queue's level
		case prio != nil:
			l.job = prio.Of(j).Priority
		}
		if cur < 0 || l != curLevel {
			k := slices.Index(levels[:min(len(levels), fewLevels)], l)
			if x, ok := index[l]; k < 0 && ok {
				k = x
			}
			if k < 0 {
				k = len(buckets)
				if k >= fewLevels {
					index[l] = k
				}
				levels = append(levels, l)
				buckets = append(buckets, nil)
			}
			cur, curLevel = k, l
		}
		buckets[cur] = append(buckets[cur], j)
		n++
		return true
	})
	orderFair(p, levels, buckets, func(l level) string { return l.fair })
	if len(buckets) == 1 {
		return buckets[0]
	}
	order := make([]int, len(levels))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if levels[a].queue != levels[b].queue {
			return cmp.Compare(levels[b].queue, levels[a].queue)
		}
		if levels[a].job != levels[b].job {
			return cmp.Compare(levels[b].job, levels[a].job)
		}
		return cmp.Compare(levels[a].fair, levels[b].fair)
	})
	jobs := p.jobs[:0]
	if cap(jobs) < n {
		jobs = make([]*Job, 0, n)
	}
	for _, k := range order {
		jobs = append(jobs, buckets[k]...)
	}
	p.jobs = jobs
	return jobs
}

// consider places one RUNNABLE job or says why it waits.
func (p *pass) consider(j *Job) {
	if p.lastTarget == nil || j.Queue != p.lastTarget.name {
		p.lastTarget = p.targets[j.Queue]
	}
	t := p.lastTarget
	w := Wait{JobID: j.ID, Job: j, Queue: j.Queue}
	if len(j.Queues) > 1 && p.placeAny(j) {
		return
	}
	if p.place(t, j, &w, true) {
		return
	}
	p.plan.Waiting++
	if w.Reason != "" {
		p.plan.Waits = append(p.plan.Waits, w)
	}
}

// placeAny places a job that may run in several queues (sbatch
// --partition=a,b) in the first of them, higher-priority queues first,
// then in the order the job names them, that can start it now. It
// reserves nothing: a job that can start in none waits, and holds its
// reservation, in its first queue (Queue).
func (p *pass) placeAny(j *Job) bool {
	ts := make([]*target, len(j.Queues))
	for i, q := range j.Queues {
		ts[i] = p.target(q)
	}
	slices.SortStableFunc(ts, func(a, b *target) int { return cmp.Compare(b.priority, a.priority) })
	for _, t := range ts {
		var w Wait
		if p.place(t, j, &w, false) {
			return true
		}
	}
	return false
}

// place places j in t's queue, or fills in w with why it waits there;
// with reserve, a job that waits for resources is counted among the
// queue's waiting jobs and may get its reservation.
func (p *pass) place(t *target, j *Job, w *Wait, reserve bool) bool {
	throttled := j.Array != nil && j.Array.MaxRunning > 0
	switch {
	case j.BeginAt > p.now:
		w.Reason, w.StartAt = ReasonBeginTime, j.BeginAt
		if p.plan.NextBegin == 0 || j.BeginAt < p.plan.NextBegin {
			p.plan.NextBegin = j.BeginAt
		}
		return false
	case !t.enabled:
		w.Reason = ReasonPartitionInactive
		return false
	case len(t.envs) == 0:
		w.Reason = ReasonPartitionDown
		return false
	case throttled && p.running[j.Array.JobID] >= j.Array.MaxRunning:
		w.Reason = ReasonArrayTaskLimit
		return false
	case len(p.plan.Placements) == p.opts.MaxPlacements:
		return false // the next pass places or explains it
	case len(j.Licenses) > 0 && !p.licensesFree(j, w):
		return false
	}
	if p.lim != nil {
		if r := p.lim.blocked(j); r != "" {
			w.Reason = r
			return false
		}
	}
	if t.fair != nil && !t.fair.room(j) { // computeReservation (awsfairshare.go)
		w.Reason = ReasonFairShareReservation
		return false
	}
	dur := p.opts.limitIn(j, t.name)
	sh := shape{t, j.Resources}
	key := shapeDur{sh, dur}
	// Allocations only grow within a pass and reservations are only
	// added, so a shape (and time limit) that could not be placed never
	// can be in this pass: the jobs after it of the same kind wait alike.
	if known, ok := p.settled[key]; ok {
		w.Reason, w.Short, w.Blocker, w.BlockerAt = known.Reason, known.Short, known.Blocker, known.BlockerAt
		if w.Reason != ReasonReqNodeNotAvail && reserve {
			p.wait(t, sh, dur, w)
			p.reserveLicenses(j, w)
		}
		return false
	}
	if !p.possible(sh) {
		w.Reason, w.Short = ReasonReqNodeNotAvail, p.shortfall(sh)
		p.settled[key] = *w
		return false
	}
	pos, fitsNow, blocker := p.find(sh, dur)
	if pos >= 0 {
		e, i := t.at(pos)
		p.take(i, j.Resources, p.now+dur)
		pl := Placement{JobID: j.ID, Node: p.nodes[i].Name, CE: t.envs[e].name}
		if t.name != j.Queue {
			pl.Queue = t.name
		}
		p.plan.Placements = append(p.plan.Placements, pl)
		p.takeLicenses(j)
		if p.lim != nil {
			p.lim.add(j)
		}
		if t.fair != nil {
			t.fair.take(j)
		}
		if throttled {
			p.running[j.Array.JobID]++
		}
		return true
	}
	if fitsNow {
		w.Reason, w.Blocker, w.BlockerAt = ReasonPriority, blocker.job, blocker.from
	} else {
		w.Reason, w.Short = ReasonResources, p.shortfall(sh)
	}
	p.settled[key] = *w
	if reserve {
		p.wait(t, sh, dur, w)
		p.reserveLicenses(j, w)
	}
	return false
}

// wait fills in where a job that waits for resources stands in its queue
// and when it may start: the queue's first such job gets a reservation
// (if it can start within the window; under conservative backfill every
// such job, see reserves), the next few an estimate.
func (p *pass) wait(t *target, sh shape, dur int64, w *Wait) {
	w.Ahead = t.waiting
	t.waiting++
	if len(t.heads) < MaxHeads {
		t.heads = append(t.heads, w.JobID)
	}
	switch {
	case p.reserves(t, w) && !p.unreservable[shapeDur{sh, dur}]:
		at, i, ok := p.earliest(sh, dur, false)
		if ok {
			w.StartAt, w.Node = at, p.nodes[i].Name
		}
		if !ok || at-p.now > p.opts.Window*1000 {
			// Only later as the pass goes on: its like need not try.
			p.unreservable[shapeDur{sh, dur}] = true
			break
		}
		t.reserved, w.Reserved = true, true
		p.hold(i, hold{from: at, to: at + dur, res: sh.res, job: w.JobID})
		p.holds++
	case t.estimates < p.opts.EstimateDepth:
		t.estimates++
		if at, i, ok := p.earliest(sh, dur, true); ok {
			w.StartAt, w.Node = at, p.nodes[i].Name
			p.hold(i, hold{from: at, to: at + dur, res: sh.res, job: w.JobID, shadow: true})
		}
	}
}

// reserves reports whether the job of w, waiting in t, gets a
// reservation: under EASY backfill the queue's first job that waits for
// resources; under conservative backfill every one (also one that would
// fit now but delay a reservation: Priority), up to MaxReservations.
func (p *pass) reserves(t *target, w *Wait) bool {
	if !p.opts.Conservative {
		return !t.reserved && w.Reason == ReasonResources
	}
	return p.holds < p.opts.MaxReservations && (w.Reason == ReasonResources || w.Reason == ReasonPriority)
}

// find returns the position (in the queue's node order) of the first node
// that has sh free now and where a job of duration dur delays no
// reservation, or -1; fitsNow says whether some node had sh free, and
// blocker is the reservation that kept it off such a node.
func (p *pass) find(sh shape, dur int64) (pos int, fitsNow bool, blocker *hold) {
	t := sh.queue
	start, seen := p.fit[sh]
	if !seen {
		start = 0
	}
	first := -1
	for k := start; k < t.size; k++ {
		_, i := t.at(k)
		n := p.nodes[i]
		if n.State != api.NodeUp || !sh.res.FitsOn(n.Capacity, p.alloc[i]) {
			continue
		}
		if first < 0 {
			first = k
		}
		if b := p.delays(i, sh.res, dur); b != nil {
			if blocker == nil {
				blocker = b
			}
			continue
		}
		p.fit[sh] = first
		return k, true, nil
	}
	if first < 0 {
		p.fit[sh] = t.size
		return -1, false, nil
	}
	p.fit[sh] = first
	return -1, true, blocker
}

// possible reports whether some UP node of the queue could ever take sh.
func (p *pass) possible(sh shape) bool {
	if v, ok := sh.queue.possible[sh.res]; ok {
		return v
	}
	ok := false
	for k := 0; k < sh.queue.size && !ok; k++ {
		_, i := sh.queue.at(k)
		n := p.nodes[i]
		ok = n.State == api.NodeUp && sh.res.FitsOn(n.Capacity, api.Resources{})
	}
	sh.queue.possible[sh.res] = ok
	return ok
}

// take allocates r on node i until end.
func (p *pass) take(i int, r api.Resources, end int64) {
	p.alloc[i] = p.alloc[i].Add(r)
	if p.prof != nil {
		p.profile(i).ends = insertEnd(p.profile(i).ends, event{at: end, res: r})
	} else {
		p.placed = append(p.placed, placedJob{node: i, res: r, end: end})
	}
}

// runningTasks counts the placed tasks of each throttled array that has
// RUNNABLE tasks.
func runningTasks(snap Snapshot, runnable []*Job) map[uint64]int {
	counts := map[uint64]int{}
	for _, j := range runnable {
		if j.Array != nil && j.Array.MaxRunning > 0 {
			counts[j.Array.JobID] = 0
		}
	}
	if len(counts) == 0 {
		return counts
	}
	for _, st := range []api.JobState{api.StateStarting, api.StateRunning} {
		snap.JobViews(st, func(j *Job) bool {
			if j.Array != nil {
				if _, ok := counts[j.Array.JobID]; ok {
					counts[j.Array.JobID]++
				}
			}
			return true
		})
	}
	return counts
}

// target is where a queue's jobs may go: its priority and, per enabled
// compute environment in order, the indexes of its nodes; and what this
// pass learned of the queue.
type target struct {
	name     string
	enabled  bool
	priority int
	envs     []envNodes
	size     int // nodes over all envs (a node in two envs counts twice)
	// possible caches, per shape, whether an UP node could ever take it.
	possible map[api.Resources]bool
	// reserved: the queue's first job waiting for resources has its
	// reservation; waiting counts its jobs waiting for resources so far,
	// heads are the first of them; estimates counts estimated starts.
	reserved  bool
	waiting   int
	heads     []uint64
	estimates int
	// fair is the queue's fair-share state (awsfairshare.go); nil for a
	// FIFO queue.
	fair *fairQueue
}

type envNodes struct {
	name  string
	nodes []int // indexes into the node list
}

// at maps a position in the queue's node order to (env, node index).
func (t *target) at(k int) (env, node int) {
	for e := range t.envs {
		if k < len(t.envs[e].nodes) {
			return e, t.envs[e].nodes[k]
		}
		k -= len(t.envs[e].nodes)
	}
	panic("sched: node position out of range")
}

// target resolves a queue once per pass.
func (p *pass) target(name string) *target {
	if t, ok := p.targets[name]; ok {
		return t
	}
	t := &target{name: name, possible: map[api.Resources]bool{}}
	p.targets[name] = t
	q := p.snap.Queue(name)
	if q == nil || q.State != api.Enabled {
		return t
	}
	t.enabled, t.priority = true, q.Priority
	t.fair = p.fairQueueOf(q)
	for _, ce := range api.QueueEnvironments(q, p.snap.ComputeEnvironment) {
		en := envNodes{name: ce.Name}
		for i, n := range p.nodes {
			if ce.Includes(n) {
				en.nodes = append(en.nodes, i)
			}
		}
		t.envs = append(t.envs, en)
		t.size += len(en.nodes)
	}
	return t
}
