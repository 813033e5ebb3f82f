package daemon

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/clock"
	"github.com/shoal-batch/shoal/internal/peercred"
)

// memController is a controller over an in-memory raft (Config.InMemory)
// whose handlers are served by httptest servers, one per caller: each
// stamps its requests with the unix credentials it stands for, as the
// socket's SO_PEERCRED would. No root, no disk-backed raft, no election
// delay: these tests run as any user in milliseconds.
type memController struct {
	t     *testing.T
	c     *Controller
	clock *clock.Fake
	urls  map[peer]string
	// anon serves callers with no credentials (TCP without a signature).
	anon   string
	routes http.Handler
}

func startMemController(t *testing.T, cfg Config) *memController {
	t.Helper()
	dir := t.TempDir()
	fake := clock.NewFake(time.UnixMilli(1_700_000_000_000))
	cfg.DataDir, cfg.Socket = filepath.Join(dir, "data"), filepath.Join(dir, "shoal.sock")
	cfg.Log, cfg.InMemory, cfg.Clock = slog.New(slog.NewTextHandler(io.Discard, nil)), true, fake
	c, err := Start(cfg)
	if err != nil {
		t.Fatalf("start an in-memory controller: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close the controller: %v", err)
		}
	})
	mc := &memController{t: t, c: c, clock: fake, urls: map[peer]string{}, routes: c.routes()}
	for _, p := range []peer{rootUser, alice, bob} {
		mc.addPeer(p)
	}
	anon := httptest.NewServer(mc.routes)
	t.Cleanup(anon.Close)
	mc.anon = anon.URL
	return mc
}

// addPeer serves the controller to p: calls as p carry p's credentials,
// as the unix socket's peer credentials would.
func (mc *memController) addPeer(p peer) {
	cred := peercred.Cred{UID: p.uid, GID: p.gid}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mc.routes.ServeHTTP(w, r.WithContext(peercred.NewContext(r.Context(), cred)))
	}))
	mc.t.Cleanup(srv.Close)
	mc.urls[p] = srv.URL
}

// call POSTs req as p (or raw bytes, when req is a []byte) and decodes a
// 200 answer into resp; otherwise it returns the status and error body.
func (mc *memController) call(p peer, path string, req, resp any) (int, api.Error) {
	mc.t.Helper()
	return mc.post(mc.urls[p]+path, req, resp)
}

func (mc *memController) post(url string, req, resp any) (int, api.Error) {
	mc.t.Helper()
	body, ok := req.([]byte)
	if !ok {
		var err error
		if body, err = json.Marshal(req); err != nil {
			mc.t.Fatal(err)
		}
	}
	res, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		mc.t.Fatalf("POST %s: %v", url, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var e api.Error
	if res.StatusCode != http.StatusOK {
		if err := json.Unmarshal(data, &e); err != nil {
			mc.t.Fatalf("POST %s: HTTP %d with body %q, not the error shape", url, res.StatusCode, data)
		}
		return res.StatusCode, e
	}
	if resp != nil {
		if err := json.Unmarshal(data, resp); err != nil {
			mc.t.Fatalf("POST %s: decode %q: %v", url, data, err)
		}
	}
	return res.StatusCode, e
}

func (mc *memController) mustCall(p peer, path string, req, resp any) {
	mc.t.Helper()
	if status, e := mc.call(p, path, req, resp); status != http.StatusOK {
		mc.t.Fatalf("%s as uid %d: HTTP %d %s: %s", path, p.uid, status, e.Code, e.Message)
	}
}

func (mc *memController) submit(p peer, spec api.JobSpec) uint64 {
	mc.t.Helper()
	var resp api.SubmitJobResponse
	mc.mustCall(p, api.PathSubmit, api.SubmitJobRequest{JobSpec: spec}, &resp)
	return resp.ID
}

func (mc *memController) jobs(p peer, req api.ListJobsRequest) []api.Job {
	mc.t.Helper()
	var resp api.ListJobsResponse
	mc.mustCall(p, api.PathListJobs, req, &resp)
	if resp.Count != len(resp.Jobs) {
		mc.t.Fatalf("list answered count %d with %d jobs", resp.Count, len(resp.Jobs))
	}
	return resp.Jobs
}

// registerNode registers a node of 4 CPUs and 4 GiB, as root.
func (mc *memController) registerNode(name string) api.RegisterNodeResponse {
	mc.t.Helper()
	var resp api.RegisterNodeResponse
	mc.mustCall(rootUser, api.PathNodeRegister, api.RegisterNodeRequest{
		Name: name, Boot: name + "-boot", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}}, &resp)
	return resp
}

