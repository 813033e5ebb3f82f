// Package crontab reads the lines of a crontab as scrontab writes them:
// the one reading both scrontab (which makes jobs of them) and the
// controller (which checks that the jobs it is sent are what the text
// says) use.
package crontab

import "strings"

// IsVariable reports whether a crontab line sets a variable (NAME=VALUE).
func IsVariable(line string) bool {
	name, _, ok := strings.Cut(line, "=")
	if !ok || name == "" {
		return false
	}
	for i, r := range name {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// SplitLine splits a cron line into its schedule (five fields, or an @
// alias) and its command.
func SplitLine(line string) (spec, command string) {
	rest := line
	nfields := 5
	if strings.HasPrefix(line, "@") {
		nfields = 1
	}
	var fields []string
	for range nfields {
		rest = strings.TrimLeft(rest, " \t")
		end := strings.IndexAny(rest, " \t")
		if end < 0 {
			fields = append(fields, rest)
			rest = ""
			break
		}
		fields = append(fields, rest[:end])
		rest = rest[end:]
	}
	return strings.Join(fields, " "), strings.TrimSpace(rest)
}
