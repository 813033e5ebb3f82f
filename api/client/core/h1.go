package core

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// h1 is a plain HTTP/1.1 transport: one connection per request, closed
// when the answer is read. A command line tool sends one request or a
// few, and a unix socket connects in microseconds; keeping connections
// would cost the bookkeeping net/http does without making it faster.
type h1 struct {
	network, addr string // "unix" and a path, or "tcp" and host:port
	host          string // the Host field
	prefix        string // the path of the base URL, before each request's
}

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

// maxHeader bounds an answer's status line and header fields together.
const maxHeader = 1 << 20

// longAgo is a deadline in the past: setting it makes the connection's
// pending reads and writes fail at once.
var longAgo = time.Unix(1, 0)

// RoundTrip sends req on a new connection and reads the answer's status
// and header; the body is read from the connection as the caller reads
// it, and closing it closes the connection. ctx bounds the whole
// exchange, body included.
func (t *h1) RoundTrip(ctx context.Context, req *Request) (*Response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, t.network, t.addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(longAgo) })
	res, err := t.exchange(conn, req)
	if err != nil {
		stop()
		conn.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return nil, err
	}
	res.Body = &body{r: res.Body, conn: conn, stop: stop, ctx: ctx}
	return res, nil
}

func (t *h1) exchange(conn net.Conn, req *Request) (*Response, error) {
	w := bufio.NewWriterSize(conn, 8<<10)
	w.WriteString("POST " + t.prefix + req.Path + " HTTP/1.1\r\nHost: " + t.host + "\r\nUser-Agent: shoal\r\nConnection: close\r\n")
	if req.ContentType != "" {
		w.WriteString("Content-Type: " + req.ContentType + "\r\n")
	}
	if req.Token != "" {
		w.WriteString("Authorization: Bearer " + req.Token + "\r\n")
	}
	if req.ClientToken != "" {
		w.WriteString(api.HeaderClientToken + ": " + req.ClientToken + "\r\n")
	}
	var err error
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
	r := bufio.NewReaderSize(conn, 8<<10)
	if err != nil {
		// The server may have answered (a refusal) and closed before
		// reading all of the request: its answer is the better error.
		if res, rerr := readHeader(r); rerr == nil && res.StatusCode >= 200 {
			return res, nil
		}
		return nil, fmt.Errorf("send request: %w", err)
	}
	for {
		res, err := readHeader(r)
		if err != nil {
			return nil, fmt.Errorf("read answer: %w", err)
		}
		if res.StatusCode >= 100 && res.StatusCode < 200 {
			continue // 100 Continue and the like: the answer follows
		}
		return res, nil
	}
}

// readHeader reads a status line and header fields, and sets Body to
// read what follows as the header says.
func readHeader(r *bufio.Reader) (*Response, error) {
	left := maxHeader
	line := func() (string, error) {
		var b []byte
		for {
			frag, err := r.ReadSlice('\n')
			if left -= len(frag); left < 0 {
				return "", errors.New("header longer than 1 MiB")
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
		return nil, err
	}
	proto, rest, _ := strings.Cut(status, " ")
	code, _, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(code)
	if !strings.HasPrefix(proto, "HTTP/1.") || err != nil || n < 100 || n > 999 {
		return nil, fmt.Errorf("malformed status line %q", status)
	}
	res := &Response{StatusCode: n, Header: Header{}, ContentLength: -1}
	for {
		l, err := line()
		if err != nil {
			return nil, err
		}
		if l == "" {
			break
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("malformed header line %q", l)
		}
		k = canonicalKey(k)
		res.Header[k] = append(res.Header[k], strings.TrimSpace(v))
	}
	switch te := strings.ToLower(res.Header.Get("Transfer-Encoding")); {
	case n == 204 || n == 304:
		res.ContentLength = 0
		res.Body = io.NopCloser(strings.NewReader(""))
	case te == "chunked":
		res.Body = io.NopCloser(&chunkReader{r: r})
	case te != "":
		return nil, fmt.Errorf("unsupported Transfer-Encoding %q", te)
	case res.Header.Get("Content-Length") != "":
		cl, err := strconv.ParseInt(res.Header.Get("Content-Length"), 10, 64)
		if err != nil || cl < 0 {
			return nil, fmt.Errorf("malformed Content-Length %q", res.Header.Get("Content-Length"))
		}
		res.ContentLength = cl
		res.Body = io.NopCloser(&exactReader{r: r, left: cl})
	default:
		res.Body = io.NopCloser(r) // until the server closes
	}
	return res, nil
}

// body is an answer's body on its connection.
type body struct {
	r    io.ReadCloser
	conn net.Conn
	stop func() bool
	ctx  context.Context
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF && b.ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", b.ctx.Err(), err)
	}
	return n, err
}

func (b *body) Close() error {
	b.stop()
	return b.conn.Close()
}

// exactReader reads left bytes and then EOF; an end before is
// io.ErrUnexpectedEOF.
type exactReader struct {
	r    io.Reader
	left int64
}

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
