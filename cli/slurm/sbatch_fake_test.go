package slurm

import (
	"bytes"
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

// ctlFake is a Controller over a fixed set of jobs that records every call
// (litestream's mock style: plain data, no expectations).
type ctlFake struct {
	jobs      map[uint64]*api.Job
	nodes     []api.Node
	nextID    uint64
	submitErr error
	// waitFor is what WaitJob answers for a job id (default: the job as it is).
	waitFor map[uint64]api.Job
	logs    map[string][]byte // "ID/stream"
	calls   []string
	// refuseArrays answers a stop of arrays whole as a controller from
	// before api.StopJobsRequest.ArrayJobIDs does.
	refuseArrays bool
}

var _ Controller = (*ctlFake)(nil)

func sbIntp(n int) *int { return &n }

// newCtlFake returns a fake holding the jobs every test case sees:
//
//	1 alice wrap PENDING        2 alice long RUNNING on n1   3 alice done SUCCEEDED
//	4 bob   other PENDING       10-12 alice array 10_0 SUCCEEDED, 10_1 RUNNING, 10_2 PENDING
//	20 alice snakejob PENDING (held, account proj, queue gpu)
func newCtlFake() *ctlFake {
	f := &ctlFake{jobs: map[uint64]*api.Job{}, nextID: 100, waitFor: map[uint64]api.Job{}, logs: map[string][]byte{}}
	add := func(j api.Job) {
		if j.User == "" {
			j.User = "alice"
		}
		if j.Queue == "" {
			j.Queue = api.DefaultQueue
		}
		f.jobs[j.ID] = &j
	}
	add(api.Job{ID: 1, JobSpec: api.JobSpec{Name: "wrap"}, State: api.StatePending})
	add(api.Job{ID: 2, JobSpec: api.JobSpec{Name: "long"}, State: api.StateRunning, Node: "n1"})
	add(api.Job{ID: 3, JobSpec: api.JobSpec{
		Name: "done",
	}, State: api.StateSucceeded, Node: "n1", ExitCode: sbIntp(0)})
	add(api.Job{ID: 4, JobSpec: api.JobSpec{Name: "other"}, User: "bob", State: api.StatePending})
	for i, st := range []api.JobState{api.StateSucceeded, api.StateRunning, api.StatePending} {
		add(api.Job{
			ID:      10 + uint64(i),
			JobSpec: api.JobSpec{Name: "arr"},
			State:   st,
			Array:   &api.ArrayTask{JobID: 10, Index: i, Min: 0, Max: 2, Count: 3},
		})
	}
	add(api.Job{ID: 20, JobSpec: api.JobSpec{
		Name: "snakejob", Held: true, Account: "proj", Queue: "gpu",
	}, State: api.StatePending})
	f.nodes = []api.Node{
		{Name: "n1", State: api.NodeUp, Capacity: api.Resources{CPUs: 8, MemoryMB: 16000}, Allocated: api.Resources{CPUs: 8, MemoryMB: 1024}},
		{Name: "n2", State: api.NodeUp, Capacity: api.Resources{CPUs: 8, MemoryMB: 16000}},
	}
	return f
}

func (f *ctlFake) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func sbJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func (f *ctlFake) Submit(_ context.Context, req api.SubmitJobRequest) (api.SubmitJobResponse, error) {
	f.record("Submit %s", sbJSON(req))
	if f.submitErr != nil {
		return api.SubmitJobResponse{}, f.submitErr
	}
	if req.TestOnly {
		return api.SubmitJobResponse{Name: req.Name}, nil
	}
	id := f.nextID
	f.nextID += uint64(max(1, len(req.ArrayIndexes)))
	return api.SubmitJobResponse{ID: id, Name: req.Name}, nil
}

// ListJobsInto is ListJobs: a fake's lists are its own memory.
func (f *ctlFake) ListJobsInto(ctx context.Context, req api.ListJobsRequest, _ []api.Job) ([]api.Job, error) {
	return f.ListJobs(ctx, req)
}

func (f *ctlFake) ListJobs(_ context.Context, req api.ListJobsRequest) ([]api.Job, error) {
	// Answered as the controller answers: projected to the fields asked
	// (a field a command reads and does not ask for shows here). The
	// light set is named, not spelled out, in the calls.
	shown, light := req, slices.Equal(req.Fields, squeueLight)
	if light {
		shown.Fields = nil
	}
	f.record("ListJobs %s%s", sbJSON(shown), map[bool]string{true: " (light fields)"}[light])
	out := []api.Job{}
	ids := make([]uint64, 0, len(f.jobs))
	for id := range f.jobs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(a, b int) bool { return ids[a] < ids[b] })
	for _, id := range ids {
		j := f.jobs[id]
		switch {
		case req.ArrayJobID != 0 && (j.Array == nil || j.Array.JobID != req.ArrayJobID):
		case len(req.IDs) > 0 && !slices.Contains(req.IDs, j.ID):
		case len(req.States) > 0 && !j.State.In(req.States...):
		case req.User != "" && j.User != req.User:
		case req.Queue != "" && !j.InQueue(req.Queue):
		default:
			out = append(out, project(*j, req.Fields))
		}
	}
	return out, nil
}

