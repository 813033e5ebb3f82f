package core

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// h1 is a plain HTTP/1.1 transport. Made with newH1 it opens one
// connection per request, closed when the answer is read: a command line
// tool sends one request or a few, and a unix socket connects in
// microseconds. Made with NewKeepAlive it keeps connections for the next
// request, as a long-lived client (a node daemon, a program submitting
// thousands of jobs) wants: each exchange then runs in the caller's
// goroutine alone, with none of the reader and writer goroutines a
// net/http transport hands every request through.
type h1 struct {
	network, addr string // "unix" and a path, or "tcp" and host:port
	host          string // the Host field
	prefix        string // the path of the base URL, before each request's
	keep          bool   // keep connections between requests

	mu   sync.Mutex
	idle []*h1conn // most recently used last
}

// h1conn is one connection with its buffers, which outlive a request
// when the connection is kept.
type h1conn struct {
	net.Conn
	r         *bufio.Reader
	w         *bufio.Writer
	idleSince time.Time
}

// maxIdle bounds the connections a keep-alive transport holds unused,
// and maxIdleFor how long it holds one: past it the next request
// connects afresh rather than find a connection the server dropped.
const (
	maxIdle    = 64
	maxIdleFor = 60 * time.Second
)

func newH1(t Target) *h1 {
	if t.Unix != "" {
		return &h1{network: "unix", addr: t.Unix, host: "unix"}
	}
	hostport, prefix := strings.TrimPrefix(t.Base, "http://"), ""
	if i := strings.IndexByte(hostport, '/'); i >= 0 {
		hostport, prefix = hostport[:i], hostport[i:]
	}
	addr := hostport
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]"), "80")
	}
	return &h1{network: "tcp", addr: addr, host: hostport, prefix: prefix}
}

// NewKeepAlive returns the HTTP/1.1 transport to a plain (not TLS) target
// that keeps its connections between requests.
func NewKeepAlive(t Target) (Transport, error) {
	if t.TLS != nil {
		return nil, fmt.Errorf("%s: the keep-alive transport speaks plain HTTP only", t.Base)
	}
	h := newH1(t)
	h.keep = true
	return h, nil
}

// maxHeader bounds an answer's status line and header fields together.
const maxHeader = 1 << 20

// longAgo is a deadline in the past: setting it makes the connection's
// pending reads and writes fail at once.
var longAgo = time.Unix(1, 0)

// RoundTrip sends req and reads the answer's status and header; the body
// is read from the connection as the caller reads it. Closing it closes
// the connection, or keeps it for the next request when the body was
// read to its end. ctx bounds the whole exchange, body included.
func (t *h1) RoundTrip(ctx context.Context, req *Request) (*Response, error) {
	conn, err := t.conn(ctx)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(longAgo) })
	res, framed, err := t.exchange(conn, req)
	if err != nil {
		stop()
		conn.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return nil, err
	}
	res.Body = &body{r: res.Body, conn: conn, stop: stop, ctx: ctx, t: t,
		keep: t.keep && framed && !closing(res.Header)}
	return res, nil
}

// conn returns an idle connection that is still open, or a new one.
func (t *h1) conn(ctx context.Context) (*h1conn, error) {
	for t.keep {
		t.mu.Lock()
		if len(t.idle) == 0 {
			t.mu.Unlock()
			break
		}
		c := t.idle[len(t.idle)-1]
		t.idle = t.idle[:len(t.idle)-1]
		t.mu.Unlock()
		if time.Since(c.idleSince) < maxIdleFor && c.r.Buffered() == 0 && stillOpen(c.Conn) {
			return c, nil
		}
		c.Close()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, t.network, t.addr)
	if err != nil {
		return nil, err
	}
	return &h1conn{Conn: conn, r: bufio.NewReaderSize(conn, 8<<10), w: bufio.NewWriterSize(conn, 8<<10)}, nil
}

