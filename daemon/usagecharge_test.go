package daemon

import (
	"context"
	"math"
	"os"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/internal/clock"
	"github.com/shoal-batch/shoal/sched"
)

// TestMemUsageChargedWhileRunning runs a controller whose leader charges
// running jobs every minute (-priority-calc-period 1m) under fair tree:
// a minute into alice's 2-CPU job her association has 120 CPU-seconds,
// which sshare's and sprio's answers show while the job still runs (bob,
// who ran nothing, now ranks above her); at its end 100 s in all are
// charged, not 160; and a period with nothing running commits nothing.
func TestMemUsageChargedWhileRunning(t *testing.T) {
	mc := startMemController(t, Config{NodeTTL: 24 * time.Hour, Sched: sched.Options{Priority: sched.PriorityConfig{
		WeightFairShare: 10000, CalcPeriod: 60, FairTree: true}}})
	mc.registerNode("n1")
	mc.mustCall(rootUser, api.PathAccountsAdd, api.AccountsChange{Accounts: []api.Account{{Name: "physics", Parent: "root"}},
		Associations: []api.Association{{Account: "physics", Shares: 1}}}, nil)
	aliceName, bobName := "4201", "4202"
	mc.mustCall(rootUser, api.PathAccountsAdd, api.AccountsChange{
		Users:        []api.AcctUser{{Name: aliceName, DefaultAccount: "physics"}, {Name: bobName, DefaultAccount: "physics"}},
		Associations: []api.Association{{Account: "physics", User: aliceName, Shares: 1}, {Account: "physics", User: bobName, Shares: 1}},
	}, nil)
	usage := func() float64 {
		for _, u := range mc.c.fsm.State().Accounts().Usage {
			if u.User == aliceName {
				return u.Raw
			}
		}
		return 0
	}
	waitUsage := func(ok func(float64) bool) float64 {
		t.Helper()
		timeout := time.NewTimer(10 * time.Second)
		defer timeout.Stop()
		for {
			_, changed := mc.c.fsm.Changed()
			if u := usage(); ok(u) {
				return u
			}
			select {
			case <-changed:
			case <-timeout.C:
				t.Fatalf("alice's usage after 10 s: %v, not as wanted", usage())
			}
		}
	}

	spec := api.JobSpec{Name: "j", Command: []string{"true"}, Dir: "/", Resources: api.Resources{CPUs: 2, MemoryMB: 64}}
	id := mc.submit(alice, spec)
	var j api.Job
	mc.mustCall(alice, api.PathWait, api.WaitJobRequest{ID: id, States: []api.JobState{api.StateStarting}, WaitMillis: 5000}, &j)
	mc.mustCall(rootUser, api.PathNodeEvents, api.JobEventsRequest{Events: []api.JobEvent{{ID: id, Node: j.Node, State: api.StateRunning, Attempt: j.Attempt}}}, nil)
	mc.waitJob(id, func(j *api.Job) bool { return j.State == api.StateRunning })

	mc.clock.WaitArmed(time.Minute) // the leader's period
	mc.clock.Advance(time.Minute)
	if got := waitUsage(func(u float64) bool { return u > 0 }); got != 120 {
		t.Fatalf("alice's usage a minute into a 2-CPU job: %v, want 120", got)
	}
	var shares api.SharesResponse
	mc.mustCall(bob, api.PathShares, api.SharesRequest{}, &shares)
	fs := map[string]float64{}
	for _, r := range shares.Rows {
		fs[r.User] = r.FairShare
		if r.User == aliceName && (r.RawUsage != 120 || r.LevelFS == nil || *r.LevelFS != 0.5) {
			t.Errorf("sshare while running: alice %+v, want RawUsage 120 and LevelFS 0.5", r)
		}
	}
	// Users root (no usage, at root), bob (none), alice: ranks 3, 2, 1 of 3.
	if !shares.FairTree || fs["root"] != 1 || fs[bobName] != 2.0/3 || fs[aliceName] != 1.0/3 {
		t.Errorf("sshare while alice's job runs: fair tree %v, factors %v; want fair tree, root 1, bob 2/3, alice 1/3", shares.FairTree, fs)
	}
	held := spec
	held.Held = true
	ja, jb := mc.submit(alice, held), mc.submit(bob, held)
	var prio api.PriorityResponse
	mc.mustCall(alice, api.PathPriority, api.PriorityRequest{}, &prio)
	got := map[uint64]api.JobPriority{}
	for _, p := range prio.Jobs {
		got[p.JobID] = p
	}
	if a, b := got[ja].FairShare, got[jb].FairShare; a >= b {
		t.Errorf("sprio while alice's job runs: alice's fair share %v, bob's %v; want bob's higher", a, b)
	}

	mc.clock.Advance(40 * time.Second)
	zero := 0
	mc.mustCall(rootUser, api.PathNodeEvents, api.JobEventsRequest{Events: []api.JobEvent{{ID: id, Node: j.Node, State: api.StateSucceeded, ExitCode: &zero, Attempt: j.Attempt}}}, nil)
	mc.waitJob(id, func(j *api.Job) bool { return j.State == api.StateSucceeded })
	// 120 charged at 60 s (decayed a little over 40 s of a 7-day
	// half-life) and the last 80 CPU-seconds.
	if got := usage(); got < 199.99 || got > 200 {
		t.Errorf("alice's usage after her 100 s job ended: %v, want 200 (less a little decay), not more", got)
	}

	// Nothing runs: the next period commits nothing.
	mc.clock.WaitArmed(time.Minute)
	before, _ := mc.c.fsm.Changed()
	mc.clock.Advance(20 * time.Second)
	mc.clock.WaitArmed(time.Minute) // the loop has run and armed the next period
	if after, _ := mc.c.fsm.Changed(); after != before {
		t.Errorf("raft index %d after a period with nothing running, was %d: want no entry", after, before)
	}
}

