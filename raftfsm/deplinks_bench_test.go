package raftfsm_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// depShape is one submit whose dependencies come near MaxDependencyLinks:
// setup stores what it depends on into f and returns it.
type depShape struct {
	name  string
	setup func(tb testing.TB, f *depFSM) raftfsm.SubmitCmd
}

// depFSM applies entries to one FSM at increasing indexes.
type depFSM struct {
	f   *raftfsm.FSM
	idx uint64
}

func (d *depFSM) apply(tb testing.TB, op raftfsm.Op, c any) raftfsm.Result {
	tb.Helper()
	var e []byte
	var err error
	if s, ok := c.(raftfsm.SubmitCmd); ok {
		e, err = raftfsm.EncodeSubmit(&s, nil)
	} else {
		e, err = raftfsm.Encode(op, c)
	}
	if err != nil {
		tb.Fatal(err)
	}
	d.idx++
	res, ok := d.f.Apply(d.idx, e).(raftfsm.Result)
	if !ok {
		tb.Fatalf("apply: %T", res)
	}
	return res
}

func (d *depFSM) submit(tb testing.TB, c raftfsm.SubmitCmd) []uint64 {
	tb.Helper()
	res := d.apply(tb, raftfsm.OpSubmit, c)
	if res.Err != nil {
		tb.Fatalf("submit: %v", res.Err)
	}
	return res.IDs
}

// arraySubmit is a submit of an array of j of n tasks, indexes from from
// on (0 if not given).
func arraySubmit(j api.Job, n int, from ...int) raftfsm.SubmitCmd {
	idx := make([]int, n)
	for k := range idx {
		idx[k] = k
		if len(from) > 0 {
			idx[k] += from[0]
		}
	}
	return raftfsm.SubmitCmd{Jobs: []api.Job{j}, Arrays: []raftfsm.ArraySpec{{Job: 0, Indexes: idx}}, Now: 1}
}

// depJob is newJob depending on jobs on, each with dependency type typ
// (on 0: a dependency that names no job, as singleton).
func depJob(name string, typ api.DependencyType, on ...uint64) api.Job {
	j := newJob(name)
	for _, id := range on {
		j.DependsOn = append(j.DependsOn, api.Dependency{JobID: id, Type: typ})
	}
	return j
}

// depShapes are the worst submits of each kind that MaxDependencyLinks
// admits: many tasks times many links (alike tasks, stored as one group,
// and tasks with links of their own, stored one by one), one job on a
// whole array, aftercorr, afterany on many single jobs, singleton.
var depShapes = []depShape{
	{"job_afterok_array100k", func(tb testing.TB, f *depFSM) raftfsm.SubmitCmd {
		a := f.submit(tb, arraySubmit(newJob("a"), 100_000))
		return raftfsm.SubmitCmd{Jobs: []api.Job{newJob("b", a[0])}, Now: 2}
	}},
	{"array2_afterok_array100k", func(tb testing.TB, f *depFSM) raftfsm.SubmitCmd {
		a := f.submit(tb, arraySubmit(newJob("a"), 100_000))
		return arraySubmit(newJob("b", a[0]), 2)
	}},
	{"array200_afterok_array1000", func(tb testing.TB, f *depFSM) raftfsm.SubmitCmd {
		a := f.submit(tb, arraySubmit(newJob("a"), 1000))
		return arraySubmit(newJob("b", a[0]), 200)
	}},
	{"array100k_afterok_array2", func(tb testing.TB, f *depFSM) raftfsm.SubmitCmd {
		a := f.submit(tb, arraySubmit(newJob("a"), 2))
		return arraySubmit(newJob("b", a[0]), 100_000)
	}},
	{"array100k_aftercorr_array100k", func(tb testing.TB, f *depFSM) raftfsm.SubmitCmd {
		a := f.submit(tb, arraySubmit(newJob("a"), 100_000))
		return arraySubmit(depJob("b", api.AfterCorr, a[0]), 100_000)
	}},
	{"2x_array100k_aftercorr_array100k", func(tb testing.TB, f *depFSM) raftfsm.SubmitCmd {
		a := f.submit(tb, arraySubmit(newJob("a"), 100_000))
		c := arraySubmit(depJob("b", api.AfterCorr, a[0]), 100_000)
		c.Jobs = append(c.Jobs, c.Jobs[0])
		c.Arrays = append(c.Arrays, raftfsm.ArraySpec{Job: 1, Indexes: c.Arrays[0].Indexes})
		return c
	}},
	{"array200_aftercorr_nocounterpart_array1000", func(tb testing.TB, f *depFSM) raftfsm.SubmitCmd {
		a := f.submit(tb, arraySubmit(newJob("a"), 1000))
		return arraySubmit(depJob("b", api.AfterCorr, a[0]), 200, 1000)
	}},
	{"array1900_sequential_afterok_array100", func(tb testing.TB, f *depFSM) raftfsm.SubmitCmd {
		a := f.submit(tb, arraySubmit(newJob("a"), 100))
		j := newJob("b", a[0])
		j.DependsOn = append(j.DependsOn, api.Dependency{Type: api.Sequential})
		return arraySubmit(j, 1900)
	}},
	{"jobs200_afterany_1000singles", func(tb testing.TB, f *depFSM) raftfsm.SubmitCmd {
		var singles []api.Job
		for i := range 1000 {
			singles = append(singles, newJob(fmt.Sprint("s", i)))
		}
		ids := f.submit(tb, raftfsm.SubmitCmd{Jobs: singles, Now: 1})
		var jobs []api.Job
		for i := range 200 {
			jobs = append(jobs, depJob(fmt.Sprint("d", i), api.AfterAny, ids...))
		}
		return raftfsm.SubmitCmd{Jobs: jobs, Now: 2}
	}},
	{"singleton_array630", func(tb testing.TB, f *depFSM) raftfsm.SubmitCmd {
		return arraySubmit(depJob("one", api.Singleton, 0), 630)
	}},
	{"singleton_array600_user_100k_jobs", func(tb testing.TB, f *depFSM) raftfsm.SubmitCmd {
		f.submit(tb, arraySubmit(newJob("other"), 100_000))
		return arraySubmit(depJob("one", api.Singleton, 0), 600)
	}},
	{"singleton_job_after_100k_same_name", func(tb testing.TB, f *depFSM) raftfsm.SubmitCmd {
		f.submit(tb, arraySubmit(newJob("one"), 100_000))
		return raftfsm.SubmitCmd{Jobs: []api.Job{depJob("one", api.Singleton, 0)}, Now: 2}
	}},
}