// put keeps c for the next request, or closes it when enough are kept.
func (t *h1) put(c *h1conn) {
	c.idleSince = time.Now()
	t.mu.Lock()
	if len(t.idle) < maxIdle {
		t.idle = append(t.idle, c)
		c = nil
	}
	t.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// stillOpen says whether an idle connection can carry a request: the
// server has neither closed it nor sent anything unasked. It peeks
// without waiting, one system call.
func stillOpen(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		open = rerr == syscall.EAGAIN
		return true // answered either way: never wait
	})
	return err == nil && open
}

// closing says whether the server will close the connection after this
// answer.
func closing(h Header) bool {
	for _, v := range h["Connection"] {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "close") {
				return true
			}
		}
	}
	return false
}

// exchange sends req on conn and reads the answer's header. framed says
// whether the answer's body has an end of its own (a length, chunks, or
// none), so that the connection can carry another exchange after it.
func (t *h1) exchange(conn *h1conn, req *Request) (res *Response, framed bool, err error) {
	w := conn.w
	w.WriteString("POST " + t.prefix + req.Path + " HTTP/1.1\r\nHost: " + t.host + "\r\nUser-Agent: shoal\r\n")
	if !t.keep {
		w.WriteString("Connection: close\r\n")
	}
	if req.ContentType != "" {
		w.WriteString("Content-Type: " + req.ContentType + "\r\n")
	}
	if req.Token != "" {
		w.WriteString("Authorization: Bearer " + req.Token + "\r\n")
	}
	if req.ClientToken != "" {
		w.WriteString(api.HeaderClientToken + ": " + req.ClientToken + "\r\n")
	}
	switch {
	case req.Body == nil:
		w.WriteString("Content-Length: 0\r\n\r\n")
	case req.Length >= 0:
		w.WriteString("Content-Length: " + strconv.FormatInt(req.Length, 10) + "\r\n\r\n")
		var n int64
		if n, err = io.Copy(w, req.Body); err == nil && n != req.Length {
			err = fmt.Errorf("request body: sent %d bytes, announced %d", n, req.Length)
		}
	default:
		w.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		cw := &chunkWriter{w: w}
		if _, err = io.Copy(cw, req.Body); err == nil {
			_, err = w.WriteString("0\r\n\r\n")
		}
	}
	if err == nil {
		err = w.Flush()
	}
	r := conn.r
	if err != nil {
		// The server may have answered (a refusal) and closed before
		// reading all of the request: its answer is the better error.
		if res, _, rerr := readHeader(r); rerr == nil && res.StatusCode >= 200 {
			return res, false, nil // half sent: the connection is spent
		}
		return nil, false, fmt.Errorf("send request: %w", err)
	}
	for {
		res, framed, err := readHeader(r)
		if err != nil {
			return nil, false, fmt.Errorf("read answer: %w", err)
		}
		if res.StatusCode >= 100 && res.StatusCode < 200 {
			continue // 100 Continue and the like: the answer follows
		}
		return res, framed, nil
	}
}

// readHeader reads a status line and header fields, and sets Body to
// read what follows as the header says. framed says whether the body
// ends by itself, not when the server closes the connection.
func readHeader(r *bufio.Reader) (res *Response, framed bool, err error) {
	left := maxHeader
	line := func() (string, error) {
		var b []byte
		for {
			frag, err := r.ReadSlice('\n')
			if left -= len(frag); left < 0 {
				return "", errors.New("header longer than 1 MiB")
			}
			if err == nil && b == nil { // the usual line, whole in the buffer: one copy
				return string(bytes.TrimRight(frag, "\r\n")), nil
			}
			b = append(b, frag...)
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return "", err
			}
			return strings.TrimRight(string(b), "\r\n"), nil
		}
	}
	status, err := line()
	if err != nil {
		return nil, false, err
	}
	proto, rest, _ := strings.Cut(status, " ")
	code, _, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(code)
	if !strings.HasPrefix(proto, "HTTP/1.") || err != nil || n < 100 || n > 999 {
		return nil, false, fmt.Errorf("malformed status line %q", status)
	}
	res = &Response{StatusCode: n, Header: Header{}, ContentLength: -1}
	for {
		l, err := line()
		if err != nil {
			return nil, false, err
		}
		if l == "" {
			break
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, false, fmt.Errorf("malformed header line %q", l)
		}
		k = canonicalKey(k)
		res.Header[k] = append(res.Header[k], strings.TrimSpace(v))
	}
	framed = true
	switch te := strings.ToLower(res.Header.Get("Transfer-Encoding")); {
	case n == 204 || n == 304:
		res.ContentLength = 0
		res.Body = io.NopCloser(strings.NewReader(""))
	case te == "chunked":
		res.Body = &chunkReader{r: r}
	case te != "":
		return nil, false, fmt.Errorf("unsupported Transfer-Encoding %q", te)
	case res.Header.Get("Content-Length") != "":
		cl, err := strconv.ParseInt(res.Header.Get("Content-Length"), 10, 64)
		if err != nil || cl < 0 {
			return nil, false, fmt.Errorf("malformed Content-Length %q", res.Header.Get("Content-Length"))
		}
		res.ContentLength = cl
		res.Body = &exactReader{r: r, left: cl}
	default:
		res.Body = io.NopCloser(r) // until the server closes
		framed = false
	}
	return res, framed, nil
}

