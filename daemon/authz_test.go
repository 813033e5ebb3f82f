package daemon

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/sigv4"
)

// testController is an in-process controller over a temporary data dir,
// with a TCP listener, one registered (simulated) node, and HTTP clients
// that connect to its socket as any uid.
type testController struct {
	t    *testing.T
	c    *Controller
	sock string
	tcp  string
	// https talks to the TCP listener, trusting the controller's own CA.
	https *http.Client
}

func startTestController(t *testing.T, private bool) *testController {
	t.Helper()
	tc := startTestControllerWith(t, Config{PrivateJobs: private})
	tc.mustCall(rootUser, api.PathNodeRegister, api.RegisterNodeRequest{
		Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 8, MemoryMB: 8192}}, nil)
	return tc
}

// startTestControllerWith starts a controller with cfg's options (paths
// and log filled in) and no node.
func startTestControllerWith(t *testing.T, cfg Config) *testController {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("connecting as other users needs root")
	}
	dir := t.TempDir()
	// Other uids must reach the socket through its directory.
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	cfg.DataDir, cfg.Socket, cfg.Bind = filepath.Join(dir, "data"), filepath.Join(dir, "shoal.sock"), "127.0.0.1:0"
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	tc := &testController{t: t, c: c, sock: c.Addrs()[0], tcp: c.Addrs()[1]}
	pool := x509.NewCertPool()
	if pem, err := os.ReadFile(filepath.Join(dir, "data", caCertFile)); err != nil || !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("read the controller's CA: %v", err)
	}
	tc.https = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return tc
}

// A unix peer: uid and gid as the kernel reports them.
type peer struct{ uid, gid uint32 }

var (
	rootUser = peer{0, 0}
	alice    = peer{4201, 4201}
	bob      = peer{4202, 4202}
)

// client returns an HTTP client whose connections to the socket are made
// by a thread that runs as p: SO_PEERCRED then reports p. The thread's
// own credentials change (a raw setresuid, not Go's all-threads one), and
// it stays locked to its goroutine, so it ends with it and no other
// goroutine ever runs as p.
func (tc *testController) client(p peer) *http.Client {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		type result struct {
			conn net.Conn
			err  error
		}
		ch := make(chan result, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread exits with this goroutine
			if p != rootUser {
				if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESGID, uintptr(p.gid), uintptr(p.gid), uintptr(p.gid)); e != 0 {
					ch <- result{nil, fmt.Errorf("setresgid %d: %w", p.gid, e)}
					return
				}
				if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESUID, uintptr(p.uid), uintptr(p.uid), uintptr(p.uid)); e != 0 {
					ch <- result{nil, fmt.Errorf("setresuid %d: %w", p.uid, e)}
					return
				}
			}
			var d net.Dialer
			conn, err := d.DialContext(ctx, "unix", tc.sock)
			ch <- result{conn, err}
		}()
		r := <-ch
		return r.conn, r.err
	}
	return &http.Client{Transport: &http.Transport{DialContext: dial}}
}

// call POSTs req as p on the socket and decodes a 200 answer into resp;
// it returns the status and the error body otherwise.
func (tc *testController) call(p peer, path string, req, resp any) (int, api.Error) {
	tc.t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		tc.t.Fatal(err)
	}
	return tc.post(tc.client(p), "http://unix"+path, bytes.NewReader(body), resp)
}

