package raftfsm_test

import (
	"fmt"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// BenchmarkSubmitEntry is the leader's encode and a replica's Apply of
// submits of sbatch-like jobs (a script, an environment of 60 variables),
// 16 to a batch entry, in the compact form and in the JSON of earlier
// versions: ns, bytes and allocations per job.
func BenchmarkSubmitEntry(b *testing.B) {
	env := map[string]string{}
	for i := range 60 {
		env[fmt.Sprintf("VAR_%02d", i)] = fmt.Sprintf("/some/path/value/%d:/usr/bin:/bin", i)
	}
	job := api.Job{JobSpec: api.JobSpec{Name: "wrap", Queue: api.DefaultQueue, Script: "#!/bin/sh\n# wrap\ntrue\n",
		Env: env, Dir: "/home/alice", Stdout: "/home/alice/slurm-%j.out", Stderr: "/home/alice/slurm-%j.out",
		Resources: api.Resources{CPUs: 1, MemoryMB: 1024}, Held: true, SubmitHost: "login1"},
		User: "alice", UID: 1000, GID: 1000, Groups: []uint32{1000, 27}}
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
