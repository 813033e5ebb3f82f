package slurm

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// hostName splits a node name into its prefix and trailing number, the
// way Slurm's hostlist does: "n12" -> ("n", 12, 2 digits). A name without
// trailing digits has digits == 0.
type hostName struct {
	prefix string
	num    int
	digits int // how many digits were written (for zero padding)
}

func splitHost(name string) hostName {
	i := len(name)
	for i > 0 && name[i-1] >= '0' && name[i-1] <= '9' {
		i--
	}
	if i == len(name) || len(name)-i > 9 {
		return hostName{prefix: name}
	}
	n, _ := strconv.Atoi(name[i:])
	return hostName{prefix: name[:i], num: n, digits: len(name) - i}
}

// padded reports whether h's number is written with leading zeros.
func (h hostName) padded() bool { return h.digits > len(strconv.Itoa(h.num)) }

// compressHosts writes node names in Slurm's hostlist syntax: sorted,
// duplicates dropped, numbered names with one prefix in brackets
// ("n[1-3,5]"); a lone name stays as it is ("n5"). Zero-padded numbers
// keep their width ("node[01-02,10]"): a name joins the padded ones of
// its prefix when its number is as wide.
func compressHosts(names []string) string {
	if len(names) == 0 {
		return ""
	}
	type member struct {
		h     hostName
		width int // 0: not padded
	}
	var ms []member
	seen := map[string]bool{}
	padWidth := map[string]int{}
	for _, n := range names {
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		h := splitHost(n)
		if h.padded() {
			padWidth[h.prefix] = max(padWidth[h.prefix], h.digits)
		}
		ms = append(ms, member{h: h})
	}
	for i := range ms {
		if w := padWidth[ms[i].h.prefix]; w > 0 && ms[i].h.digits == w {
			ms[i].width = w
		}
	}
	sort.SliceStable(ms, func(a, b int) bool {
		x, y := ms[a], ms[b]
		if x.h.prefix != y.h.prefix {
			return x.h.prefix < y.h.prefix
		}
		if (x.h.digits == 0) != (y.h.digits == 0) {
			return x.h.digits == 0
		}
		if x.width != y.width {
			return x.width > y.width
		}
		return x.h.num < y.h.num
	})
	var out []string
	for i := 0; i < len(ms); {
		m := ms[i]
		if m.h.digits == 0 {
			out = append(out, m.h.prefix)
			i++
			continue
		}
		j := i + 1
		for j < len(ms) && ms[j].h.digits != 0 && ms[j].h.prefix == m.h.prefix && ms[j].width == m.width {
			j++
		}
		group := make([]hostName, j-i)
		for k := i; k < j; k++ {
			group[k-i] = ms[k].h
		}
		out = append(out, bracket(group, m.width))
		i = j
	}
	return strings.Join(out, ",")
}

// bracket writes one group of names sharing a prefix and width.
func bracket(group []hostName, w int) string {
	num := func(n int) string { return fmt.Sprintf("%0*d", w, n) }
	if len(group) == 1 {
		return group[0].prefix + num(group[0].num)
	}
	var ranges []string
	for i := 0; i < len(group); {
		j := i
		for j+1 < len(group) && group[j+1].num == group[j].num+1 {
			j++
		}
		if j == i {
			ranges = append(ranges, num(group[i].num))
		} else {
			ranges = append(ranges, num(group[i].num)+"-"+num(group[j].num))
		}
		i = j + 1
	}
	return group[0].prefix + "[" + strings.Join(ranges, ",") + "]"
}

// expandHosts reads Slurm hostlist syntax ("n[1-3,5],gpu7") into names.
func expandHosts(list string) ([]string, error) {
	var out []string
	for _, item := range splitHostItems(list) {
		open := strings.IndexByte(item, '[')
		if open < 0 {
			out = append(out, item)
			continue
		}
		closeAt := strings.IndexByte(item, ']')
		if closeAt < open {
			return nil, fmt.Errorf("invalid hostlist %q", list)
		}
		prefix, suffix := item[:open], item[closeAt+1:]
		for _, r := range strings.Split(item[open+1:closeAt], ",") {
			lo, hi, isRange := strings.Cut(r, "-")
			a, err := strconv.Atoi(lo)
			if err != nil {
				return nil, fmt.Errorf("invalid hostlist %q", list)
			}
			b := a
			if isRange {
				if b, err = strconv.Atoi(hi); err != nil || b < a {
					return nil, fmt.Errorf("invalid hostlist %q", list)
				}
			}
			for n := a; n <= b; n++ {
				out = append(out, fmt.Sprintf("%s%0*d%s", prefix, len(lo), n, suffix))
			}
		}
	}
	return out, nil
}

// splitHostItems splits a hostlist at the commas outside brackets.
func splitHostItems(list string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(list); i++ {
		switch list[i] {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				if i > start {
					out = append(out, list[start:i])
				}
				start = i + 1
			}
		}
	}
	if start < len(list) {
		out = append(out, list[start:])
	}
	return out
}

// compressIndexes writes array task indexes as Slurm does in
// "A_[1-3,5]": sorted ranges.
func compressIndexes(idx []int) string {
	s := append([]int(nil), idx...)
	sort.Ints(s)
	var parts []string
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(s[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", s[i], s[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
