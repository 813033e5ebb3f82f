package raftfsm_test

import (
	"slices"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
	"github.com/shoal-batch/shoal/sched"
)

// TestSlurm17_18_UpdateBeginTime pins scontrol update StartTime= (Slurm's
// expect test 17.18 moves a --begin=noon-tomorrow job to now): a pending
// job's begin time moves, a started job's cannot.
func TestSlurm17_18_UpdateBeginTime(t *testing.T) {
	h := newHarness(t)
	h.register(1, api.Node{Name: "n1", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}})
	later := newJob("later")
	later.BeginAt = 90_000_000
	ids := h.submit(1000, later)
	at := int64(2000)
	h.mustOK("update StartTime", h.apply(raftfsm.OpUpdateJob, raftfsm.UpdateJobCmd{
		Update: api.UpdateJobRequest{ID: ids[0], BeginAt: &at}, CallerUID: 1000,
	}))
	if j := h.job(ids[0]); j.BeginAt != 2000 {
		t.Fatalf("begin time after the update = %d, want 2000", j.BeginAt)
	}
	if h.place(3000, raftfsm.Placement{JobID: ids[0], Node: "n1"}) != 1 {
		t.Fatal("the job was not placed")
	}
	res := h.apply(raftfsm.OpUpdateJob, raftfsm.UpdateJobCmd{Update: api.UpdateJobRequest{ID: ids[0], BeginAt: &at}, CallerUID: 1000})
	if !api.IsCode(res.Err, api.CodeConflict) {
		t.Fatalf("moving the begin time of a started job: %v, want a conflict", res.Err)
	}
}

// TestSlurm17_56_DeadlineLimitsStart: a job with a deadline starts with its time limit
// cut to the whole minutes left until the deadline (Slurm's test 17.56:
// --deadline=now+600 and no --time runs with TimeLimit=00:10:00 or 00:09:xx);
// a shorter limit of its own is kept.
func TestSlurm17_56_DeadlineLimitsStart(t *testing.T) {
	h := newHarness(t)
	h.register(1, api.Node{Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}})
	open := newJob("open")
	open.DeadlineAt = 600_000
	short := newJob("short")
	short.DeadlineAt, short.TimeLimit = 600_000, 30
	ids := h.submit(1, open, short)
	if n := h.place(100, raftfsm.Placement{JobID: ids[0], Node: "n1"}, raftfsm.Placement{JobID: ids[1], Node: "n1"}); n != 2 {
		t.Fatalf("placed %d jobs, want 2", n)
	}
	if got := h.job(ids[0]).TimeLimit; got != 540 {
		t.Fatalf("job without a limit, 599.9 s before its deadline: TimeLimit %d s, want 540 (9 whole minutes)", got)
	}
	if got := h.job(ids[1]).TimeLimit; got != 30 {
		t.Fatalf("job with a 30 s limit: TimeLimit %d s, want 30 kept", got)
	}
}