// body is an answer's body on its connection.
type body struct {
	r      io.ReadCloser
	conn   *h1conn
	stop   func() bool
	ctx    context.Context
	t      *h1
	keep   bool // the connection may carry the next request once r ends
	ended  bool // r has reported its end
	closed bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.ended = true
	}
	if err != nil && err != io.EOF && b.ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", b.ctx.Err(), err)
	}
	return n, err
}

// Close keeps the connection for the next request when the answer has
// been read to its end, or its rest is already here (a JSON decoder
// stops before the end it never asks for); else it closes it.
func (b *body) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	if !b.stop() || !b.keep { // ctx ended: the deadline spoiled the connection
		return b.conn.Close()
	}
	if e, ok := b.r.(ender); ok && e.atEnd() {
		b.ended = true
	}
	if !b.ended {
		// What is buffered, and nothing that would make Close wait.
		b.conn.SetReadDeadline(longAgo)
		_, err := io.Copy(io.Discard, io.LimitReader(b, 64<<10))
		b.conn.SetReadDeadline(time.Time{})
		if err != nil || !b.ended {
			return b.conn.Close()
		}
	}
	b.t.put(b.conn)
	return nil
}

// ender is a framed body that knows it has been read to its end before
// a read reports it.
type ender interface{ atEnd() bool }

// exactReader reads left bytes and then EOF; an end before is
// io.ErrUnexpectedEOF.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) atEnd() bool  { return e.left <= 0 }
func (e *exactReader) Close() error { return nil }

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		err = io.ErrUnexpectedEOF
	} else if err == io.EOF {
		err = nil
	}
	return n, err
}

// chunkReader decodes a chunked body (RFC 9112 section 7.1).
type chunkReader struct {
	r    *bufio.Reader
	left int64 // bytes left in the current chunk
	done bool
}

func (c *chunkReader) atEnd() bool  { return c.done }
func (c *chunkReader) Close() error { return nil }

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	if c.left == 0 {
		size, err := c.r.ReadString('\n')
		if err != nil {
			return 0, unexpected(err)
		}
		size, _, _ = strings.Cut(strings.TrimRight(size, "\r\n"), ";")
		n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("malformed chunk size %q", size)
		}
		if n == 0 {
			// Trailer fields, if any, up to the blank line.
			for {
				l, err := c.r.ReadString('\n')
				if err != nil {
					return 0, unexpected(err)
				}
				if strings.TrimRight(l, "\r\n") == "" {
					break
				}
			}
			c.done = true
			return 0, io.EOF
		}
		c.left = n
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if err != nil {
		return n, unexpected(err)
	}
	if c.left == 0 {
		if crlf, err := c.r.ReadString('\n'); err != nil || strings.TrimRight(crlf, "\r\n") != "" {
			return n, fmt.Errorf("malformed chunk end %q: %v", crlf, err)
		}
	}
	return n, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// chunkWriter writes each Write as one chunk.
type chunkWriter struct{ w *bufio.Writer }

func (c *chunkWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.w.WriteString(strconv.FormatInt(int64(len(p)), 16) + "\r\n")
	c.w.Write(p)
	_, err := c.w.WriteString("\r\n")
	return len(p), err
}
