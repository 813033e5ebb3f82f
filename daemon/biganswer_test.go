package daemon

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// TestMemBigListsBounded: a list answered in JSON may not pass the
// bound (paged, it is answered); while one big answer holds the turn,
// another waits for it, and is refused as busy if it waits too long.
func TestMemBigListsBounded(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1")
	mc.c.bigLists = bigLists{turn: make(chan struct{}, 1), big: 16 << 10, max: 64 << 10, wait: 200 * time.Millisecond, sendTime: time.Minute}
	script := "#!/bin/sh\n# " + strings.Repeat("x", 4<<10) + "\ntrue\n"
	for range 30 {
		mc.submit(alice, api.JobSpec{Name: "big", Script: script, Dir: "/", Held: true, Resources: api.Resources{CPUs: 1, MemoryMB: 64}})
	}
	status, e := mc.call(alice, api.PathListJobs, api.ListJobsRequest{}, nil)
	if status != http.StatusBadRequest || !strings.Contains(e.Message, "over 64 KiB") || !strings.Contains(e.Message, "pages") {
		t.Errorf("a list of 30 jobs of 4 KiB scripts with a bound of 64 KiB: HTTP %d %q; want refused, saying to page it", status, e.Message)
	}
	var page api.ListJobsResponse
	if status, e := mc.call(alice, api.PathListJobs, api.ListJobsRequest{Limit: 10}, &page); status != http.StatusOK || len(page.Jobs) != 10 {
		t.Errorf("a page of 10: HTTP %d %q, %d jobs; want 10", status, e.Message, len(page.Jobs))
	}

	holder := mc.c.bigLists.gate()
	if err := holder.grew(20 << 10); err != nil {
		t.Fatal(err)
	}
	status, e = mc.call(alice, api.PathListJobs, api.ListJobsRequest{Limit: 10}, nil)
	if status != http.StatusServiceUnavailable || !strings.Contains(e.Message, "try again") {
		t.Errorf("a big page while another big answer holds the turn: HTTP %d %q; want refused as busy", status, e.Message)
	}
	waiting, done := make(chan struct{}, 1), make(chan struct{})
	mc.c.bigLists.wait = time.Minute
	mc.c.bigLists.onWait = func() { waiting <- struct{}{} }
	go func() {
		defer close(done)
		if status, e := mc.call(alice, api.PathListJobs, api.ListJobsRequest{Limit: 10}, &page); status != http.StatusOK {
			t.Errorf("a big page once the turn is free: HTTP %d %q", status, e.Message)
		}
	}()
	<-waiting // it waits for the turn
	holder.done()
	<-done
}
