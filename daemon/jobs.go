package daemon

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/go-memdb"
	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/daemon/archive"
	"github.com/shoal-batch/shoal/raftfsm"
)

// Defaults for a job that does not say what it needs.
const (
	DefaultCPUs     = 1
	DefaultMemoryMB = 1024
)

func (c *Controller) submit(ctx context.Context, who caller, req api.SubmitJobRequest) (api.SubmitJobResponse, error) {
	if err := prioritySetter(who, req.JobSpec); err != nil {
		return api.SubmitJobResponse{}, err
	}
	ids, err := c.submitJobs(ctx, who, []api.SubmitJobRequest{req}, refuseUnsatisfiable)
	if err != nil {
		return api.SubmitJobResponse{}, err
	}
	return api.SubmitJobResponse{ID: ids[0], Name: req.Name}, nil
}

func (c *Controller) submitBatch(ctx context.Context, who caller, req api.SubmitBatchRequest) (api.SubmitBatchResponse, error) {
	for _, r := range req.Jobs {
		if err := prioritySetter(who, r.JobSpec); err != nil {
			return api.SubmitBatchResponse{}, err
		}
	}
	ids, err := c.submitJobs(ctx, who, req.Jobs, refuseUnsatisfiable)
	return api.SubmitBatchResponse{IDs: ids}, err
}

// prioritySetter refuses a job priority given by a caller other than an
// operator, as Slurm's --priority is an operator's: one user's jobs would
// pass every other user's. (AWS's schedulingPriorityOverride keeps its
// own meaning: 0-9999, below every priority a job gets by default.)
func prioritySetter(who caller, spec api.JobSpec) error {
	if spec.Priority == 0 || who.operator {
		return nil
	}
	return api.Errorf(api.CodeForbidden, "job %q: only root may set a job's priority (%d); give a nice value (--nice N) to lower yours",
		clip(spec.Name), spec.Priority).WithField("priority")
}

// submitJobs validates requests, stamps the owner from the connection and
// commits them as one command.
// unsatisfiablePolicy says what a submit does with a job that no node of
// its queue could ever run.
type unsatisfiablePolicy bool

const (
	// refuseUnsatisfiable answers with the shortfall and stores nothing
	// (sbatch's "Requested node configuration is not available").
	refuseUnsatisfiable unsatisfiablePolicy = false
	// holdUnsatisfiable stores the job RUNNABLE with a statusReason that
	// quantifies the shortfall (AWS Batch's behaviour), until the queue's
	// jobStateTimeLimitActions or the user ends it.
	holdUnsatisfiable unsatisfiablePolicy = true
)

// submitJobs is the one submit path of both front doors: it checks every
// request, builds the jobs as the caller, and stores them all in one raft
// entry, or none.
func (c *Controller) submitJobs(ctx context.Context, who caller, reqs []api.SubmitJobRequest, unsat unsatisfiablePolicy) ([]uint64, error) {
	if len(reqs) == 0 {
		return nil, api.Errorf(api.CodeInvalid, "no jobs to submit")
	}
	if len(reqs) > MaxBatchJobs {
		return nil, api.Errorf(api.CodeInvalid, "%d jobs in one batch; at most %d: send several batches", len(reqs), MaxBatchJobs)
	}
	o, err := c.lookupOwner(who)
	if err != nil {
		return nil, err
	}
	if st := c.fsm.State(); st.HasAccounts() { // their limits count unfinished jobs
		defer c.submitters.lock(o.uid, st.HasGroupSubmitLimits())()
	}
	state := c.awaitFirstNode(ctx)
	if ids, ok, err := c.submittedBefore(ctx, who, state); err != nil {
		return nil, err
	} else if ok {
		return requestIDs(reqs, ids)
	}
	cmd := raftfsm.SubmitCmd{Jobs: make([]api.Job, len(reqs)), Now: c.nowMillis()}
	history := c.withHistory(state)
	next := state.NextJobID()
	past := next // this submit's ids: [next, past)
	for _, r := range reqs {
		past += uint64(max(1, len(r.ArrayIndexes)))
	}
	testOnly := false
	accounts := newAcctCheck(state) // accounts.go
	for i, r := range reqs {
		j, err := newJob(r, o)
		if err != nil {
			return nil, err
		}
		if err := accounts.check(&j, len(r.ArrayIndexes)); err != nil {
			return nil, err
		}
		if err := c.hiddenDependency(who, history, next, past, j); err != nil {
			return nil, err
		}
		if err := c.fits.satisfiable(state, j); err != nil {
			if unsat != holdUnsatisfiable || !api.IsCode(err, api.CodeUnsatisfiable) {
				return nil, err
			}
			j.StatusReason = ReasonMisconfiguration + err.Error()
		}
		if err := checkJobLicenses(state, &j); err != nil {
			return nil, err
		}
		if err := checkJobShare(state, &j); err != nil { // fair-share queues (aws_fairshare.go)
			return nil, err
		}
		if j.DeadlineAt != 0 && j.DeadlineAt <= cmd.Now {
			return nil, api.Errorf(api.CodeInvalid, "job %q: its deadline %s has passed: give a deadline in the future",
				j.Name, time.UnixMilli(j.DeadlineAt).UTC().Format(time.RFC3339)).WithField("deadline")
		}
		if len(r.ArrayIndexes) > 0 {
			if err := checkArray(j.Name, r.ArrayIndexes, r.ArrayMaxRunning); err != nil {
				return nil, err
			}
			cmd.Arrays = append(cmd.Arrays, raftfsm.ArraySpec{Job: i, Indexes: r.ArrayIndexes, MaxRunning: r.ArrayMaxRunning})
		}
		cmd.Jobs[i] = j
		testOnly = testOnly || r.TestOnly
	}
	// Dependencies on jobs that have left the live state are settled by
	// their final states, from the archive.
	cmd.Ended = c.endedDeps(state, cmd.Jobs)
	if testOnly { // validated: store nothing
		return make([]uint64, len(reqs)), nil
	}
	add := len(reqs)
	for _, a := range cmd.Arrays {
		add += len(a.Indexes) - 1
	}
	if err := c.admitJobs(state, add); err != nil {
		return nil, err
	}
	c.submitters.checked()
	// Nothing of the requests, nor of the jobs made of them, is held
	// while the entry commits and applies (a thousand jobs' requests are
	// some 1.7 MB): in a burst of submits they were a large part of the
	// controller's live heap at its peak, which sizes the span and GC
	// records its runtime keeps for good.
	n, widths := len(reqs), requestWidths(reqs)
	res, err := c.submitOnce(ctx, who, &cmd)
	if err != nil {
		return nil, err
	}
	return idsByWidth(n, widths, res.IDs)
}