// depTimes are what one run of a shape took: the submit's Apply, a
// snapshot written and restored after it, and on the restored FSM a
// scancel of the jobs it depends on (one entry), which releases its jobs.
type depTimes struct{ apply, restore, release time.Duration }

// runDepShape runs shape s once on a new FSM.
func runDepShape(tb testing.TB, s depShape) depTimes {
	f := &depFSM{f: raftfsm.New()}
	c := s.setup(tb, f)
	var earlier []uint64
	f.f.State().AllJobs(func(j *api.Job) bool { earlier = append(earlier, j.ID); return true })
	var t depTimes
	t0 := time.Now()
	res := f.apply(tb, raftfsm.OpSubmit, c)
	t.apply = time.Since(t0)
	if res.Err != nil {
		tb.Fatalf("%s refused: %v", s.name, res.Err)
	}
	t0 = time.Now()
	var buf bytes.Buffer
	if _, err := f.f.Snapshot().WriteTo(&buf); err != nil {
		tb.Fatal(err)
	}
	restored := &depFSM{f: raftfsm.New(), idx: f.idx}
	if err := restored.f.Restore(&buf, f.idx); err != nil {
		tb.Fatal(err)
	}
	t.restore = time.Since(t0)
	t0 = time.Now()
	res = restored.apply(tb, raftfsm.OpStopMany, raftfsm.StopManyCmd{IDs: earlier, Reason: "scancel", Now: 3})
	t.release = time.Since(t0)
	if len(res.Errs) > 0 {
		tb.Fatalf("%s: scancel: %v", s.name, res.Errs)
	}
	return t
}

// BenchmarkDependencyLinks times, for the worst submits of each shape
// that MaxDependencyLinks admits, each into a new FSM holding what it
// depends on: the submit's Apply (ms-apply: how long it holds every
// other write), a snapshot of the state after it written and restored
// (ms-restore), and the scancel of what it depends on, which ends or
// releases all its jobs (ms-release). Each is the best of the b.N runs
// (-benchtime=3x): on a shared machine their mean is the load's.
func BenchmarkDependencyLinks(b *testing.B) {
	for _, s := range depShapes {
		b.Run(s.name, func(b *testing.B) {
			best := depTimes{time.Hour, time.Hour, time.Hour}
			for b.Loop() {
				t := runDepShape(b, s)
				best = depTimes{min(best.apply, t.apply), min(best.restore, t.restore), min(best.release, t.release)}
			}
			ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
			b.ReportMetric(ms(best.apply), "ms-apply")
			b.ReportMetric(ms(best.restore), "ms-restore")
			b.ReportMetric(ms(best.release), "ms-release")
			b.ReportMetric(0, "ns/op") // set up in each run: ns/op times the setup
		})
	}
}
