package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/reply"
)

// fakeController answers the shoal API from a fixed list of jobs and
// records what each call asked, so the command line is tested from argv
// to what it prints, over real HTTP, without a controller.
type fakeController struct {
	t    *testing.T
	jobs []api.Job
	mu   sync.Mutex
	// calls are the paths called, in order, with their decoded bodies.
	calls   []string
	submits []api.SubmitJobRequest
	lists   []api.ListJobsRequest
}

func (f *fakeController) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.URL.Path)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	switch r.URL.Path {
	case api.PathSubmit:
		var req api.SubmitJobRequest
		if err := dec.Decode(&req); err != nil {
			f.t.Errorf("submit body: %v", err)
		}
		f.submits = append(f.submits, req)
		reply.JSON(w, http.StatusOK, api.SubmitJobResponse{ID: 42, Name: req.Name})
	case api.PathListJobs:
		var req api.ListJobsRequest
		if err := dec.Decode(&req); err != nil {
			f.t.Errorf("list body: %v", err)
		}
		f.lists = append(f.lists, req)
		var out []api.Job
		for _, j := range f.jobs {
			if len(req.IDs) == 0 || j.ID == req.IDs[0] {
				out = append(out, j)
			}
		}
		reply.JSON(w, http.StatusOK, api.ListJobsResponse{Count: len(out), Jobs: out})
	default:
		reply.Error(w, api.Errorf(api.CodeNotFound, "no API operation at %s", r.URL.Path))
	}
}

// run runs shoal with args against f and returns the exit code, stdout
// and stderr.
func (f *fakeController) run(args ...string) (int, string, string) {
	f.t.Helper()
	srv := httptest.NewServer(f)
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	app := NewApp(&stdout, &stderr)
	code := Run(app, append([]string{"shoal", "--controller", srv.URL}, args...))
	return code, stdout.String(), stderr.String()
}

func testJobs() []api.Job {
	created := time.Now().Add(-90 * time.Minute).UnixMilli()
	return []api.Job{
		{ID: 7, User: "alice", UID: 1000, State: api.StateRunning, Node: "n1", CreatedAt: created,
			JobSpec: api.JobSpec{Name: "train", Queue: "default"}},
		{ID: 8, User: "bob", UID: 1001, State: api.StateRunnable, CreatedAt: created,
			JobSpec: api.JobSpec{Name: "eval", Queue: "gpu"}},
	}
}

// TestSubmitFlags: submit's flags become the request's fields, with
// --mem read as Slurm reads sizes, and the new id is printed alone.
func TestSubmitFlags(t *testing.T) {
	f := &fakeController{t: t}
	code, out, errOut := f.run("submit", "--name", "hello", "--cpus", "2", "--mem", "2G", "--priority", "5",
		"--env", "A=1", "--depends-on", "3,4", "--chdir", "/tmp", "--", "echo", "hi there")
	if code != ExitOK || out != "42\n" {
		t.Fatalf("submit: exit %d, stdout %q, stderr %q; want 0 and \"42\\n\"", code, out, errOut)
	}
	if len(f.submits) != 1 {
		t.Fatalf("submit sent %d requests, want 1", len(f.submits))
	}
	r := f.submits[0]
	if r.Name != "hello" || r.Resources.CPUs != 2 || r.Resources.MemoryMB != 2048 || r.Priority != 5 || r.Dir != "/tmp" ||
		strings.Join(r.Command, "|") != "echo|hi there" || r.Env["A"] != "1" || len(r.DependsOn) != 2 {
		t.Errorf("submit request: %+v; want name hello, 2 CPUs, 2048 MiB, priority 5, dir /tmp, command [echo, hi there], env A=1, two dependencies", r)
	}
}