// hiddenDependency refuses, before anything is proposed and in the FSM's
// words, a dependency on a job no submit has made yet (an id from past
// on) and, with PrivateJobs, on a job who may not see (another user's) as
// on one that does not exist; a job of this very submit (an id in [next,
// past)) is the FSM's to find.
func (c *Controller) hiddenDependency(who caller, history jobSource, next, past uint64, j api.Job) error {
	for _, d := range j.DependsOn {
		switch {
		case d.JobID == 0 || (d.JobID >= next && d.JobID < past):
		case d.JobID >= past:
			return raftfsm.ErrNoDependency(j.Name, d.JobID)
		case c.cfg.PrivateJobs:
			if dep := history.Job(d.JobID); dep == nil || !c.visible(who, dep) {
				return raftfsm.ErrNoDependency(j.Name, d.JobID)
			}
		}
	}
	return nil
}

// MaxArraySize bounds the tasks of one array (AWS Batch allows 10,000).
// Slurm's MaxArraySize, which bounds the indexes, is slurmMaxArraySize:
// one more than the largest index checkArray takes (arrayMaxIndex).
const MaxArraySize = arrayMaxTasks // jobchecks.go

// checkArray refuses an array that is too large, has an index past
// Slurm's MaxArraySize, repeats an index, or has a throttle that is
// negative or past what slurmctld reads (a C int).
func checkArray(name string, indexes []int, maxRunning int) error {
	if len(indexes) > MaxArraySize {
		return api.Errorf(api.CodeInvalid, "job %q: array of %d tasks; at most %d", name, len(indexes), MaxArraySize).WithField("array")
	}
	if maxRunning < 0 {
		return api.Errorf(api.CodeInvalid, "job %q: array throttle %d must not be negative", name, maxRunning).WithField("array")
	}
	if maxRunning > arrayMaxThrottle {
		return api.Errorf(api.CodeInvalid, "job %q: array throttle %d is too large: give 0 (no limit) to %d tasks running at once",
			name, maxRunning, arrayMaxThrottle).WithField("array")
	}
	// Indexes in rising order (sbatch sends them so) need no set to
	// find a repeat in: a 10,000-task array's map was a third of the
	// request's garbage.
	rising := true
	for i, x := range indexes {
		if x < 0 {
			return api.Errorf(api.CodeInvalid, "job %q: array index %d is negative or repeated", name, x).WithField("array")
		}
		if x > arrayMaxIndex {
			return api.Errorf(api.CodeInvalid, "job %q: array index %d is too large: indexes go from 0 to %d (MaxArraySize=%d)",
				name, x, arrayMaxIndex, slurmMaxArraySize).WithField("array")
		}
		rising = rising && (i == 0 || x > indexes[i-1])
	}
	if rising {
		return nil
	}
	seen := make(map[int]bool, len(indexes))
	for _, x := range indexes {
		if seen[x] {
			return api.Errorf(api.CodeInvalid, "job %q: array index %d is negative or repeated", name, x).WithField("array")
		}
		seen[x] = true
	}
	return nil
}

