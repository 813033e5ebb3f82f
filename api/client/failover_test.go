package client

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client/internal/clienttest"
	"github.com/shoal-batch/shoal/api/reply"
)

// The client follows the leader over net/http's transports as core's own
// HTTP/1.1 does (clienttest.FollowsTheLeader); with no leader at all it
// gives up after FailoverWait.
func TestClientFollowsTheLeader(t *testing.T) {
	gone, follower := clienttest.FollowsTheLeader(t, func(addr string) clienttest.Client { return New(addr, "") })

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
	dies := clienttest.ServeUnix(t, "dies.sock", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		io.ReadAll(r.Body)
		conn, _, err := w.(http.Hijacker).Hijack() // the controller dies with the request in flight
		if err == nil {
			conn.Close()
		}
	})
	unknown := clienttest.ServeUnix(t, "unknown.sock", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		reply.Error(w, api.Errorf(api.CodeOutcomeUnknown, "leadership lost"))
	})
	leader := clienttest.ServeUnix(t, "leader.sock", func(w http.ResponseWriter, r *http.Request) {
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
