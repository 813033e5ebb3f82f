package daemon

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/raft"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// The node join secret (the join token's secret part) registers new node
// names. A cluster starts with the one in each controller's data dir
// (joinTokenFile: made by the first controller, given to the others as
// they join). `shoal operator join-token rotate` replaces it for the whole
// cluster: the new one goes through raft, sealed with the key the
// controllers share (keys.key), and every controller takes it as it
// applies the entry, refuses the old one from then on, and rewrites its
// joinTokenFile to hold it. Nodes that have their credential need no join
// token: they keep working, unrestarted.

// joinTokenFile is where a controller keeps the node join token, in the
// form nodes are given it (shoal-join:SECRET:sha256:CAHASH).
const joinTokenFile = "join-token"

// joinSecretSealID is the additional data the join secret is sealed with
// (secretBox, as access keys are sealed with their id): a sealed access
// key moved into its place does not open.
const joinSecretSealID = "node join secret"

// joinSecrets is what a controller knows of the join secret it takes.
type joinSecrets struct {
	mu sync.Mutex
	// secret is the current one: its joinTokenFile's at start, then each
	// one the cluster is rotated to; sealed is the replicated record it
	// was opened from ("" for the file's).
	secret, sealed string
}

// newJoinSecret makes a join secret: 24 random bytes, in hex.
func newJoinSecret() (string, error) {
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("make a node join secret: %w", err)
	}
	return hex.EncodeToString(buf), nil
}

// writeJoinToken makes path hold the join token of secret and caHash,
// unless it does already.
func writeJoinToken(path, secret, caHash string) error {
	want := []byte(api.FormatJoinToken(secret, caHash) + "\n")
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, want) {
		return nil
	}
	if err := writePrivateFile(path, want); err != nil {
		return fmt.Errorf("write the join token: %w", err)
	}
	return nil
}

// joinSecret is the join secret this controller takes now: the one the
// cluster was last rotated to, as this controller's state has it, else
// its joinTokenFile's. Taking a new one rewrites that file. It fails only
// when the replicated secret does not open with this controller's
// keys.key: the join token is then refused here, never the old one taken.
func (c *Controller) joinSecret() (string, error) {
	secret, _, err := c.joinSecretOf()
	return secret, err
}

// joinSecretOf is joinSecret, and the Sealed of the state's join secret
// record it was read from ("": none), which a registration by the join
// token carries (raftfsm.RegisterNodeCmd.JoinSealed): the FSM refuses it
// if the cluster was rotated since.
func (c *Controller) joinSecretOf() (secret, sealed string, err error) {
	c.join.mu.Lock()
	defer c.join.mu.Unlock()
	// Read under the lock: callers see the state in the order they take
	// it, so none puts back a secret an earlier view had.
	js := c.fsm.State().JoinSecret(nil)
	if js == nil {
		// Never rotated. A restore of a snapshot from before any
		// rotation keeps the last one: an old token stays refused.
		return c.join.secret, "", nil
	}
	if js.Sealed == c.join.sealed { // as last opened
		return c.join.secret, js.Sealed, nil
	}
	secret, err = c.secrets.open(joinSecretSealID, js.Sealed)
	if err != nil {
		return "", "", api.Errorf(api.CodeInternal, "the cluster's node join secret: %v", err)
	}
	rotated := secret != c.join.secret // not at a restart: the file holds it already
	c.join.secret, c.join.sealed = secret, js.Sealed
	path := filepath.Join(c.cfg.DataDir, joinTokenFile)
	if err := writeJoinToken(path, secret, c.ca.hash()); err != nil {
		c.log.Error("the node join token was rotated, but this controller's copy of it is not", "file", path, "err", err)
	} else if rotated {
		c.log.Info("the node join token was rotated: the old one registers no node from now on", "file", path)
	}
	return secret, js.Sealed, nil
}

