package daemon

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"golang.org/x/sync/singleflight"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/accounts"
	"github.com/shoal-batch/shoal/internal/clock"
	"github.com/shoal-batch/shoal/internal/peercred"
)

// caller is who sent a request, as proven by the connection: the peer's
// credentials on the unix socket, the owner of the access key that signed
// it, or a node's join token on TCP.
type caller struct {
	uid, gid uint32
	known    bool // a user: uid/gid from the kernel (unix socket) or an access key
	node     bool // may act as a node daemon (which one: nodeName, joiner)
	operator bool // root, or the controller's own uid on the unix socket
	// nodeName is the node a node daemon proved it is, by its credential
	// (api.FormatNodeCredential): it acts for that node only; nodeHash is
	// the credential's hash it matched. "" for an operator (any node).
	nodeName, nodeHash string
	// joiner: the caller presented the join token, which only registers
	// a node name that has no credential yet (node is set too, so that
	// the register route lets it in; every other node route refuses it).
	// joinSealed is the state's join secret record it was checked against
	// (isJoinToken), which its registration carries to the FSM.
	joiner     bool
	joinSealed string
}

// identify returns who sent a request: a unix peer's credentials; on TCP,
// the owner of the access key that signed it (SigV4), or a node daemon
// presenting the join token; otherwise an unidentified caller.
func (c *Controller) identify(r *http.Request) (caller, error) {
	if cred, ok := peercred.FromContext(r.Context()); ok {
		who := caller{uid: cred.UID, gid: cred.GID, known: true}
		who.node = who.uid == 0 || who.uid == c.selfUID
		who.operator = who.node
		return who, nil
	}
	auth := r.Header.Get("Authorization")
	if strings.HasPrefix(auth, "AWS4-HMAC-SHA256") {
		keyID, err := c.verifier.Verify(r)
		if err != nil {
			return caller{}, err
		}
		k := c.fsm.State().AccessKey(keyID)
		if k == nil { // deleted between the two reads
			return caller{}, api.Errorf(api.CodeForbidden, "access key %s was deleted", keyID)
		}
		return caller{uid: k.UID, gid: k.GID, known: true, operator: k.UID == 0}, nil
	}
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
		if name, secret, ok := api.ParseNodeCredential(tok); ok {
			return c.identifyNode(r.Context(), name, secret)
		}
		if join, sealed, err := c.isJoinToken(r.Context(), tok); err != nil || join {
			return caller{node: join, joiner: join, joinSealed: sealed}, err
		}
		return caller{}, api.Errorf(api.CodeUnauthenticated,
			"only node daemons may call this, with their node credential or, to register a new node, the join token, and the token presented is neither (a join token is refused once an operator rotated it): give the node -token-file (or SHOAL_JOIN_TOKEN) with the current one, the whole line of a controller's DATA_DIR/controller/join-token")
	}
	return caller{}, nil
}

// nodeSecretHash is what the state keeps of a node's credential secret:
// its SHA-256, in hex.
func nodeSecretHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// newNodeSecret makes a node credential's secret: 32 random bytes, in hex.
func newNodeSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", api.Errorf(api.CodeInternal, "make a node credential: %v", err)
	}
	return hex.EncodeToString(b), nil
}

// identifyNode checks a node credential against the node's record in the
// state: the caller is that node, and only that node. A follower that
// does not find it yet (the registration that made it is not applied
// here) catches up with the leader once (tokenCatchUp) and looks again.
func (c *Controller) identifyNode(ctx context.Context, name, secret string) (caller, error) {
	want := nodeSecretHash(secret)
	match := func() (bool, bool) {
		n := c.fsm.State().Node(name)
		if n == nil || n.SecretHash == "" {
			return false, false
		}
		return subtle.ConstantTimeCompare([]byte(want), []byte(n.SecretHash)) == 1, true
	}
	ok, known := match()
	if !ok && c.raft.raft.State() != raft.Leader && c.tokenCatchUp.wait(ctx) == nil {
		ok, known = match()
	}
	switch {
	case ok:
		return caller{node: true, nodeName: name, nodeHash: want}, nil
	case !known:
		return caller{}, api.Errorf(api.CodeUnauthenticated,
			"node %s has no credential on this cluster (it was deleted, or never registered): register it with the join token", name)
	}
	return caller{}, api.Errorf(api.CodeUnauthenticated,
		"the credential presented is not node %s's: a node proves itself with the credential it got when it registered (its DATA_DIR/node-credential); to replace a lost node, an operator deletes it first (scontrol delete nodename=%s)", name, name)
}