// newJob checks a request and turns it into a job owned by o, with the
// defaults filled in. It is the one check of a job record, for both front
// doors: what it accepts is within checkBounds' limits.
func newJob(r api.SubmitJobRequest, o owner) (api.Job, error) {
	spec := r.JobSpec
	spec.DependsOn = slices.Clone(spec.DependsOn) // folded in place below: not the caller's
	if spec.Name == "" && len(spec.Command) > 0 {
		spec.Name = nameFromCommand(spec.Command[0])
	}
	if err := checkBounds(&spec); err != nil {
		return api.Job{}, err
	}
	if len(spec.Command) == 0 && spec.Script == "" {
		return api.Job{}, api.Errorf(api.CodeInvalid, "job %q has no command: give the program and its arguments", spec.Name)
	}
	name, res := spec.Name, &spec.Resources
	if res.CPUs == 0 {
		res.CPUs = DefaultCPUs
	}
	if res.MemoryMB == 0 {
		res.MemoryMB = DefaultMemoryMB
	}
	if res.CPUs < 0 || res.MemoryMB < 0 || res.GPUs < 0 {
		return api.Job{}, api.Errorf(api.CodeInvalid,
			"job %q asks for cpus=%d memory=%dMiB gpus=%d: amounts must be positive", name, res.CPUs, res.MemoryMB, res.GPUs)
	}
	if spec.Dir != "" && !filepath.IsAbs(spec.Dir) {
		return api.Job{}, api.Errorf(api.CodeInvalid, "job %q: working directory %q must be an absolute path", name, spec.Dir)
	}
	if err := normalizeQueues(&spec); err != nil {
		return api.Job{}, err
	}
	if spec.Queue == "" {
		spec.Queue = api.DefaultQueue
	}
	if spec.TimeLimit < 0 {
		return api.Job{}, api.Errorf(api.CodeInvalid, "job %q: time limit %ds must not be negative", name, spec.TimeLimit).WithField("timeLimit")
	}
	if spec.Nice < -api.MaxNice || spec.Nice > api.MaxNice {
		return api.Job{}, api.Errorf(api.CodeInvalid, "job %q: nice %d is out of range: it is from %d to %d", name, spec.Nice, -api.MaxNice, api.MaxNice).WithField("nice")
	}
	if spec.Nice < 0 && o.uid != 0 {
		return api.Job{}, api.Errorf(api.CodeForbidden, "job %q: only root may give a negative nice", name).WithField("nice")
	}
	if spec.TmpMB < 0 { // above the job's memory it is allowed, and bounded by that memory
		return api.Job{}, api.Errorf(api.CodeInvalid,
			"job %q: a private /tmp of %d MiB: give a size in MiB, or 0 for the job's memory", name, spec.TmpMB).WithField("tmpMB")
	}
	if err := checkWarnSignal(name, r); err != nil {
		return api.Job{}, err
	}
	if spec.RetryAttempts < 0 || spec.RetryAttempts > 10 {
		return api.Job{}, api.Errorf(api.CodeInvalid, "job %q: %d attempts: give 1 to 10 attempts in all (0: no retries)", name, spec.RetryAttempts).WithField("retryAttempts")
	}
	if len(spec.RetryRules) > 0 && spec.RetryAttempts < 2 {
		return api.Job{}, api.Errorf(api.CodeInvalid, "job %q: retry rules need 2 to 10 attempts in all, not %d", name, spec.RetryAttempts).WithField("retryAttempts")
	}
	if err := checkRetryRules(spec.RetryRules); err != nil {
		return api.Job{}, err
	}
	if spec.DeadlineAt < 0 || (spec.DeadlineAt != 0 && spec.BeginAt > spec.DeadlineAt) {
		return api.Job{}, api.Errorf(api.CodeInvalid, "job %q: its deadline comes before its begin time: give a deadline after the begin time", name).WithField("deadline")
	}
	return api.Job{JobSpec: spec, User: o.name, UID: o.uid, GID: o.gid, Groups: o.groups}, nil
}

// nameFromCommand names a job that was given no name after its program,
// as a name could be given: control characters become '?', and it is cut
// to MaxNameBytes.
func nameFromCommand(program string) string {
	name := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, filepath.Base(program))
	if len(name) > MaxNameBytes {
		cut := MaxNameBytes
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut]
	}
	return name
}

// MaxWarnSeconds is the most seconds before its time limit a job may ask
// to be warned (Slurm's --signal sig_time limit).
const MaxWarnSeconds = 65535

// checkWarnSignal refuses a warning signal (Slurm's --signal) that is not
// a signal number, or is sent a time outside 0..MaxWarnSeconds before the
// limit, or warning fields without a signal.
func checkWarnSignal(name string, r api.SubmitJobRequest) error {
	switch {
	case r.LimitWarnSignal == 0 && (r.LimitWarnSeconds != 0 || r.LimitWarnBatch):
		return api.Errorf(api.CodeInvalid, "job %q: warnSeconds and warnBatch need warnSignal, the signal to send before the time limit", name).WithField("warnSignal")
	case r.LimitWarnSignal < 0 || r.LimitWarnSignal > api.MaxSignal:
		return api.Errorf(api.CodeInvalid, "job %q: warning signal %d is out of range: give a signal number from 1 to %d", name, r.LimitWarnSignal, api.MaxSignal).WithField("warnSignal")
	case r.LimitWarnSeconds < 0 || r.LimitWarnSeconds > MaxWarnSeconds:
		return api.Errorf(api.CodeInvalid, "job %q: warning time %ds before the time limit is out of range: give 0 to %d seconds", name, r.LimitWarnSeconds, MaxWarnSeconds).WithField("warnSeconds")
	}
	return nil
}

// firstNodeWait bounds how long a submit to a controller that expects a
// node (Config.ExpectNode) waits for the first to register.
const firstNodeWait = 10 * time.Second