func (f *ctlFake) Job(ctx context.Context, id uint64) (api.Job, error) {
	f.record("Job %d", id)
	if j, ok := f.jobs[id]; ok {
		return *j, nil
	}
	return api.Job{}, notFound(id)
}

func (f *ctlFake) WaitJob(_ context.Context, id uint64, states ...api.JobState) (api.Job, error) {
	f.record("WaitJob %d %v", id, states)
	if j, ok := f.waitFor[id]; ok {
		return j, nil
	}
	if j, ok := f.jobs[id]; ok {
		return *j, nil
	}
	return api.Job{}, notFound(id)
}

// stop is the fake's cancel/terminate: bob's jobs are not alice's to stop.
func (f *ctlFake) stop(verb string, id uint64, reason string) error {
	f.record("%s %d %q", verb, id, reason)
	j, ok := f.jobs[id]
	switch {
	case !ok:
		return notFound(id)
	case j.User != "alice":
		return api.Errorf(api.CodeForbidden, "job %d belongs to %s", id, j.User)
	case j.State.Terminal(), verb == "Cancel" && !j.State.Cancellable():
		return api.Errorf(api.CodeConflict, "cannot %s job %d: it is %s", strings.ToLower(verb), id, j.State)
	}
	return nil
}

func (f *ctlFake) Cancel(_ context.Context, id uint64, reason string) error {
	return f.stop("Cancel", id, reason)
}

func (f *ctlFake) Terminate(_ context.Context, id uint64, reason string) error {
	return f.stop("Terminate", id, reason)
}

// StopJobs is the fake's scancel: Terminate's rules for each job, in one call.
// Stop is the fake's StopJobs of a whole request: an array asked whole
// stops its tasks that have not ended, and fails once, by its id, as the
// controller answers (refuseArrays: as a controller that does not know
// the field).
func (f *ctlFake) Stop(ctx context.Context, req api.StopJobsRequest) ([]api.JobFailure, error) {
	if len(req.ArrayJobIDs) == 0 {
		return f.StopJobs(ctx, req.IDs, req.Reason)
	}
	f.record("Stop arrays %v, jobs %v %q", req.ArrayJobIDs, req.IDs, req.Reason)
	if f.refuseArrays {
		return nil, api.Errorf(api.CodeInvalid, `decode request body for %s: json: unknown field "arrayJobIds"`, api.PathStopJobs)
	}
	var tasks []uint64
	arrayOf := map[uint64]uint64{}
	for _, a := range req.ArrayJobIDs {
		for id, j := range f.jobs {
			if j.Array != nil && j.Array.JobID == a && !j.State.Terminal() && !slices.Contains(req.IDs, id) {
				tasks = append(tasks, id)
				arrayOf[id] = a
			}
		}
	}
	slices.Sort(tasks)
	ids := append(slices.Clone(req.IDs), tasks...)
	failed := f.refusals(ids)
	var out []api.JobFailure
	seen := map[uint64]bool{}
	for _, fl := range failed {
		if a, ok := arrayOf[fl.ID]; ok {
			if seen[a] {
				continue
			}
			seen[a], fl.ID = true, a
		}
		out = append(out, fl)
	}
	return out, nil
}

