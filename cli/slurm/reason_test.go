package slurm

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// TestRecordedReasons: squeue's %r and START_TIME (--start) and scontrol
// show job's Reason= and StartTime= show what the scheduler recorded; a
// job held by root is JobHeldAdmin.
func TestRecordedReasons(t *testing.T) {
	jobs, nodes, queues, ces := fixtureShoal()
	now := fixtures["shoal"].now
	est := now.Add(90 * time.Minute).UnixMilli()
	var waiting []uint64
	for i := range jobs {
		j := &jobs[i]
		if j.State != api.StateRunnable || j.BeginAt > now.UnixMilli() {
			continue
		}
		waiting = append(waiting, j.ID)
		switch len(waiting) {
		case 1:
			j.WaitReason, j.EstimatedStartAt = "Resources", est
		case 2:
			j.WaitReason = "Priority"
		}
	}
	if len(waiting) < 2 {
		t.Fatalf("the shoal fixture has %d RUNNABLE jobs, want 2", len(waiting))
	}
	held := jobs[0]
	held.ID, held.State, held.Held, held.HeldByAdmin, held.Node, held.StartedAt, held.StoppedAt = 999, api.StatePending, true, true, "", 0, 0
	held.ExitCode = nil
	jobs = append(jobs, held)
	run := func(cmd func(*Ctx, []string) int, args ...string) string {
		t.Helper()
		f := &viewFake{jobs: jobs, nodes: nodes, now: now, queues: queues, ces: ces}
		setDefaultPartition(t, api.DefaultQueue)
		var out, errs bytes.Buffer
		c := &Ctx{Client: f, Stdout: &out, Stderr: &errs, Stdin: strings.NewReader(""),
			Env: []string{"USER=root"}, Now: func() time.Time { return now },
			Getwd: func() (string, error) { return "/root", nil }, Hostname: "vm", User: "root"}
		if rc := cmd(c, args); rc != 0 {
			t.Fatalf("%v: rc %d: %s", args, rc, errs.String())
		}
		return out.String()
	}
	id := func(n uint64) string { return api.FormatID(n) }
	got := run(Squeue, "-h", "-o", "%i %r %S")
	for _, want := range []string{
		id(waiting[0]) + " Resources " + time.UnixMilli(est).In(now.Location()).Format("2006-01-02T15:04:05"),
		id(waiting[1]) + " Priority N/A",
		"999 JobHeldAdmin N/A",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("squeue -o '%%i %%r %%S': want a line %q in\n%s", want, got)
		}
	}
	start := run(Squeue, "--start", "-h")
	if lines := strings.Split(strings.TrimSpace(start), "\n"); !strings.Contains(lines[0], id(waiting[0])) {
		t.Errorf("squeue --start: want the job with an estimate first, got\n%s", start)
	}
	show := run(Scontrol, "show", "job", id(waiting[0]))
	for _, want := range []string{"Reason=Resources", "StartTime=" + time.UnixMilli(est).In(now.Location()).Format("2006-01-02T15:04:05")} {
		if !strings.Contains(show, want) {
			t.Errorf("scontrol show job: want %q in\n%s", want, show)
		}
	}
}
