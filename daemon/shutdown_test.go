package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// rawAnswer is what one client got: an HTTP status and body, or the
// transport error when the controller closed the connection first.
type rawAnswer struct {
	what   string
	status int
	body   string
	err    error
}

// postRaw POSTs req as root on the socket, never failing the test (it runs
// on goroutines that outlive the controller).
func postRaw(hc *http.Client, what, path string, req any) rawAnswer {
	body, _ := json.Marshal(req)
	res, err := hc.Post("http://unix"+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return rawAnswer{what: what, err: err}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	return rawAnswer{what: what, status: res.StatusCode, body: string(data), err: err}
}

// parked counts the goroutines whose stacks run fn (a long poll handler).
func parked(fn string) int {
	buf := make([]byte, 8<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), fn)
}

// TestCloseEndsEverythingInFlight parks node work long polls and job waits,
// starts a burst of submits, and closes the controller: Close returns
// within a bound, every client gets an answer (the long polls a 503 that
// says the controller is shutting down), and no goroutine is left behind.
func TestCloseEndsEverythingInFlight(t *testing.T) {
	before := runtime.NumGoroutine()
	tc := startTestController(t, false)
	job := tc.submit(rootUser, api.JobSpec{Name: "never-ends", Script: "#!/bin/sh\nsleep 1000\n"})

	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", tc.sock)
	}}
	hc := &http.Client{Transport: tr}
	const n = 20
	answers := make(chan rawAnswer, 4*n)
	submits := 0
	var clients sync.WaitGroup
	call := func(what, path string, req any) {
		clients.Add(1)
		go func() { defer clients.Done(); answers <- postRaw(hc, what, path, req) }()
	}
	for i := 0; i < n; i++ {
		// An index no state reaches: the poll waits its full time.
		call("node work", api.PathNodeWork, api.NodeWorkRequest{Name: "n1", Boot: "b1", AfterIndex: 1 << 62, WaitMillis: 600_000})
		call("job wait", api.PathWait, api.WaitJobRequest{ID: job, States: []api.JobState{api.StateSucceeded}, WaitMillis: 600_000})
	}
	deadline := time.Now().Add(10 * time.Second)
	for parked("(*Controller).nodeWork(") < n || parked("(*Controller).waitJob(") < n {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s only %d node polls and %d waits are parked, want %d each",
				parked("(*Controller).nodeWork("), parked("(*Controller).waitJob("), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Submitters that keep submitting until the controller refuses: Close
	// comes while their commands are queued and in raft.
	var accepted sync.WaitGroup
	accepted.Add(n)
	for i := 0; i < 2*n; i++ {
		clients.Add(1)
		go func() {
			defer clients.Done()
			for k := 0; ; k++ {
				a := postRaw(hc, "submit", api.PathSubmit, api.SubmitJobRequest{JobSpec: api.JobSpec{
					Name: fmt.Sprintf("burst-%d-%d", i, k), Script: "#!/bin/sh\ntrue\n"}})
				if a.err != nil || a.status != http.StatusOK {
					answers <- a
					return
				}
				if k == 0 && i < n {
					accepted.Done()
				}
			}
		}()
	}
	accepted.Wait() // submits are flowing
	// And commands from inside the controller (its loops propose so),
	// many more than the applier's queue holds, never stopping.
	internal := make(chan error, 4*maxBatch)
	for i := 0; i < 4*maxBatch; i++ {
		clients.Add(1)
		go func() {
			defer clients.Done()
			for {
				_, err := tc.c.applier.Apply(context.Background(), raftfsm.OpJobEvents, raftfsm.JobEventsCmd{Now: tc.c.nowMillis()})
				if err != nil {
					internal <- err
					return
				}
			}
		}()
	}

	start := time.Now()
	if err := tc.c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	took := time.Since(start)
	if took > 5*time.Second {
		t.Errorf("Close took %s under %d long polls, %d waits and %d submits, want under 5s", took, n, n, 2*n)
	}
	t.Logf("Close took %s", took)

	done := make(chan struct{})
	go func() { clients.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("clients still waiting for an answer 5s after Close returned")
	}
	close(answers)
	close(internal)
	for err := range internal {
		if !errors.Is(err, errShuttingDown) {
			t.Errorf("a command proposed during Close failed with %v, want %v", err, errShuttingDown)
			break
		}
	}
	if _, err := tc.c.applier.Apply(context.Background(), raftfsm.OpJobEvents, raftfsm.JobEventsCmd{Now: tc.c.nowMillis()}); !errors.Is(err, errShuttingDown) {
		t.Errorf("a command proposed after Close: %v, want %v", err, errShuttingDown)
	}
	counts := map[string]int{}
	for a := range answers {
		switch {
		case a.what != "submit" && (a.status != http.StatusServiceUnavailable || !strings.Contains(a.body, "controller is shutting down")):
			t.Errorf("%s: HTTP %d %q (err %v), want 503 saying the controller is shutting down", a.what, a.status, a.body, a.err)
		case a.what == "submit" && a.err == nil && a.status != http.StatusOK &&
			(a.status != http.StatusServiceUnavailable || !strings.Contains(a.body, "shutting down")):
			t.Errorf("submit: HTTP %d %q, want 200, or 503 saying the controller is shutting down", a.status, a.body)
		}
		counts[fmt.Sprintf("%s %d", a.what, a.status)]++
		if a.what == "submit" {
			submits++
		}
	}
	t.Logf("answers: %v", counts)
	if submits != 2*n {
		t.Errorf("%d submitters saw the controller refuse, want all %d", submits, 2*n)
	}

	tr.CloseIdleConnections()
	// Goroutines that were told to stop may take a moment to be gone.
	deadline = time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+5 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := runtime.NumGoroutine(); got > before+5 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after Close, %d before Start: leaked\n%s", got, before, buf[:runtime.Stack(buf, true)])
	}
}
