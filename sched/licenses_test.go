package sched_test

import (
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/sched"
)

// licSnap is fakeSnap with licenses (sched.LicenseSource).
type licSnap struct {
	fakeSnap
	lics []*api.License
}

var _ sched.LicenseSource = (*licSnap)(nil)

func (s *licSnap) Licenses() []*api.License { return s.lics }

func lic(name string, total int64) *api.License {
	return &api.License{Name: name, Total: total, Type: api.Replenishable}
}

// asking gives j licenses.
func asking(j *api.Job, uses ...api.LicenseUse) *api.Job { j.Licenses = uses; return j }

func use(name string, n int64) api.LicenseUse { return api.LicenseUse{Name: name, Quantity: n} }

func placedIDs(p sched.Plan) []uint64 {
	var ids []uint64
	for _, pl := range p.Placements {
		ids = append(ids, pl.JobID)
	}
	return ids
}

func TestLicenses(t *testing.T) {
	big := func() *api.Node { return node("a", 64, 64<<10, 0) }
	running := func(id uint64, uses ...api.LicenseUse) *api.Job {
		j := asking(runningOn(id, "a", t0-minute, 1, 1, 3600), uses...)
		return j
	}
	nonRepl := lic("tokens", 1)
	nonRepl.Type = api.NonReplenishable
	cases := []struct {
		name   string
		jobs   []*api.Job
		lics   []*api.License
		nodes  []*api.Node
		placed []uint64
		// waits: job -> reason, license short, asked, free now, blocker
		waits map[uint64]sched.Wait
	}{{
		name:   "only the total at once",
		lics:   []*api.License{lic("db", 2)},
		jobs:   []*api.Job{asking(job(1, 0, 1, 1, 0), use("db", 1)), asking(job(2, 0, 1, 1, 0), use("db", 1)), asking(job(3, 0, 1, 1, 0), use("db", 1)), job(4, 0, 1, 1, 0)},
		placed: []uint64{1, 2, 4},
		waits:  map[uint64]sched.Wait{3: {Reason: sched.ReasonLicenses, Short: &sched.Shortfall{Resource: "license:db", Asked: 1, FreeNow: 0, AtMost: 2}}},
	}, {
		name:   "running jobs hold theirs",
		lics:   []*api.License{lic("db", 2)},
		jobs:   []*api.Job{running(100, use("db", 1)), asking(job(1, 0, 1, 1, 0), use("db", 1)), asking(job(2, 0, 1, 1, 0), use("db", 1))},
		placed: []uint64{1},
		waits:  map[uint64]sched.Wait{2: {Reason: sched.ReasonLicenses, Short: &sched.Shortfall{Resource: "license:db", Asked: 1, FreeNow: 0, AtMost: 2}}},
	}, {
		name:   "several licenses, all needed",
		lics:   []*api.License{lic("db", 4), lic("matlab", 1)},
		jobs:   []*api.Job{asking(job(1, 0, 1, 1, 0), use("db", 1), use("matlab", 1)), asking(job(2, 0, 1, 1, 0), use("db", 1), use("matlab", 1)), asking(job(3, 0, 1, 1, 0), use("db", 3))},
		placed: []uint64{1},
		waits: map[uint64]sched.Wait{
			2: {Reason: sched.ReasonLicenses, Short: &sched.Shortfall{Resource: "license:matlab", Asked: 1, FreeNow: 0, AtMost: 1}},
			// db has 3 free, but job 2, before it, waits (for matlab)
			// with one of them held for it.
			3: {Reason: sched.ReasonLicenses, Short: &sched.Shortfall{Resource: "license:db", Asked: 3, FreeNow: 2, AtMost: 4}},
		},
	}, {
		name:   "a job waiting for one license does not hold up those asking only for another it has",
		lics:   []*api.License{lic("db", 2), lic("matlab", 1)},
		jobs:   []*api.Job{running(100, use("matlab", 1)), asking(job(1, 10, 1, 1, 0), use("db", 1), use("matlab", 1)), asking(job(2, 5, 1, 1, 0), use("db", 1)), asking(job(3, 1, 1, 1, 0), use("db", 1))},
		placed: []uint64{2},
		waits: map[uint64]sched.Wait{
			1: {Reason: sched.ReasonLicenses, Short: &sched.Shortfall{Resource: "license:matlab", Asked: 1, FreeNow: 0, AtMost: 1}},
			// One db is held for job 1, one went to job 2.
			3: {Reason: sched.ReasonLicenses, Short: &sched.Shortfall{Resource: "license:db", Asked: 1, FreeNow: 0, AtMost: 2}},
		},
	}, {
		name:   "a job that needs many is not passed over by jobs that need few",
		lics:   []*api.License{lic("db", 4)},
		jobs:   []*api.Job{running(100, use("db", 2)), asking(job(1, 10, 1, 1, 0), use("db", 3)), asking(job(2, 5, 1, 1, 0), use("db", 1))},
		placed: nil,
		waits: map[uint64]sched.Wait{
			1: {Reason: sched.ReasonLicenses, Short: &sched.Shortfall{Resource: "license:db", Asked: 3, FreeNow: 2, AtMost: 4}},
			2: {Reason: sched.ReasonLicenses, Short: &sched.Shortfall{Resource: "license:db", Asked: 1, FreeNow: 2, AtMost: 4}, Blocker: 1},
		},
	}, {
		name:   "non-replenishable: the total is what is left; running jobs took theirs already",
		lics:   []*api.License{nonRepl},
		jobs:   []*api.Job{running(100, use("tokens", 5)), asking(job(1, 0, 1, 1, 0), use("tokens", 1)), asking(job(2, 0, 1, 1, 0), use("tokens", 1))},
		placed: []uint64{1},
		waits:  map[uint64]sched.Wait{2: {Reason: sched.ReasonLicenses, Short: &sched.Shortfall{Resource: "license:tokens", Asked: 1, FreeNow: 0, AtMost: 1}}},
	}, {
		name: "a reserved job keeps its licenses from backfill",
		lics: []*api.License{lic("db", 1)},
		// Node a is full until job 100 ends in an hour; job 1 (all 8
		// CPUs, db:1) reserves then; job 2 (1 CPU, ends well before)
		// would backfill on node b, but its db is job 1's.
		nodes: []*api.Node{nodeRunning(node("a", 8, 8<<10, 0), runningOn(100, "a", t0, 8, 1, 3600)), node("b", 1, 1<<10, 0)},
		jobs: []*api.Job{runningOn(100, "a", t0, 8, 1, 3600),
			asking(limited(job(1, 10, 8, 1, 0), 600), use("db", 1)), asking(limited(job(2, 5, 1, 1, 0), 60), use("db", 1)), limited(job(3, 1, 1, 1, 0), 60)},
		placed: []uint64{3},
		waits: map[uint64]sched.Wait{
			1: {Reason: sched.ReasonResources},
			2: {Reason: sched.ReasonLicenses, Short: &sched.Shortfall{Resource: "license:db", Asked: 1, FreeNow: 0, AtMost: 1}},
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nodes := c.nodes
			if nodes == nil {
				nodes = []*api.Node{big()}
			}
			s := &licSnap{fakeSnap: fakeSnap{jobs: c.jobs, nodes: nodes}, lics: c.lics}
			p := sched.Schedule(s, t0)
			if got := placedIDs(p); !sameIDs(got, c.placed) {
				t.Fatalf("placed %v, want %v", got, c.placed)
			}
			for id, want := range c.waits {
				w, ok := waitOf(p, id)
				if !ok {
					t.Fatalf("job %d: no wait in the plan", id)
				}
				if w.Reason != want.Reason || w.Blocker != want.Blocker {
					t.Errorf("job %d waits for %s (blocker %d), want %s (blocker %d)", id, w.Reason, w.Blocker, want.Reason, want.Blocker)
				}
				if want.Short != nil && (w.Short == nil || !reflect.DeepEqual(*w.Short, *want.Short)) {
					t.Errorf("job %d shortfall %+v, want %+v", id, w.Short, want.Short)
				}
				if d := w.Describe(api.Resources{}, t0); w.Reason == sched.ReasonLicenses && !strings.Contains(d, "license "+strings.TrimPrefix(want.Short.Resource, "license:")) {
					t.Errorf("job %d: Describe %q does not name the license", id, d)
				}
			}
		})
	}
}

