package slurm

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// parseIterate reads sinfo's and squeue's --iterate=SECONDS.
func parseIterate(prog, v string) (time.Duration, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s: error: --iterate=%s: give a whole number of seconds above 0", prog, v)
	}
	return time.Duration(n) * time.Second, nil
}

// iterate runs once, and with an interval every that often until the
// command is stopped (or c.Wait says to stop), each report after a ctime
// line and followed by a blank line, as sinfo -i and squeue -i do. It
// returns the last report's status.
func iterate(c *Ctx, every time.Duration, once func() int) int {
	if every <= 0 {
		return once()
	}
	wait := c.Wait
	if wait == nil {
		wait = func(d time.Duration) bool { time.Sleep(d); return true }
	}
	for {
		fmt.Fprintln(c.Stdout, ctimeLine(c.Now()))
		rc := once()
		fmt.Fprintln(c.Stdout)
		if !wait(every) {
			return rc
		}
	}
}

// optionDump prints "key = value" lines between rules, as sinfo -v and
// squeue -v print their options (on stdout, as Slurm does).
func optionDump(w io.Writer, width int, kv [][2]string) {
	rule := strings.Repeat("-", 29)
	fmt.Fprintln(w, rule)
	for _, p := range kv {
		fmt.Fprintf(w, "%-*s = %s\n", width, p[0], p[1])
	}
	fmt.Fprintln(w, rule)
}

// nullIfEmpty is how Slurm prints an unset string option: (null).
func nullIfEmpty(s string) string {
	if s == "" {
		return "(null)"
	}
	return s
}