// TestSlurm17_23_NiceLowersDefaultPriority pins Slurm's priority/basic as
// tests 17.23, 3.4 and 2.22 see it: a job gets a positive priority, one
// less than the job before it; --nice (100 by default) subtracts; Nice=
// and Priority= updates move it; and the scheduler starts the highest
// first. A job of the AWS Batch API keeps its schedulingPriority.
func TestSlurm17_23_NiceLowersDefaultPriority(t *testing.T) {
	h := newHarness(t)
	h.register(1, api.Node{Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 1, MemoryMB: 4096}})
	plain, nice, nicer := newJob("plain"), newJob("nice"), newJob("nicer")
	nice.Nice, nicer.Nice = 100, 200
	aws := newJob("aws")
	aws.JobDefinition, aws.Priority = "def:1", 7
	ids := h.submit(1, plain, nice, nicer, aws)
	p := func(i int) int64 { return h.job(ids[i]).Priority }
	if p(0) != api.DefaultPriority(ids[0]) || p(0) < 1000 {
		t.Fatalf("priority of a plain job %d = %d, want DefaultPriority %d", ids[0], p(0), api.DefaultPriority(ids[0]))
	}
	if d2, d3 := p(0)-p(1), p(0)-p(2); d2 != 101 || d3 != 202 {
		t.Fatalf("priority below the first job's: --nice %d, --nice=200 %d; want 101 and 202 (test 17.23)", d2, d3)
	}
	if p(3) != 7 {
		t.Fatalf("AWS job's priority = %d, want its schedulingPriority 7", p(3))
	}
	if plan := sched.Schedule(h.fsm.State(), 2); len(plan.Placements) != 1 || plan.Placements[0].JobID != ids[0] {
		t.Fatalf("first placement %+v, want job %d, the highest priority", plan.Placements, ids[0])
	}

	update := func(uid uint32, u api.UpdateJobRequest) raftfsm.Result {
		return h.apply(raftfsm.OpUpdateJob, raftfsm.UpdateJobCmd{Update: u, CallerUID: uid})
	}
	zero, minus := int64(0), int64(-10)
	h.mustOK("update Nice=0", update(1000, api.UpdateJobRequest{ID: ids[2], Nice: &zero}))
	if got, want := p(2), api.DefaultPriority(ids[2]); got != want || h.job(ids[2]).Nice != 0 {
		t.Fatalf("after Nice=0: priority %d nice %d, want %d and 0", got, h.job(ids[2]).Nice, want)
	}
	wantErr(t, "a user's negative nice", update(1000, api.UpdateJobRequest{ID: ids[2], Nice: &minus}), api.CodeForbidden, "negative nice")
	h.mustOK("root's Nice=-10", update(0, api.UpdateJobRequest{ID: ids[2], Nice: &minus}))
	if plan := sched.Schedule(h.fsm.State(), 2); len(plan.Placements) != 1 || plan.Placements[0].JobID != ids[2] {
		t.Fatalf("after Nice=-10, first placement %+v, want job %d", plan.Placements, ids[2])
	}
	one := int64(1)
	h.mustOK("update Priority=1", update(0, api.UpdateJobRequest{ID: ids[2], Priority: &one}))
	if p(2) != 1 {
		t.Fatalf("after Priority=1: priority %d, want 1 (test 3.4)", p(2))
	}
	if plan := sched.Schedule(h.fsm.State(), 2); len(plan.Placements) != 1 || plan.Placements[0].JobID != ids[0] {
		t.Fatalf("after Priority=1, first placement %+v, want job %d again", plan.Placements, ids[0])
	}

	held := newJob("held")
	held.Held = true
	hid := h.submit(3, held)[0]
	later := h.submit(4, newJob("later"))[0]
	h.mustOK("release", h.apply(raftfsm.OpHold, raftfsm.HoldCmd{IDs: []uint64{hid}, CallerUID: 1000, Now: 5}))
	if hp, lp := h.job(hid).Priority, h.job(later).Priority; hp >= lp {
		t.Fatalf("released job's priority %d, want below %d of the job submitted after it (it waits its turn)", hp, lp)
	}
	h.mustOK("root's Nice=0 of a set priority", update(0, api.UpdateJobRequest{ID: ids[2], Nice: &zero}))
	if p(2) != 1 {
		t.Fatalf("a nice change moved a set priority to %d, want it kept at 1", p(2))
	}
}

// TestSlurm17_37_AfterNotOKOfCompletedJob pins Slurm 22.05's default for
// a dependency that can never be met (test 17.37: afternotok on a job that
// COMPLETED): the job stays PENDING (DependencyNeverSatisfied) until
// cancelled, and a release leaves it there; with --kill-on-invalid-dep=yes
// (KeepOnInvalidDep false, also AWS Batch's way) it fails.
func TestSlurm17_37_AfterNotOKOfCompletedJob(t *testing.T) {
	h := newHarness(t)
	parent := h.submit(1, newJob("parent"))[0]
	keep, kill := newJob("keep"), newJob("kill")
	keep.DependsOn = []api.Dependency{{JobID: parent, Type: api.AfterNotOK}}
	keep.KeepOnInvalidDep = true
	kill.DependsOn = []api.Dependency{{JobID: parent, Type: api.AfterNotOK}}
	ids := h.submit(2, keep, kill)
	h.run(parent, api.StateSucceeded, 3)
	h.wantJob(ids[0], api.StatePending, api.ReasonDependencyNever)
	h.wantJob(ids[1], api.StateFailed, api.ReasonDependencyFailed)
	h.mustOK("hold", h.apply(raftfsm.OpHold, raftfsm.HoldCmd{IDs: ids[:1], Hold: true, CallerUID: 1000, Now: 4}))
	h.mustOK("release", h.apply(raftfsm.OpHold, raftfsm.HoldCmd{IDs: ids[:1], CallerUID: 1000, Now: 5}))
	h.wantJob(ids[0], api.StatePending, api.ReasonDependencyNever)
	// A job submitted after the parent ended waits the same way.
	late := newJob("late")
	late.DependsOn = []api.Dependency{{JobID: parent, Type: api.AfterNotOK}}
	late.KeepOnInvalidDep = true
	h.wantJob(h.submit(6, late)[0], api.StatePending, api.ReasonDependencyNever)
	h.mustOK("cancel", h.stop(raftfsm.StopCmd{ID: ids[0], Reason: "scancel", CallerUID: 1000, Now: 7}))
	h.wantJob(ids[0], api.StateFailed, "scancel")
}

