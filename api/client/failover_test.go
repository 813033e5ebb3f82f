package client

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
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

// A submit to several controllers carries a client token; one whose
// connection broke after it was sent, or that a controller answered
// OutcomeUnknown, is sent again, with the same token, to the next; a
// request without a token is not.
func TestClientResendsTokenedSubmit(t *testing.T) {
	var mu sync.Mutex
	var tokens []string
	record := func(r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		tokens = append(tokens, r.Header.Get(api.HeaderClientToken))
	}
	dies := serveUnix(t, "dies.sock", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		io.ReadAll(r.Body)
		conn, _, err := w.(http.Hijacker).Hijack() // the controller dies with the request in flight
		if err == nil {
			conn.Close()
		}
	})
	unknown := serveUnix(t, "unknown.sock", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		reply.Error(w, api.Errorf(api.CodeOutcomeUnknown, "leadership lost"))
	})
	leader := serveUnix(t, "leader.sock", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		reply.JSON(w, http.StatusOK, api.SubmitJobResponse{ID: 9})
	})
	cl := New(dies+","+unknown+","+leader, "")
	resp, err := cl.Submit(context.Background(), api.SubmitJobRequest{})
	if err != nil || resp.ID != 9 {
		t.Fatalf("submit: %+v %v, want job 9", resp, err)
	}
	if len(tokens) != 3 || tokens[0] == "" || tokens[1] != tokens[0] || tokens[2] != tokens[0] {
		t.Fatalf("tokens sent: %q, want one token three times", tokens)
	}
	// The next submit is a new request: a new token.
	if _, err := cl.Submit(context.Background(), api.SubmitJobRequest{}); err != nil {
		t.Fatal(err)
	}
	if len(tokens) != 4 || tokens[3] == tokens[0] || tokens[3] == "" {
		t.Fatalf("tokens sent: %q, want a new one for a new submit", tokens)
	}
	// Without a token, a lost answer is returned, not sent again.
	tokens = nil
	if err := New(dies+","+leader, "").Cancel(context.Background(), 1, ""); err == nil {
		t.Fatal("cancel whose connection broke: no error")
	}
	if len(tokens) != 1 || tokens[0] != "" {
		t.Fatalf("an untokened request was sent %d times (%q), want once, without a token", len(tokens), tokens)
	}
	// A client of one controller sends no token.
	tokens = nil
	if _, err := New(leader, "").Submit(context.Background(), api.SubmitJobRequest{}); err != nil || len(tokens) != 1 || tokens[0] != "" {
		t.Fatalf("one controller: %v, tokens %q; want one request without a token", err, tokens)
	}
}