func (tc *testController) post(hc *http.Client, url string, body io.Reader, resp any) (int, api.Error) {
	tc.t.Helper()
	res, err := hc.Post(url, "application/json", body)
	if err != nil {
		tc.t.Fatalf("POST %s: %v", url, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var e api.Error
	if res.StatusCode != http.StatusOK {
		if err := json.Unmarshal(data, &e); err != nil {
			tc.t.Fatalf("POST %s: HTTP %d with body %q, not the error shape", url, res.StatusCode, data)
		}
		return res.StatusCode, e
	}
	if resp != nil {
		if err := json.Unmarshal(data, resp); err != nil {
			tc.t.Fatalf("POST %s: decode %q: %v", url, data, err)
		}
	}
	return res.StatusCode, e
}

func (tc *testController) mustCall(p peer, path string, req, resp any) {
	tc.t.Helper()
	if status, e := tc.call(p, path, req, resp); status != http.StatusOK {
		tc.t.Fatalf("%s as uid %d: HTTP %d %s: %s", path, p.uid, status, e.Code, e.Message)
	}
}

func (tc *testController) submit(p peer, spec api.JobSpec) uint64 {
	tc.t.Helper()
	var resp api.SubmitJobResponse
	tc.mustCall(p, api.PathSubmit, api.SubmitJobRequest{JobSpec: spec}, &resp)
	return resp.ID
}

// indexes are the raft log's last index and the FSM's: a refused call
// moves neither. (Not raft's AppliedIndex: raft advances it a moment after
// the FSM has applied an entry, so it can trail an earlier call's entry.)
func (tc *testController) indexes() [2]uint64 {
	return [2]uint64{tc.c.raft.raft.LastIndex(), tc.c.fsm.State().Index()}
}

// TestUnidentifiedTCPCallerGets401 calls every route but the health check
// over TCP with no credentials: each answers 401 before its handler runs,
// AWS routes in AWS's error shape; the health check answers anyone.
func TestUnidentifiedTCPCallerGets401(t *testing.T) {
	tc := startTestController(t, false)
	before := tc.indexes()
	for _, rt := range append(tc.c.routeTable(), route{path: "/no/such/path"}) {
		if rt.access == anyone {
			continue
		}
		res, err := tc.https.Post("https://"+tc.tcp+rt.path, "application/json", strings.NewReader(`{"jobs":[{"command":["true"]}]}`))
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var e struct {
			Type string `json:"__type"`
			Code string `json:"code"`
		}
		json.Unmarshal(data, &e)
		want := api.CodeUnauthenticated
		got := e.Code
		if rt.aws {
			want, got = "MissingAuthenticationTokenException", e.Type
		}
		if res.StatusCode != http.StatusUnauthorized || got != want {
			t.Errorf("%s with no credentials: HTTP %d %s, want 401 %s", rt.path, res.StatusCode, data, want)
		}
	}
	if after := tc.indexes(); after != before {
		t.Errorf("raft indexes moved from %v to %v on refused calls", before, after)
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(method, "https://"+tc.tcp+api.PathHealth, nil)
		res, err := tc.https.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var h api.HealthResponse
		json.NewDecoder(res.Body).Decode(&h)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || h.Status != "ok" || h.Version != Version || !h.IsLeader || h.Leader == "" {
			t.Errorf("%s %s: HTTP %d %+v, want 200 ok with the version and leader", method, api.PathHealth, res.StatusCode, h)
		}
	}
	// A node's join token is no user: user routes refuse it (403), node routes take it.
	req, _ := http.NewRequest(http.MethodPost, "https://"+tc.tcp+api.PathListJobs, strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+tc.c.JoinToken())
	res, err := tc.https.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("list jobs with the join token: HTTP %d, want 403", res.StatusCode)
	}
}

// TestRefusedCallsNeverReachRaft: a thousand holds of alice's job by bob
// are refused, and so are his cancel, terminate, requeue, signal and
// update; the raft log does not move. Alice's own hold then commits.
func TestRefusedCallsNeverReachRaft(t *testing.T) {
	tc := startTestController(t, false)
	id := tc.submit(alice, api.JobSpec{Name: "mine", Command: []string{"sleep", "60"}, Held: true})
	tc.mustCall(alice, api.PathWait, api.WaitJobRequest{ID: id, States: []api.JobState{api.StatePending}}, nil)
	before := tc.indexes()
	hc := tc.client(bob)
	body, _ := json.Marshal(api.HoldJobsRequest{IDs: []uint64{id}, Hold: false})
	for i := 0; i < 1000; i++ {
		status, e := tc.post(hc, "http://unix"+api.PathHold, bytes.NewReader(body), nil)
		if status != http.StatusForbidden || e.Code != api.CodeForbidden || !strings.Contains(e.Message, "only its owner or root") {
			t.Fatalf("release %d of alice's job by bob: HTTP %d %+v, want 403 naming the owner", i, status, e)
		}
	}
	name, limit := "stolen", int64(1)
	for _, c := range []struct {
		path string
		req  any
	}{
		{api.PathCancel, api.StopJobRequest{ID: id, Reason: "x"}},
		{api.PathTerminate, api.StopJobRequest{ID: id, Reason: "x"}},
		{api.PathTerminate, api.StopJobRequest{ID: id, Reason: "x", Requeue: true}},
		{api.PathSignal, api.SignalJobRequest{ID: id, Signal: 10}},
		{api.PathUpdateJob, api.UpdateJobRequest{ID: id, Name: &name, TimeLimit: &limit}},
		{api.PathHold, api.HoldJobsRequest{IDs: []uint64{id + 100}, Hold: true}}, // no such job
		{api.PathLogs, api.LogsRequest{ID: id, Stream: "stdout"}},
	} {
		if status, e := tc.call(bob, c.path, c.req, nil); status == http.StatusOK {
			t.Errorf("%s %+v by bob: accepted, want a refusal", c.path, c.req)
		} else if c.path != api.PathHold && e.Code != api.CodeForbidden {
			t.Errorf("%s by bob: %s %q, want %s", c.path, e.Code, e.Message, api.CodeForbidden)
		}
	}
	if status, e := tc.call(alice, "/v1/terminatejob", map[string]string{"jobId": "9999", "reason": "x"}, nil); status == http.StatusOK {
		t.Errorf("AWS terminate of a job that does not exist: accepted (%+v)", e)
	}
	if after := tc.indexes(); after != before {
		t.Fatalf("raft indexes (last, applied, FSM) moved from %v to %v on refused calls", before, after)
	}
	tc.mustCall(alice, api.PathHold, api.HoldJobsRequest{IDs: []uint64{id}, Hold: false}, nil)
	if after := tc.indexes(); after[0] <= before[0] {
		t.Errorf("alice's release did not reach raft: indexes %v then %v", before, after)
	}
}

// aliceJob is a job with every private field set.
var aliceJob = api.JobSpec{
	Name: "secret-work", Command: []string{"/bin/sh", "-c", "echo $TOKEN"}, Script: "#!/bin/sh\necho hunter2\n",
	Env: map[string]string{"TOKEN": "hunter2"}, Dir: "/home/alice/private", Stdout: "/home/alice/out.txt",
	Stderr: "/home/alice/err.txt", Held: true, Resources: api.Resources{CPUs: 2, MemoryMB: 100},
}

func private(j api.Job) bool {
	return len(j.Command) > 0 || j.Script != "" || len(j.Env) > 0 || j.Dir != "" || j.Stdout != "" || j.Stderr != ""
}

// TestOthersSeeOnlyPublicFields reads alice's job every way there is, as
// bob (public fields only), as alice and as root (all of it).
func TestOthersSeeOnlyPublicFields(t *testing.T) {
	tc := startTestController(t, false)
	id := tc.submit(alice, aliceJob)
	for _, who := range []peer{alice, bob, rootUser} {
		wantPrivate := who != bob
		var list api.ListJobsResponse
		tc.mustCall(who, api.PathListJobs, api.ListJobsRequest{Full: true}, &list)
		if len(list.Jobs) != 1 {
			t.Fatalf("list as uid %d: %d jobs, want alice's one", who.uid, len(list.Jobs))
		}
		var waited api.Job
		tc.mustCall(who, api.PathWait, api.WaitJobRequest{ID: id, States: []api.JobState{api.StatePending}}, &waited)
		var byID api.ListJobsResponse
		tc.mustCall(who, api.PathListJobs, api.ListJobsRequest{IDs: []uint64{id}, Full: true}, &byID)
		for _, j := range []api.Job{list.Jobs[0], waited, byID.Jobs[0]} {
			if private(j) != wantPrivate || j.Redacted == wantPrivate {
				t.Errorf("job as uid %d: private fields shown %v (redacted %v), want %v: %+v", who.uid, private(j), j.Redacted, wantPrivate, j)
			}
			if j.ID != id || j.Name != "secret-work" || j.User != "4201" || j.State != api.StatePending || j.Resources.CPUs != 2 || j.CreatedAt == 0 {
				t.Errorf("job as uid %d: public fields missing: %+v", who.uid, j)
			}
		}
		var desc api.AWSDescribeJobsResponse
		tc.mustCall(who, "/v1/describejobs", api.AWSDescribeJobsRequest{Jobs: []string{api.FormatID(id)}}, &desc)
		if len(desc.Jobs) != 1 || desc.Jobs[0].JobName != "secret-work" {
			t.Fatalf("describe-jobs as uid %d: %+v", who.uid, desc)
		}
		c := desc.Jobs[0].Container
		if shown := len(c.Command) > 0 || len(c.Environment) > 0; shown != wantPrivate || c.Command == nil {
			t.Errorf("describe-jobs as uid %d: command %q environment %v, want shown=%v (and a list)", who.uid, c.Command, c.Environment, wantPrivate)
		}
	}
	status, e := tc.call(bob, api.PathLogs, api.LogsRequest{ID: id, Stream: "stdout"}, nil)
	if status != http.StatusForbidden || !strings.Contains(e.Message, "only its owner or root may read its logs") {
		t.Errorf("bob reading alice's logs: HTTP %d %q, want 403 saying who may", status, e.Message)
	}
}

// TestPrivateJobs: with PrivateJobs bob does not see alice's job at all;
// root and alice do.
func TestPrivateJobs(t *testing.T) {
	tc := startTestController(t, true)
	id := tc.submit(alice, aliceJob)
	tc.submit(bob, api.JobSpec{Name: "bobs", Command: []string{"true"}, Held: true})
	for _, c := range []struct {
		who  peer
		want int
	}{{alice, 1}, {bob, 1}, {rootUser, 2}} {
		var list api.ListJobsResponse
		tc.mustCall(c.who, api.PathListJobs, api.ListJobsRequest{}, &list)
		if len(list.Jobs) != c.want {
			t.Errorf("list as uid %d: %d jobs, want %d", c.who.uid, len(list.Jobs), c.want)
		}
		for _, j := range list.Jobs {
			if j.UID != c.who.uid && c.who != rootUser {
				t.Errorf("list as uid %d shows job %d of %s", c.who.uid, j.ID, j.User)
			}
		}
	}
	if status, e := tc.call(bob, api.PathWait, api.WaitJobRequest{ID: id}, nil); status != http.StatusNotFound {
		t.Errorf("bob waiting on alice's hidden job: HTTP %d %+v, want 404", status, e)
	}
	before := tc.indexes()
	for _, c := range []struct {
		path string
		req  any
	}{
		{api.PathHold, api.HoldJobsRequest{IDs: []uint64{id}, Hold: false}},
		{api.PathCancel, api.StopJobRequest{ID: id, Reason: "x"}},
		{api.PathLogs, api.LogsRequest{ID: id, Stream: "stdout"}},
		{"/v1/terminatejob", api.AWSJobIDRequest{JobID: api.FormatID(id), Reason: "x"}},
	} {
		status, e := tc.call(bob, c.path, c.req, nil)
		if status != http.StatusNotFound && !(c.path[1] == 'v' && status == http.StatusBadRequest && e.Code == api.CodeNotFound) {
			t.Errorf("%s on alice's hidden job by bob: HTTP %d %+v, want not found", c.path, status, e)
		}
		if strings.Contains(e.Message, "4201") {
			t.Errorf("%s on alice's hidden job by bob names its owner: %q", c.path, e.Message)
		}
	}
	if after := tc.indexes(); after != before {
		t.Errorf("raft indexes moved from %v to %v on refused calls", before, after)
	}
	var desc api.AWSDescribeJobsResponse
	tc.mustCall(bob, "/v1/describejobs", api.AWSDescribeJobsRequest{Jobs: []string{api.FormatID(id)}}, &desc)
	if len(desc.Jobs) != 0 {
		t.Errorf("bob describing alice's hidden job: %+v, want none", desc.Jobs)
	}
	var sums api.AWSListJobsResponse
	tc.mustCall(bob, "/v1/listjobs", api.AWSListJobsRequest{JobQueue: api.DefaultQueue, JobStatus: "PENDING"}, &sums)
	for _, s := range sums.JobSummaryList {
		if s.JobID == api.FormatID(id) {
			t.Errorf("bob's list-jobs shows alice's hidden job %s", s.JobID)
		}
	}
}

// TestBodyLimits: a body over a route's limit is refused with 413 naming
// the limit, before it is read in full; submit takes a larger body.
func TestBodyLimits(t *testing.T) {
	tc := startTestController(t, false)
	big := `{"ids":[` + strings.Repeat("1,", bodySmall/2) + `1]}`
	status, e := tc.call(alice, api.PathListJobs, json.RawMessage(big), nil)
	if status != http.StatusRequestEntityTooLarge || e.Code != api.CodeTooLarge || !strings.Contains(e.Message, "1 MiB") {
		t.Errorf("2 MiB list request: HTTP %d %+v, want 413 naming 1 MiB", status, e)
	}
	// Chunked (no Content-Length): cut off by the reader, same answer.
	status, e = tc.post(tc.client(alice), "http://unix"+api.PathListJobs, io.MultiReader(strings.NewReader(big)), nil)
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(e.Message, "1 MiB") {
		t.Errorf("chunked 2 MiB list request: HTTP %d %+v, want 413 naming 1 MiB", status, e)
	}
	status, e = tc.call(alice, "/v1/describejobs", json.RawMessage(big), nil)
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB describe-jobs: HTTP %d %+v, want 413", status, e)
	}
	// A 3 MiB script fits submit's body limit and the script bound.
	script := "#!/bin/sh\n" + strings.Repeat("# padding line\n", 3<<20/15)
	tc.submit(alice, api.JobSpec{Name: "big", Script: script, Command: []string{}, Held: true})
	// A 5 MiB one fits the body but not the bound: a 400 that says why.
	status, e = tc.call(alice, api.PathSubmit, api.SubmitJobRequest{JobSpec: api.JobSpec{Script: strings.Repeat("x", 5<<20)}}, nil)
	if status != http.StatusBadRequest || e.Field != "script" || !strings.Contains(e.Message, "4 MiB") {
		t.Errorf("5 MiB script: HTTP %d %+v, want 400 on the script naming 4 MiB", status, e)
	}
	status, e = tc.call(alice, api.PathSubmit, api.SubmitJobRequest{JobSpec: api.JobSpec{Script: strings.Repeat("x", 17<<20)}}, nil)
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(e.Message, "16 MiB") {
		t.Errorf("17 MiB submit: HTTP %d %+v, want 413 naming 16 MiB", status, e)
	}
}

