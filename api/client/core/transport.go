package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
)

// The HTTP statuses the client tells apart.
const (
	StatusNotModified        = 304
	StatusServiceUnavailable = 503
)

// Request is one POST to a controller.
type Request struct {
	Path        string // the path, with any query
	ContentType string
	Token       string    // sent as a bearer token when not ""
	ClientToken string    // sent as api.HeaderClientToken when not ""
	Body        io.Reader // nil: no body
	Length      int64     // Body's length, or -1 when unknown (then sent chunked)
}

// Response is a controller's answer. Its Body is the caller's to close.
type Response struct {
	StatusCode    int
	Header        Header
	ContentLength int64 // -1 when not announced
	Body          io.ReadCloser
}

// Header holds an answer's header fields under their canonical names
// ("Content-Type"), as net/http's Header does.
type Header map[string][]string

// Get returns the first value of the field key (in any case), or "".
func (h Header) Get(key string) string {
	if v := h[canonicalKey(key)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// canonicalKey is key with its first letter and every letter after a
// hyphen upper case and the others lower case ("x-shoal-digest" is
// "X-Shoal-Digest").
func canonicalKey(key string) string {
	b := []byte(key)
	upper := true
	for i, c := range b {
		switch {
		case upper && 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case !upper && 'A' <= c && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
		upper = c == '-'
	}
	return string(b)
}

// Transport sends requests to one controller.
type Transport interface {
	RoundTrip(ctx context.Context, req *Request) (*Response, error)
}

// Target is one controller's address, resolved.
type Target struct {
	// Base is the URL requests are sent under: "http://unix" for a unix
	// socket, else "http://host:port" or "https://host:port".
	Base string
	// Unix is the socket's path, for a unix socket.
	Unix string
	// TLS says how to check the server, for an https Base.
	TLS *TLS
}

// TLS says how a TLS server is checked (see Options).
type TLS struct {
	Host    string // the host dialled, which a CA-issued certificate must name
	CAHash  string // the CA's pin; else
	KeyHash string // the server key's pin; else
	CAFile  string // a PEM bundle of CAs to trust; else the system's roots
}

// Maker makes the transport to one controller.
type Maker func(Target) (Transport, error)

// tlsMaker makes the transports to https targets, when a TLS
// implementation is linked (RegisterTLS).
var tlsMaker Maker

// RegisterTLS makes mk the maker of transports to TLS addresses, for
// clients made with New and NewWith. Package api/client calls it when it
// is linked; this package alone speaks plain HTTP only.
func RegisterTLS(mk Maker) { tlsMaker = mk }

// NoTLS, when set, is called by NewWith before it fails for want of TLS
// (no RegisterTLS in this binary): the client binary sets it to replace
// itself with its TLS-capable build, so it returns only on failure.
var NoTLS func() error

// ErrNoTLS is returned (wrapped) for a TLS address when no TLS
// implementation is linked.
var ErrNoTLS = errors.New("this binary is built without TLS")

// makeTransport makes the transport to t with mk, or with this package's
// HTTP/1.1 (plain) and the registered TLS maker (https).
func makeTransport(mk Maker, t Target) (Transport, error) {
	switch {
	case mk != nil:
		return mk(t)
	case t.TLS == nil:
		return newH1(t), nil
	case tlsMaker != nil:
		return tlsMaker(t)
	default:
		return nil, fmt.Errorf("%s needs TLS: %w", t.Base, ErrNoTLS)
	}
}

// failing is the transport of an address that cannot be reached at all.
type failing struct{ err error }

func (f failing) RoundTrip(context.Context, *Request) (*Response, error) { return nil, f.err }

// hostOf is the host of a base URL, without port or IPv6 brackets.
func hostOf(base string) string {
	host := base
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	if i := strings.IndexByte(host, '/'); i >= 0 {
		host = host[:i]
	}
	return hostOnly(host)
}

// hostOnly strips the port (and IPv6 brackets) from host:port.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
}
