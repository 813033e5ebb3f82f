package daemon

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

var testOwner = owner{name: "alice", uid: 4201, gid: 4201}

// TestNewJobBounds submits one job over each bound (and one at it): each
// over is refused with an InvalidRequest naming the field; at the bound
// is accepted.
func TestNewJobBounds(t *testing.T) {
	base := func() api.JobSpec { return api.JobSpec{Name: "ok", Command: []string{"true"}} }
	env := func(n, size int) map[string]string {
		m := map[string]string{}
		for i := 0; i < n; i++ {
			m[fmt.Sprintf("V%06d", i)] = strings.Repeat("x", size)
		}
		return m
	}
	deps := func(n int) []api.Dependency {
		out := make([]api.Dependency, n)
		for i := range out {
			out[i] = api.Dependency{JobID: uint64(i + 1), Type: api.AfterOK}
		}
		return out
	}
	args := func(n, size int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = strings.Repeat("a", size)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		edit  func(*api.JobSpec)
		field string // "" = accepted
		says  string
	}{
		{"name at 1024 bytes", func(s *api.JobSpec) { s.Name = strings.Repeat("n", MaxNameBytes) }, "", ""},
		{"name over 1024 bytes", func(s *api.JobSpec) { s.Name = strings.Repeat("n", MaxNameBytes+1) }, "jobName", "at most 1024"},
		{"name with a newline", func(s *api.JobSpec) { s.Name = "x\nFAKE bob RUNNING" }, "jobName", "control character (U+000A)"},
		{"name with NUL", func(s *api.JobSpec) { s.Name = "a\x00b" }, "jobName", "U+0000"},
		{"name with an escape", func(s *api.JobSpec) { s.Name = "\x1b]0;pwned\x07" }, "jobName", "U+001B"},
		{"name with a C1 control", func(s *api.JobSpec) { s.Name = "a\u009bb" }, "jobName", "U+009B"},
		{"name in UTF-8", func(s *api.JobSpec) { s.Name = "análisis-β" }, "", ""},
		{"comment with a newline", func(s *api.JobSpec) { s.Comment = "a\nb" }, "comment", "control character"},
		{"account over 1024", func(s *api.JobSpec) { s.Account = strings.Repeat("a", 1025) }, "account", "at most 1024"},
		{"script at 4 MiB", func(s *api.JobSpec) { s.Script = strings.Repeat("x", MaxScriptBytes) }, "", ""},
		{"script over 4 MiB", func(s *api.JobSpec) { s.Script = strings.Repeat("x", MaxScriptBytes+1) }, "script", "max_script_size"},
		{"script with NUL", func(s *api.JobSpec) { s.Script = "#!/bin/sh\n\x00" }, "script", "NUL byte at offset 10"},
		{"argument with NUL", func(s *api.JobSpec) { s.Command = []string{"echo", "a\x00b"} }, "command", "argument 1 of the command has a NUL"},
		{"argument over 128 KiB", func(s *api.JobSpec) { s.Command = []string{"echo", strings.Repeat("a", MaxStringBytes+1)} }, "command", "at most 128 KiB each"},
		{"too many arguments", func(s *api.JobSpec) { s.Command = args(MaxArgs+1, 0) }, "command", "at most 32768"},
		{"arguments over 1 MiB in all", func(s *api.JobSpec) { s.Command = args(9, 120<<10) }, "command", "at most 1 MiB"},
		{"4096 variables", func(s *api.JobSpec) { s.Env = env(MaxEnvVars, 10) }, "", ""},
		{"4097 variables", func(s *api.JobSpec) { s.Env = env(MaxEnvVars+1, 0) }, "environment", "at most 4096"},
		{"environment over 1 MiB", func(s *api.JobSpec) { s.Env = env(9, 120<<10) }, "environment", "at most 1 MiB"},
		{"variable over 128 KiB", func(s *api.JobSpec) { s.Env = env(1, MaxStringBytes) }, "environment", "at most 128 KiB each"},
		{"variable name with =", func(s *api.JobSpec) { s.Env = map[string]string{"A=B": "c"} }, "environment", "no '='"},
		{"empty variable name", func(s *api.JobSpec) { s.Env = map[string]string{"": "c"} }, "environment", "non-empty"},
		{"value with NUL", func(s *api.JobSpec) { s.Env = map[string]string{"A": "b\x00c"} }, "environment", "NUL byte in its value"},
		{"working dir at PATH_MAX", func(s *api.JobSpec) { s.Dir = "/" + strings.Repeat("d", MaxPathBytes-1) }, "", ""},
		{"working dir over PATH_MAX", func(s *api.JobSpec) { s.Dir = "/" + strings.Repeat("d", MaxPathBytes) }, "workingDir", "PATH_MAX"},
		{"output path with NUL", func(s *api.JobSpec) { s.Stdout = "/tmp/a\x00b" }, "stdout", "NUL"},
		{"error path over PATH_MAX", func(s *api.JobSpec) { s.Stderr = "/" + strings.Repeat("e", MaxPathBytes) }, "stderr", "PATH_MAX"},
		{"1000 dependencies", func(s *api.JobSpec) { s.DependsOn = deps(MaxDependencies) }, "", ""},
		{"1001 dependencies", func(s *api.JobSpec) { s.DependsOn = deps(MaxDependencies + 1) }, "dependsOn", "at most 1000"},
		{"5000 copies of one dependency", func(s *api.JobSpec) {
			s.DependsOn = make([]api.Dependency, 5000)
			for i := range s.DependsOn {
				s.DependsOn[i] = api.Dependency{JobID: 7, Type: api.AfterAny}
			}
		}, "", ""},
		{"51 tags", func(s *api.JobSpec) { s.Tags = env(51, 1) }, "tags", "at most 50"},
		{"mount with NUL", func(s *api.JobSpec) { s.Mounts = []api.Mount{{Source: "/a\x00", Target: "/b"}} }, "mounts", "NUL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := base()
			tc.edit(&spec)
			j, err := newJob(api.SubmitJobRequest{JobSpec: spec}, testOwner)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if err := jobWithinBounds(j); err != nil {
					t.Fatal(err)
				}
				return
			}
			var e *api.Error
			if err == nil || !errors.As(err, &e) || e.Code != api.CodeInvalid || e.Field != tc.field || !strings.Contains(e.Message, tc.says) {
				t.Fatalf("got %v (%+v), want InvalidRequest on %s saying %q", err, e, tc.field, tc.says)
			}
			if len(e.Message) > 600 {
				t.Errorf("the message is %d bytes: it must not echo the refused field whole", len(e.Message))
			}
		})
	}
}

