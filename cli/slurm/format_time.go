package slurm

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// slurmTimeLayout is how Slurm prints a time stamp (SLURM_TIME_FORMAT
// "standard").
const slurmTimeLayout = "2006-01-02T15:04:05"

// MinJobAge is how long (Slurm's MinJobAge, 300 s) a finished job stays
// visible to squeue and scontrol; sacct shows it for ever.
const MinJobAge = 300 * time.Second

// epochTime turns an epoch-milliseconds stamp into a time in loc, cut to
// the second as Slurm keeps it; 0 is the zero time.
func epochTime(ms int64, loc *time.Location) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.Unix(ms/1000, 0).In(loc)
}

// stamp prints t as Slurm does, or unset when t is zero ("Unknown",
// "N/A", "None" depending on the field).
func stamp(t time.Time, unset string) string {
	if t.IsZero() {
		return unset
	}
	return t.Format(slurmTimeLayout)
}

// clockDuration prints seconds as squeue's TIME (%M) and TIME_LIMIT (%l):
// M:SS, H:MM:SS or D-HH:MM:SS, with as few fields as needed.
func clockDuration(secs int64) string {
	if secs < 0 || secs > 365*86400 {
		return "INVALID"
	}
	if secs == 0 {
		return "0:00" // every pending job's
	}
	d, h, m, s := secs/86400, secs/3600%24, secs/60%60, secs%60
	var buf [24]byte // written without fmt: squeue prints one a job
	b := buf[:0]
	switch {
	case d > 0:
		b = strconv.AppendInt(b, d, 10)
		b = append(b, '-')
		b = append2(b, h)
		b = append(b, ':')
		b = append2(b, m)
	case h > 0:
		b = strconv.AppendInt(b, h, 10)
		b = append(b, ':')
		b = append2(b, m)
	default:
		b = strconv.AppendInt(b, m, 10)
	}
	b = append(b, ':')
	return string(append2(b, s))
}

// append2 appends n (0-99) in two digits, as %02d does.
func append2(b []byte, n int64) []byte {
	return append(b, byte('0'+n/10), byte('0'+n%10))
}

// fullDuration prints seconds as scontrol's RunTime/TimeLimit and sacct's
// Elapsed: HH:MM:SS, or D-HH:MM:SS from a day on.
func fullDuration(secs int64) string {
	if secs < 0 {
		secs = 0
	}
	d, h, m, s := secs/86400, secs/3600%24, secs/60%60, secs%60
	if d > 0 {
		return fmt.Sprintf("%d-%02d:%02d:%02d", d, h, m, s)
	}
	return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
}

// limitClock is squeue's %l: the time limit, or UNLIMITED.
func limitClock(limitSecs int64) string {
	if limitSecs <= 0 {
		return "UNLIMITED"
	}
	return clockDuration(limitSecs)
}

// limitFull is scontrol's TimeLimit= and sacct's Timelimit.
func limitFull(limitSecs int64) string {
	if limitSecs <= 0 {
		return "UNLIMITED"
	}
	return fullDuration(limitSecs)
}

// ctimeLine is the time stamp `squeue -l` and `sinfo -l` print above the
// header (C's ctime without the newline).
func ctimeLine(t time.Time) string { return t.Format("Mon Jan _2 15:04:05 2006") }

// timeUnits are the units of "now+N<unit>" and "now-N<unit>".
var timeUnits = sync.OnceValue(func() map[string]time.Duration {
	return map[string]time.Duration{
		"": time.Second, "s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
		"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
		"h": time.Hour, "hour": time.Hour, "hours": time.Hour,
		"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
		"w": 7 * 24 * time.Hour, "week": 7 * 24 * time.Hour, "weeks": 7 * 24 * time.Hour,
	}
})

// namedTimes are the named times of day Slurm's parse_time knows.
var namedTimes = map[string]int{"midnight": 0, "elevenses": 11, "noon": 12, "fika": 15, "teatime": 16}

