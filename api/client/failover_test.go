package client

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/reply"
)

// serveUnix serves h on a unix socket in dir and returns its path.
func serveUnix(t *testing.T, name string, h http.HandlerFunc) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return path
}

// A client of several controllers passes over one that cannot be reached
// and one that answers Unavailable, keeps to the one that answered, and
// returns any other refusal as it is, without trying the others.
func TestClientFollowsTheLeader(t *testing.T) {
	var followerCalls, leaderCalls atomic.Int32
	follower := serveUnix(t, "follower.sock", func(w http.ResponseWriter, r *http.Request) {
		followerCalls.Add(1)
		reply.Error(w, api.Errorf(api.CodeUnavailable, "no leader"))
	})
	leader := serveUnix(t, "leader.sock", func(w http.ResponseWriter, r *http.Request) {
		leaderCalls.Add(1)
		if r.URL.Path == api.PathCancel {
			reply.Error(w, api.Errorf(api.CodeConflict, "job 1 has ended"))
			return
		}
		reply.JSON(w, http.StatusOK, api.SubmitJobResponse{ID: 7})
	})
	gone := filepath.Join(t.TempDir(), "gone.sock") // nobody listens
	cl := New(gone+","+follower+","+leader, "")
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
		t.Fatalf("calls: follower %d, leader %d; want 1 and 2", followerCalls.Load(), leaderCalls.Load())
	}
	// A refusal is the answer: not sent elsewhere.
	if err := cl.Cancel(context.Background(), 1, ""); !api.IsCode(err, api.CodeConflict) {
		t.Fatalf("cancel: %v, want the leader's refusal", err)
	}
	if followerCalls.Load() != 1 {
		t.Fatalf("a refusal was sent on to the follower")
	}

	// None answers: the client gives up after FailoverWait with the last error.
	none := New(gone+","+follower, "")
	none.FailoverWait = 300 * time.Millisecond
	start := time.Now()
	if _, err := none.Submit(context.Background(), api.SubmitJobRequest{}); err == nil {
		t.Fatal("submit with no leader succeeded")
	}
	if took := time.Since(start); took < 300*time.Millisecond || took > 3*time.Second {
		t.Fatalf("gave up after %s, want about FailoverWait", took)
	}
}
