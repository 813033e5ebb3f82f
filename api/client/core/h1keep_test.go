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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/reply"
)

// keepServer is a controller stand-in on a unix socket that counts the
// connections it was opened and can drop the idle ones, as a server
// that restarts or times them out does.
type keepServer struct {
	sock    string
	opened  atomic.Int64
	mu      sync.Mutex
	idle    map[net.Conn]bool
	idled   chan struct{} // a connection went idle
	release chan struct{}
}

func newKeepServer(t *testing.T) *keepServer {
	t.Helper()
	ks := &keepServer{sock: filepath.Join(t.TempDir(), "k.sock"), idle: map[net.Conn]bool{},
		idled: make(chan struct{}, 1), release: make(chan struct{})}
	l, err := net.Listen("unix", ks.sock)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 4<<20)
	mux := http.NewServeMux()
	mux.HandleFunc(api.PathSubmit, func(w http.ResponseWriter, r *http.Request) {
		var req api.SubmitJobRequest
		if err := decodeJSON(r.Body, &req); err != nil {
			reply.Error(w, api.Errorf(api.CodeInvalid, "%v", err))
			return
		}
		if req.Name == "closing" {
			w.Header().Set("Connection", "close")
		}
		reply.JSON(w, http.StatusOK, api.SubmitJobResponse{ID: uint64(len(req.Name))})
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write(big) })
	mux.HandleFunc(api.PathWait, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-ks.release:
		case <-r.Context().Done():
		}
	})
	srv := &http.Server{Handler: mux, ConnState: func(c net.Conn, s http.ConnState) {
		ks.mu.Lock()
		defer ks.mu.Unlock()
		switch s {
		case http.StateNew:
			ks.opened.Add(1)
		case http.StateIdle:
			ks.idle[c] = true
			select {
			case ks.idled <- struct{}{}:
			default:
			}
		default:
			delete(ks.idle, c)
		}
	}}
	go srv.Serve(l)
	t.Cleanup(func() {
		close(ks.release)
		srv.Close()
	})
	return ks
}

func decodeJSON(r io.Reader, v any) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// dropIdle closes the server's end of every idle connection, once there
// is one: the server marks a connection idle just after its answer is
// sent, so possibly after the client has read it.
func (ks *keepServer) dropIdle(t *testing.T) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		ks.mu.Lock()
		n := len(ks.idle)
		for c := range ks.idle {
			c.Close()
			delete(ks.idle, c)
		}
		ks.mu.Unlock()
		if n > 0 {
			return
		}
		select {
		case <-ks.idled:
		case <-timeout:
			t.Fatal("no idle connection to drop after 10 s")
		}
	}
}

func keepClient(t *testing.T, sock string) *Client {
	t.Helper()
	return NewVia(NewKeepAlive, sock, "")
}

func submitName(t *testing.T, cl *Client, name string) {
	t.Helper()
	res, err := cl.Submit(context.Background(), api.SubmitJobRequest{JobSpec: api.JobSpec{Name: name}})
	if err != nil || res.ID != uint64(len(name)) {
		t.Fatalf("submit %q: %+v %v; want ID %d", name, res, err, len(name))
	}
}

// A keep-alive client sends request after request on one connection.
func TestKeepAliveReusesConnection(t *testing.T) {
	ks := newKeepServer(t)
	cl := keepClient(t, ks.sock)
	for range 50 {
		submitName(t, cl, "hello")
	}
	if n := ks.opened.Load(); n != 1 {
		t.Errorf("50 submits opened %d connections; want 1", n)
	}
}

// Concurrent callers each get a connection of their own, and keep them.
func TestKeepAliveConcurrent(t *testing.T) {
	ks := newKeepServer(t)
	cl := keepClient(t, ks.sock)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 100 {
				submitName(t, cl, "concurrent")
			}
		})
	}
	wg.Wait()
	if n := ks.opened.Load(); n > 16 {
		t.Errorf("16 callers opened %d connections; want at most 16", n)
	}
}

// A connection is not used again when the server says it closes it,
// when the server has dropped it while idle, when its answer was not
// read to its end, or when the caller's context ended during the
// exchange: the next request goes out on a new one and succeeds.
func TestKeepAliveSpentConnections(t *testing.T) {
	ks := newKeepServer(t)
	cl := keepClient(t, ks.sock)
	submitName(t, cl, "first")
	submitName(t, cl, "closing") // Connection: close
	submitName(t, cl, "after close")
	if n := ks.opened.Load(); n != 2 {
		t.Errorf("after an answer with Connection: close, %d connections opened; want 2", n)
	}

	ks.dropIdle(t)
	submitName(t, cl, "after the server dropped it")
	if n := ks.opened.Load(); n != 3 {
		t.Errorf("after the server dropped the idle connection, %d connections opened; want 3", n)
	}

	ctx := context.Background()
	res, err := cl.sendTo(ctx, cl.eps[0], "/big", "", "", nil, 0)
	if err != nil {
		t.Fatalf("big answer: %v", err)
	}
	if _, err := io.ReadFull(res.Body, make([]byte, 1000)); err != nil {
		t.Fatalf("read the start of the big answer: %v", err)
	}
	res.Body.Close() // most of 4 MiB unread: the connection is spent
	submitName(t, cl, "after a half-read answer")
	if n := ks.opened.Load(); n != 4 {
		t.Errorf("after an answer closed half-read, %d connections opened; want 4", n)
	}

	wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := cl.WaitJob(wctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait past its deadline: %v; want context.DeadlineExceeded", err)
	}
	submitName(t, cl, "after a cancelled wait")
	if n := ks.opened.Load(); n != 5 {
		t.Errorf("after a cancelled exchange, %d connections opened; want 5", n)
	}
}
