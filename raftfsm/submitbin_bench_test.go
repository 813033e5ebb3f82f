package raftfsm_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// sbatchLikeJob is a held sbatch job: a script, an environment of 60
// variables.
func sbatchLikeJob() api.Job {
	env := map[string]string{}
	for i := range 60 {
		env[fmt.Sprintf("VAR_%02d", i)] = fmt.Sprintf("/some/path/value/%d:/usr/bin:/bin", i)
	}
	return api.Job{JobSpec: api.JobSpec{Name: "wrap", Queue: api.DefaultQueue, Script: "#!/bin/sh\n# wrap\ntrue\n",
		Env: env, Dir: "/home/alice", Stdout: "/home/alice/slurm-%j.out", Stderr: "/home/alice/slurm-%j.out",
		Resources: api.Resources{CPUs: 1, MemoryMB: 1024}, Held: true, SubmitHost: "login1"},
		User: "alice", UID: 1000, GID: 1000, Groups: []uint32{1000, 27}}
}

// BenchmarkSubmitEntry is the leader's encode and a replica's Apply of
// submits of sbatch-like jobs (a script, an environment of 60 variables),
// 16 to a batch entry, in the compact form and in the JSON of earlier
// versions: ns, bytes and allocations per job.
func BenchmarkSubmitEntry(b *testing.B) {
	job := sbatchLikeJob()
	const perEntry = 16
	for _, kind := range []string{"binary", "json"} {
		b.Run(kind, func(b *testing.B) {
			f := raftfsm.New()
			b.ReportAllocs()
			idx := uint64(0)
			for i := 0; b.Loop(); i++ {
				es := make([][]byte, perEntry)
				for k := range es {
					c := raftfsm.SubmitCmd{Jobs: []api.Job{job}, Now: int64(i)}
					var err error
					if kind == "binary" {
						es[k], err = raftfsm.EncodeSubmit(&c, nil)
					} else {
						es[k], err = raftfsm.Encode(raftfsm.OpSubmit, c)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				var e []byte
				var err error
				if kind == "binary" {
					e, err = raftfsm.EncodeBatch(es)
				} else {
					e, err = raftfsm.EncodeBatchJSON(es)
				}
				if err != nil {
					b.Fatal(err)
				}
				idx++
				f.Apply(idx, e)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perEntry), "ns/job")
		})
	}
}

// BenchmarkArrayEntry is a replica's Apply of sbatch --array=0-9999 --hold
// (one submit entry of 10,000 tasks), then of scancel of the array (one
// stop entry of their ids): ns and allocations per task.
func BenchmarkArrayEntry(b *testing.B) {
	job := sbatchLikeJob()
	const tasks = 10_000
	idx := make([]int, tasks)
	for i := range idx {
		idx[i] = i
	}
	f := raftfsm.New()
	b.ReportAllocs()
	var submit, cancel time.Duration
	entry := uint64(0)
	// What a queued array keeps: the heap in use after a collection, with
	// one array submitted and not yet cancelled, less that before it.
	var liveBefore, liveQueued uint64
	for i := 0; b.Loop(); i++ {
		if i == 0 {
			liveBefore = liveHeap()
		}
		c := raftfsm.SubmitCmd{Jobs: []api.Job{job}, Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: idx}}, Now: int64(i)}
		e, err := raftfsm.EncodeSubmit(&c, nil)
		if err != nil {
			b.Fatal(err)
		}
		entry++
		t0 := time.Now()
		res, ok := f.Apply(entry, e).(raftfsm.Result)
		if !ok || res.Err != nil || len(res.IDs) != tasks {
			b.Fatalf("submit: %+v", res)
		}
		t1 := time.Now()
		if i == 0 {
			liveQueued = liveHeap()
			t1 = time.Now() // the collections are not the submit's
		}
		s, err := raftfsm.Encode(raftfsm.OpStopMany, raftfsm.StopManyCmd{IDs: res.IDs, Reason: "scancel", Now: int64(i)})
		if err != nil {
			b.Fatal(err)
		}
		entry++
		t2 := time.Now()
		if res, ok := f.Apply(entry, s).(raftfsm.Result); !ok || res.Errs != nil {
			b.Fatalf("cancel: %+v", res)
		}
		submit, cancel = submit+t1.Sub(t0), cancel+time.Since(t2)
	}
	b.ReportMetric(float64(submit.Nanoseconds())/float64(b.N*tasks), "ns/task-submit")
	b.ReportMetric(float64(cancel.Nanoseconds())/float64(b.N*tasks), "ns/task-cancel")
	b.ReportMetric(float64(int64(liveQueued)-int64(liveBefore))/tasks, "B-live/task-queued")
}

// liveHeap is the heap in use after two collections.
func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
