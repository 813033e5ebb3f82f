package sched

import (
	"fmt"
	"strings"
	"time"
)

// ParseQueueTimeLimits reads QUEUE=DURATION settings (shoal agent
// -queue-time-limit, Slurm's partition DefaultTime) into
// Options.QueueTimeLimits: the time limit a queue's jobs without one are
// reckoned to run, in seconds.
func ParseQueueTimeLimits(settings []string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, s := range settings {
		q, d, ok := strings.Cut(s, "=")
		q = strings.TrimSpace(q)
		if !ok || q == "" {
			return nil, fmt.Errorf("queue time limit %q: give QUEUE=DURATION, e.g. short=1h", s)
		}
		dur, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil || dur < time.Second {
			return nil, fmt.Errorf("queue time limit %q: %q is not a duration of at least 1s: give e.g. 30m, 4h or 168h", s, d)
		}
		if _, dup := out[q]; dup {
			return nil, fmt.Errorf("queue time limit %q: queue %s is given twice", s, q)
		}
		out[q] = int64(dur / time.Second)
	}
	return out, nil
}

// ParseBackfill reads shoal agent -backfill: "easy" (the default) or
// "conservative"; it reports whether backfill is conservative.
func ParseBackfill(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "easy":
		return false, nil
	case "conservative":
		return true, nil
	}
	return false, fmt.Errorf("backfill %q: give easy (a reservation for each queue's first waiting job) or conservative (one for every waiting job)", s)
}
