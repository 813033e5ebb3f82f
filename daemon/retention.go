package daemon

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/daemon/archive"
	"github.com/shoal-batch/shoal/raftfsm"
)

// DefaultMinJobAge is how long a finished job stays in the replicated
// state before it moves to the archive (Slurm's MinJobAge default).
const DefaultMinJobAge = 300 * time.Second

// archiveFile is the embedded job archive's file in the data dir.
const archiveFile = archive.BoltFile

// minJobAge is the retention window cfg asks for: 0 is the default, a
// negative one keeps finished jobs in the state for ever.
func (c *Controller) minJobAge() time.Duration {
	if c.cfg.MinJobAge == 0 {
		return DefaultMinJobAge
	}
	return c.cfg.MinJobAge
}

// openArchive opens the job archive (cfg.ArchiveURL's database, else the
// data dir's file) and starts writing what the FSM expires into it. It
// must run before raft starts: replaying the log expires jobs again, and
// they must find a queue.
func (c *Controller) openArchive() error {
	url := c.cfg.ArchiveURL
	if c.selfNamed {
		url = archive.WithDefaultUser(url, c.selfName) // libpq's default: the process's user
	}
	store, err := archive.OpenURL(url, c.cfg.DataDir)
	if err != nil {
		return err
	}
	c.archive = store
	c.archiver = archive.NewWriter(store, c.log)
	c.fsm.OnExpire = func(_ uint64, jobs []raftfsm.JobRef) {
		p := make([]archive.Pending, len(jobs))
		for i, j := range jobs {
			p[i] = j
		}
		c.archiver.EnqueuePending(p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.archiver.Run(ctx) }()
	c.closeArchive = func() error {
		// After raft has stopped: nothing more is queued. Run writes
		// what is queued before it returns.
		cancel()
		<-done
		return store.Close()
	}
	return nil
}

// retentionLoop is the leader's half of MinJobAge: it proposes ExpireCmds
// for jobs that ended longer ago than the window. The FSM removes them on
// every replica, and each replica's archive takes them (openArchive).
func (c *Controller) retentionLoop(ctx context.Context) {
	age := c.minJobAge()
	c.goRun(func() { c.releaseAfterBursts(ctx) })
	if age < 0 {
		for { // nothing expires; large answers still give memory back
			select {
			case <-c.release:
				c.releaseMemory(ctx)
			case <-ctx.Done():
				return
			}
		}
	}
	tick := min(max(age/4, 100*time.Millisecond), 30*time.Second)
	timer := c.clock.NewTimer(tick)
	defer timer.Stop()
	var sinceRelease int // jobs expired since memory was last given back
	lastRelease := c.clock.Now()
	for {
		select {
		case <-timer.C():
		case <-c.release:
			c.releaseMemory(ctx) // a large answer was sent
			continue
		case <-ctx.Done():
			return
		}
		expired := 0
		// A full command may leave more: go on, a bounded number of
		// times (jobs the FSM keeps are named again on every round).
		for round := 0; round < 20 && c.raft.raft.State() == raft.Leader && ctx.Err() == nil; round++ {
			cmd := expirable(c.fsm.State(), c.nowMillis()-age.Milliseconds())
			if len(cmd.IDs) == 0 {
				break
			}
			if _, err := c.applier.Apply(ctx, raftfsm.OpExpire, cmd); err != nil {
				if ctx.Err() == nil {
					c.log.Warn("expire finished jobs", "jobs", len(cmd.IDs), "err", err)
				}
				break
			}
			expired += len(cmd.IDs)
			if len(cmd.IDs) < raftfsm.MaxExpire {
				break
			}
		}
		sinceRelease += expired
		if sinceRelease >= releaseAfter && (expired == 0 || c.clock.Now().Sub(lastRelease) > time.Minute) {
			c.releaseMemory(ctx)
			sinceRelease, lastRelease = 0, c.clock.Now()
		}
		timer.Reset(tick)
	}
}

// releaseSoon asks the retention loop to give memory back to the OS (after
// a large answer): at most one request waits.
func (c *Controller) releaseSoon() {
	select {
	case c.release <- struct{}{}:
	default:
	}
}

// releaseAfter is how many expired jobs make it worth giving memory back.
const releaseAfter = 10_000

// burstBytes is how many bytes allocated while entries apply make a
// burst after which memory is given back, and burstQuiet how long without
// an applied entry ends one.
const (
	burstBytes = 64 << 20
	burstQuiet = time.Second
)

// allocatedBytes is how many bytes this process has allocated on its
// heap since it started (garbage included).
func allocatedBytes() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0 // not in this runtime: no burst is ever seen
	}
	return s[0].Value.Uint64()
}

