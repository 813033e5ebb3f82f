package daemon

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
	"github.com/shoal-batch/shoal/sched"
)

// TestReasonChanges: only waits whose reason or estimate moved are
// recorded, grouped by reason and estimate, at most max jobs a command.
func TestReasonChanges(t *testing.T) {
	recorded := func(reason string, start int64) *sched.Job {
		return &sched.Job{State: api.StateRunnable, WaitReason: reason, EstimatedStartAt: start}
	}
	waits := []sched.Wait{
		{JobID: 1, Job: recorded("Resources", 1_000_000), Reason: "Resources", StartAt: 1_000_000 + estimateSlack - 1}, // same
		{JobID: 2, Job: recorded("", 0), Reason: "Resources", StartAt: 5_000_000},
		{JobID: 3, Job: recorded("Resources", 0), Reason: "Priority"},
		{JobID: 4, Job: recorded("", 0), Reason: "Resources", StartAt: 5_000_000},
		{JobID: 5, Job: recorded("Resources", 1_000_000), Reason: "Resources", StartAt: 1_000_000 + estimateSlack}, // moved
		{JobID: 6, Job: recorded("", 0), Reason: ""},                                                               // not considered
		{JobID: 7, Job: recorded("Priority", 0), Reason: "Priority", StartAt: 9},                                   // now estimated
	}
	got := reasonChanges(waits, 3)
	want := []raftfsm.JobReasonsCmd{
		{Groups: []raftfsm.ReasonGroup{{Reason: "Resources", StartAt: 5_000_000, IDs: []uint64{2, 4}}, {Reason: "Priority", IDs: []uint64{3}}}},
		{Groups: []raftfsm.ReasonGroup{{Reason: "Resources", StartAt: 1_000_000 + estimateSlack, IDs: []uint64{5}}, {Reason: "Priority", StartAt: 9, IDs: []uint64{7}}}},
	}
	if g, w := jsonOf(t, got), jsonOf(t, want); g != w {
		t.Errorf("reasonChanges:\ngot  %s\nwant %s", g, w)
	}
	if got := reasonChanges(waits[:1], 3); len(got) != 0 {
		t.Errorf("nothing changed: got %v, want no command", got)
	}
}

// TestSchedulerRecordsReasons: a real controller records why jobs wait
// (through raft), once; describe-jobs and explain tell them.
func TestSchedulerRecordsReasons(t *testing.T) {
	tc := startTestController(t, false) // node n1: 8 CPUs, 8 GiB
	spec := func(name string, cpus int, limit int64) api.JobSpec {
		return api.JobSpec{Name: name, Command: []string{"true"}, TimeLimit: limit,
			Resources: api.Resources{CPUs: cpus, MemoryMB: 1024}}
	}
	// n2 could run the big job, but is DOWN: it waits, reported.
	tc.mustCall(rootUser, api.PathNodeRegister, api.RegisterNodeRequest{
		Name: "n2", Boot: "b2", Capacity: api.Resources{CPUs: 64, MemoryMB: 8192}}, nil)
	tc.mustCall(rootUser, api.PathUpdateNode, api.UpdateNodeRequest{Name: "n2", State: api.NodeDown, Reason: "repair"}, nil)
	running := tc.submit(alice, spec("running", 6, 3600))
	top := tc.submit(alice, spec("top", 8, 3600))
	never := tc.submit(alice, spec("never", 64, 60))
	long := tc.submit(alice, spec("long", 2, 7200))
	want := map[uint64]string{top: sched.ReasonResources, never: sched.ReasonReqNodeNotAvail, long: sched.ReasonPriority}
	deadline := time.After(20 * time.Second)
	for {
		_, changed := tc.c.fsm.Changed()
		st := tc.c.fsm.State()
		done := st.Job(running).State == api.StateStarting
		for id, r := range want {
			done = done && st.Job(id).WaitReason == r
		}
		if done {
			break
		}
		select {
		case <-changed:
		case <-deadline:
			for id, r := range want {
				t.Errorf("job %d: recorded %q, want %q", id, st.Job(id).WaitReason, r)
			}
			t.Fatalf("reasons not recorded within 20s")
		}
	}
	st := tc.c.fsm.State()
	if at := st.Job(top).EstimatedStartAt; at == 0 {
		t.Errorf("top job: no estimated start recorded")
	}
	// A further pass finds nothing to record: no raft write per pass.
	if cmds := reasonChanges(sched.ScheduleWith(st, tc.c.nowMillis(), tc.c.cfg.Sched).Waits, maxReasonsPerEntry); len(cmds) != 0 {
		t.Errorf("a pass over the recorded state would record %+v, want nothing", cmds)
	}

	var desc api.AWSDescribeJobsResponse
	tc.mustCall(alice, "/v1/describejobs", api.AWSDescribeJobsRequest{Jobs: []string{api.FormatID(never)}}, &desc)
	if len(desc.Jobs) != 1 || !strings.HasPrefix(desc.Jobs[0].StatusReason, "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT") {
		t.Errorf("describe-jobs: statusReason %+v, want MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT ...", desc.Jobs)
	}

	var e api.Explanation
	tc.mustCall(bob, api.PathExplain, api.ExplainRequest{ID: long}, &e)
	if e.Reason != sched.ReasonPriority || e.Blocker != top || e.Ahead != 1 || !strings.Contains(e.Detail, "--time=") {
		t.Errorf("explain long job: %+v, want Priority behind job %d with a time limit hint", e, top)
	}
	tc.mustCall(alice, api.PathExplain, api.ExplainRequest{ID: top}, &e)
	if e.Reason != sched.ReasonResources || !e.Reserved || e.Node != "n1" || e.Shortfall == nil ||
		e.Shortfall.Resource != "cpus" || e.Shortfall.Asked != 8 || e.Shortfall.FreeNow != 2 || e.Shortfall.AtMost != 8 {
		t.Errorf("explain top job: %+v (shortfall %+v), want Resources reserved on n1, cpus 8 asked, 2 free, 8 at most", e, e.Shortfall)
	}
	tc.mustCall(alice, api.PathExplain, api.ExplainRequest{ID: never}, &e)
	if e.Reason != sched.ReasonReqNodeNotAvail || e.Shortfall == nil || len(e.Shortfall.Unavailable) != 1 || !strings.Contains(e.Detail, "n2") {
		t.Errorf("explain big job: %+v, want ReqNodeNotAvail naming n2", e)
	}
	after := spec("after", 1, 60)
	after.DependsOn = []api.Dependency{{JobID: top}}
	dep := tc.submit(alice, after)
	tc.mustCall(alice, api.PathExplain, api.ExplainRequest{ID: dep}, &e)
	if want := fmt.Sprintf("afterok:%d (RUNNABLE)", top); e.Reason != sched.ReasonDependency || !strings.Contains(e.Detail, want) {
		t.Errorf("explain dependent job: %q %q, want Dependency naming %s", e.Reason, e.Detail, want)
	}
	if status, _ := tc.call(alice, api.PathExplain, api.ExplainRequest{ID: 9999}, nil); status != 404 {
		t.Errorf("explain of an unknown job: HTTP %d, want 404", status)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
