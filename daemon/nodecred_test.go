package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/raftfsm"
)

// bearer POSTs req to path over TCP without peer credentials (as a remote
// node daemon), presenting token, and decodes a 200 answer into resp.
func (mc *memController) bearer(token, path string, req, resp any) (int, api.Error) {
	mc.t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		mc.t.Fatal(err)
	}
	hr, err := http.NewRequest(http.MethodPost, mc.anon+path, bytes.NewReader(body))
	if err != nil {
		mc.t.Fatal(err)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		mc.t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var e api.Error
	if res.StatusCode != http.StatusOK {
		if err := json.Unmarshal(data, &e); err != nil {
			mc.t.Fatalf("POST %s: HTTP %d %q, not the error shape", path, res.StatusCode, data)
		}
		return res.StatusCode, e
	}
	if resp != nil {
		if err := json.Unmarshal(data, resp); err != nil {
			mc.t.Fatalf("POST %s: decode %q: %v", path, data, err)
		}
	}
	return res.StatusCode, e
}

// joinNode registers name with the join token, as a new node daemon over
// TCP, and returns the bearer token of the credential it was given.
func (mc *memController) joinNode(name string) string {
	mc.t.Helper()
	var resp api.RegisterNodeResponse
	if status, e := mc.bearer(mc.c.JoinToken(), api.PathNodeRegister, nodeReg(name), &resp); status != http.StatusOK {
		mc.t.Fatalf("register %s with the join token: HTTP %d %s: %s", name, status, e.Code, e.Message)
	}
	if len(resp.Credential) != 64 {
		mc.t.Fatalf("register %s with the join token: credential %q, want 64 hex digits", name, resp.Credential)
	}
	return api.FormatNodeCredential(name, resp.Credential)
}

func nodeReg(name string) api.RegisterNodeRequest {
	return api.RegisterNodeRequest{Name: name, Boot: name + "-boot", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}}
}

// wantRefused checks a call was refused with code, its message naming
// each of words.
func wantRefused(t *testing.T, what string, status int, e api.Error, code string, words ...string) {
	t.Helper()
	if status == http.StatusOK || e.Code != code {
		t.Fatalf("%s: HTTP %d %s %q, want %s", what, status, e.Code, e.Message, code)
	}
	for _, w := range words {
		if !strings.Contains(e.Message, w) {
			t.Fatalf("%s: %q does not say %q", what, e.Message, w)
		}
	}
}

