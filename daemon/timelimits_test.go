package daemon

import (
	"slices"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// fsmWith applies commands to a fresh FSM, failing the test on a refusal.
func fsmWith(t *testing.T, cmds ...func() (raftfsm.Op, any)) *raftfsm.FSM {
	t.Helper()
	f := raftfsm.New()
	for i, c := range cmds {
		op, body := c()
		entry, err := raftfsm.Encode(op, body)
		if err != nil {
			t.Fatal(err)
		}
		if res, ok := f.Apply(uint64(i+1), entry).(raftfsm.Result); !ok || res.Err != nil {
			t.Fatalf("command %d (op %d): %+v", i, op, res.Err)
		}
	}
	return f
}

func cmd(op raftfsm.Op, body any) func() (raftfsm.Op, any) {
	return func() (raftfsm.Op, any) { return op, body }
}

func waitingJob(name string, deadline, limit int64) api.Job {
	return api.Job{JobSpec: api.JobSpec{Name: name, Queue: api.DefaultQueue, Command: []string{"true"},
		Resources: api.Resources{CPUs: 1, MemoryMB: 64}, DeadlineAt: deadline, TimeLimit: limit}, User: "u", UID: 1000}
}

// TestDeadlinesDue: a waiting job is due once now reaches its deadline
// less its time limit; one without a deadline never is.
func TestDeadlinesDue(t *testing.T) {
	f := fsmWith(t, cmd(raftfsm.OpSubmit, raftfsm.SubmitCmd{Now: 1, Jobs: []api.Job{
		waitingJob("no-limit", 100_000, 0), waitingJob("limit-60s", 100_000, 60), waitingJob("none", 0, 0)}}))
	for _, tc := range []struct {
		now  int64
		want []uint64
	}{{39_999, nil}, {40_000, []uint64{2}}, {99_999, []uint64{2}}, {100_000, []uint64{1, 2}}} {
		got := f.State().DeadlinesDue(tc.now)
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("at %d: due %v, want %v", tc.now, got, tc.want)
		}
	}
}

// TestStateTimeLimitsDue: a queue's jobStateTimeLimitActions cancel a
// RUNNABLE job whose statusReason starts with the action's reason once it
// has been RUNNABLE longer than maxTimeSeconds, counted from when it became
// RUNNABLE (not from its submission), with a reason that says so.
func TestStateTimeLimitsDue(t *testing.T) {
	const reason = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - "
	q, ce := api.DefaultQueueObject()
	q.JobStateTimeLimitActions = []api.JobStateTimeLimitAction{{Reason: "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT", State: "RUNNABLE", MaxTimeSeconds: 600, Action: "CANCEL"}}
	stuck := waitingJob("stuck", 0, 0)
	stuck.StatusReason = reason + "needs 64 CPUs"
	fine := waitingJob("fine", 0, 0)
	held := waitingJob("held", 0, 0)
	held.Held, held.StatusReason = true, reason+"needs 64 CPUs"
	f := fsmWith(t,
		cmd(raftfsm.OpPutCE, raftfsm.PutCECmd{Create: true, CE: *ce}),
		cmd(raftfsm.OpPutQueue, raftfsm.PutQueueCmd{Queue: *q}),
		cmd(raftfsm.OpSubmit, raftfsm.SubmitCmd{Now: 1_000, Jobs: []api.Job{stuck, fine, held}}),
		// released later: RUNNABLE from 500_000 on
		cmd(raftfsm.OpHold, raftfsm.HoldCmd{IDs: []uint64{3}, Hold: false, Now: 500_000}))
	if got := stateTimeLimitsDue(f.State(), 601_000); len(got) != 0 {
		t.Fatalf("at 601 s: due %+v, want none (600 s not yet passed)", got)
	}
	got := stateTimeLimitsDue(f.State(), 601_001)
	if len(got) != 1 || got[0].ID != 1 || !strings.HasPrefix(got[0].Reason, stuck.StatusReason) || !strings.Contains(got[0].Reason, "600 seconds RUNNABLE") {
		t.Fatalf("at 601.001 s: due %+v, want job 1 cancelled with its reason and the limit", got)
	}
	if got := stateTimeLimitsDue(f.State(), 1_100_001); len(got) != 2 || got[1].ID != 3 {
		t.Fatalf("at 1100.001 s: due %+v, want jobs 1 and 3 (3 RUNNABLE since 500 s)", got)
	}
}