var heldJob = api.JobSpec{Name: "held", Command: []string{"true"}, Dir: "/", Held: true,
	Resources: api.Resources{CPUs: 1, MemoryMB: 64}}

// TestMemSubmitListCancel: a job submitted by alice is listed with her as
// owner and its spec as sent; bob may not cancel it; alice may, and the
// job ends FAILED with her reason.
func TestMemSubmitListCancel(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1")
	id := mc.submit(alice, heldJob)
	if id == 0 {
		t.Fatal("submit answered job id 0")
	}
	jobs := mc.jobs(alice, api.ListJobsRequest{IDs: []uint64{id}})
	if len(jobs) != 1 {
		t.Fatalf("list of job %d as its owner: got %d jobs, want 1", id, len(jobs))
	}
	j := jobs[0]
	if j.UID != alice.uid || j.Name != "held" || j.Resources.CPUs != 1 || j.State.Terminal() {
		t.Fatalf("job as listed: uid %d name %q cpus %d state %s; want uid %d, name held, 1 CPU, not ended",
			j.UID, j.Name, j.Resources.CPUs, j.State, alice.uid)
	}
	if want := mc.clock.Now().UnixMilli(); j.CreatedAt != want {
		t.Fatalf("job created at %d: want %d, the controller's clock, stamped by the leader", j.CreatedAt, want)
	}

	status, e := mc.call(bob, api.PathCancel, api.StopJobRequest{ID: id, Reason: "not yours"}, nil)
	if status != http.StatusForbidden || e.Code != api.CodeForbidden {
		t.Fatalf("bob cancels alice's job: HTTP %d %s (%s), want 403 %s", status, e.Code, e.Message, api.CodeForbidden)
	}
	if j := mc.jobs(alice, api.ListJobsRequest{IDs: []uint64{id}})[0]; j.State.Terminal() {
		t.Fatalf("after bob's refused cancel the job is %s, want it untouched", j.State)
	}

	mc.mustCall(alice, api.PathCancel, api.StopJobRequest{ID: id, Reason: "changed my mind"}, nil)
	j = mc.jobs(alice, api.ListJobsRequest{IDs: []uint64{id}})[0]
	if j.State != api.StateFailed || j.StatusReason != "changed my mind" {
		t.Fatalf("after alice's cancel: state %s reason %q, want FAILED with %q", j.State, j.StatusReason, "changed my mind")
	}
	status, e = mc.call(alice, api.PathCancel, api.StopJobRequest{ID: id + 1000}, nil)
	if status != http.StatusNotFound || e.Code != api.CodeNotFound {
		t.Fatalf("cancel of a job that does not exist: HTTP %d %s, want 404 %s", status, e.Code, api.CodeNotFound)
	}
}

// TestMemRefusals: who may call what is enforced before any handler
// runs, with the status and code that say why.
func TestMemRefusals(t *testing.T) {
	mc := startMemController(t, Config{})
	before := mc.c.fsm.State().Index()
	for _, tt := range []struct {
		what   string
		url    string
		req    any
		status int
		code   string
	}{
		{"unidentified submit", mc.anon + api.PathSubmit, api.SubmitJobRequest{JobSpec: heldJob}, http.StatusUnauthorized, api.CodeUnauthenticated},
		{"unidentified list", mc.anon + api.PathListJobs, api.ListJobsRequest{}, http.StatusUnauthorized, api.CodeUnauthenticated},
		{"a user registers a node", mc.urls[alice] + api.PathNodeRegister,
			api.RegisterNodeRequest{Name: "evil", Boot: "b", Capacity: api.Resources{CPUs: 1, MemoryMB: 1}}, http.StatusForbidden, api.CodeForbidden},
		{"a user drains a node", mc.urls[alice] + api.PathUpdateNode, api.UpdateNodeRequest{Name: "n1", State: api.NodeDrain}, http.StatusForbidden, api.CodeForbidden},
		{"a user manages keys", mc.urls[bob] + api.PathKeys, map[string]any{}, http.StatusForbidden, api.CodeForbidden},
		{"a user reports job events", mc.urls[bob] + api.PathNodeEvents, api.JobEventsRequest{}, http.StatusForbidden, api.CodeForbidden},
	} {
		status, e := mc.post(tt.url, tt.req, nil)
		if status != tt.status || e.Code != tt.code {
			t.Errorf("%s: HTTP %d %s (%s), want %d %s", tt.what, status, e.Code, e.Message, tt.status, tt.code)
		}
	}
	if after := mc.c.fsm.State().Index(); after != before {
		t.Errorf("refused calls moved the state from index %d to %d, want nothing applied", before, after)
	}
	// The health check answers anyone.
	var h api.HealthResponse
	if status, e := mc.post(mc.anon+api.PathHealth, []byte{}, &h); status != http.StatusOK || !h.IsLeader || h.Version != Version {
		t.Errorf("health as nobody: HTTP %d %s, %+v; want 200 from the leader at version %s", status, e.Message, h, Version)
	}
}

