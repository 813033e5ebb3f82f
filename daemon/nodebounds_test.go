package daemon

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shoal-batch/shoal/api"
)

// TestNodeRegisterBounds: a registration over a bound is refused with the
// field named (a 900,000-byte or non-hostname name, negative GPUs,
// capacities that would overflow the scheduler's sums, too many or too
// long labels, an oversized boot id), and the cluster takes no more than
// maxNodes nodes, while a known node still registers again.
func TestNodeRegisterBounds(t *testing.T) {
	mc := startMemController(t, Config{})
	ok := api.RegisterNodeRequest{Name: "node-01.rack_a", Boot: "b1", Capacity: api.Resources{CPUs: 8, MemoryMB: 8192, GPUs: 2, GPUTypes: "a100:2"},
		Labels: map[string]string{"zone": "a"}}
	mc.mustCall(rootUser, api.PathNodeRegister, ok, nil)

	manyLabels := map[string]string{}
	for i := range 100 {
		manyLabels[fmt.Sprintf("k%03d", i)] = strings.Repeat("v", 200)
	}
	bigLabels := map[string]string{}
	for i := range 40 {
		bigLabels[fmt.Sprintf("k%03d", i)] = strings.Repeat("v", 200) // 40 × 204 bytes: over 4 KiB
	}
	for _, c := range []struct {
		what  string
		edit  func(r *api.RegisterNodeRequest)
		field string
	}{
		{"a 900,000-byte name", func(r *api.RegisterNodeRequest) { r.Name = strings.Repeat("n", 900_000) }, "name"},
		{"a 65-byte name", func(r *api.RegisterNodeRequest) { r.Name = strings.Repeat("n", 65) }, "name"},
		{"a name with a space", func(r *api.RegisterNodeRequest) { r.Name = "n 1" }, "name"},
		{"a host list for a name", func(r *api.RegisterNodeRequest) { r.Name = "n[1-2]" }, "name"},
		{"a name with an escape", func(r *api.RegisterNodeRequest) { r.Name = "n\x1b[2J" }, "name"},
		{"a name beginning with '-'", func(r *api.RegisterNodeRequest) { r.Name = "-n1" }, "name"},
		{"-5 GPUs", func(r *api.RegisterNodeRequest) { r.Capacity.GPUs, r.Capacity.GPUTypes = -5, "" }, "capacity"},
		{"MaxInt64 CPUs", func(r *api.RegisterNodeRequest) { r.Capacity.CPUs = math.MaxInt64 }, "capacity"},
		{"MaxInt64 MiB", func(r *api.RegisterNodeRequest) { r.Capacity.MemoryMB = math.MaxInt64 }, "capacity"},
		{"more typed GPUs than GPUs", func(r *api.RegisterNodeRequest) { r.Capacity.GPUs = 1 }, "capacity"},
		{"100 labels of 200 bytes", func(r *api.RegisterNodeRequest) { r.Labels = manyLabels }, "labels"},
		{"8 KiB of labels", func(r *api.RegisterNodeRequest) { r.Labels = bigLabels }, "labels"},
		{"a 300-byte label value", func(r *api.RegisterNodeRequest) { r.Labels = map[string]string{"k": strings.Repeat("v", 300)} }, "labels"},
		{"a 1 KiB boot id", func(r *api.RegisterNodeRequest) { r.Boot = strings.Repeat("b", 1024) }, "boot"},
	} {
		req := ok
		req.Labels = map[string]string{"zone": "a"}
		c.edit(&req)
		status, e := mc.call(rootUser, api.PathNodeRegister, req, nil)
		if status != http.StatusBadRequest || e.Code != api.CodeInvalid || e.Field != c.field {
			t.Errorf("register a node with %s: HTTP %d %s field %q, want 400 %s field %q", c.what, status, e.Code, e.Field, api.CodeInvalid, c.field)
		}
		if len(e.Message) > 1024 {
			t.Errorf("register a node with %s: a %d-byte error message", c.what, len(e.Message))
		}
	}
	if n := len(mc.c.fsm.State().Nodes()); n != 1 {
		t.Fatalf("%d nodes after the refusals, want the one good one", n)
	}

	old := maxNodes
	maxNodes = 2
	t.Cleanup(func() { maxNodes = old })
	second := api.RegisterNodeRequest{Name: "n2", Boot: "b2", Capacity: api.Resources{CPUs: 1, MemoryMB: 1024}}
	mc.mustCall(rootUser, api.PathNodeRegister, second, nil)
	third := second
	third.Name = "n3"
	if status, e := mc.call(rootUser, api.PathNodeRegister, third, nil); status == http.StatusOK || !strings.Contains(e.Message, "the most it takes (2)") {
		t.Errorf("a third node past maxNodes 2: HTTP %d %s %q, want refused naming the bound", status, e.Code, e.Message)
	}
	second.Boot = "b2-again"
	mc.mustCall(rootUser, api.PathNodeRegister, second, nil) // a known node is no new one
}