// awaitFirstNode returns the state to check a submit against: under
// ExpectNode, once a node has registered. A dev agent serves as soon as
// its controller is up and its node daemon registers a moment later; a
// script that starts the agent and submits at once would otherwise be
// refused ("queue has no nodes") one time in three.
func (c *Controller) awaitFirstNode(ctx context.Context) *raftfsm.State {
	if !c.cfg.ExpectNode || c.nodeSeen.Load() {
		return c.fsm.State()
	}
	ctx, cancel := context.WithTimeout(ctx, firstNodeWait)
	defer cancel()
	for {
		state := c.fsm.State()
		ws := memdb.NewWatchSet()
		state.WatchPlanInputs(ws) // nodes among them
		if len(state.Nodes()) > 0 {
			c.nodeSeen.Store(true)
			return state
		}
		if ws.WatchCtx(ctx) != nil {
			return state // none came: the check refuses it, saying so
		}
	}
}

// satisfiable refuses a job whose queue does not exist or is disabled, or
// that no node of its queue's compute environments could ever run, naming
// the resource, the amount asked and the most any node has.
func satisfiable(state *raftfsm.State, j api.Job) error {
	if len(j.Queues) > 1 {
		return satisfiableAny(state, j)
	}
	q := state.Queue(j.Queue)
	switch {
	case q == nil:
		return api.Errorf(api.CodeNotFound, "job queue %q does not exist; create it or use %q", j.Queue, api.DefaultQueue).WithField("queue")
	case q.State != api.Enabled:
		return api.Errorf(api.CodeConflict, "job queue %q is %s and takes no new jobs", j.Queue, q.State).WithField("queue")
	}
	ask := j.Resources
	if t := ask.GPUTypes.Total(); t > ask.GPUs {
		return api.Errorf(api.CodeInvalid, "job %q asks for gpus=%d, fewer than its %d typed GPUs (%s): give gpus of at least %d",
			j.Name, ask.GPUs, t, gresList(ask.GPUTypes), t).WithField("gpus")
	}
	var most api.Resources
	serving := 0
	mostTyped := map[string]int{} // per GPU type, the most one node has
	for _, env := range state.QueueNodes(j.Queue) {
		for _, n := range env.Nodes {
			serving++
			if ask.FitsOn(n.Capacity, api.Resources{}) {
				return nil
			}
			most.CPUs = max(most.CPUs, n.Capacity.CPUs)
			most.MemoryMB = max(most.MemoryMB, n.Capacity.MemoryMB)
			most.GPUs = max(most.GPUs, n.Capacity.GPUs)
			n.Capacity.GPUTypes.Each(func(t string, c int) { mostTyped[t] = max(mostTyped[t], c) })
		}
	}
	if serving == 0 {
		return api.Errorf(api.CodeUnsatisfiable, "job queue %q has no nodes: none of its enabled compute environments holds a node", j.Queue).WithField("queue")
	}
	var short []string
	ask.GPUTypes.Each(func(t string, c int) {
		if c > mostTyped[t] {
			short = append(short, fmt.Sprintf("%s:%d", t, c))
		}
	})
	if len(short) > 0 {
		has := gresList(api.MakeGPUCounts(mostTyped))
		if has == "" {
			has = "no typed GPUs"
		}
		return api.Errorf(api.CodeUnsatisfiable,
			"job %q can never run: GPU type: asked %s, the nodes of queue %q have at most %s on one node (ask for one of those types, or gpu:N for any)",
			j.Name, strings.Join(short, ","), j.Queue, has).WithField("gpuTypes")
	}
	switch {
	case ask.MemoryMB > most.MemoryMB: // named first, as Slurm does
		return unsatisfiable(j, "memory", fmt.Sprintf("%d MiB", ask.MemoryMB), fmt.Sprintf("%d MiB", most.MemoryMB))
	case ask.CPUs > most.CPUs:
		return unsatisfiable(j, "cpus", fmt.Sprint(ask.CPUs), fmt.Sprint(most.CPUs))
	case ask.GPUs > most.GPUs:
		return unsatisfiable(j, "gpus", fmt.Sprint(ask.GPUs), fmt.Sprint(most.GPUs))
	}
	return api.Errorf(api.CodeUnsatisfiable,
		"job %q asks for cpus=%d memory=%dMiB gpus=%d together, which no single node of queue %q has", j.Name, ask.CPUs, ask.MemoryMB, ask.GPUs, j.Queue)
}

// gresList writes GPU counts as Slurm's gres list, "gpu:a100:2,gpu:h200:1".
func gresList(c api.GPUCounts) string {
	var out []string
	c.Each(func(t string, n int) { out = append(out, fmt.Sprintf("gpu:%s:%d", t, n)) })
	return strings.Join(out, ",")
}

func unsatisfiable(j api.Job, what, asked, most string) error {
	return api.Errorf(api.CodeUnsatisfiable,
		"job %q can never run: %s: asked %s, the largest node of queue %q has %s", j.Name, what, asked, j.Queue, most).WithField(what)
}

