package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
)

// credentialFile, in the node's data dir, keeps the node's credential: the
// line api.FormatNodeCredential(name, secret) the controller's first
// registration of the name gave (RegisterNodeResponse.Credential). The
// daemon presents it, as its bearer token, on every request to the
// controller from then on, and the join token only to register when it
// has none (a new node, or one the controller no longer knows: deleted by
// an operator, or a new cluster). It is written 0600, atomically, by the
// daemon's user (root).
const credentialFile = "node-credential"

// client is the controller's client as this daemon now proves itself:
// with its node credential once it has one, else the join token.
func (a *Agent) client() *client.Client {
	if c := a.credClient.Load(); c != nil {
		return c
	}
	return a.cfg.Client
}

// loadCredential reads the credential an earlier daemon of this node
// saved, if any, and presents it from now on. A credential of another
// node name (the daemon was renamed) is not used: the join token
// registers the new name.
func (a *Agent) loadCredential() error {
	path := filepath.Join(a.cfg.DataDir, credentialFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the node credential: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read the node credential: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Errorf("the node credential %s is not a regular file: remove it", path)
	case ok && int(st.Uid) != os.Geteuid():
		return fmt.Errorf("the node credential %s is owned by uid %d, not this daemon's user (%d): remove it, or chown it", path, st.Uid, os.Geteuid())
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("the node credential %s may be read or written by others (mode %v): chmod 600 it, and treat it as leaked (delete the node, scontrol delete nodename=%s, and register it anew)", path, fi.Mode().Perm(), a.cfg.Name)
	}
	buf := make([]byte, 4096)
	n, err := f.Read(buf)
	if err != nil {
		return fmt.Errorf("read the node credential: %w", err)
	}
	tok := strings.TrimSpace(string(buf[:n]))
	name, _, ok := api.ParseNodeCredential(tok)
	if !ok {
		return fmt.Errorf("the node credential %s is not one (want shoal-node:NAME:SECRET): remove it, and register the node anew", path)
	}
	if name != a.cfg.Name {
		a.log.Warn("the saved node credential is another node name's: registering this name with the join token", "saved", name)
		return nil
	}
	a.credClient.Store(a.cfg.Client.WithToken(tok))
	return nil
}

// saveCredential keeps a credential the controller just gave, and presents
// it from now on. The file is replaced atomically (a new file, synced,
// renamed over the old, the dir synced): a crash leaves the old or the
// new, never half of one. Not saved, the credential still serves this
// daemon; the next one, without it, cannot register the name again until
// an operator deletes the node.
func (a *Agent) saveCredential(secret string) {
	tok := api.FormatNodeCredential(a.cfg.Name, secret)
	a.credClient.Store(a.cfg.Client.WithToken(tok))
	if err := writeFileAtomic(filepath.Join(a.cfg.DataDir, credentialFile), []byte(tok+"\n"), 0o600); err != nil {
		a.log.Error("save the node credential: this daemon uses it, but a restart will not find it (an operator then deletes the node for it to register again)", "err", err)
	}
}

// writeFileAtomic writes data to path through a temporary file of mode
// perm in the same dir, synced, then renamed over path.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// registerCall sends a registration as this daemon proves itself now. A
// credential the controller does not know (the node was deleted, or this
// is a new cluster) gives way to the join token, which registers the
// name anew if nobody holds it.
func (a *Agent) registerCall(ctx context.Context, req api.RegisterNodeRequest, resp *api.RegisterNodeResponse) error {
	c := a.client()
	err := c.Call(ctx, api.PathNodeRegister, req, resp)
	if err != nil && c != a.cfg.Client && api.IsCode(err, api.CodeUnauthenticated) && ctx.Err() == nil {
		a.log.Warn("the controller does not take this node's saved credential: registering with the join token", "err", err)
		err = a.cfg.Client.Call(ctx, api.PathNodeRegister, req, resp)
	}
	if err != nil {
		return err
	}
	if resp.Credential != "" {
		a.saveCredential(resp.Credential)
	}
	return nil
}