// TestSlurm4_14_DeletePartition: a queue is deleted only DISABLED and
// without unfinished jobs, its compute environment only DISABLED and in
// no queue; the default queue stays (scontrol delete PartitionName=).
func TestSlurm4_14_DeletePartition(t *testing.T) {
	h := newHarness(t)
	del := func(op raftfsm.Op, name string) raftfsm.Result {
		if op == raftfsm.OpDeleteQueue {
			return h.apply(op, raftfsm.DeleteQueueCmd{Name: name})
		}
		return h.apply(op, raftfsm.DeleteCECmd{Name: name})
	}
	disable := func(name string) {
		q := *h.fsm.State().Queue(name)
		q.State = api.Disabled
		h.mustOK("disable queue "+name, h.apply(raftfsm.OpPutQueue, raftfsm.PutQueueCmd{Queue: q}))
	}
	j := newJob("waits")
	j.Queue = "short"
	id := h.submit(1, j)[0]
	wantErr(t, "delete an enabled queue", del(raftfsm.OpDeleteQueue, "short"), api.CodeConflict, "disable it")
	disable("short")
	wantErr(t, "delete a queue with a job", del(raftfsm.OpDeleteQueue, "short"), api.CodeConflict, "has not finished")
	h.mustOK("cancel", h.stop(raftfsm.StopCmd{ID: id, Reason: "x", CallerUID: 0, Now: 2}))
	wantErr(t, "delete an enabled CE", del(raftfsm.OpDeleteCE, "short"), api.CodeConflict, "disable it")
	ce := *h.fsm.State().ComputeEnvironment("short")
	ce.State = api.Disabled
	h.mustOK("disable ce", h.apply(raftfsm.OpPutCE, raftfsm.PutCECmd{CE: ce}))
	wantErr(t, "delete a CE a queue uses", del(raftfsm.OpDeleteCE, "short"), api.CodeConflict, "used by job queue short")
	h.mustOK("delete queue", del(raftfsm.OpDeleteQueue, "short"))
	if h.fsm.State().Queue("short") != nil {
		t.Fatal("queue short is still there")
	}
	h.mustOK("delete ce", del(raftfsm.OpDeleteCE, "short"))
	wantErr(t, "delete it again", del(raftfsm.OpDeleteCE, "short"), api.CodeNotFound, "does not exist")
	disable(api.DefaultQueue)
	wantErr(t, "delete the default queue", del(raftfsm.OpDeleteQueue, api.DefaultQueue), api.CodeConflict, "default queue")
}

// TestSlurm2_26_TopReordersOwnJobs pins scontrol top (test 2.26): top
// 3,2 puts job 3 then 2 ahead of 1; top 1 then puts 1 ahead of both. The
// priorities are dealt out again among the user's own waiting jobs of the
// queue, so another user's job keeps its place; a held or started job, or
// another user's, is refused.
func TestSlurm2_26_TopReordersOwnJobs(t *testing.T) {
	h := newHarness(t)
	bob := newJob("bob")
	bob.User, bob.UID = "bob", 1001
	ids := h.submit(1, newJob("a"), newJob("b"), newJob("c"), bob)
	before := h.job(ids[3]).Priority
	top := func(uid uint32, list ...uint64) raftfsm.Result {
		return h.apply(raftfsm.OpTop, raftfsm.TopCmd{IDs: list, CallerUID: uid})
	}
	p := func(i int) int64 { return h.job(ids[i]).Priority }
	h.mustOK("top 3,2", top(1000, ids[2], ids[1]))
	if !(p(2) > p(1) && p(1) > p(0)) {
		t.Fatalf("after top %d,%d: priorities %d %d %d, want the third highest, then the second, then the first", ids[2], ids[1], p(0), p(1), p(2))
	}
	h.mustOK("top 1", top(1000, ids[0]))
	if !(p(0) > p(1) && p(0) > p(2)) {
		t.Fatalf("after top %d: priorities %d %d %d, want the first highest", ids[0], p(0), p(1), p(2))
	}
	if p(3) != before {
		t.Fatalf("bob's job moved from %d to %d, want it left alone", before, p(3))
	}
	wantErr(t, "top of bob's job", top(1000, ids[3]), api.CodeForbidden)
	h.mustOK("hold", h.apply(raftfsm.OpHold, raftfsm.HoldCmd{IDs: ids[:1], Hold: true, CallerUID: 1000, Now: 2}))
	wantErr(t, "top of a held job", top(1000, ids[0]), api.CodeConflict, "held")
}