// TestMemBadInput: malformed and impossible requests are refused with a
// clear InvalidRequest (or Unsatisfiable), and nothing is stored.
func TestMemBadInput(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1")
	before := mc.c.fsm.State().Index()
	for _, tt := range []struct {
		what string
		path string
		req  any
		code string
		says string // a part of the message
	}{
		{"not JSON", api.PathSubmit, []byte("{jobName:"), api.CodeInvalid, "decode request body"},
		{"an unknown field", api.PathSubmit, []byte(`{"jobName":"x","command":["true"],"cpuz":3}`), api.CodeInvalid, "cpuz"},
		{"no command or script", api.PathSubmit, api.SubmitJobRequest{JobSpec: api.JobSpec{Name: "empty"}}, api.CodeInvalid, ""},
		{"more CPUs than any node", api.PathSubmit, api.SubmitJobRequest{JobSpec: api.JobSpec{Command: []string{"true"}, Dir: "/",
			Resources: api.Resources{CPUs: 64, MemoryMB: 64}}}, api.CodeUnsatisfiable, ""},
		{"an empty batch", api.PathSubmitBatch, api.SubmitBatchRequest{}, api.CodeInvalid, "no jobs"},
		{"a negative signal", api.PathSignal, api.SignalJobRequest{ID: 1, Signal: -1}, "", ""},
	} {
		status, e := mc.call(alice, tt.path, tt.req, nil)
		if status == http.StatusOK {
			t.Errorf("%s: HTTP 200, want a refusal", tt.what)
			continue
		}
		if tt.code != "" && e.Code != tt.code {
			t.Errorf("%s: HTTP %d %s (%s), want code %s", tt.what, status, e.Code, e.Message, tt.code)
		}
		if !strings.Contains(e.Message, tt.says) || e.Message == "" {
			t.Errorf("%s: message %q, want one that says %q", tt.what, e.Message, tt.says)
		}
	}
	// GET where POST is wanted.
	res, err := http.Get(mc.urls[alice] + api.PathListJobs)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("GET %s: HTTP %d, want 400", api.PathListJobs, res.StatusCode)
	}
	if after := mc.c.fsm.State().Index(); after != before {
		t.Errorf("refused requests moved the state from index %d to %d, want nothing stored", before, after)
	}
	if jobs := mc.jobs(rootUser, api.ListJobsRequest{}); len(jobs) != 0 {
		t.Errorf("after refused submits %d jobs are listed, want none", len(jobs))
	}
}

