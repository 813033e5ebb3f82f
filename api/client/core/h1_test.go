package core

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client/internal/clienttest"
	"github.com/shoal-batch/shoal/api/reply"
)

// The client's own HTTP/1.1 reaches net/http's server over a unix socket
// and over TCP: the request arrives whole (method, path and query, type,
// token, body of known and of unknown length), and the answer comes back
// with its status, header fields and body, announced or chunked.
func TestH1Exchange(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB, sent chunked
	h := func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "want POST", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case api.PathSubmit:
			var req api.SubmitJobRequest
			if err := json.Unmarshal(body, &req); err != nil || r.Header.Get("Content-Type") != "application/json" {
				http.Error(w, "bad submit", http.StatusBadRequest)
				return
			}
			if r.Header.Get("Authorization") != "Bearer tok" || r.URL.Query().Get(api.StaleParam) != "" {
				reply.Error(w, api.Errorf(api.CodeInvalid, "token %q query %q", r.Header.Get("Authorization"), r.URL.RawQuery))
				return
			}
			reply.JSON(w, http.StatusOK, api.SubmitJobResponse{ID: uint64(len(req.Name))})
		case api.PathListJobs:
			if r.URL.Query().Get(api.StaleParam) != "true" {
				reply.Error(w, api.Errorf(api.CodeInvalid, "query %q, want stale", r.URL.RawQuery))
				return
			}
			reply.JSON(w, http.StatusOK, api.ListJobsResponse{Jobs: []api.Job{{ID: 1}, {ID: 2}}})
		case api.PathImageLoad:
			// Echo the streamed upload back, streamed (chunked).
			if r.ContentLength != -1 || r.URL.Query().Get("name") != "a b" {
				http.Error(w, "want a chunked upload named \"a b\"", http.StatusBadRequest)
				return
			}
			w.Header().Set("X-Shoal-Test", "echo")
			w.WriteHeader(http.StatusOK)
			for b := body; len(b) > 0; {
				n := min(len(b), 100_000)
				w.Write(b[:n])
				w.(http.Flusher).Flush()
				b = b[n:]
			}
		default:
			reply.Error(w, api.Errorf(api.CodeNotFound, "no %s here", r.URL.Path))
		}
	}
	sock := clienttest.ServeUnix(t, "c.sock", h)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	clienttest.Serve(t, l, h)
	// A base URL's path goes before each request's (stripped here).
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	clienttest.Serve(t, pl, http.StripPrefix("/api", http.HandlerFunc(h)).ServeHTTP)
	for _, addr := range []string{sock, "unix:" + sock, "http://" + l.Addr().String(), l.Addr().String(), "http://" + pl.Addr().String() + "/api/"} {
		cl := New(addr, "tok")
		ctx := context.Background()
		resp, err := cl.Submit(ctx, api.SubmitJobRequest{JobSpec: api.JobSpec{Name: "hello"}})
		if err != nil || resp.ID != 5 {
			t.Errorf("%s: submit: %+v %v; want ID 5 (the name's length)", addr, resp, err)
		}
		var jobs api.ListJobsResponse
		if err := cl.CallStale(ctx, api.PathListJobs, api.ListJobsRequest{}, &jobs); err != nil || len(jobs.Jobs) != 2 {
			t.Errorf("%s: stale list: %+v %v; want 2 jobs", addr, jobs, err)
		}
		if err := cl.Call(ctx, "/nowhere", struct{}{}, nil); !api.IsCode(err, api.CodeNotFound) || !strings.Contains(err.Error(), "no /nowhere here") {
			t.Errorf("%s: call /nowhere: %v; want the server's NotFound", addr, err)
		}
		res, err := cl.sendTo(ctx, cl.eps[0], api.PathImageLoad+"?name=a+b", "application/x-tar", "", io.MultiReader(bytes.NewReader(big[:1000]), bytes.NewReader(big[1000:])), -1)
		if err != nil {
			t.Fatalf("%s: chunked upload: %v", addr, err)
		}
		got, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 || !bytes.Equal(got, big) || res.Header.Get("x-shoal-test") != "echo" || res.ContentLength != -1 {
			t.Errorf("%s: chunked echo: status %d, %d bytes (equal %v), header %q, length %d, err %v; want 200, the %d bytes sent, X-Shoal-Test echo, length -1",
				addr, res.StatusCode, len(got), bytes.Equal(got, big), res.Header.Get("X-Shoal-Test"), res.ContentLength, err, len(big))
		}
	}
}

// A context that ends while the controller has not answered (a long
// wait) ends the call at once, with the context's error.
func TestH1Cancel(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	sock := clienttest.ServeUnix(t, "slow.sock", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := New(sock, "").WaitJob(ctx, 1)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("wait past the deadline: %v; want context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the call returned %s after its deadline; want at once", took)
	}
}

// A server that answers malformed HTTP gets an error naming what was wrong.
func TestH1Malformed(t *testing.T) {
	for _, tt := range []struct{ answer, want string }{
		{"HTTP/1.1 2x OK\r\n\r\n", "malformed status line"},
		{"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "malformed header line"},
		{"HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n", "malformed Content-Length"},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size"},
		{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", "unexpected EOF"},
		{"HTTP/1.1 200 OK\r\n", "unexpected EOF"},
	} {
		path := filepath.Join(t.TempDir(), "bad.sock")
		l, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			buf := make([]byte, 4096)
			c.Read(buf)
			io.WriteString(c, tt.answer)
		}()
		var out map[string]any
		err = New(path, "").Call(context.Background(), "/x", struct{}{}, &out)
		l.Close()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("answer %q: %v; want an error saying %q", tt.answer, err, tt.want)
		}
	}
}

// A client of several controllers passes over one that cannot be reached
// and one that answers Unavailable, keeps to the one that answered, and
// returns any other refusal as it is, without trying the others.
func TestH1FollowsTheLeader(t *testing.T) {
	clienttest.FollowsTheLeader(t, func(addr string) clienttest.Client { return New(addr, "") })
}

// Without a TLS implementation linked (this test links none), NewWith
// calls NoTLS for a TLS address, and fails naming it if NoTLS returns;
// plain addresses never call it.
func TestNoTLS(t *testing.T) {
	if tlsMaker != nil {
		t.Fatal("a TLS maker is registered in core's own tests; want none (does a test import api/client?)")
	}
	var calls int
	NoTLS = func() error { calls++; return errors.New("no TLS build here") }
	defer func() { NoTLS = nil }()
	if _, err := NewWith("/run/x.sock,http://127.0.0.1:1", Options{}); err != nil || calls != 0 {
		t.Errorf("plain addresses: %v, NoTLS called %d times; want a client and no call", err, calls)
	}
	_, err := NewWith("/run/x.sock,ctl2:8443", Options{})
	if !errors.Is(err, ErrNoTLS) || calls != 1 || !strings.Contains(err.Error(), "https://ctl2:8443") || !strings.Contains(err.Error(), "no TLS build here") {
		t.Errorf("a TLS address: %v, NoTLS called %d times; want ErrNoTLS naming https://ctl2:8443 and NoTLS's error, after one call", err, calls)
	}
	NoTLS = nil
	if _, err := NewWith("https://ctl2:8443", Options{}); !errors.Is(err, ErrNoTLS) {
		t.Errorf("a TLS address, no NoTLS: %v; want ErrNoTLS", err)
	}
}
