package slurm

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// viewFake is a Controller over a fixture of jobs and nodes, for the
// commands that show state (squeue, sacct, sinfo, scontrol). A job exists
// only from its CreatedAt on, so one fixture serves captures taken at
// different moments. Calls that change something are recorded, and fail
// as the controller would for jobs and nodes it does not know.
type viewFake struct {
	jobs  []api.Job
	nodes []api.Node
	now   time.Time
	calls []string
	// cluster is what Cluster answers.
	cluster api.ClusterInfo
	// queues and ces answer the AWS Batch describe calls (Call).
	queues []api.JobQueue
	ces    []api.ComputeEnvironment
}

// Call answers the AWS Batch describe calls partitions are made of.
func (f *viewFake) Call(_ context.Context, path string, _, resp any) error {
	f.record("Call %s", path)
	var out any
	switch path {
	case "/v1/describejobqueues":
		out = map[string]any{"jobQueues": f.queues}
	case "/v1/describecomputeenvironments":
		out = map[string]any{"computeEnvironments": f.ces}
	default:
		return api.Errorf(api.CodeNotFound, "no such path %s", path)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, resp)
}

var _ Controller = (*viewFake)(nil)

func (f *viewFake) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// existing returns the jobs created by now, in id order.
func (f *viewFake) existing() []api.Job {
	var out []api.Job
	for _, j := range f.jobs {
		if j.CreatedAt <= f.now.UnixMilli() {
			out = append(out, j)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

func (f *viewFake) find(id uint64) (api.Job, bool) {
	for _, j := range f.existing() {
		if j.ID == id {
			return j, true
		}
	}
	return api.Job{}, false
}

// ListJobs filters as the daemon's listJobs does.
// ListJobsInto is ListJobs: a fake's lists are its own memory.
func (f *viewFake) ListJobsInto(ctx context.Context, req api.ListJobsRequest, _ []api.Job) ([]api.Job, error) {
	return f.ListJobs(ctx, req)
}

func (f *viewFake) ListJobs(_ context.Context, req api.ListJobsRequest) ([]api.Job, error) {
	b, _ := json.Marshal(req)
	f.record("ListJobs %s", b)
	out := []api.Job{}
	for _, j := range f.existing() {
		switch {
		case req.ArrayJobID != 0 && (j.Array == nil || j.Array.JobID != req.ArrayJobID):
		case req.ArrayJobID == 0 && len(req.IDs) > 0 && !slices.Contains(req.IDs, j.ID):
		case len(req.States) > 0 && !j.State.In(req.States...):
		case req.User != "" && j.User != req.User:
		case req.Queue != "" && j.Queue != req.Queue:
		default:
			out = append(out, project(j, req.Fields))
		}
	}
	if req.Limit > 0 {
		// A page, as the controller answers one: by id, after AfterID.
		slices.SortFunc(out, func(a, b api.Job) int { return cmp.Compare(a.ID, b.ID) })
		out = slices.DeleteFunc(out, func(j api.Job) bool { return j.ID <= req.AfterID })
		out = out[:min(len(out), req.Limit)]
	}
	return out, nil
}

// project is j as the controller answers a list with fields: "jobId" and
// those fields only.
func project(j api.Job, fields []string) api.Job {
	if len(fields) == 0 {
		return j
	}
	var all map[string]json.RawMessage
	b, _ := json.Marshal(j)
	json.Unmarshal(b, &all)
	kept := map[string]json.RawMessage{"jobId": all["jobId"]}
	for _, f := range fields {
		if v, ok := all[f]; ok {
			kept[f] = v
		}
	}
	b, _ = json.Marshal(kept)
	var p api.Job
	json.Unmarshal(b, &p)
	return p
}

func (f *viewFake) Job(_ context.Context, id uint64) (api.Job, error) {
	f.record("Job %d", id)
	if j, ok := f.find(id); ok {
		return j, nil
	}
	return api.Job{}, notFound(id)
}

func (f *viewFake) Nodes(context.Context) ([]api.Node, error) {
	f.record("Nodes")
	return f.nodes, nil
}

func (f *viewFake) Cluster(context.Context) (api.ClusterInfo, error) {
	f.record("Cluster")
	return f.cluster, nil
}

// notFound is the error the daemon gives for an unknown job.
func notFound(id uint64) error { return api.Errorf(api.CodeNotFound, "job %d does not exist", id) }

func (f *viewFake) Hold(_ context.Context, ids []uint64, hold bool) error {
	f.record("Hold %v %v", ids, hold)
	for _, id := range ids {
		j, ok := f.find(id)
		if !ok {
			return notFound(id)
		}
		if j.State.Terminal() {
			return api.Errorf(api.CodeConflict, "job %d has ended", id)
		}
		if j.StartedAt > 0 {
			return api.Errorf(api.CodeConflict, "job %d has started", id)
		}
	}
	return nil
}

func (f *viewFake) RequeueHold(ctx context.Context, id uint64, reason string) error {
	return f.Requeue(ctx, id, reason)
}

func (f *viewFake) Requeue(_ context.Context, id uint64, reason string) error {
	f.record("Requeue %d %q", id, reason)
	j, ok := f.find(id)
	switch {
	case !ok:
		return notFound(id)
	case !j.State.Terminable():
		return api.Errorf(api.CodeConflict, "job %d is %s: only a placed or running job can be requeued", id, j.State)
	}
	return nil
}

func (f *viewFake) UpdateJob(_ context.Context, req api.UpdateJobRequest) error {
	b, _ := json.Marshal(req)
	f.record("UpdateJob %s", b)
	j, ok := f.find(req.ID)
	switch {
	case !ok:
		return notFound(req.ID)
	case (req.Queue != nil || req.Priority != nil) && j.StartedAt > 0:
		return api.Errorf(api.CodeConflict, "job %d has started: its queue and priority no longer change", req.ID)
	case req.Queue != nil && *req.Queue == "nosuch":
		return api.Errorf(api.CodeNotFound, "queue %q does not exist", *req.Queue).WithField("jobQueue")
	}
	return nil
}

func (f *viewFake) UpdateNode(_ context.Context, req api.UpdateNodeRequest) error {
	b, _ := json.Marshal(req)
	f.record("UpdateNode %s", b)
	for _, n := range f.nodes {
		if n.Name == req.Name {
			return nil
		}
	}
	return api.Errorf(api.CodeNotFound, "node %q does not exist", req.Name)
}

func (f *viewFake) Submit(context.Context, api.SubmitJobRequest) (api.SubmitJobResponse, error) {
	return api.SubmitJobResponse{}, fmt.Errorf("viewFake: no Submit")
}

func (f *viewFake) WaitJob(context.Context, uint64, ...api.JobState) (api.Job, error) {
	return api.Job{}, fmt.Errorf("viewFake: no WaitJob")
}

func (f *viewFake) Cancel(context.Context, uint64, string) error {
	return fmt.Errorf("viewFake: no Cancel")
}

func (f *viewFake) Terminate(context.Context, uint64, string) error {
	return fmt.Errorf("viewFake: no Terminate")
}

func (f *viewFake) Stop(context.Context, api.StopJobsRequest) ([]api.JobFailure, error) {
	return nil, fmt.Errorf("viewFake: no Stop")
}

func (f *viewFake) StopJobs(context.Context, []uint64, string) ([]api.JobFailure, error) {
	return nil, fmt.Errorf("viewFake: no StopJobs")
}

func (f *viewFake) Signal(context.Context, uint64, int, api.SignalScope) error {
	return fmt.Errorf("viewFake: no Signal")
}

func (f *viewFake) Logs(context.Context, uint64, string) ([]byte, error) {
	return nil, fmt.Errorf("viewFake: no Logs")
}

// at is a moment of 2026-11-23 (UTC), the day the anchor captures were
// taken.
func at(hms string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", "2026-11-23 "+hms, time.UTC)
	if err != nil {
		panic(err)
	}
	return t
}

func ms(hms string) int64 { return at(hms).UnixMilli() }

func intp(n int) *int { return &n }

// acctFixture mirrors the real Slurm 22.05.8 cluster the goldens marked
// "origin" were captured on (testdata/squeue/README.md): 4 nodes n[1-4] of 8
// CPUs and 1000 MB, partitions debug (default, all nodes) and long
// (n[3-4]), user root, jobs 1-19 submitted 2026-11-23 from 12:17:11.
// Where shoal's model differs (array task ids) the fixture bends to the
// capture: Slurm gave tasks 8_1 and 8_2 the ids 14 and 15 and kept 8 for
// the pending rest, so task 8_3 is job 8 here and 8_4 job 1008.
func acctFixture() ([]api.Job, []api.Node) {
	jobs, nodes, _, _ := fixtureAcct()
	return jobs, nodes
}

// queueOf is a job queue sending its jobs to one compute environment.
func queueOf(name string, ce string) api.JobQueue {
	return api.JobQueue{Name: name, State: api.Enabled, Status: api.Valid,
		ComputeEnvironmentOrder: []api.ComputeEnvironmentOrder{{Order: 1, ComputeEnvironment: ce}}}
}

// fixtureAcct is acctFixture with its partitions: queue debug over every
// node, queue long over n3 and n4.
func fixtureAcct() ([]api.Job, []api.Node, []api.JobQueue, []api.ComputeEnvironment) {
	const dir = "/tmp/slurm-acct/work"
	base := api.Job{
		User: "root",
		JobSpec: api.JobSpec{
			Queue: "debug", Account: "root", QOS: "normal", Dir: dir, Stdout: "slurm-%j.out",
			Stderr:    "slurm-%j.out",
			Script:    "#!/bin/sh\n# This script was created by sbatch --wrap.\n\ntrue\n",
			Resources: api.Resources{CPUs: 1}, SubmitHost: "localhost",
		},
	}
	job := func(id uint64, name string, prio int64, f func(j *api.Job)) api.Job {
		j := base
		j.ID, j.Name, j.Priority = id, name, prio
		j.CreatedAt = ms("12:17:11")
		f(&j)
		return j
	}
	done := func(j *api.Job, node, start, stop string, code int) {
		j.State, j.Node, j.StartedAt, j.StoppedAt, j.ExitCode = api.StateSucceeded, node, ms(start), ms(stop), intp(code)
		if code != 0 {
			j.State, j.Cause = api.StateFailed, api.CauseExitCode
		}
	}
	array := func(index int) *api.ArrayTask {
		return &api.ArrayTask{JobID: 8, Index: index, Min: 1, Max: 4, Count: 4, MaxRunning: 2}
	}
	jobs := []api.Job{
		job(1, "wrap", 4294901759, func(j *api.Job) { done(j, "n1", "12:17:11", "12:17:11", 0) }),
		job(2, "wrap", 4294901758, func(j *api.Job) { done(j, "n1", "12:17:11", "12:17:11", 3) }),
		job(3, "sigkill", 4294901757, func(j *api.Job) {
			done(j, "n1", "12:17:11", "12:17:11", 0)
			j.State, j.Cause, j.ExitCode, j.ExitSignal = api.StateFailed, api.CauseExitCode, nil, 9
		}),
		job(4, "long", 4294901756, func(j *api.Job) {
			j.State, j.Node, j.StartedAt, j.TimeLimit = api.StateRunning, "n1", ms("12:17:11"), 600
			j.Stdout, j.Stderr = "long-%j.out", "long-%j.out"
		}),
		job(5, "wrap", 0, func(j *api.Job) { j.State, j.Held = api.StatePending, true }),
		job(6, "wrap", 4294901755, func(j *api.Job) {
			j.State, j.DependsOn = api.StatePending, []api.Dependency{{JobID: 4, Type: api.AfterOK}}
		}),
		job(7, "cancelme", 4294901754, func(j *api.Job) {
			j.State, j.Cause, j.ExitSignal, j.Node = api.StateFailed, api.CauseTerminated, 15, "n1"
			j.StartedAt, j.StoppedAt = ms("12:17:14"), ms("12:17:17")
		}),
		job(8, "arr", 4294901753, func(j *api.Job) { j.State, j.Queue, j.Array = api.StateRunnable, "long", array(3) }),
		job(1008, "arr", 4294901753, func(j *api.Job) { j.State, j.Queue, j.Array = api.StateRunnable, "long", array(4) }),
		job(9, "later", 4294901752, func(j *api.Job) { j.State, j.BeginAt = api.StateRunnable, ms("13:17:11") }),
		job(10, "big", 4294901751, func(j *api.Job) {
			j.State, j.Node, j.StartedAt, j.TimeLimit = api.StateRunning, "n1", ms("12:17:14"), 86400
			j.Resources, j.Account, j.Comment = api.Resources{CPUs: 4, MemoryMB: 500}, "proj", "hello world"
		}),
		job(11, "tmo", 4294901750, func(j *api.Job) {
			j.State, j.Cause, j.ExitSignal, j.Node, j.TimeLimit = api.StateFailed, api.CauseTimeout, 15, "n1", 60
			j.StartedAt, j.StoppedAt = ms("12:17:14"), ms("12:18:27")
		}),
		job(12, "pdcancel", 0, func(j *api.Job) {
			j.State, j.Cause, j.Held, j.StoppedAt = api.StateFailed, api.CauseCancelled, true, ms("12:17:17")
		}),
		job(13, "steps", 4294901749, func(j *api.Job) { done(j, "n1", "12:17:14", "12:17:14", 0) }),
		job(14, "arr", 4294901753, func(j *api.Job) {
			j.State, j.Queue, j.Array, j.Node, j.StartedAt = api.StateRunning, "long", array(1), "n3", ms("12:17:14")
		}),
		job(15, "arr", 4294901753, func(j *api.Job) {
			j.State, j.Queue, j.Array, j.Node, j.StartedAt = api.StateRunning, "long", array(2), "n3", ms("12:17:14")
		}),
	}
	second := func(id uint64, name string, prio int64, f func(j *api.Job)) api.Job {
		j := job(id, name, prio, f)
		j.CreatedAt, j.Dir = ms("12:24:18"), "/root/slurmcap/work"
		return j
	}
	jobs = append(jobs,
		second(16, "ok", 4294901748, func(j *api.Job) { done(j, "n3", "12:24:19", "12:24:19", 0) }),
		second(17, "bad", 4294901747, func(j *api.Job) { done(j, "n3", "12:24:19", "12:24:19", 3) }),
		second(18, "sig9", 4294901746, func(j *api.Job) {
			done(j, "n3", "12:24:19", "12:24:19", 0)
			j.State, j.Cause, j.ExitCode, j.ExitSignal = api.StateFailed, api.CauseExitCode, nil, 9
		}),
		second(19, "killme", 4294901745, func(j *api.Job) {
			j.State, j.Cause, j.ExitSignal, j.Node = api.StateFailed, api.CauseTerminated, 15, "n3"
			j.StartedAt, j.StoppedAt = ms("12:24:19"), ms("12:24:21")
		}),
	)
	capacity := api.Resources{CPUs: 8, MemoryMB: 1000}
	nodes := []api.Node{
		{Name: "n1", State: api.NodeDrain, Reason: "bad disk", Capacity: capacity, Allocated: api.Resources{CPUs: 5}},
		{Name: "n2", State: api.NodeDrain, Reason: "maintenance", Capacity: capacity},
		{Name: "n3", State: api.NodeUp, Capacity: capacity, Allocated: api.Resources{CPUs: 2}},
		{Name: "n4", State: api.NodeDown, Reason: "power supply", Capacity: capacity},
	}
	queues := []api.JobQueue{queueOf("debug", "all"), queueOf("long", "long")}
	ces := []api.ComputeEnvironment{
		{Name: "all", Type: "UNMANAGED", State: api.Enabled, Status: api.Valid},
		{Name: "long", Type: "UNMANAGED", State: api.Enabled, Status: api.Valid, Nodes: []string{"n3", "n4"}},
	}
	return jobs, nodes, queues, ces
}

// shoalFixture is a cluster in shoal's own terms (default queue
// "default", a GPU queue, causes Slurm's captures have no example of:
// OOM, node loss, dependency failure, start failure, requeue), seen at
// 2026-11-24T10:30:00Z.
func shoalFixture() ([]api.Job, []api.Node) {
	jobs, nodes, _, _ := fixtureShoal()
	return jobs, nodes
}

// fixtureShoal is shoalFixture with its queues: the default queue runs on
// the nodes labelled kind=cpu, queue gpu on those labelled kind=gpu.
func fixtureShoal() ([]api.Job, []api.Node, []api.JobQueue, []api.ComputeEnvironment) {
	const dir = "/home/alice/run"
	day := func(hms string) int64 {
		t, _ := time.ParseInLocation("2006-01-02 15:04:05", "2026-11-24 "+hms, time.UTC)
		return t.UnixMilli()
	}
	base := api.Job{
		User: "alice",
		UID:  1000,
		GID:  1000,
		JobSpec: api.JobSpec{
			Queue: api.DefaultQueue, Dir: dir, Stdout: "slurm-%j.out", Stderr: "slurm-%j.out",
			Script: "#!/bin/sh\ntrue\n", Resources: api.Resources{CPUs: 1, MemoryMB: 2048},
		},
		CreatedAt: day("10:00:00"),
	}
	job := func(id uint64, name string, f func(j *api.Job)) api.Job {
		j := base
		j.ID, j.Name = id, name
		f(&j)
		return j
	}
	jobs := []api.Job{
		job(101, "snakejob_a", func(j *api.Job) {
			j.State, j.Node, j.StartedAt, j.StoppedAt, j.ExitCode = api.StateSucceeded, "node1", day("10:00:01"), day("10:02:01"), intp(0)
		}),
		job(102, "snakejob_b", func(j *api.Job) {
			j.State, j.Cause, j.Node, j.StartedAt, j.StoppedAt, j.ExitCode = api.StateFailed, api.CauseExitCode, "node1", day("10:00:01"), day("10:28:00"), intp(1)
		}),
		job(103, "hungry", func(j *api.Job) {
			j.State, j.Cause, j.Node, j.StartedAt, j.StoppedAt, j.ExitSignal = api.StateFailed, api.CauseOOM, "node2", day("10:00:02"), day("10:29:00"), 9
		}),
		job(104, "lost", func(j *api.Job) {
			j.State, j.Cause, j.Node, j.StartedAt, j.StoppedAt = api.StateFailed, api.CauseNodeLost, "node3", day("09:00:00"), day("10:29:30")
			j.CreatedAt = day("08:59:00")
		}),
		job(105, "child", func(j *api.Job) {
			j.State, j.Cause, j.StoppedAt = api.StateFailed, api.CauseDependency, day("10:28:00")
			j.DependsOn = []api.Dependency{{JobID: 102, Type: api.AfterOK}}
		}),
		job(106, "nostart", func(j *api.Job) {
			j.State, j.Cause, j.Node, j.StoppedAt = api.StateFailed, api.CauseStartFailed, "node2", day("10:29:50")
		}),
		job(107, "train", func(j *api.Job) {
			j.State, j.Node, j.StartedAt, j.TimeLimit = api.StateRunning, "gpu1", day("10:05:00"), 2*86400
			j.Queue, j.Resources, j.Account = "gpu", api.Resources{CPUs: 8, MemoryMB: 65536, GPUs: 2, GPUTypes: "h200:2"}, "ml"
			// srun inside the job: a finished step 0, a running step 1.
			j.Steps = []api.Step{
				{ID: 0, Name: "prep", State: api.StepCompleted, NTasks: 1, CPUs: 1, StartedAt: day("10:05:05"), EndedAt: day("10:06:05"), SrunHost: "gpu1", SrunPID: 31},
				{ID: 1, Name: "python", State: api.StepRunning, NTasks: 4, CPUs: 8, MemMB: 32768, StartedAt: day("10:06:10"), SrunHost: "gpu1", SrunPID: 57},
			}
			j.NextStep = 2
		}),
		job(108, "stopping", func(j *api.Job) {
			j.State, j.Node, j.StartedAt, j.StopRequested = api.StateRunning, "node1", day("10:10:00"), true
		}),
		job(109, "waiting", func(j *api.Job) { j.State, j.Priority = api.StateRunnable, 10 }),
		job(110, "nice", func(j *api.Job) { j.State, j.Nice = api.StateRunnable, 50 }),
		job(111, "old", func(j *api.Job) {
			j.State, j.Node, j.StartedAt, j.StoppedAt, j.ExitCode = api.StateSucceeded, "node1", day("08:00:00"), day("08:10:00"), intp(0)
			j.CreatedAt = day("07:59:00")
		}),
		job(112, "bob-job", func(j *api.Job) {
			j.State, j.User, j.UID, j.Node, j.StartedAt = api.StateStarting, "bob", 1001, "node2", day("10:29:59")
		}),
	}
	cpu := map[string]string{"kind": "cpu"}
	nodes := []api.Node{
		{Name: "gpu1", State: api.NodeUp, Capacity: api.Resources{CPUs: 32, MemoryMB: 257000, GPUs: 4, GPUTypes: "h200:4"}, Allocated: api.Resources{CPUs: 8, MemoryMB: 65536, GPUs: 2, GPUTypes: "h200:2"}, Labels: map[string]string{"kind": "gpu"}},
		{Name: "node1", State: api.NodeUp, Capacity: api.Resources{CPUs: 16, MemoryMB: 64000}, Allocated: api.Resources{CPUs: 1, MemoryMB: 2048}, Labels: cpu},
		{Name: "node2", State: api.NodeDrain, Reason: "kernel update", ReasonBy: "root", ReasonAt: ms("09:15:00"), Capacity: api.Resources{CPUs: 16, MemoryMB: 64000}, Allocated: api.Resources{CPUs: 1, MemoryMB: 2048}, Labels: cpu},
		{Name: "node3", State: api.NodeDown, Reason: "node daemon lost", Capacity: api.Resources{CPUs: 16, MemoryMB: 64000}, Labels: cpu},
		{Name: "node4", State: api.NodeUp, Capacity: api.Resources{CPUs: 16, MemoryMB: 64000}, Allocated: api.Resources{CPUs: 16, MemoryMB: 4096}, Labels: cpu},
		{Name: "node10", State: api.NodeUp, Capacity: api.Resources{CPUs: 16, MemoryMB: 64000}, Labels: cpu},
	}
	queues := []api.JobQueue{queueOf(api.DefaultQueue, "cpu"), queueOf("gpu", "gpu")}
	ces := []api.ComputeEnvironment{
		{Name: "cpu", Type: "UNMANAGED", State: api.Enabled, Status: api.Valid, NodeLabels: cpu},
		{Name: "gpu", Type: "UNMANAGED", State: api.Enabled, Status: api.Valid, NodeLabels: map[string]string{"kind": "gpu"}},
	}
	return jobs, nodes, queues, ces
}

// fixtures name the clusters golden cases run against, with the moment
// a case runs at unless it gives its own.
var fixtures = map[string]struct {
	build func() ([]api.Job, []api.Node, []api.JobQueue, []api.ComputeEnvironment)
	now   time.Time
	// defaultQueue is the partition shown with a "*": the real cluster's
	// is "debug" (Slurm reserves the name "default").
	defaultQueue string
	cluster      api.ClusterInfo
}{
	"acct": {fixtureAcct, at("12:24:00"), "debug", api.ClusterInfo{Leader: "c1 (vm:7000)", Version: "0.1.0", Queues: []string{"debug", "long"}}},
	"shoal": {fixtureShoal, time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC), api.DefaultQueue,
		api.ClusterInfo{Leader: "ctl1 (10.0.0.1:7000)", Members: []string{"ctl1 (10.0.0.1:7000)"}, Version: "0.1.0",
			StartedAt: time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC).UnixMilli(), Queues: []string{"default", "gpu"}}},
}

// viewGolden runs every case under testdata/<cmd>/. A case folder holds
// args (one argument a line) and optionally fixture ("acct", the default,
// or "shoal"), now (epoch seconds) and env (KEY=VALUE lines); and the
// expected stdout, stderr, rc and, when the command changes something,
// calls (the controller calls that change state, one a line). A case
// with an origin file is a real Slurm 22.05.8 capture: its stdout is
// Slurm's, byte for byte, and SHOAL_UPDATE_GOLDEN=1 never rewrites it.
// slurm.out, where present, is what real Slurm printed for a case whose
// output differs (kept for reference only).
func viewGolden(t *testing.T, cmd string, run func(*Ctx, []string) int) {
	dirs, err := filepath.Glob(filepath.Join("testdata", cmd, "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases under testdata/%s (%v)", cmd, err)
	}
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			read, args := goldenCase(t, dir)
			name := "acct"
			if s, ok := read("fixture"); ok {
				name = strings.TrimSpace(s)
			}
			fx, ok := fixtures[name]
			if !ok {
				t.Fatalf("unknown fixture %q", name)
			}
			now := fx.now
			if s, ok := read("now"); ok {
				sec, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
				if err != nil {
					t.Fatalf("now: %v", err)
				}
				now = time.Unix(sec, 0).UTC()
			}
			user := "root"
			if u, ok := read("user"); ok {
				user = strings.TrimSpace(u)
			}
			env := []string{"USER=" + user, "PATH=/usr/bin:/bin"}
			if e, ok := read("env"); ok {
				env = strings.Split(strings.TrimSpace(e), "\n")
			}
			jobs, nodes, queues, ces := fx.build()
			f := &viewFake{jobs: jobs, nodes: nodes, now: now, cluster: fx.cluster, queues: queues, ces: ces}
			setDefaultPartition(t, fx.defaultQueue)
			var stdout, stderr bytes.Buffer
			c := &Ctx{Client: f, Stdout: &stdout, Stderr: &stderr, Stdin: strings.NewReader(""),
				Env: env, Now: func() time.Time { return now },
				Getwd:    func() (string, error) { return "/root", nil },
				Hostname: "vm", User: user,
				GroupName: func(gid uint32) string { return map[uint32]string{0: "root", 1000: "alice", 1001: "bob"}[gid] }}
			rc := run(c, args)
			var changes []string
			for _, call := range f.calls {
				switch strings.SplitN(call, " ", 2)[0] {
				case "Hold", "Requeue", "UpdateJob", "UpdateNode":
					changes = append(changes, call)
				}
			}
			calls := ""
			if len(changes) > 0 {
				calls = strings.Join(changes, "\n") + "\n"
			}
			got := map[string]string{"stdout": stdout.String(), "stderr": stderr.String(),
				"rc": strconv.Itoa(rc) + "\n", "calls": calls}
			_, real := read("origin")
			for _, file := range []string{"stdout", "stderr", "rc", "calls"} {
				want, _ := read(file)
				if os.Getenv("SHOAL_UPDATE_GOLDEN") == "1" && !(real && file != "calls") {
					if got[file] == "" && file == "calls" {
						os.Remove(filepath.Join(dir, file))
						continue
					}
					if err := os.WriteFile(filepath.Join(dir, file), []byte(got[file]), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if got[file] != want {
					t.Errorf("%s %s: %s differs\n--- want\n%s--- got\n%s", cmd, strings.Join(args, " "), file, want, got[file])
				}
			}
		})
	}
}

// setDefaultPartition makes name the partition marked default for one
// test.
func setDefaultPartition(t *testing.T, name string) {
	old := defaultPartition
	defaultPartition = name
	t.Cleanup(func() { defaultPartition = old })
}
