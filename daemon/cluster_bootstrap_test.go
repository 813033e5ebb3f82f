package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
)

// Three controllers started alike (-bootstrap-expect 3, -join listing all
// three, one token of NewServerToken), in a random order, form one
// cluster: the same three voters on each, one leader, the same CA and
// node join token; a write through one is read on another. A fourth
// started the same way later is added to that cluster as a voter.
func TestSymmetricBootstrap(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("submitting as root over the socket")
	}
	token, err := NewServerToken()
	if err != nil {
		t.Fatal(err)
	}
	const n = 3
	cfgs := make([]Config, n+1)
	var join []string
	for i := range cfgs {
		dir := t.TempDir()
		cfgs[i] = Config{DataDir: filepath.Join(dir, "data"), Socket: filepath.Join(dir, "shoal.sock"),
			Bind: freePort(t), RaftAddr: freePort(t), NodeID: fmt.Sprintf("c%d", i+1), BootstrapExpect: n,
			ServerToken: token, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if testing.Verbose() {
			cfgs[i].Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("ctl", cfgs[i].NodeID)
		}
		if i < n {
			join = append(join, cfgs[i].Bind)
		}
	}
	ctls := make([]*Controller, n+1)
	order := rand.Perm(n)
	t.Logf("start order: %v", order)
	for _, i := range order {
		cfgs[i].Join = join
		ctls[i] = startMember(t, cfgs[i])
		t.Cleanup(func() { ctls[i].Close() })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i, c := range ctls[:n] {
		if err := c.WaitVoters(ctx, n); err != nil {
			t.Fatalf("%s: %d voters: %v", cfgs[i].NodeID, n, err)
		}
	}
	waitLeaderAmong(t, ctls[:n])
	for i, c := range ctls[:n] {
		peers, err := c.peers(ctx, caller{}, empty{})
		if err != nil || len(peers.Peers) != n {
			t.Fatalf("%s: peers %+v %v, want %d", cfgs[i].NodeID, peers, err, n)
		}
		for k, p := range peers.Peers {
			if p.ID != cfgs[k].NodeID || p.Address != cfgs[k].RaftAddr || p.Suffrage != "Voter" {
				t.Fatalf("%s: peer %d is %+v, want voter %s at %s", cfgs[i].NodeID, k, p, cfgs[k].NodeID, cfgs[k].RaftAddr)
			}
		}
		if c.CAHash() != ctls[0].CAHash() || c.NodeJoinToken() != ctls[0].NodeJoinToken() || c.ServerToken() != token {
			t.Fatalf("%s: CA %s, join token %s, server token %s; want those of c1 and the token given", cfgs[i].NodeID,
				c.CAHash(), c.NodeJoinToken(), c.ServerToken())
		}
	}
	// A write through one, read on another (a node registers, over TLS
	// pinned by the join token, with any of them).
	if err := client.New(cfgs[order[0]].Socket, "").Call(ctx, api.PathNodeRegister, api.RegisterNodeRequest{
		Name: "n1", Boot: "b1", Capacity: api.Resources{CPUs: 2, MemoryMB: 2048}}, nil); err != nil {
		t.Fatalf("register a node: %v", err)
	}
	nodes, err := client.New(cfgs[order[n-1]].Socket, "").Nodes(ctx)
	if err != nil || len(nodes) != 1 {
		t.Fatalf("nodes on another controller: %+v %v", nodes, err)
	}
	remote, err := client.NewWith(cfgs[order[1]].Bind, client.Options{Token: ctls[0].NodeJoinToken()})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Call(ctx, api.PathNodeRegister, api.RegisterNodeRequest{
		Name: "n2", Boot: "b2", Capacity: api.Resources{CPUs: 2, MemoryMB: 2048}}, nil); err != nil {
		t.Fatalf("register a node over TLS with the join token: %v", err)
	}

	// A fourth, started alike later: added to the cluster formed.
	cfgs[n].Join = join
	ctls[n] = startMember(t, cfgs[n])
	t.Cleanup(func() { ctls[n].Close() })
	if err := ctls[n].WaitVoters(ctx, n+1); err != nil {
		t.Fatalf("the fourth controller: %d voters: %v", n+1, err)
	}
}

// waitLeaderAmong waits until one of ctls leads (its leader work started).
func waitLeaderAmong(t *testing.T, ctls []*Controller) {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		leaders := 0
		cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(deadline.C)}}
		for _, c := range ctls {
			ready, changed := c.leader.get()
			if ready {
				leaders++
			}
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(changed)})
		}
		if leaders == 1 {
			return
		}
		if chosen, _, _ := reflect.Select(cases); chosen == 0 {
			t.Fatalf("%d controllers lead after 30 s, want one", leaders)
		}
	}
}
