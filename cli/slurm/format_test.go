package slurm

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

func TestDurations(t *testing.T) {
	for _, tc := range []struct {
		secs        int64
		clock, full string
	}{
		{0, "0:00", "00:00:00"},
		{59, "0:59", "00:00:59"},
		{60, "1:00", "00:01:00"},
		{600, "10:00", "00:10:00"},
		{3599, "59:59", "00:59:59"},
		{3600, "1:00:00", "01:00:00"},
		{86399, "23:59:59", "23:59:59"},
		{86400, "1-00:00:00", "1-00:00:00"},
		{90061, "1-01:01:01", "1-01:01:01"},
		{365 * 86400, "365-00:00:00", "365-00:00:00"},
		{365*86400 + 1, "INVALID", "365-00:00:01"},
		{-5, "INVALID", "00:00:00"},
	} {
		if got := clockDuration(tc.secs); got != tc.clock {
			t.Errorf("clockDuration(%d) = %q, want %q (squeue %%M)", tc.secs, got, tc.clock)
		}
		if got := fullDuration(tc.secs); got != tc.full {
			t.Errorf("fullDuration(%d) = %q, want %q (scontrol RunTime, sacct Elapsed)", tc.secs, got, tc.full)
		}
	}
	for _, tc := range []struct {
		secs        int64
		clock, full string
	}{{0, "UNLIMITED", "UNLIMITED"}, {1800, "30:00", "00:30:00"}, {2 * 86400, "2-00:00:00", "2-00:00:00"}} {
		if got := limitClock(tc.secs); got != tc.clock {
			t.Errorf("limitClock(%d) = %q, want %q", tc.secs, got, tc.clock)
		}
		if got := limitFull(tc.secs); got != tc.full {
			t.Errorf("limitFull(%d) = %q, want %q", tc.secs, got, tc.full)
		}
	}
}

func TestCtimeLine(t *testing.T) {
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 11, 23, 12, 23, 59, 0, time.UTC), "Mon Nov 23 12:23:59 2026"},
		{time.Date(2026, 12, 5, 7, 0, 1, 0, time.UTC), "Sat Dec  5 07:00:01 2026"},
	} {
		if got := ctimeLine(tc.at); got != tc.want {
			t.Errorf("ctimeLine(%v) = %q, want %q", tc.at, got, tc.want)
		}
	}
}

func TestParsePastTime(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 18, 35, 0, time.UTC)
	day := func(d, h, m, s int) time.Time { return time.Date(2026, 11, d, h, m, s, 0, time.UTC) }
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"now", now},
		{"now-1hours", now.Add(-time.Hour)},
		{"now-30minutes", now.Add(-30 * time.Minute)},
		{"now-2days", now.AddDate(0, 0, -2)},
		{"now+10", now.Add(10 * time.Second)},
		{"midnight", day(23, 0, 0, 0)},
		{"today", day(23, 0, 0, 0)},
		{"noon", day(23, 12, 0, 0)},
		{"teatime", day(22, 16, 0, 0)}, // not yet today: yesterday's
		{"1970-01-01", time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-11-20T08:30", day(20, 8, 30, 0)},
		{"2026-11-20T08:30:15", day(20, 8, 30, 15)},
		{"11/20", day(20, 0, 0, 0)},
		{"11/20/25", time.Date(2025, 11, 20, 0, 0, 0, 0, time.UTC)},
		{"1120", day(20, 0, 0, 0)},
		{"12/24", time.Date(2025, 12, 24, 0, 0, 0, 0, time.UTC)}, // ahead this year: last year's
		{"08:00", day(23, 8, 0, 0)},
		{"13:00:00", day(22, 13, 0, 0)},
	} {
		got, err := parseSlurmTime(tc.in, now, true)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseSlurmTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"garbage", "now-", "now-3fortnights", "2026-13-01", ""} {
		if got, err := parseSlurmTime(bad, now, true); err == nil {
			t.Errorf("parseSlurmTime(%q) = %v, want an error", bad, got)
		} else if !strings.HasPrefix(err.Error(), "Invalid time specification (pos=0): ") {
			t.Errorf("parseSlurmTime(%q) error %q does not read as Slurm's", bad, err)
		}
	}
}

func TestParseLimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"30", 1800}, {"10:30", 660}, // whole minutes, rounded up, as Slurm keeps them
		{"1:00:00", 3600}, {"1-00:00:00", 86400},
		{"2-12", 2*86400 + 12*3600}, {"1-2:3", 86400 + 2*3600 + 3*60}, {"UNLIMITED", 0}, {"infinite", 0},
	} {
		got, err := parseTimeLimit(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseTimeLimit(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "abc", "1:2:3:4", "-5", "1-2:3:4:5"} {
		if got, err := parseTimeLimit(bad); err == nil {
			t.Errorf("parseTimeLimit(%q) = %d, want an error", bad, got)
		}
	}
}

func TestCompressHosts(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"n1"}, "n1"},
		{[]string{"n1", "n2", "n3", "n5"}, "n[1-3,5]"},
		{[]string{"n3", "n1", "n2", "n2"}, "n[1-3]"},
		{[]string{"n2", "n5"}, "n[2,5]"},
		{[]string{"n1", "n10", "n9", "n11"}, "n[1,9-11]"},
		{[]string{"gpu1", "n1", "n2", "login"}, "gpu1,login,n[1-2]"},
		{[]string{"node01", "node02", "node10"}, "node[01-02,10]"},
		{[]string{"node01", "node5"}, "node01,node5"},
		{[]string{"a", "b"}, "a,b"},
		{[]string{"rack1-n1", "rack1-n2"}, "rack1-n[1-2]"},
	} {
		if got := compressHosts(tc.in); got != tc.want {
			t.Errorf("compressHosts(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestExpandHosts(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"n1", []string{"n1"}},
		{"n[1-3,5],gpu7", []string{"n1", "n2", "n3", "n5", "gpu7"}},
		{"node[01-03]", []string{"node01", "node02", "node03"}},
		{"a,b", []string{"a", "b"}},
	} {
		got, err := expandHosts(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("expandHosts(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if back := compressHosts(got); tc.in != "a,b" && !strings.Contains(tc.in, "gpu7") && back != tc.in {
			t.Errorf("compressHosts(expandHosts(%q)) = %q", tc.in, back)
		}
	}
	for _, bad := range []string{"n[3-1]", "n[a-b]", "n]1["} {
		if got, err := expandHosts(bad); err == nil {
			t.Errorf("expandHosts(%q) = %q, want an error", bad, got)
		}
	}
}

func TestMemString(t *testing.T) {
	for _, tc := range []struct {
		mb   int64
		want string
	}{{0, "0"}, {500, "500M"}, {1000, "1000M"}, {1536, "1536M"}, {2048, "2G"}, {65536, "64G"}, {1 << 20, "1T"}} {
		if got := memString(tc.mb); got != tc.want {
			t.Errorf("memString(%d) = %q, want %q", tc.mb, got, tc.want)
		}
	}
}

func TestParsePercentFormat(t *testing.T) {
	pf, bad := parsePercentFormat("Job:%.18i %-10j|%5u%%%t", func(l byte) bool { _, ok := sqLetters()[l]; return ok })
	want := []column{
		{key: "i", width: 18, right: true, suffix: " "},
		{key: "-", suffix: "%-10j|", invalid: true},
		{key: "u", width: 5},
		{key: "t"},
	}
	if pf.prefix != "Job:" || !reflect.DeepEqual(pf.cols, want) || string(bad) != "-" {
		t.Errorf("parsePercentFormat = %q %+v bad %q; want prefix %q, %+v, bad \"-\"", pf.prefix, pf.cols, bad, "Job:", want)
	}
	if got := (column{width: 4}).fit("abcdef"); got != "abcd" {
		t.Errorf("a 4-wide column holds %q, want the value cut to abcd", got)
	}
	if got := (column{width: 6, right: true, suffix: "|"}).fit("ab"); got != "    ab|" {
		t.Errorf("right-justified column = %q", got)
	}
	cols := parseLongFormat("jobid:8,name:.10,state,reason:5x", 20)
	wantLong := []column{{key: "jobid", width: 8}, {key: "name", width: 10, right: true}, {key: "state", width: 20}, {key: "reason", width: 5, suffix: "x"}}
	if !reflect.DeepEqual(cols, wantLong) {
		t.Errorf("parseLongFormat = %+v, want %+v", cols, wantLong)
	}
}

func TestSacctFit(t *testing.T) {
	for _, tc := range []struct {
		s     string
		width int
		want  string
	}{
		{"COMPLETED", 10, " COMPLETED "},
		{"OUT_OF_MEMORY", 10, "OUT_OF_ME+ "},
		{"7", -12, "7            "},
		{"FAILED", 5, "FAIL+ "},
	} {
		if got := sacctFit(tc.s, tc.width); got != tc.want {
			t.Errorf("sacctFit(%q, %d) = %q, want %q", tc.s, tc.width, got, tc.want)
		}
	}
}

func TestNodeStates(t *testing.T) {
	cap8 := api.Resources{CPUs: 8, MemoryMB: 1000}
	for _, tc := range []struct {
		n                  api.Node
		long, short, upper string
	}{
		{api.Node{State: api.NodeUp, Capacity: cap8}, "idle", "idle", "IDLE"},
		{api.Node{State: api.NodeUp, Capacity: cap8, Allocated: api.Resources{CPUs: 3}}, "mixed", "mix", "MIXED"},
		{api.Node{State: api.NodeUp, Capacity: cap8, Allocated: api.Resources{CPUs: 8}}, "allocated", "alloc", "ALLOCATED"},
		{api.Node{State: api.NodeDrain, Capacity: cap8, Allocated: api.Resources{CPUs: 3}}, "draining", "drng", "MIXED+DRAIN"},
		{api.Node{State: api.NodeDrain, Capacity: cap8, Allocated: api.Resources{CPUs: 8}}, "draining", "drng", "ALLOCATED+DRAIN"},
		{api.Node{State: api.NodeDrain, Capacity: cap8}, "drained", "drain", "IDLE+DRAIN"},
		{api.Node{State: api.NodeDown, Capacity: cap8}, "down", "down", "DOWN"},
		// Not responding: Slurm's "*" and NOT_RESPONDING flag.
		{api.Node{State: api.NodeDown, NotResponding: true, Capacity: cap8}, "down*", "down*", "DOWN*+NOT_RESPONDING"},
		{api.Node{State: api.NodeDrain, NotResponding: true, Capacity: cap8}, "drained*", "drain*", "IDLE*+DRAIN+NOT_RESPONDING"},
	} {
		st := stateOfNode(&tc.n)
		if st.long != tc.long || st.short != tc.short || st.upper != tc.upper {
			t.Errorf("node %s with %d/%d CPUs = %s/%s/%s, want %s/%s/%s", tc.n.State, tc.n.Allocated.CPUs, tc.n.Capacity.CPUs,
				st.long, st.short, st.upper, tc.long, tc.short, tc.upper)
		}
	}
}
