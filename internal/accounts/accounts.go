// Package accounts looks up the host's users and their groups for a
// long-running daemon. Each lookup runs in a child process that exits
// after its answer: the daemon's own binary started again (/proc/self/exe,
// as libcontainer starts its init), which asks os/user and prints what it
// found. So the name-service modules nsswitch.conf names (systemd, sss,
// ldap, winbind), their libraries and their buffers are loaded into that
// child, not into the daemon for the rest of its life: a group lookup asks
// every module on the "group:" line, and the first one kept ~0.6 MB of
// libraries mapped in the controller. The child answers with os/user's own
// distinctions: an unknown user is not a failed name service.
package accounts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"time"
)

// User is one passwd entry and the user's supplementary groups.
type User struct {
	Name     string
	UID, GID uint32
	Home     string
	Groups   []uint32 // every group getgrouplist(3) finds, less GID
}

// ErrUnknown is returned for a user the name service does not know.
var ErrUnknown = errors.New("no such user")

// lookupTimeout bounds one lookup: a name service that hangs (an LDAP
// server gone) fails the lookup instead of the request waiting forever.
const lookupTimeout = 30 * time.Second

// helperEnv is set in the environment of a lookup child; its value is
// the lookup: "id:UID" or "name:NAME".
const helperEnv = "_SHOAL_ACCOUNTS_LOOKUP"

// Every binary that can ask for a lookup links this package, so each is
// also its own lookup child.
func init() {
	if q, ok := os.LookupEnv(helperEnv); ok {
		os.Exit(answer(q, os.Stdout))
	}
}

// answer is the child's side: it prints q's reply as JSON.
func answer(q string, w io.Writer) int {
	kind, key, _ := strings.Cut(q, ":")
	u, err := lookupInProcess(kind, key)
	r := reply{User: u}
	switch {
	case errors.Is(err, ErrUnknown):
		r.Unknown = true
	case err != nil:
		r.Error = err.Error()
	}
	if err := json.NewEncoder(w).Encode(r); err != nil {
		return 1
	}
	return 0
}

type reply struct {
	User    User
	Unknown bool   `json:",omitempty"`
	Error   string `json:",omitempty"`
}

// LookupID returns the user with this uid.
func LookupID(uid uint32) (User, error) {
	return lookup("id", strconv.FormatUint(uint64(uid), 10))
}

// Lookup returns the user with this name or, failing that, with this
// number as its uid (as Slurm's commands take a user).
func Lookup(name string) (User, error) {
	if name == "" || strings.ContainsAny(name, "\x00:\n") {
		return User{}, fmt.Errorf("user %q: %w", name, ErrUnknown)
	}
	return lookup("name", name)
}

// lookup asks a child process (this binary, started again) for a user.
func lookup(kind, key string) (User, error) {
	self, err := os.Executable()
	if err != nil {
		return User{}, fmt.Errorf("look up user %s: find this program to start its lookup: %w", key, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/proc/self/exe")
	cmd.Args = []string{self + " (user lookup)"}
	cmd.Env = append(os.Environ(), helperEnv+"="+kind+":"+key)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second // a module's helper holding stdout open does not hold the lookup
	out, err := cmd.Output()
	if ctx.Err() != nil {
		return User{}, fmt.Errorf("look up user %s: no answer from the name service in %v", key, lookupTimeout)
	}
	var r reply
	if err != nil || json.Unmarshal(out, &r) != nil {
		return User{}, fmt.Errorf("look up user %s: the lookup process failed (%v): %s", key, err, bytes.TrimSpace(stderr.Bytes()))
	}
	switch {
	case r.Unknown:
		return User{}, fmt.Errorf("user %q: %w", key, ErrUnknown)
	case r.Error != "":
		return User{}, errors.New(r.Error)
	}
	return r.User, nil
}

// lookupInProcess looks a user up through os/user in this process: by
// uid ("id"), or by name and then, for a number, by uid ("name").
func lookupInProcess(kind, key string) (User, error) {
	var u *user.User
	var err error
	switch kind {
	case "id":
		u, err = user.LookupId(key)
	case "name":
		u, err = user.Lookup(key)
		if _, unknown := err.(user.UnknownUserError); unknown {
			if _, perr := strconv.ParseUint(key, 10, 32); perr == nil {
				u, err = user.LookupId(key)
			}
		}
	default:
		return User{}, fmt.Errorf("look up user: %q is not a kind of lookup", kind)
	}
	var unknownID user.UnknownUserIdError
	var unknownName user.UnknownUserError
	if errors.As(err, &unknownID) || errors.As(err, &unknownName) {
		return User{}, fmt.Errorf("user %q: %w", key, ErrUnknown)
	}
	if err != nil {
		return User{}, fmt.Errorf("look up user %s: %w", key, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return User{}, fmt.Errorf("look up user %s: uid %q: %w", key, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return User{}, fmt.Errorf("look up user %s: gid %q: %w", key, u.Gid, err)
	}
	out := User{Name: u.Username, UID: uint32(uid), GID: uint32(gid), Home: u.HomeDir}
	gids, err := u.GroupIds()
	if err != nil {
		return User{}, fmt.Errorf("look up groups of %s: %w", u.Username, err)
	}
	for _, g := range gids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return User{}, fmt.Errorf("look up groups of %s: group id %q is not a number", u.Username, g)
		}
		if uint32(n) != out.GID {
			out.Groups = append(out.Groups, uint32(n))
		}
	}
	return out, nil
}
