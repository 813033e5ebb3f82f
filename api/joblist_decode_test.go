package api

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// slowList is what DecodeJobList must equal: encoding/json's decoding.
func slowList(data []byte) (ListJobsResponse, error) {
	type plain ListJobsResponse
	var out plain
	err := json.Unmarshal(data, &out)
	return ListJobsResponse(out), err
}

func sampleJobs() []Job {
	ec := 3
	return []Job{
		{ID: 1, JobSpec: JobSpec{Name: "bench-0", Queue: "default", Resources: Resources{CPUs: 1, MemoryMB: 100}, Priority: 4294901759, Held: true, TimeLimit: 600}, User: "root", State: StatePending, CreatedAt: 1796427000260},
		{ID: 2, JobSpec: JobSpec{Name: "tab\there \"quoted\" <html> é ✓", Queue: "gpu", Queues: []string{"gpu", "cpu"}, Command: []string{"sleep", "1"},
			Script: "#!/bin/sh\necho hi\n", Env: map[string]string{"A": "1", "B": "\x1b[31m"}, Dir: "/home/x", Stdout: "o", Stderr: "e",
			Resources: Resources{CPUs: 4, MemoryMB: 2048, GPUs: 1, GPUTypes: GPUCounts("a100:1")}, Nice: -5,
			DependsOn: []Dependency{{JobID: 1, Type: AfterOK}}, DependAny: true, BeginAt: 5, NoRequeue: true, DeadlineAt: 9,
			Account: "acct", QOS: "normal", Comment: "c", Licenses: []LicenseUse{{Name: "matlab", Quantity: 2}},
			SubmitHost: "login1"},
			User: "alice", UID: 1000, GID: 1000, Groups: []uint32{1, 2}, State: StateFailed, StatusReason: "why",
			Array: &ArrayTask{JobID: 2, Index: 0, Min: 0, Max: 9, Count: 10, MaxRunning: 2}, WaitReason: "Priority",
			EstimatedStartAt: 77, HeldByAdmin: true, Node: "n1", Attempt: 2, ExitCode: &ec, ExitSignal: 9, Cause: CauseOOM,
			StopRequested: true, StopReason: "r", Attempts: []Attempt{{Node: "n1", ExitCode: &ec}}, RunnableAt: 3, StartedAt: 4, StoppedAt: 6,
			Usage: &JobUsage{MaxRSSBytes: 1 << 20, CPUSeconds: 0.5}, Redacted: true, ComputeEnvironment: "ce"},
	}
}

