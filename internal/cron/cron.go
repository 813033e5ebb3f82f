// Package cron parses cron expressions (five fields, as crontab(5) and
// Slurm's scrontab take them) and computes their slots in a time zone.
// It is pure: no clock but the times passed in.
//
// Daylight saving time: a slot is a wall-clock time in the schedule's zone.
// A wall-clock time that happens twice (autumn) fires once, at its first
// occurrence; one that does not happen (spring) fires when the gap ends,
// as ISC cron runs the jobs of a skipped hour right after the change.
package cron

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Expr is a parsed cron expression.
type Expr struct {
	text                      string
	minute, hour, dom, month  uint64 // bit i set: value i matches
	dow                       uint64 // 0 = Sunday .. 6
	domRestricted, dowRestric bool   // the field was not "*" (crontab's day rule)
}

// String returns the expression as it was written.
func (e *Expr) String() string { return e.text }

// aliases are the @ names crontab(5) and scrontab take. @reboot has no
// time to fire at and is refused (Parse says so).
var aliases = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
	// Slurm's scrontab's extensions.
	"@elevenses": "0 11 * * *",
	"@fika":      "0 15 * * *",
	"@teatime":   "0 16 * * *",
}

type field struct {
	name     string
	min, max int
	names    []string // names for min.., three letters, lower case
}

var fields = [5]field{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	// 7 is Sunday too, folded into 0 below.
	{name: "day of week", min: 0, max: 7, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// Format is a reminder of the syntax, for error messages.
const Format = `five fields "MIN HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK" (e.g. "0 3 * * *", "*/15 8-18 * * mon-fri") or one of @yearly, @monthly, @weekly, @daily, @hourly`

// Parse parses a cron expression: five fields (minute 0-59, hour 0-23,
// day of month 1-31, month 1-12 or jan-dec, day of week 0-7 or sun-sat,
// 0 and 7 both Sunday), each "*", a value, a range a-b, a list of those
// separated by commas, any of them with a step /n; or an @ alias. As in
// crontab(5), when both day fields are restricted a day matching either
// matches. An expression that can never fire (30 February) is refused.
func Parse(s string) (*Expr, error) {
	text := strings.TrimSpace(s)
	spec := text
	if strings.HasPrefix(spec, "@") {
		a, ok := aliases[strings.ToLower(spec)]
		switch {
		case strings.EqualFold(spec, "@reboot"):
			return nil, fmt.Errorf("cron expression %q: @reboot is not supported (a schedule fires at times of day, not at a controller's start): give %s", s, Format)
		case strings.EqualFold(spec, "@every") || strings.HasPrefix(strings.ToLower(spec), "@every "):
			return nil, fmt.Errorf("cron expression %q: @every is not cron syntax: use a step, e.g. \"*/10 * * * *\" for every 10 minutes", s)
		case !ok:
			return nil, fmt.Errorf("cron expression %q: unknown alias: give %s", s, Format)
		}
		spec = a
	}
	parts := strings.Fields(spec)
	if len(parts) != 5 {
		return nil, fmt.Errorf("cron expression %q has %d fields: give %s", s, len(parts), Format)
	}
	e := &Expr{text: text}
	dst := [5]*uint64{&e.minute, &e.hour, &e.dom, &e.month, &e.dow}
	for i, p := range parts {
		set, err := fields[i].parse(p)
		if err != nil {
			return nil, fmt.Errorf("cron expression %q: %s field %q: %w", s, fields[i].name, p, err)
		}
		*dst[i] = set
	}
	if e.dow&(1<<7) != 0 {
		e.dow = e.dow&^(1<<7) | 1 // 7 is Sunday
	}
	// Crontab treats "*/n" in a day field as restricted too; only a bare
	// "*" leaves the other field alone.
	e.domRestricted, e.dowRestric = parts[2] != "*", parts[4] != "*"
	// Any slot in a leap cycle proves it fires.
	if e.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("cron expression %q never fires: day of month %s does not occur in month %s", s, parts[2], parts[3])
	}
	return e, nil
}

// parse turns one field into a set of values.
func (f field) parse(s string) (uint64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty")
	}
	var set uint64
	for _, item := range strings.Split(s, ",") {
		rng, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 {
				return 0, fmt.Errorf("step %q: give a positive number after /", stepText)
			}
			step = n
		}
		lo, hi := f.min, f.max
		switch {
		case rng == "*":
			if f.name == "day of week" {
				hi = 6 // 7 repeats Sunday
			}
		case rng == "":
			return 0, fmt.Errorf("empty item in %q: give a value, a range a-b or *", s)
		default:
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if lo, err = f.value(a); err != nil {
				return 0, err
			}
			switch {
			case isRange:
				if hi, err = f.value(b); err != nil {
					return 0, err
				}
				if hi < lo {
					return 0, fmt.Errorf("range %s: the second value must not be less than the first", rng)
				}
			case hasStep:
				hi = f.max // a/n: from a to the end
			default:
				hi = lo
			}
		}
		if step > f.max-f.min+1 && f.max > 0 {
			return 0, fmt.Errorf("step %d is larger than the field's range %d-%d", step, f.min, f.max)
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << uint(v)
		}
	}
	return set, nil
}

