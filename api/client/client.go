// Package client is the Go client of a shoal controller's HTTP API (and
// of a node daemon's log server): the wire types it carries live in
// package api, which stays free of net/http and crypto/tls so that the
// scheduler and the FSM, which use those types, never link the network.
//
// The Client is package core's (a type alias), here with net/http
// transports, TLS and connection pools, for the controller, the node and
// tests. Linking this package also gives core's own constructors TLS
// (core.RegisterTLS): the full shoal binary's command line reaches TCP
// controllers through core, as the client binary's TLS build does.
package client

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client/core"
)

// Client talks to a controller's HTTP API over a unix socket or TCP,
// following the leader among several controllers (see core.Client).
type Client = core.Client

// Options say how a Client proves who it is and checks whom it talks to
// over https (see core.Options).
type Options = core.Options

// Response is a controller's answer to Post.
type Response = core.Response

// DefaultFailoverWait is how long a client of several controllers tries
// them before it gives up: long enough for a few elections.
const DefaultFailoverWait = core.DefaultFailoverWait

func init() { core.RegisterTLS(transport) }

// New returns a client for addr: "unix:/path", a path starting with
// "/" (a unix socket), "host:port" or "http://host:port" (plain HTTP: a
// node's log server), or "https://host:port" checked against the system's
// roots; or several of these separated by commas (the controllers of a
// cluster). token, if set, is sent as a bearer token (a node's join
// secret). A controller's TCP API serves TLS with its own CA: reach it
// with NewWith, which pins or loads that CA.
func New(addr, token string) *Client { return core.NewVia(transport, addr, token) }

// NewWith returns a client for addr: "unix:/path" or a path starting
// with "/" (a unix socket), "host:port" or "https://host:port" (TLS,
// checked against opts' CA hash or CA file, else the system's roots), or
// "http://host:port" (plain HTTP, for a controller run with -insecure-http).
func NewWith(addr string, opts Options) (*Client, error) {
	return core.NewWithVia(transport, addr, opts)
}

// SplitAddrs splits a comma-separated list of controller addresses.
func SplitAddrs(s string) []string { return core.SplitAddrs(s) }

// httpTransport sends requests with net/http, keeping connections.
type httpTransport struct {
	base string
	hc   *http.Client
}

// transport makes the transport to t: core's keep-alive HTTP/1.1 for
// plain HTTP (a unix socket, a node's log server), net/http for TLS.
func transport(t core.Target) (core.Transport, error) {
	if t.TLS == nil {
		return core.NewKeepAlive(t)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}
	if t.Unix != "" {
		path := t.Unix
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
	}
	if t.TLS != nil {
		conf, err := tlsConfig(t.TLS)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = conf
	}
	return &httpTransport{base: t.Base, hc: &http.Client{Transport: tr}}, nil
}

func (t *httpTransport) RoundTrip(ctx context.Context, req *core.Request) (*core.Response, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, t.base+req.Path, req.Body)
	if err != nil {
		return nil, err
	}
	if req.Length >= 0 && req.Body != nil {
		hr.ContentLength = req.Length
		if req.Length == 0 {
			hr.Body = http.NoBody
		}
	}
	if req.ContentType != "" {
		hr.Header.Set("Content-Type", req.ContentType)
	}
	if req.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+req.Token)
	}
	if req.ClientToken != "" {
		hr.Header.Set(api.HeaderClientToken, req.ClientToken)
	}
	res, err := t.hc.Do(hr)
	if err != nil {
		return nil, err
	}
	return &core.Response{StatusCode: res.StatusCode, Header: core.Header(res.Header),
		ContentLength: res.ContentLength, Body: res.Body}, nil
}