// TestNodeEventsBounds: a node's report is bounded before it is proposed:
// a 1 MB reason is cut to MaxEventReasonBytes ending "…", negative usage
// figures are dropped, events of jobs the state lacks make no raft entry,
// and a report of more than MaxEventsPerRequest events is refused.
func TestNodeEventsBounds(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1")
	id := mc.submit(alice, api.JobSpec{Command: []string{"true"}, Dir: "/", Resources: api.Resources{CPUs: 1, MemoryMB: 64}})
	var j api.Job
	mc.mustCall(alice, api.PathWait, api.WaitJobRequest{ID: id, States: []api.JobState{api.StateStarting}, WaitMillis: 5000}, &j)

	// Events of jobs that do not exist: nothing reaches the raft log.
	before := mc.c.raft.raft.LastIndex()
	ghosts := make([]api.JobEvent, 50)
	for i := range ghosts {
		ghosts[i] = api.JobEvent{ID: 900_000 + uint64(i), Node: "n1", State: api.StateRunning, Reason: strings.Repeat("x", 10_000)}
	}
	mc.mustCall(rootUser, api.PathNodeEvents, api.JobEventsRequest{Events: ghosts}, nil)
	if after := mc.c.raft.raft.LastIndex(); after != before {
		t.Errorf("50 events of jobs that do not exist took the raft log from index %d to %d, want no entry", before, after)
	}

	tooMany := make([]api.JobEvent, MaxEventsPerRequest+1)
	for i := range tooMany {
		tooMany[i] = api.JobEvent{ID: id, Node: "n1", State: api.StateRunning, Attempt: j.Attempt}
	}
	if status, e := mc.call(rootUser, api.PathNodeEvents, api.JobEventsRequest{Events: tooMany}, nil); status != http.StatusBadRequest || e.Field != "events" {
		t.Errorf("%d events in one report: HTTP %d %s field %q, want 400 field events", len(tooMany), status, e.Code, e.Field)
	}

	mc.mustCall(rootUser, api.PathNodeEvents, api.JobEventsRequest{Events: []api.JobEvent{{ID: id, Node: "n1", State: api.StateRunning, Attempt: j.Attempt}}}, nil)
	one := 1
	reason := strings.Repeat("é", 500_000) // 1,000,000 bytes
	mc.mustCall(rootUser, api.PathNodeEvents, api.JobEventsRequest{Events: []api.JobEvent{{ID: id, Node: "n1", State: api.StateFailed, ExitCode: &one,
		Attempt: j.Attempt, Reason: reason, Usage: &api.JobUsage{CPUSeconds: -5, MaxRSSBytes: -1, GPUUtilMaxPercent: 1000}}}}, nil)
	mc.waitJob(id, func(j *api.Job) bool { return j.State.Terminal() })
	got := mc.c.fsm.State().Job(id)
	if len(got.StatusReason) > MaxEventReasonBytes || !strings.HasSuffix(got.StatusReason, "…") || !utf8.ValidString(got.StatusReason) ||
		!strings.HasPrefix(got.StatusReason, "éé") {
		t.Errorf("a 1 MB reason became a %d-byte statusReason ending %q, want at most %d bytes of it ending \"…\"",
			len(got.StatusReason), got.StatusReason[max(0, len(got.StatusReason)-8):], MaxEventReasonBytes)
	}
	if u := got.Usage; u != nil && (u.CPUSeconds < 0 || u.MaxRSSBytes < 0 || u.GPUUtilMaxPercent > 100) {
		t.Errorf("usage stored as reported: %+v, want the impossible figures dropped", *u)
	}
}

func TestClipReason(t *testing.T) {
	for _, s := range []string{"", "short", strings.Repeat("a", MaxEventReasonBytes), strings.Repeat("a", MaxEventReasonBytes+1), strings.Repeat("日本", 1000), "bad\xffutf8"} {
		got := clipReason(s)
		if len(got) > MaxEventReasonBytes || !utf8.ValidString(got) {
			t.Errorf("clipReason(%d bytes) = %d bytes, valid UTF-8 %v", len(s), len(got), utf8.ValidString(got))
		}
		if len(s) <= MaxEventReasonBytes && utf8.ValidString(s) && got != s {
			t.Errorf("clipReason(%q) = %q, want it unchanged", s, got)
		}
	}
}