// value parses one number or name of the field.
func (f field) value(s string) (int, error) {
	for i, n := range f.names {
		if strings.EqualFold(s, n) {
			return f.min + i, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		if f.names != nil {
			return 0, fmt.Errorf("%q is not a number from %d to %d or a name (%s-%s)", s, f.min, f.max, f.names[0], f.names[len(f.names)-1])
		}
		return 0, fmt.Errorf("%q is not a number from %d to %d", s, f.min, f.max)
	}
	if n < f.min || n > f.max {
		return 0, fmt.Errorf("%d is out of range: give %d to %d", n, f.min, f.max)
	}
	return n, nil
}

func has(set uint64, v int) bool { return set&(1<<uint(v)) != 0 }

// dayMatches applies crontab's rule: with both day fields restricted,
// either may match; otherwise the restricted one (or any day) must.
func (e *Expr) dayMatches(t time.Time) bool {
	dom, dow := has(e.dom, t.Day()), has(e.dow, int(t.Weekday()))
	if e.domRestricted && e.dowRestric {
		return dom || dow
	}
	return dom && dow
}

// searchYears bounds the search for the next slot: every expression Parse
// accepts fires within a leap cycle.
const searchYears = 5

// Next returns the first slot strictly after after, in after's location
// (the schedule's zone: give after.In(loc)), or the zero time if there is
// none within searchYears.
func (e *Expr) Next(after time.Time) time.Time {
	loc := after.Location()
	// Walk wall-clock minutes as a calendar (in UTC, where every minute
	// exists once), from the minute after after's wall clock.
	y, mo, d := after.Date()
	h, mi, _ := after.Clock()
	w := time.Date(y, mo, d, h, mi, 0, 0, time.UTC).Add(time.Minute)
	end := w.AddDate(searchYears, 0, 0)
	for w.Before(end) {
		switch {
		case !has(e.month, int(w.Month())):
			w = time.Date(w.Year(), w.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		case !e.dayMatches(w):
			w = time.Date(w.Year(), w.Month(), w.Day()+1, 0, 0, 0, 0, time.UTC)
		case !has(e.hour, w.Hour()):
			w = w.Truncate(time.Hour).Add(time.Hour)
		case !has(e.minute, w.Minute()):
			// Jump to the next matching minute of this hour, if any.
			rest := e.minute >> uint(w.Minute()+1)
			if rest == 0 {
				w = w.Truncate(time.Hour).Add(time.Hour)
			} else {
				w = w.Add(time.Duration(bits.TrailingZeros64(rest)+1) * time.Minute)
			}
		default:
			if t := instant(w, loc); t.After(after) {
				return t
			}
			w = w.Add(time.Minute)
		}
	}
	return time.Time{}
}

// instant is the moment wall-clock time w (a UTC calendar value) happens
// in loc: its first occurrence, or, in a gap, the end of the gap.
func instant(w time.Time, loc *time.Location) time.Time {
	// The two offsets around w (zone changes are far more than a day
	// apart in every real zone).
	_, before := w.Add(-26 * time.Hour).In(loc).Zone()
	_, after := w.Add(26 * time.Hour).In(loc).Zone()
	var first time.Time
	for _, off := range []int{before, after} {
		t := w.Add(-time.Duration(off) * time.Second).In(loc)
		if sameWall(t, w) && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	if !first.IsZero() {
		return first
	}
	// A gap: the wall clock jumps over w. Read with the offset before
	// the change, w lands after it; the zone period holding that
	// instant starts where the gap ends.
	t := w.Add(-time.Duration(before) * time.Second).In(loc)
	start, _ := t.ZoneBounds()
	if start.IsZero() {
		return t
	}
	return start.In(loc)
}

func sameWall(t, w time.Time) bool {
	y, mo, d := t.Date()
	h, mi, _ := t.Clock()
	wy, wmo, wd := w.Date()
	wh, wmi, _ := w.Clock()
	return y == wy && mo == wmo && d == wd && h == wh && mi == wmi
}

// LoadLocation loads an IANA time zone ("" is UTC), with an error that
// says what would be right.
func LoadLocation(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if strings.EqualFold(name, "local") {
		return nil, fmt.Errorf("time zone %q: give an IANA zone name such as Europe/Berlin or Asia/Tokyo (the controller's local zone may differ from yours)", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q is not a known IANA zone: give a name such as UTC, Europe/Berlin or Asia/Tokyo (see /usr/share/zoneinfo)", name)
	}
	return loc, nil
}
