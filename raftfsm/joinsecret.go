package raftfsm

import (
	"fmt"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
)

// OpJoinSecret replaces the node join secret of the whole cluster (an
// operator's `shoal operator join-token rotate`). Never renumber.
const OpJoinSecret Op = 75 // JoinSecretCmd

// tableJoinSecret holds the cluster's node join secret once an operator
// rotated it: one record, JoinSecretKey. Until then each controller takes
// the one in its data dir, which the controllers of a cluster share from
// its start.
const tableJoinSecret = "joinsecret"

// JoinSecretKey is the key of the one JoinSecret record.
const JoinSecretKey = "join"

// JoinSecret is the node join secret the cluster takes, sealed by the
// controller that made it with the key every controller shares (its
// keys.key, as access-key secrets are): neither the raft log nor a
// snapshot holds it in clear.
type JoinSecret struct {
	Key    string `json:"key"` // JoinSecretKey
	Sealed string `json:"sealed"`
	// RotatedAt (epoch ms) and By: when, and by whom, it was set.
	RotatedAt int64  `json:"rotatedAt"`
	By        string `json:"by,omitempty"`
}

// JoinSecretCmd replaces the cluster's join secret: the old one
// registers no node from then on.
type JoinSecretCmd struct {
	Secret JoinSecret `json:"secret"`
}

func joinSecretTables() map[string]*memdb.TableSchema {
	return map[string]*memdb.TableSchema{tableJoinSecret: byName(tableJoinSecret, "Key")}
}

func (w writer) joinSecret(c JoinSecretCmd) Result {
	if c.Secret.Sealed == "" {
		return Result{Err: api.Errorf(api.CodeInvalid, "rotate the join token: the new secret is empty")}
	}
	s := c.Secret
	s.Key = JoinSecretKey
	w.put(tableJoinSecret, &s)
	return Result{}
}

// JoinSecret returns the join secret an operator rotated the cluster to
// (nil: never; each controller takes its data dir's), adding to ws, when
// not nil, channels that fire when it changes or a restore replaces it.
func (s *State) JoinSecret(ws memdb.WatchSet) *JoinSecret {
	ch, raw, err := s.txn.FirstWatch(tableJoinSecret, "id", JoinSecretKey)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: read the join secret: %v", err))
	}
	if ws != nil {
		ws.Add(ch)
		s.watchRestore(ws)
	}
	if raw == nil {
		return nil
	}
	return raw.(*JoinSecret)
}

// checkJoinSecret refuses a registration by the join token that was
// checked against another join secret than the cluster's now: one
// rotated away between the check and this entry.
func (w writer) checkJoinSecret(c RegisterNodeCmd) *api.Error {
	if !c.ByJoinToken {
		return nil
	}
	now := ""
	if js := (&State{txn: w.txn}).JoinSecret(nil); js != nil {
		now = js.Sealed
	}
	if now == c.JoinSealed {
		return nil
	}
	return api.Errorf(api.CodeUnauthenticated,
		"register node %s: the join token presented was rotated away (shoal operator join-token rotate) before the registration was applied: it registers no node; give the node the current one, the whole line of a controller's DATA_DIR/controller/join-token",
		c.Node.Name)
}
