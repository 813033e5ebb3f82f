package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// FuzzSubmitDecode feeds arbitrary bodies through what a submit goes
// through before raft: the route's body limit (http.MaxBytesReader, as
// guard sets it), the strict decoder of shoal's own API (decodeBody), and
// newJob. Nothing may panic; a refusal must be an *api.Error with a
// client code; and every job newJob accepts must be within the bounds,
// checked here independently of checkBounds (jobWithinBounds).
//
//	go test -run '^$' -fuzz FuzzSubmitDecode -fuzztime 30s ./daemon
func FuzzSubmitDecode(f *testing.F) {
	seeds := []string{
		`{"jobName":"hello","command":["echo","hi"]}`,
		`{"jobName":"batch","script":"#!/bin/sh\necho hi\n","command":[],"environment":{"PATH":"/bin","HOME":"/home/a"},"workingDir":"/home/a","stdout":"/home/a/%j.out"}`,
		`{"jobName":"x\nFAKE bob RUNNING","command":["true"]}`,
		`{"jobName":"\u001b]0;pwned\u0007","command":["true"]}`,
		`{"jobName":"nul\u0000","command":["true"]}`,
		`{"command":["a\u0000b"]}`,
		`{"command":["true"],"environment":{"A=B":"c"}}`,
		`{"command":["true"],"environment":{"":"c"}}`,
		`{"command":["true"],"dependsOn":[{"jobId":1},{"jobId":1},{"jobId":1,"type":"afterany"},{"type":"singleton"}]}`,
		`{"command":["true"],"resources":{"cpus":-1,"memoryMiB":0}}`,
		`{"command":["true"],"workingDir":"relative/dir"}`,
		`{"command":["true"],"warnSignal":10,"warnSeconds":70000}`,
		`{"command":["true"],"arrayIndexes":[0,1,1],"arrayMaxRunning":-1}`,
		`{"command":["true"],"unknownField":1}`,
		`{"command":["true"],"mounts":[{"source":"/a\u0000","target":"/b"}]}`,
		`{"command":["true"],"tags":{"k":"v"},"parameters":{"p":"v"},"comment":"c\td"}`,
		`{"jobName":"` + strings.Repeat("n", MaxNameBytes+1) + `","command":["true"]}`,
		`{"script":"` + strings.Repeat("x", 1<<16) + `"}`,
		`{"command":"not a list"}`,
		`[1,2,3]`,
		`{"command":["true"]} trailing`,
		`{"jobName":"\xff\xfe","command":["true"]}`,
		``,
		`{`,
		`null`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := httptest.NewRecorder()
		limited := http.MaxBytesReader(w, io.NopCloser(bytes.NewReader(body)), bodySubmit)
		var req api.SubmitJobRequest
		if err := decodeBody(limited, &req, true, api.PathSubmit); err != nil {
			var e *api.Error
			if !errors.As(err, &e) || (e.Code != api.CodeInvalid && e.Code != api.CodeTooLarge) {
				t.Fatalf("decode refused with %T %v, want InvalidRequest or RequestTooLarge", err, err)
			}
			return
		}
		j, err := newJob(req, testOwner)
		if err != nil {
			var e *api.Error
			if !errors.As(err, &e) || e.Code != api.CodeInvalid {
				t.Fatalf("newJob refused with %T %v, want InvalidRequest", err, err)
			}
			return
		}
		if err := jobWithinBounds(j); err != nil {
			t.Fatalf("accepted a job out of bounds: %v\nbody %q", err, body)
		}
		if j.User != testOwner.name || j.UID != testOwner.uid {
			t.Fatalf("accepted job owned by %s/%d, want the connection's %s/%d", j.User, j.UID, testOwner.name, testOwner.uid)
		}
		if _, err := json.Marshal(j); err != nil { // what raft would carry
			t.Fatalf("accepted job does not encode: %v", err)
		}
	})
}

// jobWithinBounds is the fuzz oracle: the bounds newJob promises, written
// out again without checkBounds' helpers.
func jobWithinBounds(j api.Job) error {
	for _, s := range []string{j.Name, j.Account, j.QOS, j.Comment, j.SubmitHost, j.Image, j.Queue} {
		if len(s) > 1024 {
			return fmt.Errorf("a shown field of %d bytes", len(s))
		}
		for _, r := range s {
			if unicode.IsControl(r) {
				return fmt.Errorf("a control character in %q", s)
			}
		}
	}
	if len(j.Script) > 4<<20 || strings.Contains(j.Script, "\x00") {
		return fmt.Errorf("script of %d bytes or with NUL", len(j.Script))
	}
	if len(j.Command) == 0 && j.Script == "" {
		return fmt.Errorf("no command and no script")
	}
	total := 0
	for _, a := range j.Command {
		if strings.Contains(a, "\x00") || len(a) > 128<<10 {
			return fmt.Errorf("argument with NUL or over 128 KiB")
		}
		total += len(a) + 1
	}
	if total > 1<<20 || len(j.Command) > 32768 {
		return fmt.Errorf("command of %d arguments, %d bytes", len(j.Command), total)
	}
	total = 0
	for k, v := range j.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.Contains(v, "\x00") {
			return fmt.Errorf("variable %q cannot be in an environment", k)
		}
		total += len(k) + len(v) + 2
	}
	if total > 1<<20 || len(j.Env) > 4096 {
		return fmt.Errorf("environment of %d variables, %d bytes", len(j.Env), total)
	}
	for _, p := range []string{j.Dir, j.Stdout, j.Stderr} {
		if len(p) > 4096 || strings.Contains(p, "\x00") {
			return fmt.Errorf("path of %d bytes or with NUL", len(p))
		}
	}
	if j.Dir != "" && !strings.HasPrefix(j.Dir, "/") {
		return fmt.Errorf("relative working directory %q", j.Dir)
	}
	seen := map[api.Dependency]bool{}
	for _, d := range j.DependsOn {
		if seen[d] {
			return fmt.Errorf("dependency %+v twice", d)
		}
		seen[d] = true
	}
	if len(j.DependsOn) > 1000 {
		return fmt.Errorf("%d dependencies", len(j.DependsOn))
	}
	if j.Resources.CPUs <= 0 || j.Resources.MemoryMB <= 0 || j.Resources.GPUs < 0 {
		return fmt.Errorf("resources %+v", j.Resources)
	}
	return nil
}

