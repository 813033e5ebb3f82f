package slurm

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/shoal-batch/shoal/api"
)

// column is one field of an output format: squeue's and sinfo's
// "%[.][size]type[suffix]" (-o) or "type[:[.][size][suffix]]" (-O).
type column struct {
	key    string // the type letter (-o) or the lower-case field name (-O)
	width  int    // 0: as wide as the value
	right  bool   // right-justify (a "." before the size)
	suffix string // printed after the field, in the header too
	// invalid: an unknown type, printed as its own text (Slurm's
	// job_format_add_invalid).
	invalid bool
}

// percentFormat is a parsed -o format: an optional prefix (text before
// the first %) and the columns.
type percentFormat struct {
	prefix string
	cols   []column
}

// parsePercentFormat splits a %-format as Slurm's parse_format does:
// strtok on '%', so "%%" and a trailing "%" vanish; text before the first
// "%" is a prefix; each token is [.][size]letter[suffix]. valid reports
// whether a letter is known; unknown ones are returned with invalid set
// (and reported by the caller).
func parsePercentFormat(format string, valid func(letter byte) bool) (percentFormat, []byte) {
	var pf percentFormat
	var bad []byte
	tokens := strings.Split(format, "%")
	if !strings.HasPrefix(format, "%") {
		pf.prefix = tokens[0]
	}
	for _, tok := range tokens[1:] {
		if tok == "" {
			continue
		}
		c, letter := parseToken(tok)
		if letter == 0 {
			continue
		}
		c.key = string(letter)
		if !valid(letter) {
			c.invalid = true
			c.suffix = "%" + tok
			bad = append(bad, letter)
		}
		pf.cols = append(pf.cols, c)
	}
	return pf, bad
}

// parseToken reads "[.][size]letter[suffix]" (Slurm's _parse_token).
func parseToken(tok string) (column, byte) {
	var c column
	i := 0
	if i < len(tok) && tok[i] == '.' {
		c.right = true
		i++
	}
	start := i
	for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
		i++
	}
	if i > start {
		c.width, _ = strconv.Atoi(tok[start:i])
	} else if i+1 < len(tok) && tok[i] == '#' {
		c.width = -1 // sinfo's "as wide as needed"
		i++
	}
	if i >= len(tok) {
		return c, 0
	}
	letter := tok[i]
	c.suffix = tok[i+1:]
	return c, letter
}

// parseLongFormat splits a -O list: "name[:[.][size][suffix]]" items
// separated by commas; a field without a size is defWidth wide.
func parseLongFormat(format string, defWidth int) []column {
	var cols []column
	for _, item := range strings.Split(format, ",") {
		if item == "" {
			continue
		}
		name, spec, hasSpec := strings.Cut(item, ":")
		c := column{key: strings.ToLower(name), width: defWidth}
		if hasSpec {
			i := 0
			if i < len(spec) && spec[i] == '.' {
				c.right = true
				i++
			}
			start := i
			for i < len(spec) && spec[i] >= '0' && spec[i] <= '9' {
				i++
			}
			if i > start {
				c.width, _ = strconv.Atoi(spec[start:i])
			}
			c.suffix = spec[i:]
		}
		cols = append(cols, c)
	}
	return cols
}

// fit pads (or cuts) s to a column's width, as squeue's and sinfo's
// printf("%*.*s") does, and appends the suffix.
func (c column) fit(s string) string {
	return padCut(s, c.width, c.right) + c.suffix
}

// writeFit writes c.fit(s) to b without making the padded string (once
// per cell of thousands of lines).
func (c column) writeFit(b cellWriter, s string) {
	switch {
	case c.width <= 0:
		b.WriteString(s)
	case len(s) >= c.width:
		b.WriteString(s[:c.width])
	default:
		if !c.right {
			b.WriteString(s)
		}
		writeSpaces(b, c.width-len(s))
		if c.right {
			b.WriteString(s)
		}
	}
	if c.suffix != "" {
		b.WriteString(c.suffix)
	}
}

// cellWriter is where a report's cells go: a strings.Builder, or the
// buffered writer on the command's output.
type cellWriter interface {
	WriteString(s string) (int, error)
	WriteByte(c byte) error
}

// spaces pads cells, a slice of it at a time.
const spaces = "                                                                "

// writeSpaces writes n spaces.
func writeSpaces(b cellWriter, n int) {
	for n > len(spaces) {
		b.WriteString(spaces)
		n -= len(spaces)
	}
	if n > 0 {
		b.WriteString(spaces[:n])
	}
}

// padCut pads s with spaces to width (on the left when right), cutting it
// to width when longer; width 0 leaves s as it is.
func padCut(s string, width int, right bool) string {
	if width <= 0 {
		return s
	}
	if len(s) > width {
		return s[:width]
	}
	pad := strings.Repeat(" ", width-len(s))
	if right {
		return pad + s
	}
	return s + pad
}

// sacctFit formats a value as sacct's print_fields does: a value longer
// than the column ends in "+", negative widths left-justify, and every
// field is followed by a space.
func sacctFit(s string, width int) string {
	w := width
	if w < 0 {
		w = -w
	}
	if len(s) > w {
		s = s[:w-1] + "+"
	}
	if width < 0 {
		return fmt.Sprintf("%-*s ", w, s)
	}
	return fmt.Sprintf("%*s ", w, s)
}

// writeSacctFit writes sacctFit(s, width) to b without making it (once
// per cell of thousands of lines). fmt pads to a width in runes.
func writeSacctFit(b cellWriter, s string, width int) {
	w := max(width, -width)
	if w < 1 {
		b.WriteString(sacctFit(s, width))
		return
	}
	cut := len(s) > w
	if cut {
		s = s[:w-1]
	}
	n := len(s)
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			n = utf8.RuneCountInString(s)
			break
		}
	}
	if cut {
		n++
	}
	if width > 0 {
		writeSpaces(b, w-n)
	}
	b.WriteString(s)
	if cut {
		b.WriteByte('+')
	}
	if width < 0 {
		writeSpaces(b, w-n)
	}
	b.WriteByte(' ')
}

// orNull is Slurm's "(null)" for an unset string.
func orNull(s string) string {
	if s == "" {
		return "(null)"
	}
	return s
}

// splitList splits a comma separated option value, dropping empty items;
// a comma inside brackets ("1_[3,5-6]", "n[1,3]") is part of its item.
func splitList(s string) []string {
	var out []string
	add := func(p string) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth = max(depth-1, 0)
		case ',':
			if depth == 0 {
				add(s[start:i])
				start = i + 1
			}
		}
	}
	add(s[start:])
	return out
}

// memString prints MiB as Slurm's convert_num_unit does with exact
// conversion: 500 -> "500M", 2048 -> "2G", 0 -> "0".
func memString(mb int64) string {
	if mb <= 0 {
		return "0"
	}
	units := []string{"M", "G", "T", "P"}
	u := 0
	for mb%1024 == 0 && u < len(units)-1 {
		mb /= 1024
		u++
	}
	return strconv.FormatInt(mb, 10) + units[u]
}

// defaultPartition is the queue jobs go to when they name none: Slurm's
// default partition, which sinfo marks with "*" and scontrol with
// Default=YES. (A variable so that tests can compare with captures of a
// real cluster, whose default partition cannot be called "default".)
var defaultPartition = api.DefaultQueue