// A job niced far down and put on top, its nice then taken back, gets no
// more than the priorities dealt out among its user's jobs: top deals
// out priorities before nice, and each job keeps its own.
func TestTopThenUnniceGainsNothing(t *testing.T) {
	h := newHarness(t)
	bob := newJob("bob")
	bob.User, bob.UID = "bob", 1001
	niced := newJob("niced")
	niced.Nice = 2_000_000_000
	ids := h.submit(1, bob, newJob("mine"), niced)
	ceiling := max(h.job(ids[1]).Priority, h.job(ids[2]).Priority+niced.Nice)
	h.mustOK("top the niced job", h.apply(raftfsm.OpTop, raftfsm.TopCmd{IDs: ids[2:], CallerUID: 1000}))
	zero := int64(0)
	h.mustOK("nice 0", h.apply(raftfsm.OpUpdateJob, raftfsm.UpdateJobCmd{Update: api.UpdateJobRequest{ID: ids[2], Nice: &zero}, CallerUID: 1000}))
	if p := h.job(ids[2]).Priority; p > ceiling || p > h.job(ids[0]).Priority {
		t.Errorf("after top and nice 0: priority %d, above its user's best %d or bob's %d", p, ceiling, h.job(ids[0]).Priority)
	}
}

// TestSlurm3_4_PriorityOfAStartedJob pins scontrol update Priority= as
// Slurm's test 3.4 uses it: a held job is released, starts at once, and
// its priority is then set; Slurm changes the priority (and nice) of a
// running job, not its partition or begin time, and of no job that has
// ended.
func TestSlurm3_4_PriorityOfAStartedJob(t *testing.T) {
	h := newHarness(t)
	h.register(1, api.Node{Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}})
	held := newJob("held")
	held.Held = true
	id := h.submit(2, held)[0]
	h.mustOK("release", h.apply(raftfsm.OpHold, raftfsm.HoldCmd{IDs: []uint64{id}, CallerUID: 0, Now: 3}))
	if h.place(4, raftfsm.Placement{JobID: id, Node: "n1"}) != 1 {
		t.Fatal("the released job was not placed")
	}
	h.events(5, api.JobEvent{ID: id, Node: "n1", State: api.StateRunning})
	update := func(u api.UpdateJobRequest) raftfsm.Result {
		return h.apply(raftfsm.OpUpdateJob, raftfsm.UpdateJobCmd{Update: u, CallerUID: 0})
	}
	one, ten := int64(1), int64(10)
	h.mustOK("update Priority=1 of a running job", update(api.UpdateJobRequest{ID: id, Priority: &one}))
	if j := h.job(id); j.Priority != 1 || !j.PriorityFixed || j.State != api.StateRunning {
		t.Fatalf("after Priority=1: priority %d fixed %v state %s, want 1, true, RUNNING", j.Priority, j.PriorityFixed, j.State)
	}
	h.mustOK("update Nice=10 of a running job", update(api.UpdateJobRequest{ID: id, Nice: &ten}))
	q := "other"
	wantErr(t, "partition of a running job", update(api.UpdateJobRequest{ID: id, Queue: &q}), api.CodeConflict, "queue or begin time")
	h.events(6, api.JobEvent{ID: id, Node: "n1", State: api.StateSucceeded, ExitCode: intp(0)})
	wantErr(t, "priority of an ended job", update(api.UpdateJobRequest{ID: id, Priority: &ten}), api.CodeConflict, "ended")
}