// releaseAfterBursts gives memory back (releaseMemory, through the
// retention loop) after a burst of submits ends: 20,000 sbatch jobs
// arrive as some 120 MB of requests, decoded, framed as log entries and
// applied, each step making garbage; the heap left behind the burst is a
// small part of the peak the runtime holds. A burst is burstBytes
// allocated while entries apply (what the requests cost, not what the
// entries hold: a thousand jobs of one environment are a small entry),
// and it ends when no entry has applied for burstQuiet; one that goes on
// is released once a minute. Idle, it waits for the next entry (no
// polling). On every controller, leader or not: followers apply the same
// entries.
//
// Start-up is a burst whatever it allocated: once first quiet, the
// controller gives back what replaying its log took and has run its
// first collection. Its memory at rest then no longer depends on whether
// the runtime happened to collect yet (a first collection maps the
// collector's own structures, ~0.7 MB).
func (c *Controller) releaseAfterBursts(ctx context.Context) {
	quiet := time.NewTimer(burstQuiet)
	defer quiet.Stop()
	released, lastRelease := uint64(0), time.Now()
	for starting := true; ; starting = false {
		if !starting {
			_, changed := c.fsm.Changed()
			select { // idle until an entry applies
			case <-changed:
			case <-ctx.Done():
				return
			}
		}
		// Busy: wait for a second without one.
		for {
			_, changed := c.fsm.Changed()
			quiet.Reset(burstQuiet)
			select {
			case <-changed:
				quiet.Stop() // Go 1.23 timers: nothing stale is left in C
				if allocatedBytes()-released < burstBytes || time.Since(lastRelease) < time.Minute {
					continue
				}
			case <-quiet.C:
			case <-ctx.Done():
				return
			}
			break
		}
		if starting || allocatedBytes()-released >= burstBytes {
			released, lastRelease = allocatedBytes(), time.Now()
			c.releaseSoon()
		}
	}
}

// releaseMemory gives the memory that expired jobs held back to the OS,
// once they are written to the archive. Go's runtime would return it by
// itself, but only after its next collection (which an idle controller
// may not run for two minutes) and then gradually: an operator watching
// the controller's RSS after a burst of short jobs would see the burst's
// peak for minutes. Called after a burst ends (or at most once a minute
// while one lasts): the cost, a full collection, is paid rarely.
func (c *Controller) releaseMemory(ctx context.Context) {
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := c.WaitArchived(wctx); err != nil {
		return // still queued: the next burst's end will do
	}
	c.answered.Store(0)
	if m, ok := c.archive.(interface{ ReleaseMemory() }); ok {
		m.ReleaseMemory() // the embedded archive's mapped pages
	}
	// The raft log (raft-wal) reads its segments with pread, into
	// pooled buffers: no mapping of it to drop.
	runtime.GC() // a second collection empties sync.Pools (bbolt's pages)
	debug.FreeOSMemory()
	returnStrandedHeap()
}

// strandedHeapMin is how much free heap FreeOSMemory may leave before
// returnStrandedHeap goes after it.
const strandedHeapMin = 512 << 10

// strandedPassMax bounds the garbage one returnStrandedHeap makes.
const strandedPassMax = 256 << 20

// returnStrandedHeap returns free heap that FreeOSMemory left. After a
// burst, Go's runtime (1.26) may keep 1.5-2.5 MB of free heap that no
// FreeOSMemory returns: its scavenger marks a 4 MB chunk of the heap as
// having nothing to return while pages freed above where its background
// pass stood are still there, and only a later free in that chunk lets it
// see them. So the idle heap goes once through garbage objects (the page
// allocator takes the lowest free pages first), and their frees let the
// next FreeOSMemory return the chunks' pages. It stops once the heap
// grows (every idle run an object fits in is taken: on a fragmented heap
// more would only map new memory) or at strandedPassMax. Pages already
// returned stay out of the RSS: over 58 MB of idle heap it took ~20 ms and
// 100 page faults, once after a burst.
func returnStrandedHeap() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapIdle-ms.HeapReleased < strandedHeapMin {
		return
	}
	// 32 KiB: a size class of one object to a span of four pages. One
	// page each would need a span record for every idle page, records
	// the runtime keeps for good (~160 bytes each: 0.9 MB over 45 MB).
	const size = 32 << 10
	heap := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"}, {Name: "/memory/classes/heap/released:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}}
	mapped := func() (n uint64) {
		metrics.Read(heap)
		for _, s := range heap {
			n += s.Value.Uint64()
		}
		return n
	}
	start := mapped()
	n := min(ms.HeapIdle, strandedPassMax) / size
	garbage := make([][]byte, 0, n)
	for i := range n {
		if i%32 == 0 && mapped() > start {
			break
		}
		garbage = append(garbage, make([]byte, size))
	}
	runtime.KeepAlive(garbage)
	garbage = nil
	debug.FreeOSMemory()
}

