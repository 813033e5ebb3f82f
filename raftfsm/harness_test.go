package raftfsm_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// harness drives one FSM the way raft does: encoded entries at increasing
// indexes. It keeps every entry it applied so that other FSMs can replay
// the same log.
type harness struct {
	t   *testing.T
	fsm *raftfsm.FSM
	idx uint64
	log [][]byte
	// driveNode is registered on first use by jobIn.
	driveNode string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, fsm: raftfsm.New()}
	// Queues of the tests, each with a compute environment of the nodes
	// labelled "q-<queue>" (register labels unlabelled nodes q-default).
	for _, q := range []string{api.DefaultQueue, "gpu", "other", "short"} {
		h.mustOK("create ce "+q, h.apply(raftfsm.OpPutCE, raftfsm.PutCECmd{Create: true, CE: api.ComputeEnvironment{
			Name: q, Type: "UNMANAGED", State: api.Enabled, NodeLabels: map[string]string{"q-" + q: "1"}}}))
		h.mustOK("create queue "+q, h.apply(raftfsm.OpPutQueue, raftfsm.PutQueueCmd{Create: true, Queue: api.JobQueue{
			Name: q, State: api.Enabled, ComputeEnvironmentOrder: []api.ComputeEnvironmentOrder{{Order: 1, ComputeEnvironment: q}}}}))
	}
	return h
}

// queues labels a node for the test queues it serves.
func queues(qs ...string) map[string]string {
	l := map[string]string{}
	for _, q := range qs {
		l["q-"+q] = "1"
	}
	return l
}

// encode frames one command, failing the test if it cannot.
func encode(t *testing.T, op raftfsm.Op, body any) []byte {
	t.Helper()
	e, err := raftfsm.Encode(op, body)
	if err != nil {
		t.Fatalf("Encode(%d): %v", op, err)
	}
	return e
}

// applyEntry applies one raw entry at the next index.
func (h *harness) applyEntry(entry []byte) any {
	h.t.Helper()
	h.idx++
	h.log = append(h.log, entry)
	return h.fsm.Apply(h.idx, entry)
}

// apply applies one command and returns its Result.
func (h *harness) apply(op raftfsm.Op, body any) raftfsm.Result {
	h.t.Helper()
	out := h.applyEntry(encode(h.t, op, body))
	res, ok := out.(raftfsm.Result)
	if !ok {
		h.t.Fatalf("Apply(op %d) returned %T, want raftfsm.Result", op, out)
	}
	return res
}

// batch applies several encoded commands as one entry.
func (h *harness) batch(entries ...[]byte) []raftfsm.Result {
	h.t.Helper()
	e, err := raftfsm.EncodeBatch(entries)
	if err != nil {
		h.t.Fatalf("EncodeBatch: %v", err)
	}
	out := h.applyEntry(e)
	res, ok := out.([]raftfsm.Result)
	if !ok {
		h.t.Fatalf("Apply(batch) returned %T, want []raftfsm.Result", out)
	}
	return res
}

func (h *harness) mustOK(what string, res raftfsm.Result) raftfsm.Result {
	h.t.Helper()
	if res.Err != nil {
		h.t.Fatalf("%s: got error %s (%q), want success", what, res.Err.Code, res.Err.Message)
	}
	return res
}

// submit stores jobs at time now and returns their ids.
func (h *harness) submit(now int64, jobs ...api.Job) []uint64 {
	h.t.Helper()
	res := h.mustOK("submit", h.apply(raftfsm.OpSubmit, raftfsm.SubmitCmd{Jobs: jobs, Now: now}))
	if len(res.IDs) != len(jobs) {
		h.t.Fatalf("submit of %d jobs: got ids %v, want %d ids", len(jobs), res.IDs, len(jobs))
	}
	return res.IDs
}

// register adds (or re-registers) a node.
func (h *harness) register(now int64, n api.Node) {
	h.t.Helper()
	if n.Labels == nil {
		n.Labels = queues(api.DefaultQueue)
	}
	h.mustOK("register node "+n.Name, h.apply(raftfsm.OpRegisterNode, raftfsm.RegisterNodeCmd{Node: n, Now: now}))
}

// place applies a plan and returns how many placements it applied.
func (h *harness) place(now int64, ps ...raftfsm.Placement) int {
	h.t.Helper()
	return h.mustOK("plan", h.apply(raftfsm.OpPlan, raftfsm.PlanCmd{Placements: ps, Now: now})).Placed
}

// events records node reports.
func (h *harness) events(now int64, evs ...api.JobEvent) {
	h.t.Helper()
	h.mustOK("job events", h.apply(raftfsm.OpJobEvents, raftfsm.JobEventsCmd{Events: evs, Now: now}))
}

// stop applies a StopCmd and returns its result unchecked.
func (h *harness) stop(c raftfsm.StopCmd) raftfsm.Result {
	h.t.Helper()
	return h.apply(raftfsm.OpStop, c)
}

// restored is a new FSM restored from a snapshot of h's.
func (h *harness) restored() *raftfsm.FSM {
	h.t.Helper()
	var buf bytes.Buffer
	if _, err := h.fsm.Snapshot().WriteTo(&buf); err != nil {
		h.t.Fatal(err)
	}
	f := raftfsm.New()
	if err := f.Restore(&buf, h.idx); err != nil {
		h.t.Fatal(err)
	}
	return f
}

// job returns a job from the current state, failing if it is missing.
func (h *harness) job(id uint64) *api.Job {
	h.t.Helper()
	j := h.fsm.State().Job(id)
	if j == nil {
		h.t.Fatalf("job %d: not found, want it stored", id)
	}
	return j
}

