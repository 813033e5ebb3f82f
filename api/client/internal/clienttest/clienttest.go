// Package clienttest is what the tests of api/client (net/http's
// transports) and api/client/core (its own HTTP/1.1) share: a controller
// stand-in served by net/http on a unix socket, and the follow-the-leader
// scenario both clients must pass. Only tests import it.
package clienttest

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/reply"
)

// Serve serves h with net/http's server on l until the test ends.
func Serve(t testing.TB, l net.Listener, h http.HandlerFunc) {
	t.Helper()
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

// ServeUnix serves h on a unix socket called name in a temporary folder
// and returns its path.
func ServeUnix(t testing.TB, name string, h http.HandlerFunc) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	Serve(t, l, h)
	return path
}

// Client is what FollowsTheLeader asks of a client (core.Client, which
// api/client.Client is).
type Client interface {
	Submit(ctx context.Context, req api.SubmitJobRequest) (api.SubmitJobResponse, error)
	Cancel(ctx context.Context, id uint64, reason string) error
}

// FollowsTheLeader checks that a client of several controllers
// (newClient's addr, comma-separated) passes over one that cannot be
// reached and one that answers Unavailable, keeps to the one that
// answered, and returns any other refusal as it is, without trying the
// others. It returns the address nobody listens on and the follower's,
// for a test to go on with a cluster that has no leader.
func FollowsTheLeader(t *testing.T, newClient func(addr string) Client) (gone, follower string) {
	t.Helper()
	var followerCalls, leaderCalls atomic.Int32
	follower = ServeUnix(t, "follower.sock", func(w http.ResponseWriter, r *http.Request) {
		followerCalls.Add(1)
		reply.Error(w, api.Errorf(api.CodeUnavailable, "no leader"))
	})
	leader := ServeUnix(t, "leader.sock", func(w http.ResponseWriter, r *http.Request) {
		leaderCalls.Add(1)
		if r.URL.Path == api.PathCancel {
			reply.Error(w, api.Errorf(api.CodeConflict, "job 1 has ended"))
			return
		}
		reply.JSON(w, http.StatusOK, api.SubmitJobResponse{ID: 7})
	})
	gone = filepath.Join(t.TempDir(), "gone.sock") // nobody listens
	cl := newClient(gone + "," + follower + "," + leader)
	resp, err := cl.Submit(context.Background(), api.SubmitJobRequest{})
	if err != nil || resp.ID != 7 {
		t.Fatalf("submit: %+v %v, want job 7 from the leader", resp, err)
	}
	if followerCalls.Load() != 1 {
		t.Fatalf("the follower was asked %d times, want once", followerCalls.Load())
	}
	// The next request goes straight to the leader.
	if _, err := cl.Submit(context.Background(), api.SubmitJobRequest{}); err != nil {
		t.Fatal(err)
	}
	if followerCalls.Load() != 1 || leaderCalls.Load() != 2 {
		t.Fatalf("calls: follower %d, leader %d; want 1 and 2 (the second straight to the leader)", followerCalls.Load(), leaderCalls.Load())
	}
	// A refusal is the answer: not sent elsewhere.
	if err := cl.Cancel(context.Background(), 1, ""); !api.IsCode(err, api.CodeConflict) || followerCalls.Load() != 1 {
		t.Fatalf("cancel: %v (follower asked %d times); want the leader's refusal, not sent on", err, followerCalls.Load())
	}
	return gone, follower
}