// followJoinSecret takes each join secret the cluster is rotated to as
// soon as this controller applies it, leader or not: its joinTokenFile
// then holds what a new node needs.
func (c *Controller) followJoinSecret(ctx context.Context) {
	for {
		ws := memdb.NewWatchSet()
		c.fsm.State().JoinSecret(ws)
		if _, err := c.joinSecret(); err != nil {
			c.log.Error("nodes cannot join through this controller", "err", err)
		}
		if ws.WatchCtx(ctx) != nil {
			return
		}
	}
}

// isJoinToken reports whether tok is the cluster's current join secret,
// and the Sealed of the state's record it was checked against (see
// joinSecretOf). A follower first applies what the leader has (a read
// index, shared by the tokens that come meanwhile: tokenCatchUp): its
// state may lag a rotation, and it must neither take the old secret nor
// refuse the new one once the rotation was answered.
func (c *Controller) isJoinToken(ctx context.Context, tok string) (bool, string, error) {
	if c.raft.raft.State() != raft.Leader {
		if err := c.tokenCatchUp.wait(ctx); err != nil {
			return false, "", err
		}
	}
	secret, sealed, err := c.joinSecretOf()
	if err != nil {
		return false, "", err
	}
	return secret != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(secret)) == 1, sealed, nil
}

// rotateJoinToken replaces the cluster's node join secret (operators
// only; routeTable) and answers the new join token, which this
// controller's joinTokenFile holds once it answers (the others' once they
// apply it).
func (c *Controller) rotateJoinToken(ctx context.Context, who caller, _ empty) (api.JoinTokenResponse, error) {
	admin, err := c.lookupOwner(who)
	if err != nil {
		return api.JoinTokenResponse{}, err
	}
	secret, err := newJoinSecret()
	if err != nil {
		return api.JoinTokenResponse{}, api.Errorf(api.CodeInternal, "rotate the join token: %v", err)
	}
	sealed, err := c.secrets.seal(joinSecretSealID, secret)
	if err != nil {
		return api.JoinTokenResponse{}, api.Errorf(api.CodeInternal, "rotate the join token: %v", err)
	}
	if _, err := c.applier.Apply(ctx, raftfsm.OpJoinSecret, raftfsm.JoinSecretCmd{Secret: raftfsm.JoinSecret{
		Sealed: sealed, RotatedAt: c.nowMillis(), By: admin.name}}); err != nil {
		return api.JoinTokenResponse{}, err
	}
	if _, err := c.joinSecret(); err != nil { // applied here (a follower waits for it): take it now
		return api.JoinTokenResponse{}, err
	}
	c.log.Info("node join token rotated", "by", admin.String())
	return api.JoinTokenResponse{Token: api.FormatJoinToken(secret, c.ca.hash())}, nil
}

// keepJoinSecret returns the snapshot data an operator restores (decoded
// into restored) with the cluster's join secret in place of the one it
// holds: a backup brings back the state it saved, not a join token
// rotated away since (nor an older one to a controller whose
// joinTokenFile missed the rotation).
func (c *Controller) keepJoinSecret(restored *raftfsm.FSM, data []byte) ([]byte, error) {
	now, was := c.fsm.State().JoinSecret(nil), restored.State().JoinSecret(nil)
	if now == nil || (was != nil && was.Sealed == now.Sealed) {
		return data, nil
	}
	entry, err := raftfsm.Encode(raftfsm.OpJoinSecret, raftfsm.JoinSecretCmd{Secret: *now})
	if err != nil {
		return nil, api.Errorf(api.CodeInternal, "restore a snapshot: keep the cluster's join secret: %v", err)
	}
	if res, _ := restored.Apply(restored.State().Index()+1, entry).(raftfsm.Result); res.Err != nil {
		return nil, api.Errorf(api.CodeInternal, "restore a snapshot: keep the cluster's join secret: %v", res.Err)
	}
	var buf bytes.Buffer
	if _, err := restored.Snapshot().WriteTo(&buf); err != nil {
		return nil, api.Errorf(api.CodeInternal, "restore a snapshot: keep the cluster's join secret: %v", err)
	}
	return buf.Bytes(), nil
}