// node returns a node from the current state, failing if it is missing.
func (h *harness) node(name string) *api.Node {
	h.t.Helper()
	n := h.fsm.State().Node(name)
	if n == nil {
		h.t.Fatalf("node %s: not found, want it registered", name)
	}
	return n
}

// jobCount counts every stored job.
func jobCount(f *raftfsm.FSM) int {
	n := 0
	f.State().AllJobs(func(*api.Job) bool { n++; return true })
	return n
}

// allJobs lists every stored job in id order.
func allJobs(f *raftfsm.FSM) []*api.Job {
	var out []*api.Job
	f.State().AllJobs(func(j *api.Job) bool { out = append(out, j); return true })
	return out
}

// wantJob checks a job's state and status reason.
func (h *harness) wantJob(id uint64, state api.JobState, reason string) *api.Job {
	h.t.Helper()
	j := h.job(id)
	if j.State != state || j.StatusReason != reason {
		h.t.Errorf("job %d: got %s %q, want %s %q", id, j.State, j.StatusReason, state, reason)
	}
	return j
}

// wantTimes checks a job's timestamps against the Now values of the
// commands that set them (0: never set).
func (h *harness) wantTimes(id uint64, created, started, stopped int64) {
	h.t.Helper()
	j := h.job(id)
	if j.CreatedAt != created || j.StartedAt != started || j.StoppedAt != stopped {
		h.t.Errorf("job %d times (created, started, stopped): got (%d, %d, %d), want (%d, %d, %d)",
			id, j.CreatedAt, j.StartedAt, j.StoppedAt, created, started, stopped)
	}
}

// wantAlloc checks a node's allocated resources.
func (h *harness) wantAlloc(name string, want api.Resources) {
	h.t.Helper()
	if got := h.node(name).Allocated; got != want {
		h.t.Errorf("node %s allocated: got %+v, want %+v", name, got, want)
	}
}

// wantErr checks that res failed with code and that its message names
// every string in mention.
func wantErr(t *testing.T, what string, res raftfsm.Result, code string, mention ...string) {
	t.Helper()
	if res.Err == nil {
		t.Errorf("%s: got success, want error %s", what, code)
		return
	}
	if res.Err.Code != code {
		t.Errorf("%s: got error code %s (%q), want %s", what, res.Err.Code, res.Err.Message, code)
	}
	if !api.IsCode(res.Error(), code) {
		t.Errorf("%s: api.IsCode(res.Error(), %s) = false, want true", what, code)
	}
	for _, m := range mention {
		if !strings.Contains(res.Err.Message, m) {
			t.Errorf("%s: message %q does not mention %q", what, res.Err.Message, m)
		}
	}
}

// newJob is a one-CPU job of alice (uid 1000) in the default queue,
// depending (afterok, the default type) on deps.
func newJob(name string, deps ...uint64) api.Job {
	var dependsOn []api.Dependency
	for _, d := range deps {
		dependsOn = append(dependsOn, api.Dependency{JobID: d})
	}
	return api.Job{
		JobSpec: api.JobSpec{
			Name: name, Queue: api.DefaultQueue, Command: []string{"/bin/true"},
			Resources: api.Resources{CPUs: 1, MemoryMB: 512}, DependsOn: dependsOn,
		},
		User: "alice",
		UID:  1000,
		GID:  1000,
	}
}

// withRes returns j asking for r.
func withRes(j api.Job, r api.Resources) api.Job { j.Resources = r; return j }

func intp(i int) *int { return &i }

// jobIn submits a fresh job and drives it to state st at time now,
// through the commands a real cluster would commit. PENDING jobs wait on
// a fresh RUNNABLE job; placed jobs go to the harness's drive node.
func (h *harness) jobIn(st api.JobState, now int64) uint64 {
	h.t.Helper()
	switch st {
	case api.StatePending, api.StateRunnable, api.StateStarting, api.StateRunning, api.StateSucceeded, api.StateFailed:
	default:
		h.t.Fatalf("jobIn(%s): no command leaves a job in %s", st, st)
	}
	if st == api.StatePending {
		dep := h.jobIn(api.StateRunnable, now)
		return h.submit(now, newJob("pending", dep))[0]
	}
	id := h.submit(now, newJob(strings.ToLower(string(st))))[0]
	switch st {
	case api.StateRunnable:
		return id
	case api.StateFailed:
		h.mustOK("cancel", h.stop(raftfsm.StopCmd{ID: id, Reason: "not needed", CallerUID: 1000, Now: now}))
		return id
	}
	if h.driveNode == "" {
		h.driveNode = "drive"
		h.register(now, api.Node{Name: h.driveNode, Boot: "drive-boot",
			Capacity: api.Resources{CPUs: 1 << 20, MemoryMB: 1 << 40, GPUs: 1 << 10}})
	}
	if got := h.place(now, raftfsm.Placement{JobID: id, Node: h.driveNode}); got != 1 {
		h.t.Fatalf("place job %d on %s: placed %d, want 1", id, h.driveNode, got)
	}
	if st == api.StateStarting {
		return id
	}
	h.events(now, api.JobEvent{ID: id, Node: h.driveNode, State: api.StateRunning})
	if st == api.StateRunning {
		return id
	}
	h.events(now, api.JobEvent{ID: id, Node: h.driveNode, State: api.StateSucceeded, ExitCode: intp(0)})
	return id
}

// expireEnded expires every job that has ended and returns their ids.
func (h *harness) expireEnded() []uint64 {
	var ended []uint64
	h.fsm.State().AllJobs(func(j *api.Job) bool {
		if j.State.Terminal() {
			ended = append(ended, j.ID)
		}
		return true
	})
	h.mustOK("expire", h.apply(raftfsm.OpExpire, raftfsm.ExpireCmd{IDs: ended, Before: 100}))
	return ended
}