// TestClusterUsageChargeFailsOver: in a cluster of three controllers
// (real raft on loopback, one fake clock), the leader charges a running
// 2-CPU job its first minute; it stops; the new leader charges the next
// minute from where the record says, and the job's end the last 10 s:
// 130 s × 2 CPUs on every remaining controller, none lost, none twice.
func TestClusterUsageChargeFailsOver(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("registering a node and adding accounts over the socket need root")
	}
	fake := clock.NewFake(time.Unix(1_800_000_000, 0))
	ms := startClusterWith(t, 3, func(cfg *Config) {
		cfg.Clock, cfg.NodeTTL = fake, 24*time.Hour
		cfg.Sched.Priority = sched.PriorityConfig{WeightFairShare: 1000, CalcPeriod: 60, DecayHalfLife: -1} // no decay: exact sums
	})
	ctx := context.Background()
	all := client.New(ms[0].cfg.Socket+","+ms[1].cfg.Socket+","+ms[2].cfg.Socket, "")
	if err := all.Call(ctx, api.PathNodeRegister, api.RegisterNodeRequest{Name: "n1", Boot: "b1",
		Capacity: api.Resources{CPUs: 8, MemoryMB: 8192}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := all.Call(ctx, api.PathAccountsAdd, api.AccountsChange{Accounts: []api.Account{{Name: "physics", Parent: "root"}},
		Associations: []api.Association{{Account: "physics", Shares: 1}}}, nil); err != nil {
		t.Fatal(err)
	}
	resp, err := all.Submit(ctx, api.SubmitJobRequest{JobSpec: api.JobSpec{Name: "long", Script: "#!/bin/sh\ntrue\n",
		Resources: api.Resources{CPUs: 2, MemoryMB: 64}}}) // root's, charged to root/root
	if err != nil {
		t.Fatal(err)
	}
	var j api.Job
	if err := all.Call(ctx, api.PathWait, api.WaitJobRequest{ID: resp.ID, States: []api.JobState{api.StateStarting}, WaitMillis: 10_000}, &j); err != nil {
		t.Fatal(err)
	}
	if err := all.Call(ctx, api.PathNodeEvents, api.JobEventsRequest{Events: []api.JobEvent{{ID: resp.ID, Node: j.Node, State: api.StateRunning, Attempt: j.Attempt}}}, nil); err != nil {
		t.Fatal(err)
	}
	usage := func(c *Controller) float64 {
		for _, u := range c.fsm.State().Accounts().Usage {
			if u.Account == "root" && u.User == "root" {
				return u.Raw
			}
		}
		return 0
	}
	waitUsage := func(c *Controller, ok func(float64) bool) float64 {
		t.Helper()
		timeout := time.NewTimer(30 * time.Second)
		defer timeout.Stop()
		for {
			_, changed := c.fsm.Changed()
			if u := usage(c); ok(u) {
				return u
			}
			select {
			case <-changed:
			case <-timeout.C:
				t.Fatalf("root's usage on %s after 30 s: %v, not as wanted", c.cfg.NodeID, usage(c))
			}
		}
	}
	near := func(want float64) func(float64) bool {
		return func(u float64) bool { return math.Abs(u-want) < 1e-9 }
	}

	fake.WaitArmed(time.Minute) // the leader's period
	fake.Advance(time.Minute)
	waitUsage(ms[1].c, near(120))

	ms[0].c.Close()
	var next *Controller
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for next == nil { // whichever of the two comes to lead, its leader work started
		ready1, changed1 := ms[1].c.leader.get()
		ready2, changed2 := ms[2].c.leader.get()
		switch {
		case ready1:
			next = ms[1].c
		case ready2:
			next = ms[2].c
		default:
			select {
			case <-changed1:
			case <-changed2:
			case <-deadline.C:
				t.Fatal("no controller leads 30 s after the leader stopped")
			}
		}
	}
	fake.WaitArmed(time.Minute) // the new leader's period, from its start
	fake.Advance(time.Minute)
	waitUsage(next, near(240))
	fake.Advance(10 * time.Second)
	zero := 0
	if err := all.Call(ctx, api.PathNodeEvents, api.JobEventsRequest{Events: []api.JobEvent{{ID: resp.ID, Node: j.Node, State: api.StateSucceeded, ExitCode: &zero, Attempt: j.Attempt}}}, nil); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[1:] {
		if got := waitUsage(m.c, func(u float64) bool { return u > 240.5 }); !near(260)(got) {
			t.Errorf("%s: root's usage after a 130 s 2-CPU job across a leader change: %v, want 260", m.cfg.NodeID, got)
		}
	}
}