func TestDecodeJobListMatchesEncodingJSON(t *testing.T) {
	full, err := json.Marshal(ListJobsResponse{Count: 2, Jobs: sampleJobs()})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"full":         string(full),
		"empty":        `{"count":0,"jobs":[]}`,
		"null jobs":    `{"count":0,"jobs":null}`,
		"spaces":       " {\n \"count\" : 1 ,\n \"jobs\" : [ { \"jobId\" : 7 , \"held\" : true , \"array\" : { \"jobId\" : 7 , \"index\" : 1 } } ] } \n",
		"unknown keys": `{"count":1,"extra":{"a":[1,2]},"jobs":[{"jobId":1,"whatever":[{"x":"]"}],"JOBNAME":"upper","held":false}]}`,
		"escapes":      `{"count":1,"jobs":[{"jobId":1,"jobName":"a\u00e9\n\"b","user":"\ud83d\ude00","jobQueue":"q\\"}]}`,
		"nulls":        `{"count":1,"jobs":[{"jobId":1,"jobName":null,"array":null,"exitCode":null,"resources":null,"priority":null}]}`,
		"escaped key":  `{"count":1,"jobs":[{"jobId":1,"job\u004eame":"x","held":true}]}`,
		"bad utf8":     "{\"count\":1,\"jobs\":[{\"jobId\":1,\"jobName\":\"a\xffb\"}]}",
		"count lies":   `{"count":99999999,"jobs":[{"jobId":1}]}`,
		"last literal": `{"jobs":[{"jobId":1,"somethingElse":true}],"count":1}`,
		"folded keys":  `{"count":1,"jobs":[{"jobId":1,"SUBMITHOST":"h","Usage":{"cpuSeconds":2},"usage":{"maxRSSBytes":3},"groups":[4,5],"groups":null}]}`,
		"field twice":  `{"count":1,"jobs":[{"jobId":1,"usage":{"cpuSeconds":2},"usage":{"maxRSSBytes":3},"tags":{"a":"1"},"tags":{"b":"2"}}]}`,
		"environments": `{"count":4,"jobs":[{"jobId":1,"environment":{"A":"1","B":"","A":"2"}},{"jobId":2,"environment":{}},{"jobId":3,"environment":null},` +
			`{"jobId":4,"environment":{"A":"1"},"environment":{"B":"2"},"ENVIRONMENT":{"C":"3"}}]}`,
		"environment escaped": `{"count":1,"jobs":[{"jobId":1,"environment":{"A":"1","B\u0041":"x\ty"}}]}`,
		"environment numbers": `{"count":1,"jobs":[{"jobId":1,"environment":{"A":"1","B":2}}]}`,
		"environment not one": `{"count":1,"jobs":[{"jobId":1,"environment":["A"]}]}`,
		"environment spaces":  "{\"count\":1,\"jobs\":[{\"jobId\":1,\"environment\": { \"A\" : \"1\" , \"B\":\"2\" } }]}",
		"environment cut":     `{"count":1,"jobs":[{"jobId":1,"environment":{"A":"1",}}]}`,
		"usage":               `{"count":1,"jobs":[{"jobId":1,"usage":{"maxRSSBytes":3,"cpuSeconds":0.25,"gpuSeconds":1E+2,"gpuSamples":4,"gpuUtilMeanPercent":-0,"gpuUtilMaxPercent":9,"gpuMemMaxBytes":5,"gpus":[{"index":0,"uuid":"GPU-1"}],"other":1}}]}`,
		"usage nulls":         `{"count":2,"jobs":[{"jobId":1,"usage":null},{"jobId":2,"usage":{"cpuSeconds":null,"maxRSSBytes":null}}]}`,
		"usage big float":     `{"count":1,"jobs":[{"jobId":1,"usage":{"cpuSeconds":1e999}}]}`,
		"usage tiny float":    `{"count":1,"jobs":[{"jobId":1,"usage":{"cpuSeconds":1e-999,"gpuSeconds":12345678901234567890.5e-3}}]}`,
	}
	bad := []string{
		``, `{`, `[]`, `{"count":1,"jobs":[{"jobId":1}]`, `{"count":1,"jobs":[{"jobId":01}]}`,
		`{"count":1,"jobs":[{"jobId":-1}]}`, `{"count":1,"jobs":[{"jobId":1.5}]}`, `{"count":1,"jobs":[{"uid":4294967296}]}`,
		`{"count":1,"jobs":[{"jobName":"a` + "\n" + `"}]}`, `{"count":1,"jobs":[{"held":tru}]}`, `{"count":1,"jobs":[{}]} x`,
		`{"count":1,"jobs":[{"jobId":1,}]}`, `{"count":"1"}`, `{"jobs":[{"jobName":5}]}`,
		`{"jobs":[{"usage":{"cpuSeconds":.5}}]}`, `{"jobs":[{"usage":{"cpuSeconds":1.}}]}`, `{"jobs":[{"usage":{"cpuSeconds":+1}}]}`,
		`{"jobs":[{"usage":{"cpuSeconds":01}}]}`, `{"jobs":[{"usage":{"cpuSeconds":1e}}]}`, `{"jobs":[{"usage":{"cpuSeconds":"1"}}]}`,
		`{"jobs":[{"usage":[]}]}`, `{"jobs":[{"usage":{"cpuSeconds":1-2}}]}`,
	}
	for _, b := range bad {
		cases["bad "+b] = b
	}
	for name, in := range cases {
		want, werr := slowList([]byte(in))
		got, gerr := DecodeJobList([]byte(in))
		if (werr != nil) != (gerr != nil) {
			t.Errorf("%s: error %v, encoding/json's %v", name, gerr, werr)
			continue
		}
		if werr == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded\n%+v\nencoding/json decodes\n%+v", name, got, want)
		}
	}
}

