package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Controllers talk to each other on one TCP port, the raft address, over
// mutual TLS from the cluster CA: each side presents a certificate the CA
// signed (ServerAuth and ClientAuth), and each checks the other's against
// the CA. Only controllers hold the CA's key (node daemons get a join
// secret and the CA's hash, never a certificate), so a stranger, or a
// node, cannot take part in raft or call the internal routes.
//
// After the handshake the dialler sends one byte that says what the
// connection is for: raft's own RPCs (muxRaft), or the internal HTTP API
// between controllers (muxRPC: forwarded commands, read indexes, voter
// changes).
const (
	muxRaft byte = 'R'
	muxRPC  byte = 'H'
)

// peerHandshakeTimeout bounds a peer connection's TLS handshake and its
// first byte: a client that connects and says nothing is dropped.
const peerHandshakeTimeout = 10 * time.Second

// peerLifetime is how long a controller's peer certificate is valid: it
// is made again at every start.
const peerLifetime = 365 * 24 * time.Hour

// peerTLS is a controller's TLS material for talking to other
// controllers: its own certificate (from the cluster CA) and the CA to
// check theirs against.
type peerTLS struct {
	cert tls.Certificate
	pool *x509.CertPool
}

// peerTLS issues this controller's peer certificate for hosts (the names
// and addresses other controllers dial it by), valid as a server and as a
// client.
func (ca *certAuthority) peerTLS(hosts []string) (*peerTLS, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("make peer key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "shoal controller " + hosts[0], Organization: []string{"shoal"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(peerLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("make peer certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse peer certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return &peerTLS{
		cert: tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key, Leaf: leaf},
		pool: pool,
	}, nil
}

// server is the TLS configuration of the peer listener: a client
// certificate from the cluster CA is required.
func (p *peerTLS) server() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{p.cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    p.pool,
	}
}

// client is the TLS configuration for dialling the controller at addr:
// its certificate must come from the cluster CA and name addr's host.
func (p *peerTLS) client(addr string) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{p.cert},
		RootCAs:      p.pool,
		ServerName:   hostOnly(addr),
	}
}

// hostOnly strips the port (and IPv6 brackets) from host:port.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// peerMux is the raft address's listener: it completes the mutual TLS
// handshake of each connection and hands it to raft or to the internal
// API by its first byte.
type peerMux struct {
	ln        net.Listener
	advertise net.Addr
	tls       *peerTLS
	log       *slog.Logger

	raftConns chan net.Conn
	rpcConns  chan net.Conn
	done      chan struct{}
	closeOnce sync.Once

	// cut drops every connection, both ways, while set: a network
	// partition of this controller, for tests (setPartitioned).
	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

// setPartitioned cuts this controller off from the others (and closes
// the connections it has) or heals the cut: what a firewall dropping its
// raft port's traffic would do, for the partition tests.
func (m *peerMux) setPartitioned(cut bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cut = cut
	if cut {
		for c := range m.conns {
			c.Close()
		}
		clear(m.conns)
	}
}

// track records conn so that a partition can close it; false when this
// controller is cut off (conn is then closed).
func (m *peerMux) track(conn net.Conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cut {
		conn.Close()
		return false
	}
	if m.conns == nil {
		m.conns = map[net.Conn]struct{}{}
	}
	m.conns[conn] = struct{}{}
	return true
}

func (m *peerMux) untrack(conn net.Conn) {
	m.mu.Lock()
	delete(m.conns, conn)
	m.mu.Unlock()
}

// trackedConn is a connection that leaves the partition's set when closed.
type trackedConn struct {
	net.Conn
	m    *peerMux
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { c.m.untrack(c.Conn) })
	return c.Conn.Close()
}