// expirable is the next ExpireCmd: up to MaxExpire finished jobs that
// ended at or before cutoff and may leave (an array's first task is
// named with its tasks, and leaves with them in the same command).
func expirable(state *raftfsm.State, cutoff int64) raftfsm.ExpireCmd {
	cmd := raftfsm.ExpireCmd{Before: cutoff}
	pick := func(j *api.Job) bool {
		first := j.Array != nil && j.Array.JobID == j.ID
		if j.StoppedAt <= cutoff && (first || state.CanExpire(j)) {
			cmd.IDs = append(cmd.IDs, j.ID)
		}
		return len(cmd.IDs) < raftfsm.MaxExpire
	}
	state.ScanJobsInState(api.StateSucceeded, pick)
	if len(cmd.IDs) < raftfsm.MaxExpire {
		state.ScanJobsInState(api.StateFailed, pick)
	}
	return cmd
}

// jobSource finds jobs by id: the live state, or the live state and then
// the archive (withHistory).
type jobSource interface {
	Job(id uint64) *api.Job
}

// historySource is the live state, then the archive.
type historySource struct {
	state *raftfsm.State
	c     *Controller
}

// withHistory finds a job in state, else in the archive: the lookups by
// id (describe, wait, AWS describe-jobs) find a job at any age.
func (c *Controller) withHistory(state *raftfsm.State) jobSource { return historySource{state, c} }

// Job returns the job, or nil if neither the state nor the archive has it
// (or the archive cannot be read: that is logged).
func (h historySource) Job(id uint64) *api.Job {
	if j := h.state.Job(id); j != nil {
		return j
	}
	j, err := h.c.archiver.Get(id)
	if err != nil {
		h.c.log.Error("read the job archive", "job", id, "err", err)
		return nil
	}
	return j
}

// waitArchived is what a snapshot waits for before raft may drop the log
// entries it covers: the jobs those entries expired are on disk.
func waitArchived(w *archive.Writer, mark uint64) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.WaitFlushed(ctx, mark); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

// WaitArchived waits until every job that has left the live state so far
// is on disk in the archive (benchmarks and tests measure after it).
func (c *Controller) WaitArchived(ctx context.Context) error {
	return c.archiver.WaitFlushed(ctx, c.archiver.Queued())
}

// endedDeps finds in the archive the jobs that jobs' dependencies name and
// that have left the live state, and the tasks that have left it of the
// arrays they name (by the array's id), for the FSM to settle those
// dependencies by their final states (raftfsm.EndedJob).
func (c *Controller) endedDeps(state *raftfsm.State, jobs []api.Job) []raftfsm.EndedJob {
	seen := map[uint64]bool{}
	var out []raftfsm.EndedJob
	archived := func(id uint64) *api.Job {
		if stored, _ := state.JobArray(id); seen[id] || stored {
			return nil
		}
		seen[id] = true
		j, err := c.archiver.Get(id)
		if err != nil {
			c.log.Error("read the job archive", "job", id, "err", err)
		}
		if j == nil {
			return nil // unknown: the FSM says so
		}
		e := raftfsm.EndedJob{ID: id, State: j.State}
		if j.Array != nil && j.Array.JobID == id {
			e.ArrayCount = j.Array.Count
		}
		out = append(out, e)
		return j
	}
	for _, j := range jobs {
		for _, d := range j.DependsOn {
			if d.JobID == 0 || d.Type == api.Singleton || d.Type == api.Sequential {
				continue
			}
			_, tasks := state.JobArray(d.JobID)
			if a := archived(d.JobID); a != nil && a.Array != nil && a.Array.JobID == d.JobID {
				tasks = a.Array.Count
			}
			for t := d.JobID + 1; t < d.JobID+uint64(tasks); t++ {
				archived(t)
			}
		}
	}
	return out
}