// TestSigV4Caller: over TCP a request signed with an access key is its
// owner's: nobody (by key) sees alice's job redacted in describe-jobs,
// cannot cancel it, and a signed body over the route's limit is a 413 in
// AWS's shape; a wrong join token is a 401 that says what to do.
func TestSigV4Caller(t *testing.T) {
	tc := startTestController(t, false)
	var keys api.KeysResponse
	tc.mustCall(rootUser, api.PathKeys, api.KeysRequest{Create: true, User: "nobody"}, &keys)
	key := keys.Keys[0]
	id := tc.submit(alice, aliceJob)
	signed := func(op string, body []byte) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "https://"+tc.tcp+"/v1/"+op, nil)
		req.Header.Set("Content-Type", "application/json")
		if err := sigv4.Sign(req, body, key.ID, key.Secret, "us-east-1", "batch", time.Now()); err != nil {
			t.Fatal(err)
		}
		res, err := tc.https.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		return res.StatusCode, data
	}
	body, _ := json.Marshal(api.AWSDescribeJobsRequest{Jobs: []string{api.FormatID(id)}})
	status, data := signed("describejobs", body)
	var desc api.AWSDescribeJobsResponse
	if err := json.Unmarshal(data, &desc); status != http.StatusOK || err != nil || len(desc.Jobs) != 1 {
		t.Fatalf("signed describe-jobs: HTTP %d %s", status, data)
	}
	if c := desc.Jobs[0].Container; len(c.Command) != 0 || len(c.Environment) != 0 || strings.Contains(string(data), "hunter2") {
		t.Errorf("nobody's signed describe-jobs shows alice's command or environment: %s", data)
	}
	before := tc.indexes()
	body, _ = json.Marshal(api.AWSJobIDRequest{JobID: api.FormatID(id), Reason: "mine now"})
	if status, data := signed("terminatejob", body); status != http.StatusBadRequest || !strings.Contains(string(data), "only its owner or root") {
		t.Errorf("nobody's signed terminate of alice's job: HTTP %d %s, want a refusal", status, data)
	}
	if after := tc.indexes(); after != before {
		t.Errorf("raft indexes moved from %v to %v on a refused terminate", before, after)
	}
	status, data = signed("describejobs", []byte(`{"jobs":["`+strings.Repeat("1", bodySmall)+`"]}`))
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(string(data), "RequestTooLargeException") || !strings.Contains(string(data), "1 MiB") {
		t.Errorf("signed 1 MiB+ describe-jobs: HTTP %d %s, want 413 RequestTooLargeException naming 1 MiB", status, data)
	}
	req, _ := http.NewRequest(http.MethodPost, "https://"+tc.tcp+api.PathNodeWork, strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer not-the-token")
	res, err := tc.https.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(data), "join-token") {
		t.Errorf("a wrong join token: HTTP %d %s, want 401 saying where the token is", res.StatusCode, data)
	}
}