// TestJobDecoderMatchesEncodingJSON: one decoder, used for job after job
// into the same Job, decodes each as json.Unmarshal into a zero Job (but
// for its environment, with SkipEnv).
func TestJobDecoderMatchesEncodingJSON(t *testing.T) {
	var cases []string
	for _, j := range sampleJobs() {
		data, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, string(data))
	}
	cases = append(cases,
		`{"jobId":1,"jobName":"a\u00e9\n\"b","user":"\ud83d\ude00","jobQueue":"q\\"}`,
		`{"jobId":1,"jobName":null,"array":null,"exitCode":null,"resources":null}`,
		`{"jobId":1,"whatever":[{"x":"]"}],"JOBNAME":"upper","SUBMITHOST":"h","usage":{"cpuSeconds":2},"usage":{"maxRSSBytes":3}}`,
		"{\"jobId\":1,\"jobName\":\"a\xffb\"}",
		` { "jobId" : 7 , "held" : true } `,
		`{"jobId":1,"environment":{"A":"1","A":"2"},"environment":{"B":"\u0041"}}`,
		`{"jobId":1,"environment":{"A":1}}`,
		`{"jobId":1}`, `{}`, `{"jobId":01}`, `{"jobId":1.5}`, `{"jobId":1} x`, `{"jobName":5}`, ``, `[]`)
	cases = append(cases, `{"jobId":1,"Environment":{"A":"1"}}`)
	// And with SkipEnv, the same but for the environment.
	for _, d := range []*JobDecoder{{}, {SkipEnv: true}} {
		var got Job
		for _, in := range cases {
			var want Job
			werr := json.Unmarshal([]byte(in), &want)
			if d.SkipEnv {
				if werr != nil {
					continue // the skipped environment is not checked
				}
				want.Env = nil
			}
			data := []byte(in)
			gerr := d.Decode(data, &got)
			for i := range data {
				data[i] = 'x' // the job shares none of it (Decode's promise)
			}
			if (werr != nil) != (gerr != nil) {
				t.Errorf("%s, SkipEnv %v: error %v, encoding/json's %v", in, d.SkipEnv, gerr, werr)
				continue
			}
			if werr == nil && !reflect.DeepEqual(got, want) {
				t.Errorf("%s, SkipEnv %v: decoded\n%+v\nencoding/json decodes\n%+v", in, d.SkipEnv, got, want)
			}
		}
	}
}

func FuzzDecodeJobList(f *testing.F) {
	full, _ := json.Marshal(ListJobsResponse{Count: 2, Jobs: sampleJobs()})
	f.Add(full)
	f.Add([]byte(`{"count":1,"jobs":[{"jobId":1,"array":{"jobId":1,"index":2},"exitCode":0}]}`))
	f.Add([]byte(`{"count":1,"jobs":[{"jobId":1,"environment":{"A":"1","B":"","A":"x"},"environment":null}]}`))
	f.Add([]byte(`{"count":1,"jobs":[{"jobId":1,"usage":{"maxRSSBytes":3,"cpuSeconds":0.25e1,"gpuSeconds":-1E-2}}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		want, werr := slowList(in)
		got, gerr := DecodeJobList(in)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("error %v, encoding/json's %v", gerr, werr)
		}
		if werr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded %+v, encoding/json %+v", got, want)
		}
	})
}

func BenchmarkDecodeJobList(b *testing.B) {
	jobs := make([]Job, 20000)
	for i := range jobs {
		jobs[i] = sampleJobs()[0]
		jobs[i].ID = uint64(i + 1)
		jobs[i].Name = "bench-" + strings.Repeat("x", i%7)
	}
	data, _ := json.Marshal(ListJobsResponse{Count: len(jobs), Jobs: jobs})
	b.Run("fast", func(b *testing.B) {
		for range b.N {
			if _, err := DecodeJobList(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for range b.N {
			if _, err := slowList(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkJobDecoder decodes one job with a shell's environment (60
// variables), as the archive reads its records: JobDecoder, with and
// without the environment, and encoding/json.
func BenchmarkJobDecoder(b *testing.B) {
	j := sampleJobs()[0]
	j.Env = map[string]string{}
	for i := range 60 {
		j.Env[fmt.Sprintf("VAR_%d", i)] = fmt.Sprintf("/usr/local/bin:/usr/bin:/bin:%d", i)
	}
	data, err := json.Marshal(j)
	if err != nil {
		b.Fatal(err)
	}
	for _, d := range []*JobDecoder{{}, {SkipEnv: true}} {
		b.Run(fmt.Sprintf("decoder-skipenv=%v", d.SkipEnv), func(b *testing.B) {
			var out Job
			for range b.N {
				if err := d.Decode(data, &out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("encoding-json", func(b *testing.B) {
		for range b.N {
			var out Job
			if err := json.Unmarshal(data, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