func (c *Controller) listJobs(_ context.Context, who caller, req api.ListJobsRequest) (api.ListJobsResponse, error) {
	out := []api.Job{}
	err := c.eachListed(who, req, func(j *api.Job) error { out = append(out, *j); return nil })
	if err != nil {
		return api.ListJobsResponse{}, err
	}
	return api.ListJobsResponse{Count: len(out), Jobs: out}, nil
}

// listJobsJSON is listJobs as the API answers it: each job is encoded as
// it is found, so that a list of the whole history (sacct over 200,000
// archived jobs) costs the controller its JSON, not every job decoded at
// once.
func (c *Controller) listJobsJSON(_ context.Context, who caller, req api.ListJobsRequest) (jobListJSON, error) {
	var buf bytes.Buffer
	buf.Write(make([]byte, listHead)) // room for the head, written last
	if len(req.Fields) == 0 {
		req.Fields = allJobFields() // the same bytes, written directly
	}
	return c.listFieldsJSON(who, req, buf.Bytes())
}

// listJobsJSONReflect is listJobsJSON through encoding/json: what a list
// without Fields wrote before; the tests hold the two to the same bytes.
func (c *Controller) listJobsJSONReflect(who caller, req api.ListJobsRequest) (jobListJSON, error) {
	var buf bytes.Buffer
	buf.Write(make([]byte, listHead))
	enc := json.NewEncoder(&buf)
	n := 0
	err := c.eachListed(who, req, func(j *api.Job) error {
		if n > 0 {
			buf.WriteByte(',')
		}
		n++
		if err := enc.Encode(j); err != nil {
			return err
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
		return nil
	})
	if err != nil {
		return jobListJSON{}, err
	}
	return jobListJSON{buf: buf.Bytes(), count: n, c: c}, nil
}

// listHead is the room left for {"count":N,"jobs":[ (N up to 20 digits).
const listHead = 40

// jobListJSON is an api.ListJobsResponse already encoded, but for its head.
type jobListJSON struct {
	buf   []byte // listHead bytes of room, then the jobs, comma-separated
	count int
	c     *Controller
	// rows, when not nil, writes a list in the row form instead, as it
	// makes it (listfields_rows.go).
	rows func(w http.ResponseWriter)
	gate *listGate // given back once the answer is sent
}

// encodedAnswer is an answer that writes its own JSON (handle).
type encodedAnswer interface {
	writeTo(w http.ResponseWriter)
}

// bigAnswer is the size of an answer after which the controller gives the
// memory that made it back to the OS (a list of a large history).
const bigAnswer = 32 << 20

// writeTo writes the head into its room and the answer, with a length
// (as reply.JSON does), with no copy of the jobs.
func (l jobListJSON) writeTo(w http.ResponseWriter) {
	if l.rows != nil {
		l.rows(w)
		return
	}
	defer l.gate.done()
	l.gate.sending(w)
	head := `{"count":` + strconv.Itoa(l.count) + `,"jobs":[`
	start := listHead - len(head)
	copy(l.buf[start:], head)
	body := append(l.buf[start:], ']', '}', '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	// One large answer, or many pages of one (sacct's walk through the
	// history): give the memory that made them back.
	if l.c != nil && l.c.answered.Add(int64(len(body))) > bigAnswer {
		l.c.releaseSoon()
	}
}

// eachListed calls emit with every job req selects that who may see, as
// who may see it, in id order (IDs: in the order asked). The job is a
// copy the state does not share, but one reused for the next job: emit
// encodes it or copies it out (a copy of each of 20,000 jobs made on the
// heap was most of a list's garbage).
func (c *Controller) eachListed(who caller, req api.ListJobsRequest, emit func(*api.Job) error) error {
	return c.eachListedCounted(who, req, nil, emit)
}

// eachListedCounted is eachListed that first tells counted (if not nil)
// how many live jobs it is about to give, at most (archived ones come on
// top): an encoder sizes its buffer once instead of doubling it.
func (c *Controller) eachListedCounted(who caller, req api.ListJobsRequest, counted func(n int), emit func(*api.Job) error) error {
	if err := checkPaging(req); err != nil {
		return err
	}
	state := c.fsm.State()
	src := c.withHistory(state)
	// The live jobs are held as refs and loaded one at a time into v as
	// they are sent: the state holds compact records, and an api.Job
	// made for each of 20,000 jobs would be most of a list's time.
	var live []listedJob
	var scratch api.Job
	filtered := req.User != "" || req.Queue != "" || len(req.Accounts) > 0 || req.EndedAfter != 0 || req.SubmittedBefore != 0
	matchRef := func(r raftfsm.JobRef) bool {
		if filtered {
			r.Load(&scratch)
			if !listMatches(req, &scratch) {
				return true
			}
		}
		live = append(live, listedJob{ref: r})
		return true
	}
	refs := state.JobRefs() // ids in order share their lookups (an array's tasks)
	byID := func(id uint64) {
		if r, ok := refs.Ref(id); ok { // live: a ref too (an array's 10,000 tasks)
			if len(req.States) > 0 || filtered {
				r.Load(&scratch)
				if (len(req.States) > 0 && !scratch.State.In(req.States...)) || !listMatches(req, &scratch) {
					return
				}
			}
			live = append(live, listedJob{ref: r})
			return
		}
		if j := src.Job(id); j != nil && (len(req.States) == 0 || j.State.In(req.States...)) && listMatches(req, j) {
			live = append(live, listedJob{job: j})
		}
	}
	switch {
	case req.ArrayJobID != 0:
		if first := src.Job(req.ArrayJobID); first != nil && first.Array != nil && first.Array.JobID == req.ArrayJobID {
			live = slices.Grow(live, first.Array.Count)
			for id := req.ArrayJobID; id < req.ArrayJobID+uint64(first.Array.Count); id++ {
				byID(id)
			}
		}
	case len(req.IDs) > 0:
		for _, id := range req.IDs {
			byID(id)
		}
	case len(req.States) > 0:
		for _, st := range req.States {
			state.JobRefsInState(st, matchRef)
		}
		// Each state's jobs come in id order: one state's list is
		// sorted already, and sorting several is a merge of runs.
		byID := func(a, b listedJob) int { return cmp.Compare(a.id(), b.id()) }
		if !slices.IsSortedFunc(live, byID) {
			slices.SortFunc(live, byID)
		}
	default: // a user's jobs: a scan, as State.JobsOfUser's
		state.AllJobRefs(matchRef)
	}
	if req.AfterID > 0 {
		i := 0
		for i < len(live) && live[i].id() <= req.AfterID {
			i++
		}
		live = live[i:]
	}
	if counted != nil {
		n := len(live)
		if req.Limit > 0 && req.Limit < n {
			n = req.Limit
		}
		if req.GroupTasks { // about one row for a run of alike waiting tasks (an array's 10,000 are one)
			n = 0
			for i, l := range live {
				if i == 0 || l.job != nil || !l.ref.Alike(live[i-1].ref) || !l.ref.Waiting() {
					n++
				}
			}
		}
		counted(n)
	}
	sent := 0
	prio := c.listPriorities(state) // accounts.go
	var v api.Job
	var sentRef raftfsm.JobRef // what v holds, sent, when sentAlike
	sentAlike := false
	var alikeTask api.ArrayTask // v.Array of a task loaded alike: the writers keep no pointer to it
	send := func(l listedJob) error {
		var ok bool
		switch {
		case l.job != nil:
			v, ok = c.jobFor(who, l.job) // a copy: the state keeps its own
		case req.GroupTasks && sentAlike && l.ref.Alike(sentRef):
			// The next of alike tasks (one record): v holds the one
			// before, seen and redacted as this one would be, and
			// only the id, index and priority differ. The rows
			// writer takes it into the same run (groupIgnored).
			l.ref.LoadAlike(&v, &alikeTask)
			ok = true
		default:
			if req.Full {
				l.ref.Load(&v)
			} else {
				l.ref.LoadNoEnv(&v) // not sent
			}
			if ok = c.visible(who, &v); ok && !ownsOrOperates(who, &v) {
				redact(&v)
			}
		}
		sentRef, sentAlike = l.ref, ok && l.job == nil
		if !ok {
			return nil
		}
		showPriority(prio, &v)
		if !req.Full {
			v.Env = nil
		}
		if err := emit(&v); err != nil {
			return err
		}
		if sent++; req.Limit > 0 && sent >= req.Limit {
			return errPageFull
		}
		return nil
	}
	err := c.mergeListed(state, req, live, send)
	if errors.Is(err, errPageFull) {
		return nil
	}
	return err
}

// listedJob is a job a list sends: a live one by its ref, or one read
// from the archive (or by id) as a job.
type listedJob struct {
	ref raftfsm.JobRef
	job *api.Job
}

func (l listedJob) id() uint64 {
	if l.job != nil {
		return l.job.ID
	}
	return l.ref.ID()
}

// errPageFull stops a list that has given req.Limit jobs.
var errPageFull = errors.New("page full")

// checkPaging refuses paging where the order is not by id, and grouped
// tasks where a list cannot group them.
func checkPaging(req api.ListJobsRequest) error {
	if req.Limit < 0 {
		return api.Errorf(api.CodeInvalid, "limit %d: give the most jobs a page may hold, or 0 for all", req.Limit).WithField("limit")
	}
	if (req.AfterID > 0 || req.Limit > 0) && (len(req.IDs) > 0 || req.ArrayJobID != 0) {
		return api.Errorf(api.CodeInvalid, "afterId and limit page a list in id order; a list by ids or of an array's tasks comes whole: leave them out").WithField("afterId")
	}
	if req.GroupTasks && (req.AfterID > 0 || req.Limit > 0) {
		return api.Errorf(api.CodeInvalid, "groupTasks sends a run of pending tasks as one row, which a page in id order could split: leave out groupTasks, or afterId and limit").WithField("groupTasks")
	}
	if req.GroupTasks && req.Form != api.ListFormRows {
		return api.Errorf(api.CodeInvalid, "groupTasks groups the rows of a list in the row form (form %q); a JSON list has every task: leave it out", api.ListFormRows).WithField("groupTasks")
	}
	return nil
}

// mergeListed sends the live jobs (in id order, after req.AfterID) and,
// for a history list, the archived ones req selects, merged in id order.
// The archive is read a page at a time when req has a Limit: a page may
// hold jobs that are not sent (live again after a replay, hidden from the
// caller), so it reads on until the list's page is full or the archive
// has no more.
func (c *Controller) mergeListed(state *raftfsm.State, req api.ListJobsRequest, live []listedJob, send func(listedJob) error) error {
	if req.History && req.ArrayJobID == 0 && len(req.IDs) == 0 {
		after, want := req.AfterID, req.Limit
		for {
			given := 0
			err := c.listArchived(req, after, want, func(j *api.Job) error {
				given, after = given+1, j.ID
				for len(live) > 0 && live[0].id() < j.ID {
					if err := send(live[0]); err != nil {
						return err
					}
					live = live[1:]
				}
				if _, ok := state.JobRef(j.ID); ok {
					return nil // live again (the log replayed): the live copy is sent
				}
				return send(listedJob{job: j})
			})
			if err != nil {
				return err
			}
			if want == 0 || given < want {
				break
			}
		}
	}
	for _, j := range live {
		if err := send(j); err != nil {
			return err
		}
	}
	return nil
}

// listMatches applies a list request's field filters to one job.
func listMatches(req api.ListJobsRequest, j *api.Job) bool {
	return (req.User == "" || j.User == req.User) && (req.Queue == "" || j.InQueue(req.Queue)) &&
		(len(req.Accounts) == 0 || slices.Contains(req.Accounts, archive.AccountOf(j))) &&
		(req.EndedAfter == 0 || !j.State.Terminal() || j.StoppedAt >= req.EndedAfter) &&
		(req.SubmittedBefore == 0 || j.CreatedAt <= req.SubmittedBefore)
}

// listArchived calls add with the archived jobs req selects after id
// after (at most limit of them, 0: all), in id order: its filters are the
// archive's queries.
func (c *Controller) listArchived(req api.ListJobsRequest, after uint64, limit int, add func(*api.Job) error) error {
	f := archive.Filter{Accounts: req.Accounts, Queue: req.Queue, EndedAfter: req.EndedAfter, SubmittedBefore: req.SubmittedBefore,
		AfterID: after, Limit: limit, NoEnv: !req.Full, NoScript: len(req.Fields) > 0 && !slices.Contains(req.Fields, "script")}
	if req.User != "" {
		f.Users = []string{req.User}
	}
	if len(req.States) > 0 {
		for _, st := range req.States {
			if st.Terminal() {
				f.States = append(f.States, st)
			}
		}
		if len(f.States) == 0 {
			return nil // only live states asked for
		}
	}
	var addErr error
	err := c.archiver.List(f, func(j *api.Job) bool {
		addErr = add(j)
		return addErr == nil
	})
	if addErr != nil {
		return addErr
	}
	if err != nil {
		return api.Errorf(api.CodeInternal, "read the job archive: %v", err)
	}
	return nil
}

// waitJob is a blocking query on one job: it answers when the job reaches
// one of the states asked or ends (it cannot reach them after), or when the
// wait ends.
func (c *Controller) waitJob(ctx context.Context, who caller, req api.WaitJobRequest) (api.Job, error) {
	timer := time.NewTimer(min(time.Duration(req.WaitMillis)*time.Millisecond, maxWorkWait))
	defer timer.Stop()
	for {
		_, changed := c.fsm.Changed()
		// A job that has left the live state has ended: the archive's
		// copy is the answer.
		stored := c.withHistory(c.fsm.State()).Job(req.ID)
		if stored == nil {
			return api.Job{}, errNoJob(req.ID)
		}
		j, ok := c.jobFor(who, stored)
		if !ok {
			return api.Job{}, errNoJob(req.ID)
		}
		if j.State.Reached(req.States) || j.State.Terminal() {
			return j, nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return j, nil
		case <-ctx.Done(): // errShuttingDown when the controller stops
			return api.Job{}, context.Cause(ctx)
		}
	}
}

func (c *Controller) cancelJob(ctx context.Context, who caller, req api.StopJobRequest) (empty, error) {
	return empty{}, c.stopJob(ctx, who, req, false)
}

func (c *Controller) terminateJob(ctx context.Context, who caller, req api.StopJobRequest) (empty, error) {
	return empty{}, c.stopJob(ctx, who, req, true)
}

func (c *Controller) stopJob(ctx context.Context, who caller, req api.StopJobRequest, terminate bool) error {
	if !who.known {
		return errNoUser
	}
	if err := checkReason(req.Reason); err != nil {
		return err
	}
	if req.Reason == "" {
		req.Reason = "Cancelled by user"
		if terminate {
			req.Reason = "Terminated by user"
		}
	}
	if req.Requeue {
		// An ended job queued again is a job submitted again: its
		// account's rules and limits hold for it as for a new one,
		// checked and committed under its owner's submit lock (as a
		// submit is, everyone's where a Grp limit counts many users'
		// jobs), against the state read once the lock is held: two
		// requeues, or a requeue and a submit, do not pass
		// MaxSubmitJobs together.
		state := c.fsm.State()
		if j := state.Job(req.ID); j != nil && j.State.Terminal() && ownsOrOperates(who, j) && state.HasAccounts() {
			defer c.submitters.lock(j.UID, state.HasGroupSubmitLimits())()
			state = c.fsm.State()
			if j := state.Job(req.ID); j != nil && j.State.Terminal() {
				again := *j
				if err := newAcctCheck(state).check(&again, 1); err != nil {
					return err
				}
			}
		}
	}
	_, err := c.propose(ctx, who, []uint64{req.ID}, raftfsm.OpStop, raftfsm.StopCmd{
		ID: req.ID, Reason: req.Reason, Terminate: terminate || req.Requeue, Requeue: req.Requeue, Hold: req.Requeue && req.Hold, CallerUID: who.actingUID(), Now: c.nowMillis(),
	})
	return err
}

// signalJob records a signal for a started job's node to deliver. Only the
// job's owner (as the connection proves) or root may signal it; the FSM
// checks that, and that the job is STARTING or RUNNING.
func (c *Controller) signalJob(ctx context.Context, who caller, req api.SignalJobRequest) (empty, error) {
	if !who.known {
		return empty{}, errNoUser
	}
	if req.Signal < 1 || req.Signal > api.MaxSignal {
		return empty{}, api.Errorf(api.CodeInvalid, "signal job %d: signal %d is out of range: give a signal number from 1 to %d (e.g. 10 for SIGUSR1)",
			req.ID, req.Signal, api.MaxSignal).WithField("signal")
	}
	if !req.Scope.Valid() {
		return empty{}, api.Errorf(api.CodeInvalid, "signal job %d: scope %q: use %s (every process but the batch script), %s (the batch script) or %s (all)",
			req.ID, req.Scope, api.SignalSteps, api.SignalBatch, api.SignalFull).WithField("scope")
	}
	_, err := c.propose(ctx, who, []uint64{req.ID}, raftfsm.OpSignal, raftfsm.SignalCmd{ID: req.ID, Signal: req.Signal, Scope: req.Scope, CallerUID: who.actingUID()})
	return empty{}, err
}

func (c *Controller) holdJobs(ctx context.Context, who caller, req api.HoldJobsRequest) (empty, error) {
	if !who.known {
		return empty{}, errNoUser
	}
	if len(req.IDs) > MaxHoldJobs {
		return empty{}, api.Errorf(api.CodeInvalid, "%d jobs in one hold; at most %d", len(req.IDs), MaxHoldJobs).WithField("jobIds")
	}
	_, err := c.propose(ctx, who, req.IDs, raftfsm.OpHold, raftfsm.HoldCmd{IDs: req.IDs, Hold: req.Hold, CallerUID: who.actingUID(), Now: c.nowMillis()})
	return empty{}, err
}

func (c *Controller) updateJob(ctx context.Context, who caller, req api.UpdateJobRequest) (empty, error) {
	if !who.known {
		return empty{}, errNoUser
	}
	if req.Queues != nil { // several queues: checked and stored as a submission's
		spec := api.JobSpec{Queues: req.Queues}
		if req.Queue != nil {
			spec.Queue = *req.Queue
		}
		if err := normalizeQueues(&spec); err != nil {
			return empty{}, err
		}
		req.Queue, req.Queues = &spec.Queue, spec.Queues
	}
	cmd := raftfsm.UpdateJobCmd{Update: req, CallerUID: who.actingUID()}
	if err := c.checkJobCommand(who, []uint64{req.ID}, raftfsm.OpUpdateJob, cmd); err != nil { // the owner's, before the queue is judged
		return empty{}, err
	}
	if req.Queue != nil {
		j := c.fsm.State().Job(req.ID)
		if j == nil {
			return empty{}, api.Errorf(api.CodeNotFound, "job %d does not exist", req.ID)
		}
		moved := *j
		moved.Queue, moved.Queues = *req.Queue, req.Queues
		if err := satisfiable(c.fsm.State(), moved); err != nil {
			return empty{}, err
		}
	}
	if req.TimeLimit != nil && *req.TimeLimit < 0 {
		return empty{}, api.Errorf(api.CodeInvalid, "time limit %ds must not be negative", *req.TimeLimit).WithField("timeLimit")
	}
	if req.Name != nil {
		if err := checkText("job name", *req.Name, MaxNameBytes); err != nil {
			return empty{}, api.Errorf(api.CodeInvalid, "job %d: %v", req.ID, err).WithField("jobName")
		}
	}
	_, err := c.propose(ctx, who, []uint64{req.ID}, raftfsm.OpUpdateJob, cmd)
	return empty{}, err
}

// topJobs is scontrol top: see raftfsm.TopCmd.
func (c *Controller) topJobs(ctx context.Context, who caller, req api.TopJobsRequest) (empty, error) {
	if !who.known {
		return empty{}, errNoUser
	}
	if len(req.IDs) == 0 || len(req.IDs) > MaxHoldJobs {
		return empty{}, api.Errorf(api.CodeInvalid, "give 1 to %d job ids to put on top, not %d", MaxHoldJobs, len(req.IDs)).WithField("jobIds")
	}
	_, err := c.propose(ctx, who, req.IDs, raftfsm.OpTop, raftfsm.TopCmd{IDs: req.IDs, CallerUID: who.actingUID()})
	return empty{}, err
}

// MaxHoldJobs bounds the jobs of one hold or release (one raft entry).
const MaxHoldJobs = 100_000

var errNoUser = api.Errorf(api.CodeForbidden, "this connection does not identify a user: use the controller's unix socket")
