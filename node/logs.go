package node

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/api/reply"
	"github.com/shoal-batch/shoal/internal/peercred"
	"github.com/shoal-batch/shoal/node/sandbox"
)

// maxLogBytes bounds what one logs call returns: the tail of a longer log.
const maxLogBytes = 16 << 20

// maxLogReads bounds the logs calls a node answers at once (more wait):
// each holds up to maxLogBytes, several times over once encoded, and a
// user's forty parallel `shoal logs` of a large log took a node daemon
// to 4.5 GB.
const maxLogReads = 2

// logServer serves job logs to the controller: on a unix socket to root,
// and to whoever presents its log token, the random one this boot made
// and registered. On TCP it serves TLS with a key pair made at start
// (see newLogCert), whose hash it registers with the controller, which
// pins it; plain HTTP only where the agent was told so (-insecure-http).
// The join secret is never asked for nor taken here: it goes from nodes
// to the controller only.
type logServer struct {
	addr     string
	srv      *http.Server
	path     string        // unix socket path, removed on close
	certHash string        // pin of the TLS key (api.CAHash form); "" on a unix socket or plain HTTP
	token    string        // what the controller presents
	reads    chan struct{} // the calls being answered (maxLogReads)
}

func startLogServer(addr string, insecureHTTP bool, a *Agent) (*logServer, error) {
	network, laddr := "tcp", addr
	if strings.HasPrefix(addr, "/") {
		network = "unix"
		os.Remove(addr)
	}
	token, err := randomHex(32)
	if err != nil {
		return nil, fmt.Errorf("make log token: %w", err)
	}
	var conf *tls.Config
	var certHash string
	if network == "tcp" && !insecureHTTP {
		cert, err := newLogCert(a.cfg.Name)
		if err != nil {
			return nil, err
		}
		certHash = client.CAHash(cert.Leaf)
		conf = &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}}
	}
	l, err := net.Listen(network, laddr)
	if err != nil {
		return nil, fmt.Errorf("listen for log requests on %s: %w", addr, err)
	}
	ls := &logServer{addr: l.Addr().String(), certHash: certHash, token: token, reads: make(chan struct{}, maxLogReads)}
	if network == "unix" {
		ls.path, ls.addr = addr, addr
		os.Chmod(addr, 0o600)
	}
	if conf != nil {
		l = tls.NewListener(l, conf)
	} else if network == "tcp" {
		a.log.Warn("serving job logs over plain HTTP (-insecure-http): the controller's log token and the logs travel in clear", "addr", ls.addr)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(api.PathNodeLogs, func(w http.ResponseWriter, r *http.Request) {
		cred, local := peercred.FromContext(r.Context())
		bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !(local && cred.UID == 0) && subtle.ConstantTimeCompare([]byte(bearer), []byte(token)) != 1 {
			reply.Error(w, api.Errorf(api.CodeForbidden, "only the controller may read job logs from a node: it presents the log token this node registered"))
			return
		}
		var req api.NodeLogsRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			reply.Error(w, api.Errorf(api.CodeInvalid, "decode logs request: %v", err))
			return
		}
		select {
		case ls.reads <- struct{}{}:
			defer func() { <-ls.reads }()
		case <-r.Context().Done():
			return
		}
		data, err := a.readLog(&req.Job, req.Stream)
		if err != nil {
			reply.Error(w, err)
			return
		}
		reply.JSON(w, http.StatusOK, api.LogsResponse{Data: data})
	})
	ls.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ConnContext: peercred.ConnContext,
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelDebug)}
	// The controller makes a client for each fetch: a kept-alive
	// connection would only idle, on both ends, until it timed out.
	ls.srv.SetKeepAlivesEnabled(false)
	go ls.srv.Serve(l)
	if certHash != "" {
		a.log.Info("serving job logs over TLS", "addr", ls.addr, "key-hash", certHash)
	}
	return ls, nil
}

// newLogCert makes the log server's TLS key pair: ECDSA P-256, self-signed,
// in memory only, for this boot. The controller pins the key itself (the
// hash the node registers over its authenticated, TLS join), so nothing
// signs it and no name in it is checked; a new boot registers a new one.
// Kept nowhere, it needs no protecting on disk, no renewal, and dies with
// the daemon, as the boot's log token does.
func newLogCert(nodeName string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("make log server key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("make log server certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "shoal node " + nodeName + " log server", Organization: []string{"shoal"}},
		// Its dates matter little (the pin is the trust), but the
		// controller checks them: a day back for skewed clocks, and far
		// enough ahead for any daemon's run.
		NotBefore:   now.Add(-24 * time.Hour),
		NotAfter:    now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("make log server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parse log server certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func (ls *logServer) close() error {
	err := ls.srv.Close()
	if ls.path != "" {
		os.Remove(ls.path)
	}
	return err
}

// readLog returns (the tail of) one stream of a job this node ran, opened
// with the job owner's uid, gid and groups (the node's own log file as
// root): no final symlink, regular files only (see sandbox.OpenAsUser).
func (a *Agent) readLog(j *api.Job, stream string) ([]byte, error) {
	stdout, stderr := a.logPaths(j)
	path, nodeLog := stdout, j.Stdout == ""
	switch stream {
	case "", "stdout":
	case "stderr":
		path, nodeLog = stderr, j.Stderr == ""
	default:
		return nil, api.Errorf(api.CodeInvalid, "unknown log stream %q: use stdout or stderr", stream)
	}
	// As the job's owner, never as root: the path is the user's choice
	// (sbatch -o /etc/shadow must not give anyone /etc/shadow); the
	// node's own log file (no path named) as root, out of users' reach.
	var f *os.File
	var err error
	if nodeLog {
		f, err = sandbox.OpenNodeLog(path, os.O_RDONLY)
	} else {
		f, err = sandbox.OpenAsUser(path, os.O_RDONLY, j.UID, j.GID, j.Groups)
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, api.Errorf(api.CodeNotFound, "job %d has no %s log on node %s (%s)", j.ID, stream, a.cfg.Name, path)
	case errors.Is(err, os.ErrPermission):
		return nil, api.Errorf(api.CodeForbidden, "read log of job %d: %v", j.ID, err)
	case err != nil:
		return nil, api.Errorf(api.CodeInvalid, "read log of job %d: %v", j.ID, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > maxLogBytes {
		f.Seek(fi.Size()-maxLogBytes, io.SeekStart)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxLogBytes))
	if err != nil {
		return nil, api.Errorf(api.CodeInternal, "read log of job %d: %v", j.ID, err)
	}
	return data, nil
}