// parseSlurmTime reads a time as Slurm's parse_time does:
// YYYY-MM-DD[THH:MM[:SS]], MM/DD[/YY], MMDD[YY], MM.DD[.YY], HH:MM[:SS],
// now[{+|-}N[unit]], today, tomorrow, midnight, noon, elevenses, fika or
// teatime. A time of day without a date (or a named one) and a month and
// day without a year are completed to the next such moment, or with past
// (sacct's -S/-E) to the latest one not after now.
func parseSlurmTime(s string, now time.Time, past bool) (time.Time, error) {
	loc := now.Location()
	t := strings.ToLower(strings.TrimSpace(s))
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	bad := fmt.Errorf("Invalid time specification (pos=0): %s", s)
	// roll moves a completed time by step until it lies on the wanted side
	// of now (of today, for a date).
	roll := func(at, pivot time.Time, years, days int) time.Time {
		if past && at.After(pivot) {
			return at.AddDate(-years, 0, -days)
		}
		if !past && !at.After(pivot) {
			return at.AddDate(years, 0, days)
		}
		return at
	}
	switch t {
	case "now":
		return now, nil
	case "today":
		return day, nil
	case "tomorrow":
		return day.AddDate(0, 0, 1), nil
	}
	if h, ok := namedTimes[t]; ok {
		return roll(day.Add(time.Duration(h)*time.Hour), now, 0, 1), nil
	}
	if rest, ok := strings.CutPrefix(t, "now"); ok && len(rest) > 1 && (rest[0] == '+' || rest[0] == '-') {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		n, err := strconv.ParseInt(rest[1:i], 10, 64)
		unit, uok := timeUnits()[rest[i:]]
		if err != nil || !uok {
			return time.Time{}, bad
		}
		d := time.Duration(n) * unit
		if rest[0] == '-' {
			d = -d
		}
		return now.Add(d), nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if at, err := time.ParseInLocation(layout, strings.ToUpper(t), loc); err == nil {
			return at, nil
		}
	}
	for _, layout := range []string{"01/02/06", "01.02.06", "010206"} {
		if at, err := time.ParseInLocation(layout, t, loc); err == nil {
			return at, nil
		}
	}
	for _, layout := range []string{"01/02", "01.02", "0102"} {
		if at, err := time.ParseInLocation(layout, t, loc); err == nil {
			at = time.Date(now.Year(), at.Month(), at.Day(), 0, 0, 0, 0, loc)
			pivot := now
			if !past {
				pivot = day.Add(-time.Nanosecond) // today itself is still to come
			}
			return roll(at, pivot, 1, 0), nil
		}
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		if at, err := time.ParseInLocation(layout, t, loc); err == nil {
			return roll(time.Date(now.Year(), now.Month(), now.Day(), at.Hour(), at.Minute(), at.Second(), 0, loc), now, 0, 1), nil
		}
	}
	// A day and a time of day together, either way round, joined by "-"
	// or "T": noon-tomorrow, tomorrow-noon, 16:00-today, tomorrowT10:00.
	// The moment is the one named, past or not.
	for name, offset := range map[string]int{"today": 0, "tomorrow": 1} {
		var clock string
		switch {
		case len(t) > len(name)+1 && strings.HasPrefix(t, name) && (t[len(name)] == '-' || t[len(name)] == 't'):
			clock = t[len(name)+1:]
		case strings.HasSuffix(t, "-"+name) && len(t) > len(name)+1:
			clock = t[:len(t)-len(name)-1]
		default:
			continue
		}
		if d, ok := timeOfDay(clock, loc); ok {
			return day.AddDate(0, 0, offset).Add(d), nil
		}
	}
	return time.Time{}, bad
}

// timeOfDay reads a named time (noon, teatime, ...) or HH:MM[:SS] as the
// time since midnight.
func timeOfDay(s string, loc *time.Location) (time.Duration, bool) {
	if h, ok := namedTimes[s]; ok {
		return time.Duration(h) * time.Hour, true
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		if at, err := time.ParseInLocation(layout, s, loc); err == nil {
			return time.Duration(at.Hour())*time.Hour + time.Duration(at.Minute())*time.Minute + time.Duration(at.Second())*time.Second, true
		}
	}
	return 0, false
}
