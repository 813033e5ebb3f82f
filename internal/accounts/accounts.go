// Package accounts looks up the host's users and their groups for a
// long-running daemon. It asks getent(1), a child process that exits after
// each answer, so the name-service modules nsswitch.conf names (systemd,
// sss, ldap, winbind), their libraries and their buffers are loaded into
// that child, not into the daemon for the rest of its life: a group lookup
// asks every module on the "group:" line, and the first one kept ~0.6 MB
// of libraries mapped in the controller. Where getent is missing it falls
// back to os/user in the process.
package accounts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"time"
)

// User is one passwd entry.
type User struct {
	Name     string
	UID, GID uint32
	Home     string
}

// ErrUnknown is returned for a user the name service does not know.
var ErrUnknown = errors.New("no such user")

// lookupTimeout bounds one getent run: a name service that hangs (an LDAP
// server gone) fails the lookup instead of the request waiting forever.
const lookupTimeout = 30 * time.Second

// getent is the path of getent(1), or "" where the host has none.
var getent, _ = exec.LookPath("getent")

// LookupID returns the user with this uid.
func LookupID(uid uint32) (User, error) {
	return lookup(strconv.FormatUint(uint64(uid), 10), true)
}

// Lookup returns the user with this name. As getent(1) and Slurm's
// commands do, an all-digit name is taken as a uid.
func Lookup(name string) (User, error) {
	if name == "" || strings.ContainsAny(name, ": \t\n") {
		return User{}, fmt.Errorf("user %q: %w", name, ErrUnknown)
	}
	_, err := strconv.ParseUint(name, 10, 32)
	return lookup(name, err == nil)
}

func lookup(key string, byID bool) (User, error) {
	if getent == "" {
		return lookupInProcess(key, byID)
	}
	out, err := run("passwd", key)
	if err != nil {
		return User{}, err
	}
	u, err := parsePasswd(strings.TrimSpace(string(out)))
	if err != nil {
		return User{}, fmt.Errorf("look up user %s: %w", key, err)
	}
	return u, nil
}

// parsePasswd reads one passwd(5) line: name:password:uid:gid:gecos:home:shell.
func parsePasswd(line string) (User, error) {
	f := strings.Split(line, ":")
	if len(f) != 7 || strings.Contains(line, "\n") {
		return User{}, fmt.Errorf("getent printed %q, not a passwd(5) line", line)
	}
	uid, err := strconv.ParseUint(f[2], 10, 32)
	if err != nil {
		return User{}, fmt.Errorf("passwd line %q: uid %q: %w", line, f[2], err)
	}
	gid, err := strconv.ParseUint(f[3], 10, 32)
	if err != nil {
		return User{}, fmt.Errorf("passwd line %q: gid %q: %w", line, f[3], err)
	}
	return User{Name: f[0], UID: uint32(uid), GID: uint32(gid), Home: f[5]}, nil
}

// Groups returns the supplementary groups of the user named name, as
// getgrouplist(3) finds them in every group database, less its primary
// group gid.
func Groups(name string, gid uint32) ([]uint32, error) {
	var gids []string
	if getent == "" {
		u, err := user.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("look up groups of %s: %w", name, err)
		}
		if gids, err = u.GroupIds(); err != nil {
			return nil, fmt.Errorf("look up groups of %s: %w", name, err)
		}
	} else {
		out, err := run("initgroups", name)
		if err != nil {
			return nil, err
		}
		// "name   gid gid ...": the name, then the groups.
		fields := strings.Fields(string(out))
		if len(fields) == 0 || fields[0] != name {
			return nil, fmt.Errorf("look up groups of %s: getent printed %q, not the user's name and groups", name, out)
		}
		gids = fields[1:]
	}
	var groups []uint32
	for _, g := range gids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("look up groups of %s: group id %q is not a number", name, g)
		}
		if uint32(n) != gid {
			groups = append(groups, uint32(n))
		}
	}
	return groups, nil
}

// run prints key's entry in database; exit status 2 is getent's "not found".
func run(database, key string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	var stderr bytes.Buffer
	// "--": a key that begins with "-" is a key, not one of getent's options.
	cmd := exec.CommandContext(ctx, getent, database, "--", key)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out, nil
	case errors.As(err, &exit) && exit.ExitCode() == 2:
		return nil, fmt.Errorf("user %q: %w", key, ErrUnknown)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("getent %s %s: no answer from the name service in %v", database, key, lookupTimeout)
	default:
		return nil, fmt.Errorf("getent %s %s: %v: %s", database, key, err, bytes.TrimSpace(stderr.Bytes()))
	}
}

// lookupInProcess is lookup through os/user, for hosts without getent.
func lookupInProcess(key string, byID bool) (User, error) {
	var u *user.User
	var err error
	if byID {
		u, err = user.LookupId(key)
	} else {
		u, err = user.Lookup(key)
	}
	var unknownID user.UnknownUserIdError
	var unknownName user.UnknownUserError
	if errors.As(err, &unknownID) || errors.As(err, &unknownName) {
		return User{}, fmt.Errorf("user %q: %w", key, ErrUnknown)
	}
	if err != nil {
		return User{}, fmt.Errorf("look up user %s: %w", key, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return User{Name: u.Username, UID: uint32(uid), GID: uint32(gid), Home: u.HomeDir}, nil
}