// actsFor refuses who unless it may act as node name: an operator (root
// on the unix socket) may act for any node; a node daemon by its
// credential for its own name only; the join token for none (it only
// registers a new name, which registerNode checks).
func (who caller) actsFor(name string) error {
	switch {
	case !who.node:
		return requireNode(who)
	case who.joiner:
		return errJoinOnly()
	case who.nodeName != "" && who.nodeName != name:
		return api.Errorf(api.CodeForbidden,
			"this request is signed with node %s's credential and may act only for node %s, not %s", who.nodeName, who.nodeName, name)
	}
	return nil
}

// errJoinOnly refuses the join token on a node route other than
// registration.
func errJoinOnly() *api.Error {
	return api.Errorf(api.CodeForbidden,
		"the join token only registers a new node: a registered node proves itself with its node credential (saved in its DATA_DIR/node-credential at registration), on this and every other node route")
}

// owner is a job owner resolved from a uid on the controller host.
type owner struct {
	name   string
	uid    uint32
	gid    uint32
	groups []uint32
}

// ownerTTL is how long a resolved user (name, groups) is used as it is:
// group changes reach new jobs within it (and one lookup).
const ownerTTL = time.Minute

// ownerMaxAge is how long a resolved user may still be used while one
// lookup refreshes it in the background, so that a user's submits wait
// for the name service only on the first and after a long pause.
const ownerMaxAge = 10 * time.Minute

// ownerCache is a controller's resolved users, by uid and peer gid. A
// lookup runs once per user however many requests want it at once: each
// starts a process (internal/accounts).
type ownerCache struct {
	clock   clock.Clock
	log     *slog.Logger
	resolve func(context.Context, caller) (owner, error) // resolveOwner; tests count calls
	// ctx is the lookups' (not a request's: a flight serves many);
	// stop ends it, and with it the lookups under way.
	ctx  context.Context
	stop context.CancelFunc

	flight   singleflight.Group
	mu       sync.Mutex
	byUID    map[[2]uint32]cachedOwner
	failedAt time.Time // the last failed lookup (prefetch waits ownerTTL after it)
}

func newOwnerCache(clk clock.Clock, log *slog.Logger, resolve func(context.Context, caller) (owner, error)) *ownerCache {
	ctx, stop := context.WithCancel(context.Background())
	return &ownerCache{clock: clk, log: log, resolve: resolve, ctx: ctx, stop: stop}
}

type cachedOwner struct {
	owner
	at time.Time
}

// lookupOwner resolves the caller's uid to a user name and groups. A uid
// without a passwd entry still owns its jobs, under its number and peer gid.
func (c *Controller) lookupOwner(who caller) (owner, error) {
	if !who.known {
		return owner{}, api.Errorf(api.CodeForbidden,
			"this connection does not identify a user: submit through the controller's unix socket")
	}
	return c.owners.get(who)
}

