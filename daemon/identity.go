package daemon

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"os/user"
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/peercred"
)

// caller is who sent a request, as proven by the connection: the peer's
// credentials on the unix socket, or a node's join token on TCP.
type caller struct {
	uid, gid uint32
	known    bool // uid/gid were read from the kernel (unix socket)
	node     bool // may act as a node daemon
}

// identify returns the request's caller. selfUID is the daemon's own uid: a
// local peer with it (or root) may act as a node.
func identify(r *http.Request, selfUID uint32, joinToken string) caller {
	var c caller
	if cred, ok := peercred.FromContext(r.Context()); ok {
		c = caller{uid: cred.UID, gid: cred.GID, known: true}
		c.node = c.uid == 0 || c.uid == selfUID
		return c
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && joinToken != "" &&
		subtle.ConstantTimeCompare([]byte(tok), []byte(joinToken)) == 1 {
		c.node = true
	}
	return c
}

// owner is a job owner resolved from a uid on the controller host.
type owner struct {
	name   string
	uid    uint32
	gid    uint32
	groups []uint32
}

// lookupOwner resolves uid to a user name and groups. A uid without a
// passwd entry still owns its jobs, under its number and peer gid.
func lookupOwner(c caller) (owner, error) {
	if !c.known {
		return owner{}, api.Errorf(api.CodeForbidden,
			"this connection does not identify a user: submit through the controller's unix socket")
	}
	o := owner{name: strconv.FormatUint(uint64(c.uid), 10), uid: c.uid, gid: c.gid}
	u, err := user.LookupId(o.name)
	if err != nil {
		return o, nil
	}
	o.name = u.Username
	if gid, err := strconv.ParseUint(u.Gid, 10, 32); err == nil {
		o.gid = uint32(gid)
	}
	gids, err := u.GroupIds()
	if err != nil {
		return owner{}, api.Errorf(api.CodeInternal, "look up groups of %s: %v", u.Username, err)
	}
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil && uint32(n) != o.gid {
			o.groups = append(o.groups, uint32(n))
		}
	}
	return o, nil
}

func (o owner) String() string { return fmt.Sprintf("%s(%d)", o.name, o.uid) }
