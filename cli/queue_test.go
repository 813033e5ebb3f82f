package cli

import (
	"bytes"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// TestQueueShowsCause: a FAILED job's row names why it failed, as the
// JSON's cause has it, so a timeout, an OOM kill, a cancel and a lost
// node are told apart from a non-zero exit.
func TestQueueShowsCause(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	ago := now.Add(-90 * time.Second).UnixMilli()
	job := func(id uint64, state api.JobState, cause api.Cause, node string) api.Job {
		return api.Job{ID: id, User: "alice", Node: node, State: state, Cause: cause,
			CreatedAt: ago, JobSpec: api.JobSpec{Name: "j", Queue: "default"}}
	}
	jobs := []api.Job{
		job(1, api.StateSucceeded, "", "n1"),
		job(2, api.StateFailed, api.CauseExitCode, "n1"),
		job(3, api.StateFailed, api.CauseTimeout, "n1"),
		job(4, api.StateFailed, api.CauseOOM, "n1"),
		job(5, api.StateFailed, api.CauseCancelled, ""),
		job(6, api.StateFailed, api.CauseNodeLost, "n2"),
		job(7, api.StateRunning, "", "n1"),
		job(8, api.StateFailed, "", ""), // from before causes were recorded
	}
	var out bytes.Buffer
	if err := printQueue(&out, jobs, now); err != nil {
		t.Fatal(err)
	}
	want := `ID  NAME  USER   STATE      CAUSE      QUEUE    NODE  AGE
1   j     alice  SUCCEEDED  -          default  n1    1m
2   j     alice  FAILED     exit_code  default  n1    1m
3   j     alice  FAILED     timeout    default  n1    1m
4   j     alice  FAILED     oom        default  n1    1m
5   j     alice  FAILED     cancelled  default  -     1m
6   j     alice  FAILED     node_lost  default  n2    1m
7   j     alice  RUNNING    -          default  n1    1m
8   j     alice  FAILED     -          default  -     1m
`
	if out.String() != want {
		t.Errorf("shoal queue printed\n%s\nwant\n%s", out.String(), want)
	}
}
