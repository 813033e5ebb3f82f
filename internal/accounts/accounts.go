// Package accounts looks up the host's users and their groups for a
// long-running daemon. Each lookup runs in a child process that exits
// after its answer: the daemon's own binary started again (/proc/self/exe,
// as libcontainer starts its init), which asks os/user and writes what it
// found to a pipe. So the name-service modules nsswitch.conf names (systemd, sss,
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
	"runtime"
	"strconv"
	"strings"
	"syscall"
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

// replyFD is the child's descriptor for its reply (the parent's
// ExtraFiles[0]): whatever a name-service module prints on stdout cannot
// corrupt it.
const replyFD = 3

// Every binary that can ask for a lookup links this package, so each is
// also its own lookup child.
func init() {
	if q, ok := os.LookupEnv(helperEnv); ok {
		syscall.CloseOnExec(replyFD) // not for a module's own helpers
		os.Exit(answer(q, os.NewFile(replyFD, "reply")))
	}
}

// answer is the child's side: it writes q's reply to w as JSON.
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

// LookupID returns the user with this uid. Ending ctx stops the lookup
// (its child is killed).
func LookupID(ctx context.Context, uid uint32) (User, error) {
	return lookup(ctx, "id", strconv.FormatUint(uint64(uid), 10))
}

// Lookup returns the user with this name or, failing that, with this
// number as its uid (as Slurm's commands take a user).
func Lookup(ctx context.Context, name string) (User, error) {
	if name == "" || strings.ContainsAny(name, "\x00:\n") {
		return User{}, fmt.Errorf("user %q: %w", name, ErrUnknown)
	}
	return lookup(ctx, "name", name)
}

// children bounds the lookup children that run at once: a controller
// that restarts with many users submitting starts one per user.
var children = make(chan struct{}, max(2, runtime.NumCPU()))

// lookup asks a child process (this binary, started again) for a user.
func lookup(ctx context.Context, kind, key string) (User, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, lookupTimeout, errTimedOut)
	defer cancel()
	select {
	case children <- struct{}{}:
		defer func() { <-children }()
	case <-ctx.Done():
		return User{}, stopped(ctx, key, "no lookup could start")
	}
	r, err := runChild(ctx, kind, key)
	switch {
	case ctx.Err() != nil:
		return User{}, stopped(ctx, key, "no answer from the name service")
	case err != nil:
		return User{}, fmt.Errorf("look up user %s: %w", key, err)
	case r.Unknown:
		return User{}, fmt.Errorf("user %q: %w", key, ErrUnknown)
	case r.Error != "":
		return User{}, errors.New(r.Error)
	}
	return r.User, nil
}

// errTimedOut is why a lookup that ran out of lookupTimeout ended.
var errTimedOut = fmt.Errorf("the name service did not answer in %v", lookupTimeout)

// stopped says why a lookup ended before its answer: its own time ran
// out (what), or its caller's context ended (its error, wrapped).
func stopped(ctx context.Context, key, what string) error {
	if context.Cause(ctx) == errTimedOut {
		return fmt.Errorf("look up user %s: %s in %v", key, what, lookupTimeout)
	}
	return fmt.Errorf("look up user %s: %w", key, ctx.Err())
}

// runChild starts the lookup child and reads its reply from the pipe it
// has as descriptor 3.
func runChild(ctx context.Context, kind, key string) (reply, error) {
	var r reply
	self, err := os.Executable()
	if err != nil {
		return r, fmt.Errorf("find this program to start its lookup: %w", err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return r, err
	}
	defer pr.Close()
	cmd := exec.CommandContext(ctx, "/proc/self/exe")
	cmd.Args = []string{self + " (user lookup)"}
	cmd.Env = append(os.Environ(), helperEnv+"="+kind+":"+key)
	cmd.ExtraFiles = []*os.File{pw}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second // a module's helper holding stderr open does not hold the lookup
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return r, fmt.Errorf("start the lookup process: %w", err)
	}
	decodeErr := json.NewDecoder(io.LimitReader(pr, 1<<20)).Decode(&r)
	waitErr := cmd.Wait()
	if decodeErr != nil {
		return r, fmt.Errorf("the lookup process gave no answer (%v; %v): %s", decodeErr, waitErr, bytes.TrimSpace(stderr.Bytes()))
	}
	if waitErr != nil && !errors.Is(waitErr, exec.ErrWaitDelay) {
		return r, fmt.Errorf("the lookup process failed after its answer: %v: %s", waitErr, bytes.TrimSpace(stderr.Bytes()))
	}
	return r, nil
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
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
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