func (oc *ownerCache) get(who caller) (owner, error) {
	cached, age, ok := oc.cached(who)
	switch {
	case ok && age < ownerTTL:
		return cached, nil
	case ok && age < ownerMaxAge:
		// The request goes on with what the cache has; the flight runs
		// once however many stale requests ask (its channel is buffered:
		// nobody need read it).
		oc.flight.DoChan(oc.flightKey(who), func() (any, error) {
			o, err := oc.refresh(who)
			if err != nil && oc.log != nil {
				oc.log.Warn("refresh a user for the owner cache: its last answer is used meanwhile", "uid", who.uid, "err", err)
			}
			return o, err
		})
		return cached, nil
	}
	o, err, _ := oc.flight.Do(oc.flightKey(who), func() (any, error) { return oc.refresh(who) })
	return o.(owner), err
}

// prefetch starts, in the background, a lookup of a user the cache does
// not hold, so that the user's first submit need not wait for it: people
// run squeue or sinfo before sbatch, and workflow managers poll. A user
// the cache holds is refreshed by its submits instead; and for ownerTTL
// after a lookup failed it does nothing, so that a failing name service
// is not asked once per request (a submit still asks, and says why it
// failed).
func (oc *ownerCache) prefetch(who caller) {
	if !who.known {
		return
	}
	now := oc.clock.Now()
	oc.mu.Lock()
	e, held := oc.byUID[[2]uint32{who.uid, who.gid}]
	failing := !oc.failedAt.IsZero() && now.Sub(oc.failedAt) < ownerTTL
	oc.mu.Unlock()
	if (held && now.Sub(e.at) < ownerMaxAge) || failing {
		return
	}
	oc.flight.DoChan(oc.flightKey(who), func() (any, error) { return oc.refresh(who) })
}

// cached is who's entry and its age.
func (oc *ownerCache) cached(who caller) (owner, time.Duration, bool) {
	oc.mu.Lock()
	e, ok := oc.byUID[[2]uint32{who.uid, who.gid}]
	oc.mu.Unlock()
	return e.owner, oc.clock.Now().Sub(e.at), ok
}

func (oc *ownerCache) flightKey(who caller) string {
	return strconv.FormatUint(uint64(who.uid), 10) + "/" + strconv.FormatUint(uint64(who.gid), 10)
}

// refresh looks who up and keeps the answer; a failure keeps nothing. A
// request that missed the cache just before the last flight stored its
// answer finds it here.
func (oc *ownerCache) refresh(who caller) (owner, error) {
	if o, age, ok := oc.cached(who); ok && age < ownerTTL {
		return o, nil
	}
	o, err := oc.resolve(oc.ctx, who)
	now := oc.clock.Now()
	oc.mu.Lock()
	defer oc.mu.Unlock()
	if err != nil {
		oc.failedAt = now
		return owner{}, err
	}
	if oc.byUID == nil {
		oc.byUID = map[[2]uint32]cachedOwner{}
	}
	for k, e := range oc.byUID { // users gone quiet: the cache holds who is active
		if now.Sub(e.at) >= ownerMaxAge {
			delete(oc.byUID, k)
		}
	}
	oc.byUID[[2]uint32{who.uid, who.gid}] = cachedOwner{o, now}
	return o, nil
}

func resolveOwner(ctx context.Context, c caller) (owner, error) {
	o := owner{name: strconv.FormatUint(uint64(c.uid), 10), uid: c.uid, gid: c.gid}
	u, err := accounts.LookupID(ctx, c.uid)
	if errors.Is(err, accounts.ErrUnknown) {
		return o, nil
	}
	if ctx.Err() != nil {
		return owner{}, errShuttingDown // the cache stopped: another controller can answer
	}
	if err != nil {
		return owner{}, api.Errorf(api.CodeInternal,
			"the controller could not look up uid %d (%v): nothing was done; try again, or ask the admin to check the host's name service (getent passwd %d)", c.uid, err, c.uid)
	}
	return ownerOf(u), nil
}

// ownerOf is the job owner a looked-up user is.
func ownerOf(u accounts.User) owner {
	return owner{name: u.Name, uid: u.UID, gid: u.GID, groups: u.Groups}
}

func (o owner) String() string { return fmt.Sprintf("%s(%d)", o.name, o.uid) }