// TestDependenciesFolded: repeats of a dependency are stored once, in the
// order first given, and the request's slice is left as it was.
func TestDependenciesFolded(t *testing.T) {
	in := []api.Dependency{{JobID: 3}, {JobID: 3}, {JobID: 2, Type: api.AfterAny}, {JobID: 3}, {JobID: 2}, {JobID: 2, Type: api.AfterAny}}
	j, err := newJob(api.SubmitJobRequest{JobSpec: api.JobSpec{Command: []string{"true"}, DependsOn: in}}, testOwner)
	if err != nil {
		t.Fatal(err)
	}
	want := []api.Dependency{{JobID: 3}, {JobID: 2, Type: api.AfterAny}, {JobID: 2}}
	if len(j.DependsOn) != len(want) {
		t.Fatalf("dependencies %v, want %v", j.DependsOn, want)
	}
	for i := range want {
		if j.DependsOn[i] != want[i] {
			t.Fatalf("dependencies %v, want %v", j.DependsOn, want)
		}
	}
	if len(in) != 6 || in[1] != (api.Dependency{JobID: 3}) {
		t.Errorf("the request's dependencies were changed: %v", in)
	}
}

// TestAWSSubmitBounded: AWS Batch's submit-job goes through the same
// checks (a name with a control character, an oversized environment in
// api.ContainerOverrides), and updating a job's name is held to the name's.
func TestAWSSubmitBounded(t *testing.T) {
	tc := startTestController(t, false)
	tc.mustCall(alice, "/v1/registerjobdefinition", api.AWSRegisterJobDefinitionRequest{JobDefinition: api.JobDefinition{
		Name: "def", Type: "script", ContainerProperties: &api.ContainerProperties{Command: []string{"true"}}}}, nil)
	for _, c := range []struct {
		req  api.AWSSubmitJobRequest
		says string
	}{
		{api.AWSSubmitJobRequest{JobName: "a\x1b[2Jb", JobQueue: api.DefaultQueue, JobDefinition: "def"}, "control character"},
		{api.AWSSubmitJobRequest{JobName: "env", JobQueue: api.DefaultQueue, JobDefinition: "def",
			ContainerOverrides: &api.ContainerOverrides{Environment: []api.KeyValue{{Name: "BIG", Value: strings.Repeat("v", MaxStringBytes)}}}}, "at most 128 KiB each"},
		{api.AWSSubmitJobRequest{JobName: "cmd", JobQueue: api.DefaultQueue, JobDefinition: "def",
			ContainerOverrides: &api.ContainerOverrides{Command: []string{"echo", "\x00"}}}, "NUL"},
	} {
		status, e := tc.call(alice, "/v1/submitjob", c.req, nil)
		if status != http.StatusBadRequest || e.Type != "ClientException" || !strings.Contains(e.Message, c.says) {
			t.Errorf("AWS submit %q: HTTP %d %+v, want 400 ClientException saying %q", c.req.JobName, status, e, c.says)
		}
	}
	id := tc.submit(alice, api.JobSpec{Name: "fine", Command: []string{"true"}, Held: true})
	bad := "two\nlines"
	if status, e := tc.call(alice, api.PathUpdateJob, api.UpdateJobRequest{ID: id, Name: &bad}, nil); status != http.StatusBadRequest || e.Field != "jobName" {
		t.Errorf("rename to %q: HTTP %d %+v, want 400 on jobName", bad, status, e)
	}
	var batch api.SubmitBatchResponse
	if status, e := tc.call(alice, api.PathSubmitBatch, api.SubmitBatchRequest{Jobs: make([]api.SubmitJobRequest, MaxBatchJobs+1)}, &batch); status != http.StatusBadRequest || !strings.Contains(e.Message, "at most 1000") {
		t.Errorf("a batch of %d: HTTP %d %+v, want 400 naming the cap", MaxBatchJobs+1, status, e)
	}
}
