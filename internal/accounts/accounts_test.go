package accounts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hangEnv makes the lookup child hang before it answers (a name service
// that does not answer): package variables are set before the package's
// init answers.
const hangEnv = "SHOAL_ACCOUNTS_TEST_HANG"

var _ = func() int {
	if os.Getenv(hangEnv) != "" && os.Getenv(helperEnv) != "" {
		for { // until the lookup kills it
			syscall.Pause()
		}
	}
	return 0
}()

// The lookups run in a child: this test binary, started again (its init
// answers them).

func TestLookupRoot(t *testing.T) {
	ctx := t.Context()
	for _, get := range []func() (User, error){
		func() (User, error) { return LookupID(ctx, 0) },
		func() (User, error) { return Lookup(ctx, "root") },
		func() (User, error) { return Lookup(ctx, "0") },
	} {
		u, err := get()
		if err != nil {
			t.Fatal(err)
		}
		if u.Name != "root" || u.UID != 0 || u.GID != 0 || u.Home == "" {
			t.Errorf("got %+v, want root with uid 0, gid 0 and a home", u)
		}
	}
}

func TestLookupUnknown(t *testing.T) {
	ctx := t.Context()
	for _, get := range []func() (User, error){
		func() (User, error) { return LookupID(ctx, 4_000_000_123) },
		func() (User, error) { return Lookup(ctx, "no-such-user-shoal") },
		func() (User, error) { return Lookup(ctx, "root:x") },
		func() (User, error) { return Lookup(ctx, "") },
		func() (User, error) { return Lookup(ctx, "--help") },
		func() (User, error) { return Lookup(ctx, "4294967296") }, // not a uid: 2^32
		func() (User, error) { return Lookup(ctx, " 0") },
		func() (User, error) { return Lookup(ctx, "ro\x00ot") },
	} {
		if u, err := get(); !errors.Is(err, ErrUnknown) {
			t.Errorf("got %+v, %v; want ErrUnknown", u, err)
		}
	}
}

// TestLookupRealUsers makes a user in two extra groups and one whose name
// is a number, and checks the child's answers against os/user's here.
func TestLookupRealUsers(t *testing.T) {
	ctx := t.Context()
	if os.Geteuid() != 0 {
		t.Skip("needs root to add users")
	}
	name := fmt.Sprintf("shoalacct%d", os.Getpid()%100000)
	groups := []string{name + "a", name + "b"}
	for _, g := range groups {
		mustRun(t, "groupadd", g)
		t.Cleanup(func() { exec.Command("groupdel", g).Run() })
	}
	addUser(t, name, "-G", groups[0]+","+groups[1])
	// A name that is a number, not its uid: found by name first.
	digits := strconv.Itoa(4_100_000_000 + os.Getpid()%100000)
	addUser(t, digits, "--badname")

	var want []uint32
	for _, g := range groups {
		grp, err := user.LookupGroup(g)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.ParseUint(grp.Gid, 10, 32)
		want = append(want, uint32(n))
	}
	u, err := Lookup(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if byID, err := LookupID(ctx, u.UID); err != nil || !equal(byID, u) {
		t.Errorf("LookupID(ctx, %d) = %+v, %v; want %+v", u.UID, byID, err, u)
	}
	slices.Sort(u.Groups)
	if !slices.Equal(u.Groups, want) {
		t.Errorf("groups of %s: got %v, want %v (its two extra groups, not its primary %d)", name, u.Groups, want, u.GID)
	}
	pw, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	if strconv.Itoa(int(u.UID)) != pw.Uid || strconv.Itoa(int(u.GID)) != pw.Gid || u.Home != pw.HomeDir {
		t.Errorf("got %+v; os/user says uid %s, gid %s, home %s", u, pw.Uid, pw.Gid, pw.HomeDir)
	}

	d, err := Lookup(ctx, digits)
	if err != nil || d.Name != digits {
		t.Errorf("Lookup(ctx, %q) = %+v, %v; want the user named %s (a name before a uid)", digits, d, err, digits)
	}
}

func equal(a, b User) bool {
	return a.Name == b.Name && a.UID == b.UID && a.GID == b.GID && a.Home == b.Home && slices.Equal(a.Groups, b.Groups)
}

// TestAnswerKinds: the child's replies, as the parent reads them.
func TestAnswerKinds(t *testing.T) {
	for _, tc := range []struct {
		q    string
		want func(reply) bool
	}{
		{"id:0", func(r reply) bool { return r.User.Name == "root" && r.Error == "" }},
		{"name:no-such-user-shoal", func(r reply) bool { return r.Unknown && r.Error == "" }},
		{"size:0", func(r reply) bool { return strings.Contains(r.Error, `"size" is not a kind of lookup`) }},
	} {
		var buf bytes.Buffer
		var r reply
		if rc := answer(tc.q, &buf); rc != 0 || json.Unmarshal(buf.Bytes(), &r) != nil || !tc.want(r) {
			t.Errorf("answer(%q): exit %d, printed %s", tc.q, rc, buf.Bytes())
		}
	}
}

func addUser(t *testing.T, name string, extra ...string) {
	t.Helper()
	mustRun(t, "useradd", append([]string{"-M", "-U", "-d", "/nonexistent"}, append(extra, name)...)...)
	t.Cleanup(func() { exec.Command("userdel", name).Run(); exec.Command("groupdel", name).Run() })
}

func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
}

// TestManyAtOnce: lookups of many users at once (a controller restarted
// under load) all get their answer, not a timeout of the process pipes.
func TestManyAtOnce(t *testing.T) {
	ctx := t.Context()
	const n = 200
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := LookupID(ctx, uint32(3_000_000+i))
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; !errors.Is(err, ErrUnknown) {
			t.Errorf("an unknown uid: %v; want ErrUnknown", err)
		}
	}
}

// TestLookupStops: ending the caller's context ends a lookup under way,
// its child killed, with the context's error (a controller that stops
// does not wait for a name service).
func TestLookupStops(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := LookupID(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("a lookup with its context ended: %v, want context.Canceled", err)
	}
	// One that hangs: the child's answer never comes (a name service
	// that does not answer), and the lookup ends with its context.
	t.Setenv(hangEnv, "1")
	ctx, cancel = context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := LookupID(ctx, 0)
	// Its answer is read from the child's pipe until EOF: it comes back
	// this soon only if the child was killed.
	if took := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || took > 10*time.Second {
		t.Errorf("a hung lookup, its context ending after 300 ms: %v after %v, want context.DeadlineExceeded at once", err, took)
	}
}