// TestSlurm17_19_PlacedInAnotherQueue: a job of several queues
// (sbatch --partition=a,b) placed in one of them other than its Queue
// runs in it: its Queue becomes that one; a placement in a queue it did
// not name is skipped. While it waits it holds every queue it names (a
// queue it may start in is not deleted); once started, only its own.
func TestSlurm17_19_PlacedInAnotherQueue(t *testing.T) {
	h := newHarness(t)
	h.register(1, api.Node{Name: "n1", Boot: "b1", Labels: queues("short"), Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}})
	j := newJob("two")
	j.Queue, j.Queues = api.DefaultQueue, []string{api.DefaultQueue, "short"}
	id := h.submit(2, j)[0]
	q := *h.fsm.State().Queue("short")
	q.State = api.Disabled
	h.mustOK("disable short", h.apply(raftfsm.OpPutQueue, raftfsm.PutQueueCmd{Queue: q}))
	wantErr(t, "delete a queue a waiting job may start in", h.apply(raftfsm.OpDeleteQueue, raftfsm.DeleteQueueCmd{Name: "short"}), api.CodeConflict, "has not finished")
	q.State = api.Enabled
	h.mustOK("enable short", h.apply(raftfsm.OpPutQueue, raftfsm.PutQueueCmd{Queue: q}))
	if n := h.place(3, raftfsm.Placement{JobID: id, Node: "n1", CE: "short", Queue: "gpu"}); n != 0 {
		t.Fatal("placed in a queue the job did not name")
	}
	if n := h.place(3, raftfsm.Placement{JobID: id, Node: "n1"}); n != 0 {
		t.Fatal("placed in its Queue (default) on a node of short only")
	}
	if n := h.place(4, raftfsm.Placement{JobID: id, Node: "n1", CE: "short", Queue: "short"}); n != 1 {
		t.Fatal("not placed in short, one of its queues")
	}
	got := h.job(id)
	if got.Queue != "short" || got.ComputeEnvironment != "short" || got.State != api.StateStarting {
		t.Fatalf("after the placement: queue %q ce %q state %s, want short, short, STARTING", got.Queue, got.ComputeEnvironment, got.State)
	}
	if w := got.WaitingQueues(); len(w) != 1 || w[0] != "short" {
		t.Fatalf("a started job's queues %v, want [short]", w)
	}
}

// TestSlurm17_19_UpdateToSeveralQueues: scontrol update Partition=a,b
// moves a waiting job to both (Queue their first); a single queue after
// that drops the list; queues without Queue, their first, are refused.
func TestSlurm17_19_UpdateToSeveralQueues(t *testing.T) {
	h := newHarness(t)
	id := h.submit(1, newJob("moves"))[0]
	update := func(u api.UpdateJobRequest) raftfsm.Result {
		u.ID = id
		return h.apply(raftfsm.OpUpdateJob, raftfsm.UpdateJobCmd{Update: u, CallerUID: 1000})
	}
	short, other := "short", "other"
	h.mustOK("update Partition=short,other", update(api.UpdateJobRequest{Queue: &short, Queues: []string{"short", "other"}}))
	if j := h.job(id); j.Queue != "short" || !slices.Equal(j.WaitingQueues(), []string{"short", "other"}) {
		t.Fatalf("after Partition=short,other: queue %q, waiting in %v", j.Queue, j.WaitingQueues())
	}
	wantErr(t, "queues without their first as Queue", update(api.UpdateJobRequest{Queue: &other, Queues: []string{"short", "other"}}), api.CodeInvalid, "their first")
	h.mustOK("update Partition=other", update(api.UpdateJobRequest{Queue: &other}))
	if j := h.job(id); j.Queue != "other" || j.Queues != nil {
		t.Fatalf("after Partition=other: queue %q queues %v, want other alone", j.Queue, j.Queues)
	}
}

// TestSlurm3_4_UsersLowerPriorityOnly: as in Slurm, a job's owner may
// lower its priority, not raise it, and what the owner sets is not kept
// through a release (Slurm's "not persistent"); root's is.
func TestSlurm3_4_UsersLowerPriorityOnly(t *testing.T) {
	h := newHarness(t)
	id := h.submit(1, newJob("mine"))[0]
	update := func(uid uint32, prio int64) raftfsm.Result {
		return h.apply(raftfsm.OpUpdateJob, raftfsm.UpdateJobCmd{Update: api.UpdateJobRequest{ID: id, Priority: &prio}, CallerUID: uid})
	}
	was := h.job(id).Priority
	wantErr(t, "the owner raises the priority", update(1000, was+1), api.CodeForbidden, "only root may raise")
	h.mustOK("the owner lowers the priority", update(1000, 5))
	if j := h.job(id); j.Priority != 5 || j.PriorityFixed {
		t.Fatalf("after the owner's Priority=5: priority %d fixed %v, want 5, not fixed", j.Priority, j.PriorityFixed)
	}
	h.mustOK("hold", h.apply(raftfsm.OpHold, raftfsm.HoldCmd{IDs: []uint64{id}, Hold: true, CallerUID: 1000, Now: 2}))
	h.mustOK("release", h.apply(raftfsm.OpHold, raftfsm.HoldCmd{IDs: []uint64{id}, CallerUID: 1000, Now: 3}))
	if p := h.job(id).Priority; p == 5 {
		t.Fatal("the owner's priority was kept through a release")
	}
	h.mustOK("root raises it", update(0, was+100))
	if j := h.job(id); j.Priority != was+100 || !j.PriorityFixed {
		t.Fatalf("after root's Priority: priority %d fixed %v, want %d, fixed", j.Priority, j.PriorityFixed, was+100)
	}
}
