package node

import (
	"bufio"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestOwnerGroups: a job's supplementary groups are what this host's
// user database gives its owner (as `id -G` prints them, less the job's
// own gid); groups a controller resolved at submit are kept; a uid
// without a passwd entry has none.
func TestOwnerGroups(t *testing.T) {
	kept := &api.Job{UID: 1000, GID: 1000, Groups: []uint32{27, 100}}
	if g, err := ownerGroups(kept); err != nil || !slices.Equal(g, kept.Groups) {
		t.Errorf("groups resolved at submit: got %v, %v; want them kept, %v", g, err, kept.Groups)
	}
	if g, err := ownerGroups(&api.Job{UID: 3_999_999_999, GID: 7}); err != nil || len(g) != 0 {
		t.Errorf("a uid without a passwd entry: got %v, %v; want no groups, no error", g, err)
	}

	// Every user /etc/group names as a member: the lookup is the host's
	// (NSS), checked against coreutils' id.
	members := groupMembers(t)
	if len(members) == 0 {
		t.Skip("no user on this host is a member of a group by /etc/group")
	}
	for _, name := range members {
		u, err := user.Lookup(name)
		if err != nil {
			continue // a member without a passwd entry
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		out, err := exec.Command("id", "-G", name).Output()
		if err != nil {
			t.Fatalf("id -G %s: %v", name, err)
		}
		var want []uint32
		for _, f := range strings.Fields(string(out)) {
			if n, _ := strconv.ParseUint(f, 10, 32); uint32(n) != uint32(gid) {
				want = append(want, uint32(n))
			}
		}
		got, err := ownerGroups(&api.Job{UID: uint32(uid), GID: uint32(gid)})
		slices.Sort(got)
		slices.Sort(want)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("groups of %s (uid %d): got %v, %v; want %v (id -G, less gid %d)", name, uid, got, err, want, gid)
		}
	}
}

// groupMembers are the users /etc/group lists as members of a group.
func groupMembers(t *testing.T) []string {
	f, err := os.Open("/etc/group")
	if err != nil {
		t.Skipf("no /etc/group: %v", err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) == 4 && fields[3] != "" {
			for _, m := range strings.Split(fields[3], ",") {
				if !slices.Contains(names, m) {
					names = append(names, m)
				}
			}
		}
	}
	return names
}
