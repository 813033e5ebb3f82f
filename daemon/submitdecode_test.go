package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// fastSeeds are bodies of every shape: what sbatch and the Go client send
// (encoding/json of a full request), and what only encoding/json reads.
func fastSeeds(t testing.TB) []string {
	full := api.SubmitJobRequest{JobSpec: api.JobSpec{Name: "wrap", Queue: "q", Queues: []string{"a", "b"}, Command: []string{},
		Script: "#!/bin/sh\n# \"quoted\" \\ back\ttab /slash\ntrue\n", Env: map[string]string{"PATH": "/bin", "HOME": "/home/ä", "E": ""},
		Dir: "/home/a", Stdout: "/o/%j", Stderr: "/e", Stdin: "/dev/null", AppendOutput: true,
		Resources: api.Resources{CPUs: 2, MemoryMB: -5, GPUs: 1}, Priority: 3, Nice: -4,
		DependsOn: []api.Dependency{{JobID: 1, Type: api.AfterOK}, {Type: api.Singleton}}, DependAny: true, KeepOnInvalidDep: true,
		Held: true, BeginAt: 1700000000000, TmpMB: 7, TimeLimit: 60, NoRequeue: true, LimitWarnSignal: 10, LimitWarnSeconds: 30,
		LimitWarnBatch: true, JobDefinition: "jd", Parameters: map[string]string{"p": "v"}, Image: "img",
		Mounts: []api.Mount{{Source: "/s", Target: "/t", ReadOnly: true}}, ReadonlyRootfs: true, RetryAttempts: 3,
		RetryRules: []api.RetryRule{{OnExitCode: "1", OnStatusReason: "x*", OnReason: "y", Action: "RETRY"}}, DeadlineAt: 1800000000000,
		Tags: map[string]string{"k": "v"}, Account: "acct", QOS: "normal", Comment: "c", SubmitHost: "login",
		Licenses: []api.LicenseUse{{Name: "lic", Quantity: 2}}, ShareIdentifier: "s", SchedulingPriority: 9},
		ArrayIndexes: []int{0, 3}, ArrayMaxRunning: 1, TestOnly: true}
	raw, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := json.Marshal(api.SubmitBatchRequest{Jobs: []api.SubmitJobRequest{full, {JobSpec: api.JobSpec{Command: []string{"true"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	return []string{
		string(raw), string(batch), `{"jobs":[]}`, `{"jobs":null}`, `{}`, ` { "command" : [ "a" , "b" ] } `,
		`{"jobName":"hello","command":["echo","hi"]}`,
		`{"JobName":"case","command":["true"]}`,
		`{"jobName":"a","jobName":"b","command":["true"]}`,
		`{"command":["true"],"environment":{"A":"1","A":"2"}}`,
		`{"command":["true"],"environment":null}`,
		`{"command":null,"script":"x","resources":null,"dependsOn":null,"held":null,"unknown":null}`,
		`{"command":null,"script":"x","resources":null,"dependsOn":null,"held":null}`,
		`{"command":[null],"environment":{"A":null}}`, `{"jobName":nul}`, `{"jobs":null,"x":1}`,
		`{"jobName":null,"command":["true"]}`,
		`{"jobName":"\u00e4\ud83d\ude00","command":["true"]}`,
		`{"jobName":"\xff","command":["true"]}`,
		`{"jobName":"tab	raw","command":["true"]}`,
		`{"command":["true"],"resources":{"cpus":1.5}}`,
		`{"command":["true"],"resources":{"cpus":1e2}}`,
		`{"command":["true"],"resources":{"cpus":01}}`,
		`{"command":["true"],"resources":{"cpus":-0}}`,
		`{"command":["true"],"resources":{"cpus":99999999999999999999}}`,
		`{"command":["true"],"resources":{"gpuTypes":{"a100":1}}}`,
		`{"command":["true"],"dependsOn":[{"jobId":-1}]}`,
		`{"command":["true"],"dependsOn":[{"jobId":18446744073709551615}]}`,
		`{"command":["true"],"held":tru}`,
		`{"command":["true"],"held":"true"}`,
		`{"command":["true"],"unknownField":1}`,
		`{"command":["true"]} trailing`,
		`{"command":["true"]`, `{"command":["true",]}`, `{"command":["true"],}`,
		`[1,2,3]`, ``, `   `, `{`, `null`, `"str"`,
		`{"jobs":[{"command":["a"]},{"command":["b"],"bad":1}]}`,
		`{"jobs":[{"command":["a"]}],"jobs":[]}`,
		`{"command":["a\\"]}`, `{"command":["a\q"]}`, `{"command":["a\`,
	}
}

// sameDecode checks that decodeSubmitBody reads body into a fresh value of
// v's type as decodeBody (encoding/json) does: the same value, or the
// same error.
func sameDecode[T any](t *testing.T, body string) {
	t.Helper()
	var fast, slow T
	fe := decodeSubmitBody(strings.NewReader(body), &fast, "/p")
	se := decodeBody(strings.NewReader(body), &slow, true, "/p")
	if fmt.Sprint(fe) != fmt.Sprint(se) {
		t.Fatalf("body %q: error %v, encoding/json's %v", body, fe, se)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("body %q:\n read %+v\n encoding/json %+v", body, fast, slow)
	}
}

// TestFastSubmitSameAsJSON: each seed reads as encoding/json reads it, and
// the bodies clients send are read by the fast path, not left to it.
func TestFastSubmitSameAsJSON(t *testing.T) {
	seeds := fastSeeds(t)
	for _, body := range seeds {
		sameDecode[api.SubmitJobRequest](t, body)
		sameDecode[api.SubmitBatchRequest](t, body)
	}
	var r api.SubmitJobRequest
	if d := (fastDec{b: []byte(seeds[0])}); !d.request(&r) {
		t.Errorf("the fast path left a full request of the Go client to encoding/json")
	}
	// sbatch's body (api/client/core's encoder): a null command.
	sbatch := `{"jobName":"wrap","command":null,"script":"#!/bin/sh\n# This script was created by sbatch --wrap.\n\ntrue\n",` +
		`"environment":{"HOME":"/root","PATH":"/usr/bin:/bin"},"workingDir":"/root","stdout":"/root/slurm-%j.out",` +
		`"stderr":"/root/slurm-%j.out","resources":{"cpus":1,"memoryMiB":1024},"held":true,"submitHost":"h"}`
	sameDecode[api.SubmitJobRequest](t, sbatch)
	if d := (fastDec{b: []byte(sbatch)}); !d.request(&api.SubmitJobRequest{}) {
		t.Errorf("the fast path left sbatch's body to encoding/json")
	}
	var b api.SubmitBatchRequest
	if d := (fastDec{b: []byte(seeds[1])}); !d.batch(&b) || len(b.Jobs) != 2 {
		t.Errorf("the fast path left a batch of the Go client to encoding/json")
	}
}

// TestFastSubmitTooLarge: a body over the route's limit is refused as
// before (413, the limit named).
func TestFastSubmitTooLarge(t *testing.T) {
	body := `{"script":"` + strings.Repeat("x", 200) + `"}`
	for _, fast := range []bool{true, false} {
		w := httptest.NewRecorder()
		limited := http.MaxBytesReader(w, io.NopCloser(strings.NewReader(body)), 100)
		var req api.SubmitJobRequest
		var err error
		if fast {
			err = decodeSubmitBody(limited, &req, "/p")
		} else {
			err = decodeBody(limited, &req, true, "/p")
		}
		if !api.IsCode(err, api.CodeTooLarge) {
			t.Errorf("fast=%v: got %v, want a too-large error", fast, err)
		}
	}
}

// FuzzFastSubmit: whatever the body, the fast path and encoding/json
// agree (value or error).
//
//	go test -run '^$' -fuzz FuzzFastSubmit -fuzztime 30s ./daemon
func FuzzFastSubmit(f *testing.F) {
	for _, s := range fastSeeds(f) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if bytes.Count(body, []byte("{")) > 64 {
			return
		}
		sameDecode[api.SubmitJobRequest](t, string(body))
		sameDecode[api.SubmitBatchRequest](t, string(body))
	})
}