func sameIDs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestLicensesNeverOverTotal runs passes over random jobs, applying each
// plan and ending some running jobs between passes: at no point do the
// STARTING and RUNNING jobs hold more of a license than its total, and
// every job ends up run.
func TestLicensesNeverOverTotal(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	totals := map[string]int64{"db": 3, "matlab": 2}
	s := &licSnap{lics: []*api.License{lic("db", 3), lic("matlab", 2)}}
	s.nodes = []*api.Node{node("a", 16, 16<<10, 0), node("b", 16, 16<<10, 0)}
	for id := uint64(1); id <= 60; id++ {
		j := job(id, int64(rng.Intn(3)), 1+rng.Intn(4), 1, 0)
		switch rng.Intn(4) {
		case 0:
			j.Licenses = []api.LicenseUse{use("db", 1+int64(rng.Intn(3)))}
		case 1:
			j.Licenses = []api.LicenseUse{use("matlab", 1)}
		case 2:
			j.Licenses = []api.LicenseUse{use("db", 1), use("matlab", 1+int64(rng.Intn(2)))}
		}
		s.jobs = append(s.jobs, j)
	}
	for pass := 0; pass < 500; pass++ {
		s.apply(t, sched.Schedule(s, t0))
		held := map[string]int64{}
		var active []*api.Job
		for _, j := range s.jobs {
			if j.State == api.StateStarting {
				active = append(active, j)
				for _, u := range j.Licenses {
					held[u.Name] += u.Quantity
				}
			}
		}
		for name, n := range held {
			if n > totals[name] {
				t.Fatalf("pass %d: running jobs hold %d of %s, whose total is %d", pass, n, name, totals[name])
			}
		}
		if len(active) == 0 {
			for _, j := range s.jobs {
				if j.State != api.StateSucceeded {
					t.Fatalf("pass %d: nothing runs, yet job %d is %s", pass, j.ID, j.State)
				}
			}
			return
		}
		// End one running job.
		j := active[rng.Intn(len(active))]
		j.State = api.StateSucceeded
		for _, n := range s.nodes {
			if n.Name == j.Node {
				n.Allocated = n.Allocated.Sub(j.Resources)
			}
		}
	}
	t.Fatal("jobs still wait after 500 passes")
}
