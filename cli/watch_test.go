package cli_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/cli"
)

// TestWatch runs `shoal watch JOB` against a real controller: it prints
// the held job, then its end once cancelled, and exits 0 as the job has
// ended; an unknown job is an error.
func TestWatch(t *testing.T) {
	sock, cl := startController(t)
	ctx := context.Background()
	resp, err := cl.Submit(ctx, api.SubmitJobRequest{JobSpec: api.JobSpec{Name: "watched", Command: []string{"true"}, Held: true}})
	if err != nil {
		t.Fatal(err)
	}
	id := api.FormatID(resp.ID)
	type result struct {
		out string
		rc  int
	}
	done := make(chan result)
	watch := func(args ...string) {
		var out, errs bytes.Buffer
		rc := cli.Run(cli.NewApp(&out, &errs), append([]string{"shoal", "--controller", sock, "watch"}, args...))
		done <- result{out.String() + errs.String(), rc}
	}
	go watch(id)
	// The watch has answered once (the held job) before or after this
	// cancel; either way it ends with the job's end.
	if err := cl.Cancel(ctx, resp.ID, "not needed"); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.rc != 0 || !strings.Contains(r.out, " "+id+" watched FAILED: not needed\n") {
			t.Errorf("shoal watch %s: exit %d:\n%s", id, r.rc, r.out)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("shoal watch did not end with the job")
	}
	go watch("999")
	if r := <-done; r.rc != cli.ExitError || !strings.Contains(r.out, "job 999 does not exist") {
		t.Errorf("shoal watch 999: exit %d: %s", r.rc, r.out)
	}
}