// FuzzAWSSubmitDecode is FuzzSubmitDecode for AWS Batch's submit-job: the
// lenient decoder (unknown fields ignored), the merge with a registered
// job definition (fromDefinition: overrides, Ref:: parameters, resource
// requirements, dependencies, arrays) and newJob.
//
//	go test -run '^$' -fuzz FuzzAWSSubmitDecode -fuzztime 30s ./daemon
func FuzzAWSSubmitDecode(f *testing.F) {
	fsm := raftfsm.New()
	for i, def := range []api.JobDefinition{
		{Name: "echo", Type: "script", Parameters: map[string]string{"word": "hi"},
			ContainerProperties: &api.ContainerProperties{Command: []string{"echo", "Ref::word"}, Vcpus: 1, Memory: 128,
				Environment: []api.KeyValue{{Name: "A", Value: "1"}}}},
		{Name: "empty", Type: "script", ContainerProperties: &api.ContainerProperties{}},
	} {
		entry, err := raftfsm.Encode(raftfsm.OpRegisterJobDef, raftfsm.RegisterJobDefCmd{Def: def, Now: 1})
		if err != nil {
			f.Fatal(err)
		}
		if res := fsm.Apply(uint64(i+1), entry).(raftfsm.Result); res.Err != nil {
			f.Fatal(res.Err)
		}
	}
	for _, s := range []string{
		`{"jobName":"a","jobQueue":"default","jobDefinition":"echo"}`,
		`{"jobName":"a","jobQueue":"arn:aws:batch:us-east-1:000000000000:job-queue/default","jobDefinition":"echo:1","parameters":{"word":"Ref::word"}}`,
		`{"jobName":"a","jobQueue":"default","jobDefinition":"empty","containerOverrides":{"command":["sh","-c","env"],"environment":[{"name":"B","value":"2"},{"name":"A=B","value":"x"}]}}`,
		`{"jobName":"a","jobQueue":"default","jobDefinition":"echo","containerOverrides":{"resourceRequirements":[{"type":"VCPU","value":"0.5"},{"type":"MEMORY","value":"-1"},{"type":"GPU","value":"NaN"}]}}`,
		`{"jobName":"a","jobQueue":"default","jobDefinition":"echo","dependsOn":[{"jobId":"1"},{"jobId":"1:0","type":"N_TO_N"},{"type":"SEQUENTIAL"}],"arrayProperties":{"size":3}}`,
		`{"jobName":"a\u0000b","jobQueue":"default","jobDefinition":"echo","containerOverrides":{"command":["x\u0000"]}}`,
		`{"jobName":"a","jobQueue":"default","jobDefinition":"echo","arrayProperties":{"size":10001},"timeout":{"attemptDurationSeconds":-5},"retryStrategy":{"attempts":99}}`,
		`{"jobName":"a","jobQueue":"default","jobDefinition":"nope:x"}`,
		`{"jobName":"a","jobQueue":"default","jobDefinition":"echo","tags":{"k":"v"},"unknown":{"nested":[1,2]}}`,
		`{}`,
		`not json`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := httptest.NewRecorder()
		limited := http.MaxBytesReader(w, io.NopCloser(bytes.NewReader(body)), bodySmall)
		var req api.AWSSubmitJobRequest
		if err := decodeBody(limited, &req, false, "/v1/submitjob"); err != nil {
			var e *api.Error
			if !errors.As(err, &e) || (e.Code != api.CodeInvalid && e.Code != api.CodeTooLarge) {
				t.Fatalf("decode refused with %T %v", err, err)
			}
			return
		}
		sub, err := fromDefinition(fsm.State(), fsm.State(), req)
		if err != nil {
			var e *api.Error
			if !errors.As(err, &e) || (e.Code != api.CodeInvalid && e.Code != api.CodeNotFound) {
				t.Fatalf("fromDefinition refused with %T %v", err, err)
			}
			return
		}
		j, err := newJob(sub, testOwner)
		if err != nil {
			var e *api.Error
			if !errors.As(err, &e) || e.Code != api.CodeInvalid {
				t.Fatalf("newJob refused with %T %v", err, err)
			}
			return
		}
		if err := jobWithinBounds(j); err != nil {
			t.Fatalf("accepted a job out of bounds: %v\nbody %q", err, body)
		}
	})
}