// TestMemHeartbeatDeadline: with the controller's clock injected, a node
// that sends no heartbeat is set DOWN once a TTL has passed on that
// clock, not before, and the command carries the clock's time.
func TestMemHeartbeatDeadline(t *testing.T) {
	// A TTL no other timer of the controller is armed for (its retention
	// loop ticks every 30 s): waiting for any timer raced with the
	// node's deadline, which armed after the clock had moved on.
	const ttl = 37 * time.Second
	mc := startMemController(t, Config{NodeTTL: ttl})
	reg := mc.registerNode("quiet")
	if reg.HeartbeatMillis != (ttl / heartbeatsPerTTL).Milliseconds() {
		t.Fatalf("registration: heartbeat every %d ms, want a third of the TTL", reg.HeartbeatMillis)
	}
	mc.clock.WaitArmed(ttl) // the node's deadline is armed
	mc.clock.Advance(ttl - time.Millisecond)
	if n := mc.c.fsm.State().Node("quiet"); n.NotResponding {
		t.Fatal("the node is DOWN before its TTL passed")
	}
	mc.clock.Advance(time.Millisecond)
	tc := &testController{t: t, c: mc.c}
	tc.waitNode("quiet", 10*time.Second, func(n *api.Node) bool { return n.NotResponding })
	if n := mc.c.fsm.State().Node("quiet"); n.State != api.NodeDown {
		t.Fatalf("after the TTL the node is %s, want %s", n.State, api.NodeDown)
	}
}

// TestMemBeginTime: a job with a begin time is not placed before the
// controller's clock reaches it, and is placed when it does, without
// anything else changing (the scheduling loop's one timer).
func TestMemBeginTime(t *testing.T) {
	// A TTL past the begin time: the node, which sends no heartbeat, is
	// still UP when the clock gets there.
	mc := startMemController(t, Config{NodeTTL: 2 * time.Hour})
	mc.registerNode("n1")
	begin := mc.clock.Now().Add(time.Hour)
	spec := heldJob
	spec.Held, spec.BeginAt = false, begin.UnixMilli()
	id := mc.submit(alice, spec)
	mc.clock.WaitArmed(time.Hour) // the loop planned and armed the begin time
	if j := mc.jobs(alice, api.ListJobsRequest{IDs: []uint64{id}})[0]; j.State != api.StateRunnable || j.Node != "" {
		t.Fatalf("before its begin time the job is %s on %q, want RUNNABLE and not placed", j.State, j.Node)
	}
	mc.clock.Advance(time.Hour)
	mc.waitJob(id, func(j *api.Job) bool { return j.State == api.StateStarting && j.Node == "n1" })
}

// waitJob blocks (on the FSM's change notification, no polling) until ok
// holds for job id.
func (mc *memController) waitJob(id uint64, ok func(*api.Job) bool) {
	mc.t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		_, changed := mc.c.fsm.Changed()
		j := mc.c.fsm.State().Job(id)
		if j != nil && ok(j) {
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			mc.t.Fatalf("job %d after 10 s: %+v, not as wanted", id, j)
		}
	}
}