// TestNodeCredentialJoinTokenActsAsNoNode: a second holder of the join
// token cannot take over a registered node: it may not register its name
// again (same boot or another), fetch its work, send its heartbeats or
// report on its jobs; the node's own credential may, and only for it.
func TestNodeCredentialJoinTokenActsAsNoNode(t *testing.T) {
	mc := startMemController(t, Config{})
	n1 := mc.joinNode("n1")
	n2 := mc.joinNode("n2")
	join := mc.c.JoinToken()

	id := mc.submit(alice, api.JobSpec{Command: []string{"true"}, Dir: "/", Resources: api.Resources{CPUs: 1, MemoryMB: 64},
		Env: map[string]string{"SECRET": "alice's"}})
	mc.waitJob(id, func(j *api.Job) bool { return j.State == api.StateStarting })
	owner := mc.c.fsm.State().Job(id).Node
	other, ownerCred, otherCred := "n2", n1, n2
	if owner == "n2" {
		other, ownerCred, otherCred = "n1", n2, n1
	}

	// Registration: the same boot with more CPUs and a log server
	// elsewhere, or a new boot (which would fail the node's jobs).
	evil := nodeReg(owner)
	evil.Capacity.CPUs, evil.LogAddr = 64, "127.0.0.1:1"
	status, e := mc.bearer(join, api.PathNodeRegister, evil, nil)
	wantRefused(t, "the join token registers a node that has a credential", status, e, api.CodeConflict, "credential", "delete nodename="+owner)
	evil.Boot = "another-boot"
	status, e = mc.bearer(join, api.PathNodeRegister, evil, nil)
	wantRefused(t, "the join token registers it with a new boot", status, e, api.CodeConflict, "credential")
	if n := mc.c.fsm.State().Node(owner); n.Boot != owner+"-boot" || n.Capacity.CPUs != 4 || n.LogAddr != "" {
		t.Fatalf("node %s after refused registrations: %+v", owner, n)
	}

	work := api.NodeWorkRequest{Name: owner, Boot: owner + "-boot", WaitMillis: 1}
	beat := api.NodeHeartbeatRequest{Name: owner, Boot: owner + "-boot"}
	end := api.JobEventsRequest{Events: []api.JobEvent{{ID: id, Node: owner, State: api.StateSucceeded,
		Usage: &api.JobUsage{CPUSeconds: 1e9}}}}
	for _, tc := range []struct {
		who, token string
		code       string
	}{{"the join token", join, api.CodeForbidden}, {"node " + other + "'s credential", otherCred, api.CodeForbidden}} {
		status, e = mc.bearer(tc.token, api.PathNodeWork, work, nil)
		wantRefused(t, tc.who+" fetches "+owner+"'s work", status, e, tc.code)
		status, e = mc.bearer(tc.token, api.PathNodeBeat, beat, nil)
		wantRefused(t, tc.who+" sends "+owner+"'s heartbeat", status, e, tc.code)
	}
	status, e = mc.bearer(join, api.PathNodeEvents, end, nil)
	wantRefused(t, "the join token reports a job's end", status, e, api.CodeForbidden, "join token only registers")
	status, e = mc.bearer(api.FormatNodeCredential(owner, strings.Repeat("0", 64)), api.PathNodeBeat, beat, nil)
	wantRefused(t, "a made-up credential", status, e, api.CodeUnauthenticated, "not node "+owner+"'s")
	status, e = mc.bearer(otherCred, api.PathNodeWork, work, nil)
	wantRefused(t, "another node's credential", status, e, api.CodeForbidden, "only for node "+other)
	status, e = mc.bearer(otherCred, api.PathNodeRegister, evil, nil)
	wantRefused(t, "another node's credential registers "+owner, status, e, api.CodeForbidden, "only for node "+other)

	// The node's own credential serves it.
	var got api.NodeWorkResponse
	if status, e := mc.bearer(ownerCred, api.PathNodeWork, work, &got); status != http.StatusOK || len(got.Jobs) != 1 || got.Jobs[0].ID != id {
		t.Fatalf("the node's work with its credential: HTTP %d %s %q, %d jobs", status, e.Code, e.Message, len(got.Jobs))
	}
	if status, e := mc.bearer(ownerCred, api.PathNodeBeat, beat, nil); status != http.StatusOK {
		t.Fatalf("the node's heartbeat with its credential: HTTP %d %s: %s", status, e.Code, e.Message)
	}
	if status, e := mc.bearer(ownerCred, api.PathNodeRegister, nodeReg(owner), nil); status != http.StatusOK {
		t.Fatalf("the node registers again with its credential: HTTP %d %s: %s", status, e.Code, e.Message)
	}
	if j := mc.c.fsm.State().Job(id); j.State != api.StateStarting {
		t.Fatalf("job %d is %s after the refused calls and its node's registration, want still STARTING", id, j.State)
	}
}

// TestNodeEventsOnlyOwnJobs: a node's reports are about its own jobs,
// whatever node an event names: another node's report on a job is
// refused (not applied), the rest of its batch is.
func TestNodeEventsOnlyOwnJobs(t *testing.T) {
	mc := startMemController(t, Config{})
	n1 := mc.joinNode("n1")
	a := mc.submit(alice, api.JobSpec{Command: []string{"true"}, Dir: "/", Resources: api.Resources{CPUs: 1, MemoryMB: 64}})
	mc.waitJob(a, func(j *api.Job) bool { return j.State == api.StateStarting && j.Node == "n1" })
	mc.mustCall(rootUser, api.PathUpdateNode, api.UpdateNodeRequest{Name: "n1", State: api.NodeDrain, Reason: "test"}, nil)
	n2 := mc.joinNode("n2")
	b := mc.submit(alice, api.JobSpec{Command: []string{"true"}, Dir: "/", Resources: api.Resources{CPUs: 1, MemoryMB: 64}})
	mc.waitJob(b, func(j *api.Job) bool { return j.State == api.StateStarting && j.Node == "n2" })

	// n2 ends n1's job, naming n1 as the event's node, and starts its own.
	zero := 0
	if status, e := mc.bearer(n2, api.PathNodeEvents, api.JobEventsRequest{Events: []api.JobEvent{
		{ID: a, Node: "n1", State: api.StateSucceeded, ExitCode: &zero, Usage: &api.JobUsage{CPUSeconds: 1e6}},
		{ID: b, Node: "n2", State: api.StateRunning},
	}}, nil); status != http.StatusOK {
		t.Fatalf("n2's events: HTTP %d %s: %s", status, e.Code, e.Message)
	}
	mc.waitJob(b, func(j *api.Job) bool { return j.State == api.StateRunning })
	if j := mc.c.fsm.State().Job(a); j.State != api.StateStarting || j.Usage != nil {
		t.Fatalf("job %d on n1 after n2 reported its end: %s usage %+v, want STARTING and untouched", a, j.State, j.Usage)
	}
	// n1's own report applies, as n1's whatever node it names.
	if status, e := mc.bearer(n1, api.PathNodeEvents, api.JobEventsRequest{Events: []api.JobEvent{
		{ID: a, Node: "n2", State: api.StateRunning}}}, nil); status != http.StatusOK {
		t.Fatalf("n1's event: HTTP %d %s: %s", status, e.Code, e.Message)
	}
	mc.waitJob(a, func(j *api.Job) bool { return j.State == api.StateRunning })
}

