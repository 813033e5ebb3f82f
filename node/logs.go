package node

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/peercred"
	"github.com/shoal-batch/shoal/node/sandbox"
)

// maxLogBytes bounds what one logs call returns: the tail of a longer log.
const maxLogBytes = 16 << 20

// logServer serves job logs to the controller: on a unix socket only to
// root, on TCP only to a caller with the join token.
type logServer struct {
	addr string
	srv  *http.Server
	path string // unix socket path, removed on close
}

func startLogServer(addr, token string, a *Agent) (*logServer, error) {
	network, laddr := "tcp", addr
	if strings.HasPrefix(addr, "/") {
		network = "unix"
		os.Remove(addr)
	}
	l, err := net.Listen(network, laddr)
	if err != nil {
		return nil, fmt.Errorf("listen for log requests on %s: %w", addr, err)
	}
	ls := &logServer{addr: l.Addr().String()}
	if network == "unix" {
		ls.path, ls.addr = addr, addr
		os.Chmod(addr, 0o600)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(api.PathNodeLogs, func(w http.ResponseWriter, r *http.Request) {
		cred, local := peercred.FromContext(r.Context())
		bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !(local && cred.UID == 0) && (token == "" || subtle.ConstantTimeCompare([]byte(bearer), []byte(token)) != 1) {
			api.WriteError(w, api.Errorf(api.CodeForbidden, "only the controller may read job logs from a node"))
			return
		}
		var req api.NodeLogsRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			api.WriteError(w, api.Errorf(api.CodeInvalid, "decode logs request: %v", err))
			return
		}
		data, err := a.readLog(&req.Job, req.Stream)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, api.LogsResponse{Data: data})
	})
	ls.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ConnContext: peercred.ConnContext}
	go ls.srv.Serve(l)
	return ls, nil
}

func (ls *logServer) close() error {
	err := ls.srv.Close()
	if ls.path != "" {
		os.Remove(ls.path)
	}
	return err
}

// readLog returns (the tail of) one stream of a job this node ran, opened
// with the job owner's uid, gid and groups: no final symlink, regular
// files only (see sandbox.OpenAsUser).
func (a *Agent) readLog(j *api.Job, stream string) ([]byte, error) {
	stdout, stderr := a.logPaths(j)
	path := stdout
	switch stream {
	case "", "stdout":
	case "stderr":
		path = stderr
	default:
		return nil, api.Errorf(api.CodeInvalid, "unknown log stream %q: use stdout or stderr", stream)
	}
	// As the job's owner, never as root: the path is the user's choice
	// (sbatch -o /etc/shadow must not give anyone /etc/shadow).
	f, err := sandbox.OpenAsUser(path, os.O_RDONLY, j.UID, j.GID, j.Groups)
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
