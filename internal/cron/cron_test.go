package cron

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	from := time.Date(2026, 12, 4, 10, 7, 0, 0, time.UTC) // a Friday
	for _, tc := range []struct {
		expr string
		next []string // the first slots after from, UTC
	}{
		{"0 3 * * *", []string{"2026-12-05 03:00", "2026-12-06 03:00"}},
		{"*/15 * * * *", []string{"2026-12-04 10:15", "2026-12-04 10:30"}},
		{"5,10-12 * * * *", []string{"2026-12-04 10:10", "2026-12-04 10:11", "2026-12-04 10:12", "2026-12-04 11:05"}},
		{"0 8-17/4 * * *", []string{"2026-12-04 12:00", "2026-12-04 16:00", "2026-12-05 08:00"}},
		{"30 9 * * mon-wed", []string{"2026-12-07 09:30", "2026-12-08 09:30", "2026-12-09 09:30", "2026-12-14 09:30"}},
		{"0 0 * * 7", []string{"2026-12-06 00:00", "2026-12-13 00:00"}},   // 7 is Sunday
		{"0 0 1 JAN *", []string{"2027-01-01 00:00", "2028-01-01 00:00"}}, // names in any case
		{"0 0 29 feb *", []string{"2028-02-29 00:00", "2032-02-29 00:00"}},
		// Both day fields restricted: either matches (the 13th, or a Friday).
		{"0 12 13 * fri", []string{"2026-12-04 12:00", "2026-12-11 12:00", "2026-12-13 12:00", "2026-12-18 12:00"}},
		{"1-5/2 0 * * *", []string{"2026-12-05 00:01", "2026-12-05 00:03", "2026-12-05 00:05"}},
		{"10/20 * * * *", []string{"2026-12-04 10:10", "2026-12-04 10:30", "2026-12-04 10:50"}},
		{"@hourly", []string{"2026-12-04 11:00", "2026-12-04 12:00"}},
		{"@daily", []string{"2026-12-05 00:00"}},
		{"@weekly", []string{"2026-12-06 00:00", "2026-12-13 00:00"}},
		{"@monthly", []string{"2027-01-01 00:00", "2027-02-01 00:00"}},
		{"@yearly", []string{"2027-01-01 00:00"}},
		{"@teatime", []string{"2026-12-04 16:00"}},
	} {
		e, err := Parse(tc.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.expr, err)
			continue
		}
		at := from
		for i, want := range tc.next {
			at = e.Next(at)
			if got := at.Format("2006-01-02 15:04"); got != want {
				t.Errorf("%q: slot %d after %s is %s, want %s", tc.expr, i+1, from.Format(time.DateTime), got, want)
				break
			}
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct{ expr, words string }{
		{"", "has 0 fields"},
		{"* * * *", "has 4 fields: give five fields"},
		{"* * * * * *", "has 6 fields"},
		{"60 * * * *", "minute field \"60\": 60 is out of range: give 0 to 59"},
		{"* 24 * * *", "hour field \"24\": 24 is out of range: give 0 to 23"},
		{"* * 0 * *", "day of month field \"0\": 0 is out of range: give 1 to 31"},
		{"* * * 13 *", "month field \"13\": 13 is out of range: give 1 to 12"},
		{"* * * foo *", `"foo" is not a number from 1 to 12 or a name (jan-dec)`},
		{"* * * * 8", "day of week field \"8\": 8 is out of range: give 0 to 7"},
		{"* * * * funday", "(sun-sat)"},
		{"5-1 * * * *", "range 5-1: the second value must not be less than the first"},
		{"*/0 * * * *", "step \"0\": give a positive number"},
		{"*/x * * * *", "step \"x\""},
		{"1,,2 * * * *", "empty item"},
		{"0 0 30 2 *", "never fires: day of month 30 does not occur in month 2"},
		{"0 0 31 apr,jun *", "never fires"},
		{"@reboot", "@reboot is not supported"},
		{"@every 5m", "@every is not cron syntax"},
		{"@fortnightly", "unknown alias"},
	} {
		_, err := Parse(tc.expr)
		if err == nil || !strings.Contains(err.Error(), tc.words) {
			t.Errorf("Parse(%q) = %v, want an error with %q", tc.expr, err, tc.words)
		}
	}
}

