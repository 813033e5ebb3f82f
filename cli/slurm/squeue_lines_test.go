package slurm

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestSqueueSortOrders: squeue -S orders its lines by each key in turn,
// ascending or (with "-") descending, then by job id; an array's waiting
// tasks, one collapsed line, sort by their array's id among the others.
// Lines are printed from what was kept of each job (squeue_lines.go), so
// the printed column of the key shows the order.
func TestSqueueSortOrders(t *testing.T) {
	f := newCtlFake()
	clear(f.jobs)
	names := []string{"b", "a", "c", "a", "b"}
	users := []string{"zoe", "al", "bob"}
	for i := range 30 {
		id := uint64(100 + (i*7)%30) // not in id order
		f.jobs[id] = &api.Job{ID: id, JobSpec: api.JobSpec{
			Name: names[i%len(names)], Queue: []string{"default", "gpu"}[i%2], Priority: int64(i % 4),
			Resources: api.Resources{CPUs: 1 + i%3}, Account: []string{"x", "y", "z"}[i%3], Nice: int64(i % 5),
		}, User: users[i%3], UID: uint32(1000 + i%3), State: []api.JobState{api.StatePending, api.StateRunning}[i%2&(i/3%2)],
			Node: "n1", CreatedAt: sbNow.UnixMilli() - int64(i%6)*1000}
	}
	for k := range 3 { // waiting tasks of array 110: one line "110_[0-2]"
		id := uint64(140 + k)
		f.jobs[id] = &api.Job{ID: id, JobSpec: api.JobSpec{Name: "arr", Queue: "default"}, User: "al", UID: 1001, CreatedAt: sbNow.UnixMilli(),
			State: api.StatePending, Array: &api.ArrayTask{JobID: 140, Index: k, Min: 0, Max: 2, Count: 3}}
	}
	numeric := func(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }
	for _, tc := range []struct {
		spec, col string
		num       bool
	}{
		{"j", "%j", false}, {"-j", "%j", false}, {"u", "%u", false}, {"-u", "%u", false},
		{"P", "%P", false}, {"t", "%t", false}, {"-t", "%t", false},
		{"p", "%Q", true}, {"-p", "%Q", true}, {"C", "%C", true}, {"-C", "%C", true},
		{"a", "%a", false}, {"V", "%V", false}, {"-V", "%V", false}, {"y", "%y", true}, {"-y", "%y", true},
		{"i", "%A", true}, {"-i", "%A", true}, {"U", "%U", true},
	} {
		c, stdout, stderr := sbTestCtx(f, t.TempDir(), nil, "")
		if rc := Squeue(c, []string{"-h", "-S", tc.spec, "-o", tc.col + "|%A"}); rc != 0 {
			t.Fatalf("squeue -S %s: rc %d %s", tc.spec, rc, stderr)
		}
		lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
		if len(lines) != 31 {
			t.Fatalf("squeue -S %s: %d lines, want 31 (30 jobs, one array line):\n%s", tc.spec, len(lines), stdout)
		}
		desc := strings.HasPrefix(tc.spec, "-")
		for i := 1; i < len(lines); i++ {
			a, b := strings.Split(lines[i-1], "|"), strings.Split(lines[i], "|")
			var r int
			if tc.num {
				r = cmp.Compare(numeric(a[0]), numeric(b[0]))
			} else {
				r = strings.Compare(a[0], b[0])
			}
			if desc {
				r = -r
			}
			if r > 0 || (r == 0 && numeric(a[1]) > numeric(b[1]) && tc.spec[len(tc.spec)-1] != 'i') {
				t.Errorf("squeue -S %s: line %d %q before %q; want them by %s%s, then by job id", tc.spec, i, lines[i-1], lines[i], map[bool]string{true: "descending ", false: ""}[desc], tc.col)
			}
		}
	}
	// Two keys: partition, then priority falling (part of the default).
	c, stdout, _ := sbTestCtx(f, t.TempDir(), nil, "")
	Squeue(c, []string{"-h", "-S", "P,-p", "-o", "%P|%Q|%A"})
	got := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	for i := 1; i < len(got); i++ {
		a, b := strings.Split(got[i-1], "|"), strings.Split(got[i], "|")
		if r := cmp.Or(strings.Compare(a[0], b[0]), -cmp.Compare(numeric(a[1]), numeric(b[1])), cmp.Compare(numeric(a[2]), numeric(b[2]))); r > 0 {
			t.Errorf("squeue -S P,-p: %q before %q", got[i-1], got[i])
		}
	}
	if len(got) != 31 {
		t.Errorf("squeue -S P,-p: %d lines, want 31", len(got))
	}
}

// TestSqueueManyLines: lines whose text fills many blocks, one of them
// longer than a block, come out whole and in order.
func TestSqueueManyLines(t *testing.T) {
	f := newCtlFake()
	clear(f.jobs)
	name := func(id int) string {
		if id == 1500 {
			return strings.Repeat("long", 30000) // 120,000 bytes
		}
		return strings.Repeat("n", id%300)
	}
	var want strings.Builder
	for id := 1; id <= 3000; id++ {
		f.jobs[uint64(id)] = &api.Job{ID: uint64(id), JobSpec: api.JobSpec{Name: name(id), Queue: "default"}, User: "al", State: api.StatePending}
		fmt.Fprintf(&want, "%d %s\n", id, name(id))
	}
	c, stdout, stderr := sbTestCtx(f, t.TempDir(), nil, "")
	if rc := Squeue(c, []string{"-h", "-S", "i", "-o", "%i %j"}); rc != 0 {
		t.Fatalf("squeue: rc %d %s", rc, stderr)
	}
	if got := stdout.String(); got != want.String() {
		t.Errorf("squeue over 3,000 lines (%d bytes): %d bytes, not the lines in id order", want.Len(), len(got))
	}
}

// TestSqueueReasonRuns: %R puts each job's own reason in parentheses
// (made once for a run of jobs with the same one), or names its node.
func TestSqueueReasonRuns(t *testing.T) {
	f := newCtlFake()
	clear(f.jobs)
	held := api.Job{State: api.StatePending, JobSpec: api.JobSpec{Held: true}}
	waits := api.Job{State: api.StateRunnable, WaitReason: "Resources"}
	runs := api.Job{State: api.StateRunning, Node: "n1"}
	for i, j := range []api.Job{held, held, waits, held, runs, waits, waits} {
		j.ID, j.Queue, j.User = uint64(i+1), "default", "al"
		f.jobs[j.ID] = &j
	}
	c, stdout, stderr := sbTestCtx(f, t.TempDir(), nil, "")
	if rc := Squeue(c, []string{"-h", "-S", "i", "-o", "%i %R"}); rc != 0 {
		t.Fatalf("squeue: rc %d %s", rc, stderr)
	}
	want := "1 (JobHeldUser)\n2 (JobHeldUser)\n3 (Resources)\n4 (JobHeldUser)\n5 n1\n6 (Resources)\n7 (Resources)\n"
	if got := stdout.String(); got != want {
		t.Errorf("squeue -o '%%i %%R':\n%s\nwant\n%s", got, want)
	}
}
