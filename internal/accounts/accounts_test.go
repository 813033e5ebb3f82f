package accounts

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"testing"
)

// bothWays runs f through getent and through os/user in the process: the
// two must agree.
func bothWays(t *testing.T, f func(t *testing.T)) {
	if getent == "" {
		t.Skip("this host has no getent")
	}
	t.Run("getent", f)
	t.Run("in process", func(t *testing.T) {
		saved := getent
		getent = ""
		t.Cleanup(func() { getent = saved })
		f(t)
	})
}

func TestLookupRoot(t *testing.T) {
	bothWays(t, func(t *testing.T) {
		for _, get := range []func() (User, error){
			func() (User, error) { return LookupID(0) },
			func() (User, error) { return Lookup("root") },
			func() (User, error) { return Lookup("0") },
		} {
			u, err := get()
			if err != nil {
				t.Fatal(err)
			}
			if u.Name != "root" || u.UID != 0 || u.GID != 0 || u.Home == "" {
				t.Errorf("got %+v, want root with uid 0, gid 0 and a home", u)
			}
		}
	})
}

func TestLookupUnknown(t *testing.T) {
	bothWays(t, func(t *testing.T) {
		for _, get := range []func() (User, error){
			func() (User, error) { return LookupID(4_000_000_123) },
			func() (User, error) { return Lookup("no-such-user-shoal") },
			func() (User, error) { return Lookup("root:x") },
			func() (User, error) { return Lookup("") },
			func() (User, error) { return Lookup("--help") },
			func() (User, error) { return Lookup("-sfiles") },
		} {
			if u, err := get(); !errors.Is(err, ErrUnknown) {
				t.Errorf("got %+v, %v; want ErrUnknown", u, err)
			}
		}
	})
}

// TestGroupsOfARealUser makes a user in two extra groups and checks that
// Groups finds both, without the primary group, as getgrouplist does.
func TestGroupsOfARealUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to add a user")
	}
	name := fmt.Sprintf("shoalacct%d", os.Getpid()%100000)
	groups := []string{name + "a", name + "b"}
	for _, g := range groups {
		mustRun(t, "groupadd", g)
		t.Cleanup(func() { exec.Command("groupdel", g).Run() })
	}
	mustRun(t, "useradd", "-M", "-U", "-d", "/nonexistent", "-G", groups[0]+","+groups[1], name)
	t.Cleanup(func() { exec.Command("userdel", name).Run(); exec.Command("groupdel", name).Run() })

	var want []uint32
	for _, g := range groups {
		grp, err := user.LookupGroup(g)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.ParseUint(grp.Gid, 10, 32)
		want = append(want, uint32(n))
	}
	bothWays(t, func(t *testing.T) {
		u, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if byID, err := LookupID(u.UID); err != nil || byID != u {
			t.Errorf("LookupID(%d) = %+v, %v; want %+v", u.UID, byID, err, u)
		}
		got, err := Groups(u.Name, u.GID)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("groups of %s: got %v, want %v (its two extra groups, not its primary %d)", name, got, want, u.GID)
		}
	})
}

func TestParsePasswdRefusesOtherLines(t *testing.T) {
	for _, line := range []string{"", "root:x:0:0", "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin", "root:x:zero:0:root:/root:/bin/sh", "root:x:0:-1:root:/root:/bin/sh"} {
		if u, err := parsePasswd(line); err == nil {
			t.Errorf("parsePasswd(%q) = %+v, want an error", line, u)
		}
	}
}

func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
}