// awsCall POSTs a raw AWS Batch body to /v1/OP as p and returns the
// status and the decoded answer (an error's too).
func (mc *memController) awsCall(p peer, op, body string) (int, map[string]any) {
	mc.t.Helper()
	res, err := http.Post(mc.urls[p]+"/v1/"+op, "application/json", strings.NewReader(body))
	if err != nil {
		mc.t.Fatalf("POST /v1/%s: %v", op, err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		mc.t.Fatalf("/v1/%s: HTTP %d, body not JSON: %v", op, res.StatusCode, err)
	}
	return res.StatusCode, out
}

// TestMemAWSFrontDoor: the AWS Batch operations over the same handlers, in
// AWS's shapes (raw JSON, as the aws CLI sends it): register a definition,
// submit from it (fields this version does not know are ignored, as AWS
// clients expect), describe, list, and cancel (the owner only); refusals
// are 400 ClientException with a message.
func TestMemAWSFrontDoor(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1")
	// Drained: the job stays RUNNABLE, where AWS's cancel applies.
	mc.mustCall(rootUser, api.PathUpdateNode, api.UpdateNodeRequest{Name: "n1", State: api.NodeDrain, Reason: "test"}, nil)
	if status, out := mc.awsCall(alice, "registerjobdefinition", `{"jobDefinitionName":"def","type":"script",
		"containerProperties":{"command":["echo","Ref::Word"],"vcpus":1,"memory":64},"parameters":{"Word":"hi"}}`); status != http.StatusOK {
		t.Fatalf("registerjobdefinition: HTTP %d %v", status, out)
	}
	status, out := mc.awsCall(alice, "submitjob", `{"jobName":"aws1","jobQueue":"default","jobDefinition":"def",
		"parameters":{"Word":"there"},"aFieldFromANewerCLI":true}`)
	if status != http.StatusOK {
		t.Fatalf("submitjob: HTTP %d %v", status, out)
	}
	id, _ := out["jobId"].(string)
	if id == "" || out["jobName"] != "aws1" {
		t.Fatalf("submitjob answered %v; want a jobId and jobName aws1", out)
	}
	n, _ := strconv.ParseUint(id, 10, 64)
	if j := mc.c.fsm.State().Job(n); j == nil || j.UID != alice.uid || strings.Join(j.Command, " ") != "echo there" {
		t.Fatalf("job %s in the state: %+v; want alice's, command [echo there] (the parameter substituted)", id, j)
	}
	_, out = mc.awsCall(bob, "describejobs", `{"jobs":["`+id+`"]}`)
	jobs, _ := out["jobs"].([]any)
	if len(jobs) != 1 || jobs[0].(map[string]any)["status"] != "RUNNABLE" {
		t.Fatalf("describejobs as bob: %v; want job %s RUNNABLE", out, id)
	}
	_, out = mc.awsCall(alice, "listjobs", `{"jobQueue":"default","jobStatus":"RUNNABLE"}`)
	if list, _ := out["jobSummaryList"].([]any); len(list) != 1 {
		t.Fatalf("listjobs RUNNABLE: %v; want the one job", out)
	}
	for _, tt := range []struct {
		who  peer
		op   string
		body string
		says string
	}{
		{bob, "canceljob", `{"jobId":"` + id + `","reason":"mine now"}`, ""},
		{alice, "submitjob", `{"jobName":"x","jobQueue":"default","jobDefinition":"nosuch"}`, "nosuch"},
		{alice, "submitjob", `{"jobName":"x","jobQueue":"nosuch","jobDefinition":"def"}`, "nosuch"},
		{alice, "submitjob", `{"jobName":`, ""},
	} {
		status, out := mc.awsCall(tt.who, tt.op, tt.body)
		msg, _ := out["message"].(string)
		if status != http.StatusBadRequest || out["__type"] != "ClientException" ||
			msg == "" || !strings.Contains(msg, tt.says) {
			t.Errorf("%s %s as uid %d: HTTP %d %v; want 400 ClientException with a message saying %q", tt.op, tt.body, tt.who.uid, status, out, tt.says)
		}
	}
	if status, out := mc.awsCall(alice, "canceljob", `{"jobId":"`+id+`","reason":"not needed"}`); status != http.StatusOK {
		t.Fatalf("canceljob as the owner: HTTP %d %v", status, out)
	}
	_, out = mc.awsCall(alice, "describejobs", `{"jobs":["`+id+`"]}`)
	j := out["jobs"].([]any)[0].(map[string]any)
	if j["status"] != "FAILED" || j["statusReason"] != "not needed" {
		t.Fatalf("after canceljob: status %v reason %v; want FAILED, not needed", j["status"], j["statusReason"])
	}
	// A job a stop leaves alone (ended, here) is still not another's to stop.
	for _, op := range []string{"canceljob", "terminatejob"} {
		status, out := mc.awsCall(bob, op, `{"jobId":"`+id+`","reason":"mine now"}`)
		if msg, _ := out["message"].(string); status != http.StatusBadRequest || !strings.Contains(msg, "belongs to 4201") {
			t.Errorf("%s of alice's ended job as bob: HTTP %d %v; want 400 saying it belongs to 4201", op, status, out)
		}
	}
}

// TestMemNodeLoad: the load average a heartbeat reports is what the node
// list shows (from the leader's memory, not raft), and a node that has
// reported none shows none.
func TestMemNodeLoad(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("busy")
	mc.registerNode("quiet")
	load := 1.25
	mc.mustCall(rootUser, api.PathNodeBeat, api.NodeHeartbeatRequest{Name: "busy", Boot: "busy-boot", Load: &load}, nil)
	var resp api.NodesResponse
	mc.mustCall(alice, api.PathNodes, struct{}{}, &resp)
	for _, n := range resp.Nodes {
		switch {
		case n.Name == "busy" && (n.CPULoad == nil || *n.CPULoad != load):
			t.Errorf("node busy: load %v, want %v (its heartbeat's)", n.CPULoad, load)
		case n.Name == "quiet" && n.CPULoad != nil:
			t.Errorf("node quiet: load %v, want none (it sent no heartbeat)", *n.CPULoad)
		}
	}
}