// TestNodeDelete: root deletes a node only once nothing runs on it; the
// name then registers anew with the join token, with a new credential,
// and the old one no longer works.
func TestNodeDelete(t *testing.T) {
	mc := startMemController(t, Config{})
	old := mc.joinNode("n1")
	id := mc.submit(alice, api.JobSpec{Command: []string{"true"}, Dir: "/", Resources: api.Resources{CPUs: 1, MemoryMB: 64}})
	mc.waitJob(id, func(j *api.Job) bool { return j.State == api.StateStarting })

	status, e := mc.call(alice, api.PathDeleteNode, api.DeleteNodeRequest{Name: "n1"}, nil)
	wantRefused(t, "alice deletes a node", status, e, api.CodeForbidden)
	status, e = mc.call(rootUser, api.PathDeleteNode, api.DeleteNodeRequest{Name: "n1"}, nil)
	wantRefused(t, "delete a node with a job STARTING", status, e, api.CodeConflict, "STARTING or RUNNING", api.FormatID(id))
	status, e = mc.bearer(old, api.PathDeleteNode, api.DeleteNodeRequest{Name: "n1"}, nil)
	wantRefused(t, "a node deletes itself", status, e, api.CodeForbidden)
	zero := 0
	mc.mustCall(rootUser, api.PathNodeEvents, api.JobEventsRequest{Events: []api.JobEvent{{ID: id, Node: "n1", State: api.StateRunning}}}, nil)
	mc.waitJob(id, func(j *api.Job) bool { return j.State == api.StateRunning })
	status, e = mc.call(rootUser, api.PathDeleteNode, api.DeleteNodeRequest{Name: "n1"}, nil)
	wantRefused(t, "delete a node with a job RUNNING", status, e, api.CodeConflict, "RUNNING")
	if status, e := mc.bearer(old, api.PathNodeEvents, api.JobEventsRequest{Events: []api.JobEvent{
		{ID: id, State: api.StateSucceeded, ExitCode: &zero}}}, nil); status != http.StatusOK {
		t.Fatalf("n1 reports its job's end: HTTP %d %s: %s", status, e.Code, e.Message)
	}
	mc.waitJob(id, func(j *api.Job) bool { return j.State == api.StateSucceeded })

	mc.mustCall(rootUser, api.PathDeleteNode, api.DeleteNodeRequest{Name: "n1"}, nil)
	if mc.c.fsm.State().Node("n1") != nil {
		t.Fatal("n1 is still recorded after its delete")
	}
	status, e = mc.call(rootUser, api.PathDeleteNode, api.DeleteNodeRequest{Name: "n1"}, nil)
	wantRefused(t, "delete a node that is gone", status, e, api.CodeNotFound)
	status, e = mc.bearer(old, api.PathNodeBeat, api.NodeHeartbeatRequest{Name: "n1", Boot: "n1-boot"}, nil)
	wantRefused(t, "the deleted node's credential", status, e, api.CodeUnauthenticated, "join token")

	renewed := mc.joinNode("n1")
	if renewed == old {
		t.Fatal("the name registered anew got the old credential back")
	}
	status, e = mc.bearer(old, api.PathNodeBeat, api.NodeHeartbeatRequest{Name: "n1", Boot: "n1-boot"}, nil)
	wantRefused(t, "the old credential after the name registered anew", status, e, api.CodeUnauthenticated)
	status, e = mc.bearer(old, api.PathNodeRegister, nodeReg("n1"), nil)
	wantRefused(t, "the old credential registers", status, e, api.CodeUnauthenticated)
	if status, e := mc.bearer(renewed, api.PathNodeBeat, api.NodeHeartbeatRequest{Name: "n1", Boot: "n1-boot"}, nil); status != http.StatusOK {
		t.Fatalf("the new credential: HTTP %d %s: %s", status, e.Code, e.Message)
	}
}