func (f *ctlFake) StopJobs(_ context.Context, ids []uint64, reason string) ([]api.JobFailure, error) {
	f.record("StopJobs %v %q", ids, reason)
	return f.refusals(ids), nil
}

// refusals are what the controller would refuse of ids.
func (f *ctlFake) refusals(ids []uint64) []api.JobFailure {
	var failed []api.JobFailure
	for _, id := range ids {
		j, ok := f.jobs[id]
		var err *api.Error
		switch {
		case !ok:
			err = api.Errorf(api.CodeNotFound, "job %d does not exist", id)
		case j.User != "alice":
			err = api.Errorf(api.CodeForbidden, "job %d belongs to %s", id, j.User)
		case j.State.Terminal():
			err = api.Errorf(api.CodeConflict, "cannot terminate job %d: it is %s", id, j.State)
		}
		if err != nil {
			failed = append(failed, api.JobFailure{ID: id, Error: err})
		}
	}
	return failed
}

// Signal is the fake's signal: like terminate, for started jobs of alice.
func (f *ctlFake) Signal(_ context.Context, id uint64, sig int, scope api.SignalScope) error {
	f.record("Signal %d %d %s", id, sig, scope)
	j, ok := f.jobs[id]
	switch {
	case !ok:
		return notFound(id)
	case j.User != "alice":
		return api.Errorf(api.CodeForbidden, "job %d belongs to %s", id, j.User)
	case !j.State.Terminable():
		return api.Errorf(api.CodeConflict, "cannot signal job %d: it is %s", id, j.State)
	}
	return nil
}

func (f *ctlFake) Requeue(_ context.Context, id uint64, reason string) error {
	f.record("Requeue %d %q", id, reason)
	return nil
}

func (f *ctlFake) RequeueHold(_ context.Context, id uint64, reason string) error {
	f.record("RequeueHold %d %q", id, reason)
	return nil
}

func (f *ctlFake) Hold(_ context.Context, ids []uint64, hold bool) error {
	f.record("Hold %v %v", ids, hold)
	return nil
}

func (f *ctlFake) UpdateJob(_ context.Context, req api.UpdateJobRequest) error {
	f.record("UpdateJob %s", sbJSON(req))
	return nil
}

func (f *ctlFake) UpdateNode(_ context.Context, req api.UpdateNodeRequest) error {
	f.record("UpdateNode %s", sbJSON(req))
	return nil
}

func (f *ctlFake) Nodes(context.Context) ([]api.Node, error) {
	f.record("Nodes")
	return f.nodes, nil
}

func (f *ctlFake) Cluster(context.Context) (api.ClusterInfo, error) {
	f.record("Cluster")
	return api.ClusterInfo{Leader: "c1", Version: "test"}, nil
}

func (f *ctlFake) Logs(_ context.Context, id uint64, stream string) ([]byte, error) {
	f.record("Logs %d %s", id, stream)
	if data, ok := f.logs[fmt.Sprintf("%d/%s", id, stream)]; ok {
		return data, nil
	}
	return nil, api.Errorf(api.CodeNotFound, "job %d has no %s log", id, stream)
}

// sbNow is the clock every command test runs at (a Tuesday, UTC).
var sbNow = time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC)

// sbEnv is the environment commands see unless a case gives its own.
var sbEnv = []string{"HOME=/home/alice", "PATH=/usr/bin:/bin", "USER=alice"}