// TestNextAcrossDST: slots are wall-clock times of the schedule's zone. In
// America/New_York the clocks go 01:59:59 EST -> 03:00 EDT on 2026-03-08
// and 01:59:59 EDT -> 01:00 EST on 2026-11-01.
func TestNextAcrossDST(t *testing.T) {
	ny, err := LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	slots := func(expr string, from time.Time, n int) []string {
		e, err := Parse(expr)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		at := from.In(ny)
		for range n {
			at = e.Next(at)
			out = append(out, at.Format("01-02 15:04 MST")+" = "+at.UTC().Format("15:04Z"))
		}
		return out
	}
	check := func(name string, got, want []string) {
		t.Helper()
		if strings.Join(got, "; ") != strings.Join(want, "; ") {
			t.Errorf("%s:\n got  %s\n want %s", name, strings.Join(got, "; "), strings.Join(want, "; "))
		}
	}
	// Spring: 02:30 does not exist on 03-08: it fires when the gap ends,
	// once; the day after, at 02:30 EDT again. A daily 03:00 job keeps
	// its wall-clock time, 23 hours after the last.
	check("spring 30 2", slots("30 2 * * *", time.Date(2026, 3, 7, 12, 0, 0, 0, ny), 3), []string{
		"03-08 03:00 EDT = 07:00Z", "03-09 02:30 EDT = 06:30Z", "03-10 02:30 EDT = 06:30Z"})
	check("spring 0 3", slots("0 3 * * *", time.Date(2026, 3, 7, 12, 0, 0, 0, ny), 2), []string{
		"03-08 03:00 EDT = 07:00Z", "03-09 03:00 EDT = 07:00Z"})
	// Every 20 minutes across the gap: 02:00, 02:20 and 02:40 all fall
	// at 03:00 EDT, which fires once.
	check("spring */20", slots("*/20 * * * *", time.Date(2026, 3, 8, 1, 30, 0, 0, ny), 4), []string{
		"03-08 01:40 EST = 06:40Z", "03-08 03:00 EDT = 07:00Z", "03-08 03:20 EDT = 07:20Z", "03-08 03:40 EDT = 07:40Z"})
	// Autumn: 01:30 happens twice on 11-01 and fires once, at the first.
	check("autumn 30 1", slots("30 1 * * *", time.Date(2026, 10, 31, 12, 0, 0, 0, ny), 3), []string{
		"11-01 01:30 EDT = 05:30Z", "11-02 01:30 EST = 06:30Z", "11-03 01:30 EST = 06:30Z"})
	// Hourly across the repeated hour: 01:00 EDT, then 02:00 EST, two
	// real hours later (01:00 EST is a wall-clock time already fired).
	check("autumn hourly", slots("0 * * * *", time.Date(2026, 11, 1, 0, 30, 0, 0, ny), 3), []string{
		"11-01 01:00 EDT = 05:00Z", "11-01 02:00 EST = 07:00Z", "11-01 03:00 EST = 08:00Z"})
	// From inside the second 01:xx (EST), 01:45 was already fired in EDT.
	second := time.Date(2026, 11, 1, 6, 10, 0, 0, time.UTC) // 01:10 EST
	check("autumn from the repeat", slots("45 1 * * *", second, 1), []string{"11-02 01:45 EST = 06:45Z"})

	// Tokyo has no DST: 03:00 JST is 18:00Z the day before.
	tokyo, err := LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	e, _ := Parse("0 3 * * *")
	if got := e.Next(time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC).In(tokyo)); !got.Equal(time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)) {
		t.Errorf("0 3 * * * in Asia/Tokyo after 2026-12-04 00:00Z = %s, want 2026-12-04 18:00Z", got.UTC())
	}
}

func TestLoadLocation(t *testing.T) {
	if _, err := LoadLocation("Asia/Tokyo"); err != nil {
		t.Errorf("Asia/Tokyo: %v", err)
	}
	if loc, err := LoadLocation(""); err != nil || loc != time.UTC {
		t.Errorf(`"" = %v, %v; want UTC`, loc, err)
	}
	for _, bad := range []string{"Mars/Olympus", "Local", "../etc/passwd"} {
		if _, err := LoadLocation(bad); err == nil || !strings.Contains(err.Error(), "IANA") {
			t.Errorf("LoadLocation(%q) = %v, want an error naming IANA zones", bad, err)
		}
	}
}