// Others see a reason's kind, not its details (a failed start quotes the
// job's paths); the stored job keeps all of it.
func TestRedactReasons(t *testing.T) {
	stored := api.Job{
		StatusReason: api.ReasonSandboxFailed + ": invalid sandbox spec: output /home/alice/secret/out.txt: no such file or directory",
		StopReason:   "cancelled: moving /home/alice/secret",
		Attempts: []api.Attempt{{StatusReason: api.ReasonSandboxFailed + `: exec: "/home/alice/tool": permission denied`,
			Reason: `exec: "/home/alice/tool": permission denied`}, {StatusReason: api.ReasonNonZeroExit}},
	}
	j := stored
	redact(&j)
	if j.StatusReason != api.ReasonSandboxFailed || j.StopReason != "cancelled" || j.Attempts[0].StatusReason != api.ReasonSandboxFailed ||
		j.Attempts[0].Reason != "exec" || j.Attempts[1].StatusReason != api.ReasonNonZeroExit {
		t.Errorf("redacted reasons: %q, %q, %+v", j.StatusReason, j.StopReason, j.Attempts)
	}
	if !strings.Contains(stored.Attempts[0].Reason, "/home/alice/tool") {
		t.Errorf("redact changed the stored job's attempts: %+v", stored.Attempts)
	}
	// A reason stored before reasons were bounded reaches others cut.
	j = api.Job{StopReason: strings.Repeat("é", MaxTextBytes)}
	if redact(&j); len(j.StopReason) != MaxTextBytes || !utf8.ValidString(j.StopReason) {
		t.Errorf("a %d-byte stored reason reaches others as %d bytes (valid UTF-8: %v), want %d", 2*MaxTextBytes, len(j.StopReason), utf8.ValidString(j.StopReason), MaxTextBytes)
	}
}

// A job's priority is root's to set at submit (Slurm's --priority is an
// operator's): a user's would pass every other user's jobs.
func TestSubmitPriorityIsRoots(t *testing.T) {
	tc := startTestController(t, false)
	spec := api.JobSpec{Command: []string{"true"}, Held: true, Priority: 999_999_999}
	if status, e := tc.call(bob, api.PathSubmit, api.SubmitJobRequest{JobSpec: spec}, nil); status == http.StatusOK ||
		e.Code != api.CodeForbidden || !strings.Contains(e.Message, "only root may set a job's priority") {
		t.Errorf("bob's submit with a priority: %d %s %q, want it refused", status, e.Code, e.Message)
	}
	id := tc.submit(rootUser, spec)
	var list api.ListJobsResponse
	tc.mustCall(rootUser, api.PathListJobs, api.ListJobsRequest{IDs: []uint64{id}}, &list)
	if len(list.Jobs) != 1 || list.Jobs[0].Priority != spec.Priority {
		t.Errorf("root's job with priority %d: %+v", spec.Priority, list.Jobs)
	}
}