// sbTestCtx returns a Ctx over f with captured output, run from dir.
func sbTestCtx(f *ctlFake, dir string, env []string, stdin string) (*Ctx, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	c := &Ctx{
		Client: f, Stdout: &stdout, Stderr: &stderr, Stdin: strings.NewReader(stdin),
		Env: env, Now: func() time.Time { return sbNow },
		Getwd:    func() (string, error) { return dir, nil },
		Hostname: "login1", User: "alice",
	}
	return c, &stdout, &stderr
}

// sbUpdate reports whether the golden files under testdata/ are to be
// rewritten with what the commands print now (SHOAL_UPDATE_GOLDEN=1).
func sbUpdate() bool { return os.Getenv("SHOAL_UPDATE_GOLDEN") == "1" }

// sbGolden runs every case under testdata/<cmd>/: each folder holds the
// command line (args: one argument per line), optionally stdin, env (one
// KEY=VALUE a line), submit-error (an api.Error as JSON, returned by
// Submit), wait (an api.Job as JSON, returned by WaitJob for job 100) and
// logs-stdout / logs-stderr (job 100's output); and the expected stdout,
// stderr, rc and calls (the controller calls, one a line). The case's
// folder is the submitting directory and prints as $CASE.
func sbGolden(t *testing.T, cmd string, run func(*Ctx, []string) int) {
	dirs, err := filepath.Glob(filepath.Join("testdata", cmd, "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases under testdata/%s (%v)", cmd, err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			abs, err := filepath.Abs(dir)
			if err != nil {
				t.Fatal(err)
			}
			read, args := goldenCase(t, dir)
			env := sbEnv
			if e, ok := read("env"); ok {
				env = strings.Split(strings.TrimSpace(e), "\n")
			}
			stdin, _ := read("stdin")
			f := newCtlFake()
			if e, ok := read("submit-error"); ok {
				var apiErr api.Error
				if err := json.Unmarshal([]byte(e), &apiErr); err != nil {
					t.Fatalf("submit-error: %v", err)
				}
				f.submitErr = &apiErr
			}
			if w, ok := read("wait"); ok {
				var j api.Job
				if err := json.Unmarshal([]byte(w), &j); err != nil {
					t.Fatalf("wait: %v", err)
				}
				f.waitFor[j.ID] = j
			}
			for _, s := range []string{"stdout", "stderr"} {
				if l, ok := read("logs-" + s); ok {
					f.logs["100/"+s] = []byte(l)
				}
			}
			c, stdout, stderr := sbTestCtx(f, abs, env, stdin)
			rc := run(c, args)
			calls := ""
			if len(f.calls) > 0 {
				calls = strings.Join(f.calls, "\n") + "\n"
			}
			got := map[string]string{
				"stdout": stdout.String(), "stderr": stderr.String(),
				"rc": strconv.Itoa(rc) + "\n", "calls": calls,
			}
			for _, name := range []string{"stdout", "stderr", "rc", "calls"} {
				g := strings.ReplaceAll(got[name], abs, "$CASE")
				path := filepath.Join(dir, name)
				if sbUpdate() {
					if err := os.WriteFile(path, []byte(g), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, _ := read(name)
				if g != want {
					t.Errorf("%s %s: %s differs\n--- want\n%s--- got\n%s", cmd, strings.Join(args, " "), name, want, g)
				}
			}
		})
	}
}

// sbWriteFile writes a test file.
func sbWriteFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sbLastSubmit returns the request of the fake's last Submit call.
func sbLastSubmit(t *testing.T, f *ctlFake) api.SubmitJobRequest {
	t.Helper()
	for i := len(f.calls) - 1; i >= 0; i-- {
		if body, ok := strings.CutPrefix(f.calls[i], "Submit "); ok {
			var req api.SubmitJobRequest
			if err := json.Unmarshal([]byte(body), &req); err != nil {
				t.Fatal(err)
			}
			return req
		}
	}
	t.Fatalf("no Submit call among %q", f.calls)
	return api.SubmitJobRequest{}
}
