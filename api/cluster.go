package api

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Paths of the controller cluster: joining (a controller presents the
// server token on the public TLS API), the operator's raft and snapshot
// commands, and the internal routes controllers call on each other over
// mutual TLS on the raft port.
const (
	PathClusterJoin     = "/shoal/v1/cluster/join"
	PathOperatorPeers   = "/shoal/v1/operator/raft/peers"
	PathOperatorAddPeer = "/shoal/v1/operator/raft/add-peer"
	PathOperatorRemove  = "/shoal/v1/operator/raft/remove-peer"
	PathSnapshotSave    = "/shoal/v1/operator/snapshot/save"
	PathSnapshotRestore = "/shoal/v1/operator/snapshot/restore"
	// PathJoinTokenRotate replaces the node join token of the whole
	// cluster and answers the new one (JoinTokenResponse).
	PathJoinTokenRotate = "/shoal/v1/operator/join-token/rotate"

	PathInternalApply     = "/internal/v1/apply"
	PathInternalReadIndex = "/internal/v1/read-index"
	PathInternalAddVoter  = "/internal/v1/add-voter"
	PathInternalRemove    = "/internal/v1/remove-peer"
)

// StaleParam is the query parameter (?stale=true) by which a read may be
// answered from the state of the controller asked, without checking with
// the leader that it is current (squeue in a loop, during an election).
const StaleParam = "stale"

// HeaderClientToken carries a submit's idempotency token: the client's
// own name for the request (1 to 64 printable ASCII characters). A submit
// sent again with the same token by the same user (after its answer was
// lost) is answered with the jobs the first stored, not stored twice;
// the same token with a different request is refused.
const HeaderClientToken = "X-Shoal-Client-Token"

// ServerTokenPrefix starts a server token: shoal-server:SECRET:sha256:HEX,
// the secret a controller presents to join the cluster and the hash of the
// cluster CA it pins. It is not a node's join token: a node cannot become
// a controller.
const ServerTokenPrefix = "shoal-server:"

// FormatServerToken joins a server secret and a CA hash into a server token.
func FormatServerToken(secret, caHash string) string {
	return ServerTokenPrefix + secret + ":" + caHash
}

// ParseServerToken splits a server token into its secret and CA hash.
func ParseServerToken(tok string) (secret, caHash string, err error) {
	tok = strings.TrimSpace(tok)
	rest, ok := strings.CutPrefix(tok, ServerTokenPrefix)
	if !ok {
		return "", "", fmt.Errorf("server token: want shoal-server:SECRET:sha256:HEX (the whole line of a controller's DATA_DIR/controller/server-token); a node's join token (shoal-join:) does not let a controller join")
	}
	secret, hash, ok := strings.Cut(rest, ":")
	if !ok || secret == "" {
		return "", "", fmt.Errorf("server token: want shoal-server:SECRET:sha256:HEX (the whole line of a controller's DATA_DIR/controller/server-token)")
	}
	if err := CheckKeyHash(hash); err != nil {
		return "", "", fmt.Errorf("server token: %w", err)
	}
	return secret, hash, nil
}

// ClusterJoinRequest is a new controller asking for the cluster's secrets.
type ClusterJoinRequest struct {
	Secret   string `json:"secret"`   // the server token's secret
	ID       string `json:"id"`       // the joining controller's raft server id
	RaftAddr string `json:"raftAddr"` // where the others reach it
	// Discover asks only who the answering controller is (ID, RaftAddr,
	// Formed), not for the secrets: a controller forming a cluster with
	// -bootstrap-expect, which has them from its token.
	Discover bool `json:"discover,omitempty"`
}

// ClusterJoinResponse carries what every controller of a cluster shares:
// the CA (certificate and key), the access-key sealing key, the node join
// secret and the server secret; and where to ask to be made a voter.
type ClusterJoinResponse struct {
	CACert     []byte `json:"caCert"`
	CAKey      []byte `json:"caKey"`
	KeysKey    []byte `json:"keysKey"`
	JoinSecret string `json:"joinSecret"`
	// RaftAddr is the answering controller's raft address: the joiner
	// asks it (over mutual TLS, with a certificate from the CA it got)
	// to be added as a voter.
	RaftAddr string `json:"raftAddr"`
	// ID is the answering controller's raft server id; Formed, whether it
	// is in a cluster already (has a raft configuration).
	ID     string `json:"id,omitempty"`
	Formed bool   `json:"formed,omitempty"`
}

// RaftPeer is one member of the raft configuration.
type RaftPeer struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Suffrage string `json:"suffrage"` // Voter, Nonvoter, Staging
	Leader   bool   `json:"leader"`
}

// RaftPeersResponse lists the raft configuration.
type RaftPeersResponse struct {
	Peers []RaftPeer `json:"peers"`
	Index uint64     `json:"index"` // the configuration's log index
}

// RaftPeerRequest adds (ID and Address) or removes (ID) a voter.
type RaftPeerRequest struct {
	ID      string `json:"id"`
	Address string `json:"address,omitempty"`
}

// ApplyRequest is a command a follower forwards to the leader: an encoded
// raft command (raftfsm.Encode), already checked against who asked.
type ApplyRequest struct {
	Entry []byte `json:"entry"`
}

// ApplyResponse is the leader's answer: the FSM's result (raftfsm.Result,
// as JSON) and an index the follower waits to have applied, so that
// what it reads next includes the command.
type ApplyResponse struct {
	Result json.RawMessage `json:"result"`
	Index  uint64          `json:"index"`
}

// ReadIndexResponse is the leader's applied index, after it checked it
// still leads: a follower that has applied it serves reads as current.
type ReadIndexResponse struct {
	Index uint64 `json:"index"`
}

// SnapshotRestoreResponse says what a restore installed.
type SnapshotRestoreResponse struct {
	Bytes int64  `json:"bytes"`
	Index uint64 `json:"index"` // the state's index after the restore
}

// JoinTokenResponse is the cluster's new node join token
// (shoal-join:SECRET:sha256:CAHASH), which new nodes need from then on:
// the old one registers no node; registered nodes keep their credentials.
type JoinTokenResponse struct {
	Token string `json:"token"`
}
