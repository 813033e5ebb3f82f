package api

import (
	"encoding/json"
	"reflect"
	"testing"
)

// droppedJob is a job run and requeued more times than MaxJobAttempts
// keeps (runs attempts recorded, the oldest dropped), then cancelled
// while it waited: its current attempt never ran.
func droppedJob(runs int) Job {
	j := Job{ID: 7, State: StateFailed, Cause: CauseCancelled, StatusReason: "Cancelled by scancel", Node: "n1",
		Attempt: runs, AttemptsDropped: runs - MaxJobAttempts, StoppedAt: 9000}
	for n := runs - MaxJobAttempts + 1; n <= runs; n++ {
		j.Attempts = append(j.Attempts, Attempt{Node: "n1", StartedAt: int64(n * 10), StoppedAt: int64(n*10 + 5), Cause: CauseRequeued})
	}
	return j
}

// TestAttemptHistoryCountsDropped: the current attempt is in a job's
// history only when Attempt counts more than were recorded, dropped
// ones included: a job cancelled while it waited, past MaxJobAttempts,
// has the attempts it keeps and no more; one that ran its current
// attempt has it too.
func TestAttemptHistoryCountsDropped(t *testing.T) {
	j := droppedJob(MaxJobAttempts + 5)
	if h := j.AttemptHistory(); len(h) != MaxJobAttempts || h[len(h)-1] != j.Attempts[len(j.Attempts)-1] {
		t.Errorf("cancelled while waiting: history of %d ending %+v; want the %d kept", len(h), h[len(h)-1], MaxJobAttempts)
	}
	ran := j
	ran.Attempt++ // placed once more, and ended
	ran.State, ran.Cause, ran.StartedAt = StateSucceeded, "", 8000
	if h := ran.AttemptHistory(); len(h) != MaxJobAttempts+1 || h[len(h)-1].StartedAt != 8000 || h[len(h)-1].StoppedAt != 9000 {
		t.Errorf("ended after a run: history of %d ending %+v; want the %d kept and the run", len(h), h[len(h)-1], MaxJobAttempts)
	}
}

// TestJobListsCarryAttemptsDropped: the dropped count reads back from the
// JSON list (the fast scanner as encoding/json) and from the row form,
// repeated from the job before ("=") or not.
func TestJobListsCarryAttemptsDropped(t *testing.T) {
	a, b, c := droppedJob(MaxJobAttempts+5), droppedJob(MaxJobAttempts+5), droppedJob(MaxJobAttempts+9)
	b.ID, c.ID = 8, 9
	plain := Job{ID: 10, State: StateRunnable}
	jobs := []Job{a, b, c, plain}
	data, err := json.Marshal(ListJobsResponse{Count: len(jobs), Jobs: jobs})
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeJobList(data)
	if err != nil {
		t.Fatal(err)
	}
	for i, j := range got.Jobs {
		if j.AttemptsDropped != jobs[i].AttemptsDropped || !reflect.DeepEqual(j, jobs[i]) {
			t.Errorf("JSON list: job %d decoded with %d dropped, %+v; want %d", jobs[i].ID, j.AttemptsDropped, j, jobs[i].AttemptsDropped)
		}
	}
	// The fast scanner reads the field itself.
	var j Job
	s := &scan{b: []byte(`12`)}
	if err := s.jobField(&j, "attemptsDropped"); err != nil || j.AttemptsDropped != 12 {
		t.Errorf("scanner: attemptsDropped 12 read as %d (%v)", j.AttemptsDropped, err)
	}
	if rowCopier("attemptsDropped") == nil {
		t.Errorf("no row copier for attemptsDropped: a repeat decodes again")
	}
	for _, fields := range [][]string{
		{"jobId", "status", "node", "attempt", "attempts", "attemptsDropped"},
		{"jobId", "attemptsDropped"},
	} {
		cells := refCells(t, jobs, fields)
		rows, js := refRows(t, cells, fields), refJSON(cells, fields)
		want, err := DecodeJobList(js)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeJobRows(rows)
		if err != nil {
			t.Fatalf("rows %q: %v", rows, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("fields %v: rows decode to\n%+v\nJSON to\n%+v", fields, got, want)
		}
		for i, j := range got.Jobs {
			if j.AttemptsDropped != jobs[i].AttemptsDropped {
				t.Errorf("fields %v: job %d from rows with %d dropped, want %d", fields, j.ID, j.AttemptsDropped, jobs[i].AttemptsDropped)
			}
		}
	}
}