// listenPeers listens on bind for other controllers. advertise is the
// address they reach this one at ("" : the bound address, which must then
// not be a wildcard).
func listenPeers(bind, advertise string, p *peerTLS, log *slog.Logger) (*peerMux, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("raft transport: listen on %s: %w", bind, err)
	}
	if advertise == "" {
		advertise = ln.Addr().String()
	}
	adv, err := net.ResolveTCPAddr("tcp", advertise)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("raft advertise address %q: %w (want HOST:PORT)", advertise, err)
	}
	if adv.IP == nil || adv.IP.IsUnspecified() {
		ln.Close()
		return nil, fmt.Errorf("raft address %s is a wildcard: other controllers cannot dial it; give the address they reach this one at (-raft-advertise HOST:PORT)", advertise)
	}
	m := &peerMux{ln: ln, advertise: adv, tls: p, log: log,
		raftConns: make(chan net.Conn), rpcConns: make(chan net.Conn), done: make(chan struct{})}
	go m.acceptLoop()
	return m, nil
}

func (m *peerMux) acceptLoop() {
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond) // out of descriptors: let some close
				continue
			}
			m.log.Error("raft transport stopped accepting", "err", err)
			return
		}
		go m.route(conn)
	}
}

// route completes the handshake of conn and hands it on by its first byte.
// A peer without a certificate from the cluster CA never gets past the
// handshake.
func (m *peerMux) route(conn net.Conn) {
	tc := tls.Server(conn, m.tls.server())
	tc.SetDeadline(time.Now().Add(peerHandshakeTimeout))
	var kind [1]byte
	if _, err := io.ReadFull(tc, kind[:]); err != nil {
		m.log.Warn("refused a connection on the raft port", "from", conn.RemoteAddr().String(), "err", err)
		tc.Close()
		return
	}
	tc.SetDeadline(time.Time{})
	var to chan net.Conn
	var out net.Conn = tc
	switch kind[0] {
	case muxRaft:
		if !m.track(tc) {
			return
		}
		to, out = m.raftConns, &trackedConn{Conn: tc, m: m}
	case muxRPC:
		// The internal API's server needs the *tls.Conn itself (for the
		// peer's certificate): it tracks it by its connection states.
		if m.isCut() {
			tc.Close()
			return
		}
		to = m.rpcConns
	default:
		m.log.Warn("refused a connection on the raft port: unknown protocol byte", "from", conn.RemoteAddr().String(), "byte", kind[0])
		tc.Close()
		return
	}
	select {
	case to <- out:
	case <-m.done:
		out.Close()
	}
}

func (m *peerMux) isCut() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cut
}

// connState tracks the internal API server's connections (http.Server's
// ConnState hook), for setPartitioned.
func (m *peerMux) connState(conn net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		m.track(conn)
	case http.StateClosed, http.StateHijacked:
		m.untrack(conn)
	}
}

// dial connects to the controller at addr for kind of traffic.
func (m *peerMux) dial(ctx context.Context, addr string, kind byte) (net.Conn, error) {
	if m.isCut() {
		return nil, fmt.Errorf("dial %s: this controller is cut off from the others", addr)
	}
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: m.tls.client(addr)}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write([]byte{kind}); err != nil {
		conn.Close()
		return nil, err
	}
	if !m.track(conn) {
		return nil, fmt.Errorf("dial %s: this controller is cut off from the others", addr)
	}
	return &trackedConn{Conn: conn, m: m}, nil
}

func (m *peerMux) close() error {
	var err error
	m.closeOnce.Do(func() {
		close(m.done)
		err = m.ln.Close()
	})
	return err
}

// raftStream is raft's StreamLayer over the peer listener.
type raftStream struct{ m *peerMux }

func (s raftStream) Accept() (net.Conn, error) {
	select {
	case c := <-s.m.raftConns:
		return c, nil
	case <-s.m.done:
		return nil, net.ErrClosed
	}
}

func (s raftStream) Close() error   { return s.m.close() }
func (s raftStream) Addr() net.Addr { return s.m.advertise }

func (s raftStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.m.dial(ctx, string(addr), muxRaft)
}

// rpcListener is the internal API's listener: the peer connections that
// asked for it.
type rpcListener struct {
	m      *peerMux
	closed chan struct{}
	once   sync.Once
}

func (l *rpcListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.m.rpcConns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-l.m.done:
		return nil, net.ErrClosed
	}
}

func (l *rpcListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *rpcListener) Addr() net.Addr { return l.m.advertise }