// TestUsageErrors: a wrong command line exits 2 with a message naming
// the flag and what it takes, and sends nothing.
func TestUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		says string
	}{
		{[]string{"submit", "--mem", "lots", "--", "true"}, "--mem"},
		{[]string{"submit"}, "submit needs a command"},
		{[]string{"queue", "--state", "SLEEPING"}, `--state "SLEEPING": not a job state`},
		{[]string{"queue", "--output", "yaml"}, `--output "yaml": use table or json`},
		{[]string{"describe"}, "describe takes one job id"},
		{[]string{"describe", "seven"}, "seven"},
		{[]string{"queue", "--no-such-flag"}, "no-such-flag"},
		{[]string{"cron", "create", "--no-such-flag", "x"}, "no-such-flag"},
	} {
		f := &fakeController{t: t}
		code, out, errOut := f.run(tt.args...)
		if code != ExitUsage || !strings.Contains(errOut, tt.says) || out != "" {
			t.Errorf("shoal %s: exit %d, stdout %q, stderr %q; want exit %d and a message with %q", strings.Join(tt.args, " "), code, out, errOut, ExitUsage, tt.says)
		}
		if len(f.calls) != 0 {
			t.Errorf("shoal %s called %v; want no call for a wrong command line", strings.Join(tt.args, " "), f.calls)
		}
	}
}

// TestQueueTable: queue prints one aligned row per job with its age, and
// passes its filters on.
func TestQueueTable(t *testing.T) {
	f := &fakeController{t: t, jobs: testJobs()}
	code, out, errOut := f.run("queue", "--state", "RUNNING,RUNNABLE", "--user", "alice")
	if code != ExitOK {
		t.Fatalf("queue: exit %d, stderr %q", code, errOut)
	}
	want := "ID  NAME   USER   STATE     CAUSE  QUEUE    NODE  AGE\n" +
		"7   train  alice  RUNNING   -      default  n1    1h\n" +
		"8   eval   bob    RUNNABLE  -      gpu      -     1h\n"
	if out != want {
		t.Errorf("queue printed\n%s\nwant\n%s", out, want)
	}
	if len(f.lists) != 1 || f.lists[0].User != "alice" || len(f.lists[0].States) != 2 {
		t.Errorf("queue asked %+v; want user alice and two states", f.lists)
	}
	code, out, _ = f.run("queue", "-o", "json")
	var jobs []api.Job
	if code != ExitOK || json.Unmarshal([]byte(out), &jobs) != nil || len(jobs) != 2 || jobs[1].Name != "eval" {
		t.Errorf("queue -o json: exit %d, %q; want the two jobs as a JSON list", code, out)
	}
}

// TestDescribe: describe prints the whole job as indented JSON; a job
// that does not exist is exit 1 with the controller's reason.
func TestDescribe(t *testing.T) {
	f := &fakeController{t: t, jobs: testJobs()}
	code, out, errOut := f.run("describe", "7")
	if code != ExitOK {
		t.Fatalf("describe 7: exit %d, stderr %q", code, errOut)
	}
	var j api.Job
	if err := json.Unmarshal([]byte(out), &j); err != nil || j.ID != 7 || j.Name != "train" || !strings.Contains(out, "\n  \"jobId\": 7,") {
		t.Errorf("describe 7 printed %q (%v); want job 7 as indented JSON", out, err)
	}
	if len(f.lists) != 1 || !f.lists[0].Full || len(f.lists[0].IDs) != 1 || f.lists[0].IDs[0] != 7 {
		t.Errorf("describe asked %+v; want the full record of job 7", f.lists)
	}
	code, out, errOut = f.run("describe", "99")
	if code != ExitError || out != "" || errOut != "shoal: describe job 99: job 99 does not exist\n" {
		t.Errorf("describe 99: exit %d, stdout %q, stderr %q; want exit 1 and %q", code, out, errOut, "shoal: describe job 99: job 99 does not exist\n")
	}
}

// TestControllerDown: a controller that does not answer is exit 1 with a
// message, not a usage error.
func TestControllerDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	var stdout, stderr bytes.Buffer
	code := Run(NewApp(&stdout, &stderr), []string{"shoal", "--controller", url, "queue"})
	if code != ExitError || !strings.HasPrefix(stderr.String(), "shoal: list jobs: ") {
		t.Errorf("queue with the controller down: exit %d, stderr %q; want exit 1 and \"shoal: list jobs: ...\"", code, stderr.String())
	}
}