// TestNodeCredentialForOlderNodes: a node recorded without a credential
// (from a state before credentials) gets one at its next registration
// with the join token, once; root's registrations keep the credential a
// node has and give one to a node that has none.
func TestNodeCredentialForOlderNodes(t *testing.T) {
	mc := startMemController(t, Config{})
	if _, err := mc.c.applier.Apply(context.Background(), raftfsm.OpRegisterNode, raftfsm.RegisterNodeCmd{
		Node: api.Node{Name: "old", Boot: "old-boot", Capacity: api.Resources{CPUs: 4, MemoryMB: 4096}}}); err != nil {
		t.Fatal(err)
	}
	cred := mc.joinNode("old")
	status, e := mc.bearer(mc.c.JoinToken(), api.PathNodeRegister, nodeReg("old"), nil)
	wantRefused(t, "the join token again", status, e, api.CodeConflict, "credential")

	resp := mc.registerNode("old") // root, on the unix socket
	if resp.Credential != "" {
		t.Fatalf("root's registration of a node with a credential gave another: %q", resp.Credential)
	}
	if status, e := mc.bearer(cred, api.PathNodeBeat, api.NodeHeartbeatRequest{Name: "old", Boot: "old-boot"}, nil); status != http.StatusOK {
		t.Fatalf("the credential after root's registration: HTTP %d %s: %s", status, e.Code, e.Message)
	}
	if resp := mc.registerNode("fresh"); len(resp.Credential) != 64 {
		t.Fatalf("root's registration of a new node: credential %q, want one", resp.Credential)
	}
}

// TestNodeListingHidesBoot: users see neither a node's boot id (what a
// node daemon's requests name) nor its credential's hash; root sees the
// boot id only.
func TestNodeListingHidesBoot(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.joinNode("n1")
	for _, p := range []peer{alice, rootUser} {
		var resp api.NodesResponse
		mc.mustCall(p, api.PathNodes, struct{}{}, &resp)
		if len(resp.Nodes) != 1 || resp.Nodes[0].SecretHash != "" {
			t.Fatalf("nodes as uid %d: %+v, want n1 without its credential's hash", p.uid, resp.Nodes)
		}
		if boot := resp.Nodes[0].Boot; (p == alice) != (boot == "") {
			t.Fatalf("nodes as uid %d: boot %q", p.uid, boot)
		}
	}
}

// clusterNodeClient is a node daemon's client of the TCP API of members
// of ms (indexes), presenting token: a join token, which pins the CA, or
// a node credential.
func clusterNodeClient(t *testing.T, ms []*clusterMember, token string, members ...int) *client.Client {
	t.Helper()
	var addrs []string
	for _, i := range members {
		addrs = append(addrs, ms[i].c.Addrs()[1])
	}
	opts := client.Options{Token: token}
	if !strings.HasPrefix(token, api.JoinTokenPrefix) { // a credential pins nothing: the CA is the join token's
		opts.CAHash = ms[0].c.CAHash()
	}
	c, err := client.NewWith(strings.Join(addrs, ","), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestNodeCredentialAcrossControllers: a node registered with the join
// token through one follower proves itself with its credential to any
// controller (the hash is in the replicated state): its work from the
// other follower, its heartbeats through a client of all three (the
// leader takes them); the join token is refused for its name on each.
func TestNodeCredentialAcrossControllers(t *testing.T) {
	ms := startCluster(t, 3)
	waitLeading(t, ms[0].c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nodeClient := func(token string, members ...int) *client.Client { return clusterNodeClient(t, ms, token, members...) }
	join := ms[0].c.NodeJoinToken()
	var reg api.RegisterNodeResponse
	if err := nodeClient(join, 1).Call(ctx, api.PathNodeRegister, nodeReg("n1"), &reg); err != nil || reg.Credential == "" {
		t.Fatalf("register n1 with the join token through a follower: %v (credential %q)", err, reg.Credential)
	}
	cred := api.FormatNodeCredential("n1", reg.Credential)
	var work api.NodeWorkResponse
	if err := nodeClient(cred, 2).Call(ctx, api.PathNodeWork, api.NodeWorkRequest{Name: "n1", Boot: "n1-boot", WaitMillis: 1}, &work); err != nil {
		t.Fatalf("n1's work from the other follower, by its credential: %v", err)
	}
	if err := nodeClient(cred, 2, 1, 0).Call(ctx, api.PathNodeBeat, api.NodeHeartbeatRequest{Name: "n1", Boot: "n1-boot"}, nil); err != nil {
		t.Fatalf("n1's heartbeat by its credential: %v", err)
	}
	for i := range ms {
		err := nodeClient(join, i).Call(ctx, api.PathNodeRegister, nodeReg("n1"), nil)
		if !api.IsCode(err, api.CodeConflict) {
			t.Fatalf("the join token registers n1 on controller %d: %v, want refused", i, err)
		}
		err = nodeClient(join, i).Call(ctx, api.PathNodeWork, api.NodeWorkRequest{Name: "n1", Boot: "n1-boot", WaitMillis: 1}, nil)
		if !api.IsCode(err, api.CodeForbidden) {
			t.Fatalf("the join token fetches n1's work on controller %d: %v, want refused", i, err)
		}
	}
}
